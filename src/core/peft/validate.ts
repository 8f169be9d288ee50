// Static checks of an adapter_config.json that need no file system: syntax, format, types and values PEFT would reject
// or silently change, unknown and legacy keys. Base-model checks live in basemodel/diagnose.ts.
// Reference: huggingface/peft src/peft/tuners/lora/config.py (LoraConfig.__post_init__), src/peft/config.py.

import { isKnownPeftField, PEFT_FIELDS } from './fields';
import { documentStart, keyRange, valueRange, type ParsedAdapterConfig } from './parse';
import { problem, type Problem } from './problems';
import { tr, type Text } from '../text';

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Problems visible from the config text alone. */
export function validateAdapterConfig(parsed: ParsedAdapterConfig): Problem[] {
  const out: Problem[] = [];
  if (parsed.binary) {
    out.push(problem('not-peft-config', 'error', documentStart(parsed), tr`This file is binary, not a JSON adapter config.`));
    return out;
  }
  for (const e of parsed.syntaxErrors) out.push(problem('json-syntax', 'error', e.range, tr`JSON syntax error: ${e.message} PEFT's json.load would fail on this file; the checks below use what could be parsed.`));
  const v = parsed.value;
  if (!v) {
    if (parsed.syntaxErrors.length === 0) out.push(problem('not-peft-config', 'error', documentStart(parsed), tr`adapter_config.json must be a JSON object.`));
    return out;
  }
  if (parsed.format === 'mlx') {
    out.push(problem('not-peft-config', 'info', documentStart(parsed),
      tr`This is an MLX-LM adapter config (fine_tune_type / lora_parameters), not a PEFT LoraConfig: PEFT and transformers cannot load it; use mlx_lm.`));
    return out;
  }
  if (parsed.format === 'unknown') {
    out.push(problem('not-peft-config', 'warning', documentStart(parsed),
      tr`No "peft_type": PEFT cannot load this as an adapter config (PeftConfig.from_pretrained needs peft_type).`));
    return out;
  }
  const peftType = v.peft_type;
  if (typeof peftType === 'string' && peftType.toUpperCase() !== 'LORA') {
    out.push(problem('not-peft-config', 'info', valueRange(parsed, ['peft_type']),
      tr`peft_type "${peftType}" is not LoRA: only the generic checks apply (base model resolution).`));
  }
  for (const key of Object.keys(v)) {
    const field = PEFT_FIELDS[key];
    if (!isKnownPeftField(key)) {
      out.push(problem('unknown-key', 'info', keyRange(parsed, key),
        tr`Unknown key "${key}": PEFT >= 0.14 ignores unknown keys with a warning; older PEFT raises TypeError on load.`));
    } else if (field?.removedIn) {
      out.push(problem('legacy-key', 'info', keyRange(parsed, key),
        tr`"${key}" is a PEFT ${field.since} field removed in ${field.removedIn}; newer PEFT ignores it. It does not affect the weights.`));
    }
  }
  const bad = (key: string, message: Text, severity: 'error' | 'warning' = 'error'): void => {
    out.push(problem('invalid-value', severity, valueRange(parsed, [key]), message));
  };
  if ('r' in v && !(isInt(v.r) && v.r > 0)) bad('r', tr`"r" must be a positive integer (got ${JSON.stringify(v.r)}); LoraConfig rejects it.`);
  if ('lora_alpha' in v && !(typeof v.lora_alpha === 'number' && Number.isFinite(v.lora_alpha))) bad('lora_alpha', tr`"lora_alpha" must be a number (got ${JSON.stringify(v.lora_alpha)}).`);
  if ('lora_dropout' in v && !(typeof v.lora_dropout === 'number' && v.lora_dropout >= 0 && v.lora_dropout < 1)) {
    bad('lora_dropout', tr`"lora_dropout" should be a number in [0, 1) (got ${JSON.stringify(v.lora_dropout)}).`, 'warning');
  }
  if ('bias' in v && !['none', 'all', 'lora_only'].includes(v.bias as string)) bad('bias', tr`"bias" must be "none", "all" or "lora_only" (got ${JSON.stringify(v.bias)}).`);
  for (const key of ['fan_in_fan_out', 'use_rslora', 'use_dora', 'inference_mode', 'lora_bias']) {
    if (key in v && typeof v[key] !== 'boolean' && v[key] !== null) bad(key, tr`"${key}" must be true or false (got ${JSON.stringify(v[key])}).`);
  }
  const tm = v.target_modules;
  if ('target_modules' in v && tm !== null && typeof tm !== 'string' && !(Array.isArray(tm) && tm.every((x) => typeof x === 'string'))) {
    bad('target_modules', tr`"target_modules" must be a list of module names, a regex string, "all-linear" or null.`);
  } else if (typeof tm === 'string' && tm !== 'all-linear') {
    try {
      new RegExp(tm);
    } catch {
      bad('target_modules', tr`"target_modules" is a string, so PEFT uses it as a regex (re.fullmatch), but it is not a valid regex.`);
    }
  }
  const mts = v.modules_to_save;
  if ('modules_to_save' in v && mts !== null && !(Array.isArray(mts) && mts.every((x) => typeof x === 'string'))) {
    bad('modules_to_save', tr`"modules_to_save" must be a list of module names or null.`);
  }
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    const pat = v[key];
    if (!(key in v) || pat === null) continue;
    if (typeof pat !== 'object' || Array.isArray(pat)) {
      bad(key, tr`"${key}" must be an object mapping module-name patterns to numbers.`);
      continue;
    }
    for (const [k, n] of Object.entries(pat as Record<string, unknown>)) {
      const ok = key === 'rank_pattern' ? isInt(n) && n > 0 : typeof n === 'number' && Number.isFinite(n);
      if (!ok) out.push(problem('invalid-value', 'error', valueRange(parsed, [key, k]), tr`${key}["${k}"] must be a ${key === 'rank_pattern' ? tr`positive integer` : 'number'} (got ${JSON.stringify(n)}).`));
      try {
        new RegExp(k);
      } catch {
        out.push(problem('invalid-value', 'warning', valueRange(parsed, [key, k]), tr`${key} key "${k}" is not a valid regex; PEFT matches keys with re.match.`));
      }
    }
  }
  const ltt = v.layers_to_transform;
  if ('layers_to_transform' in v && ltt !== null && !(isInt(ltt) && ltt >= 0) && !(Array.isArray(ltt) && ltt.every((x) => isInt(x) && x >= 0))) {
    bad('layers_to_transform', tr`"layers_to_transform" must be a layer index, a list of indices, or null.`);
  }
  if (v.layer_replication !== undefined && v.layer_replication !== null) {
    out.push(problem('layer-replication', 'info', valueRange(parsed, ['layer_replication']),
      tr`"layer_replication" duplicates base layers at load time: this adapter cannot be merged into a plain model (PEFT refuses to merge it).`));
  }
  return out;
}
