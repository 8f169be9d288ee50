// Pre-quantized uploads named as such (unsloth's `-bnb-4bit` / `-unsloth-bnb-4bit`, `-GPTQ-Int4`, `-AWQ`, ...) and the
// 16-bit originals a QLoRA adapter trained on them merges into, by the naming conventions those uploads follow: the
// same repository without the suffix, and the upstream organisation for the families unsloth mirrors.

import { tr, type Text } from '../text';

export interface QuantizedName {
  /** bitsandbytes, gptq or awq, as the suffix says. */
  readonly method: string;
  /** Hub ids of the 16-bit original, most likely first. */
  readonly originals: readonly string[];
}

const SUFFIXES: ReadonlyArray<[RegExp, string]> = [
  [/-unsloth-bnb-(4|8)bit$/i, 'bitsandbytes'],
  [/-bnb-(4|8)bit$/i, 'bitsandbytes'],
  [/-(bnb-)?(4|8)bit$/i, 'bitsandbytes'],
  [/-GPTQ(-Int(4|8))?$/i, 'gptq'],
  [/-AWQ$/i, 'awq'],
];

/** Upstream organisations by model-name prefix, for mirrors (unsloth) of their models. */
const UPSTREAM: ReadonlyArray<[RegExp, string]> = [
  [/^(Meta-)?Llama-3/i, 'meta-llama'], [/^Llama-2/i, 'meta-llama'], [/^Qwen/i, 'Qwen'], [/^gemma/i, 'google'],
  [/^Phi-/i, 'microsoft'], [/^(Mistral|Mixtral)/i, 'mistralai'],
];

/** The 16-bit originals of a quantized hub id, or null when the name does not say it is quantized. */
export function quantizedBaseName(hubId: string): QuantizedName | null {
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(hubId.trim());
  if (!m) return null;
  const [, org, name] = m as unknown as [string, string, string];
  const hit = SUFFIXES.find(([re]) => re.test(name));
  if (!hit) return null;
  const plain = name.replace(hit[0], '');
  if (plain === '' || plain === name) return null;
  const originals = [`${org}/${plain}`];
  const upstream = UPSTREAM.find(([re]) => re.test(plain))?.[1];
  if (upstream && upstream !== org) originals.push(`${upstream}/${plain}`);
  return { method: hit[1], originals };
}

/**
 * The diagnosis of a pre-quantized base, from its config's quantization_config or from its name: a QLoRA adapter runs
 * on it but merges into the 16-bit original, offered as fixes. null when neither says it is quantized.
 */
export function quantizedBaseIssue(raw: string | null, quantization: { readonly method: string; readonly bits: number | null } | null):
  { message: Text; fixes: Array<{ kind: 'use-original'; hubId: string }> } | null {
  const named = raw !== null ? quantizedBaseName(raw) : null;
  if (!quantization && !named) return null;
  const method = quantization?.method ?? named!.method;
  const refuse = /gptq|awq|aqlm|exl/i.test(method);
  const bits = quantization?.bits ? `, ${quantization.bits}-bit` : '';
  const originals = named?.originals ?? [];
  const offer = originals.length > 0 ? tr` The 16-bit original is likely ${originals.join(' or ')}.` : '';
  const merging = refuse ? tr` - merging into ${method} weights is not possible` : tr` - merging into quantized weights loses quality`;
  return {
    message: tr`The base is quantized (${method}${bits}). Fine for QLoRA inference, but a QLoRA adapter merges into the original 16-bit weights${merging}.${offer}`,
    fixes: originals.map((hubId) => ({ kind: 'use-original' as const, hubId })),
  };
}
