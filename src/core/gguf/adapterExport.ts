// A PEFT LoRA adapter as a llama.cpp LoRA adapter GGUF (llama-cli --lora, Ollama's ADAPTER), as convert_lora_to_gguf.py
// writes it: general.type=adapter, adapter.type=lora, adapter.lora.alpha, and per adapted weight blk.N.attn_q.weight.lora_a
// ([r, in]) and .lora_b ([out, r], its rows permuted like the weight's for q/k). llama.cpp scales by alpha/r, so an
// rsLoRA adapter (alpha/sqrt(r)) is written with alpha*sqrt(r) (the converter ignores use_rslora). DoRA,
// modules_to_save, embedding LoRAs, lora_bias and per-module patterns have no llama.cpp adapter form: refused.

import { CoreError } from '../errors';
import { readJsonObject } from '../jsonFile';
import { PEFT_PREFIX, readAdapterWeights } from '../merge/plan';
import { moduleScaling, normalizePeftConfig, variantOf } from '../peft/config';
import type { FsPort } from '../ports';
import { basename, joinPath } from '../paths';
import type { BinHeaderReader, WeightTensor } from '../safetensors/modelWeights';
import { isFloatDType } from '../tensor/dtype';
import { tr, type Text } from '../text';
import type { GgufExportPlan, PlannedGgufTensor } from './export';
import { GGML_QUANT_VERSION, type GgufKv } from './format';
import { llamaHparams } from './llamaMeta';
import { convertType, llamaGgufName, permuteHeads } from './llamaTensors';
import { authorshipKvs, readModelCard } from './modelCard';
import { layoutGguf } from './writer';

const MERGED_HINT = 'export the merged model instead: lora-workbench gguf <adapter> --base <model> --out <file.gguf>';

function refuse(file: string, what: string | Text): CoreError {
  return new CoreError('unsupported', tr`${file}: ${what}; llama.cpp LoRA adapters cannot express it. ${MERGED_HINT}`, file);
}

interface LoraPair { a?: WeightTensor; b?: WeightTensor }

/** The adapter's lora_A/lora_B pairs by module, in the order load_file gives them (sorted names). */
async function loraPairs(fs: FsPort, adapterPath: string, binReader: BinHeaderReader, file: string): Promise<Map<string, LoraPair>> {
  const weights = await readAdapterWeights(fs, adapterPath, binReader);
  const pairs = new Map<string, LoraPair>();
  for (const key of [...weights.tensors.keys()].sort()) {
    const t = weights.tensors.get(key)!;
    const name = key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key;
    const m = /^(.+)\.lora_(A|B)(?:\.[A-Za-z0-9_-]+)?\.weight$/.exec(name);
    if (/lora_embedding_/.test(name)) throw refuse(file, tr`'${name}' is an embedding LoRA`);
    if (/lora_magnitude_vector/.test(name)) throw refuse(file, 'the adapter is DoRA (lora_magnitude_vector)');
    if (!m) throw refuse(file, tr`'${name}' is a full tensor (modules_to_save or bias), not a LoRA factor`);
    if (!isFloatDType(t.dtype)) throw new CoreError('bad-format', tr`${weights.file}: '${t.name}' has dtype ${t.dtype}; adapter weights must be F32, F16 or BF16.`, weights.file);
    const p = pairs.get(m[1]!) ?? {};
    if (m[2] === 'A') p.a = t; else p.b = t;
    pairs.set(m[1]!, p);
  }
  return pairs;
}

function checkConfig(raw: Record<string, unknown>, file: string): { alpha: number; r: number; rs: boolean } {
  const peft = normalizePeftConfig(raw);
  if (variantOf(peft) === 'other') throw new CoreError('unsupported', tr`${file}: peft_type '${peft.peftType}' is not LoRA.`, file);
  if (raw.use_dora === true) throw refuse(file, 'use_dora is set (DoRA)');
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0) throw refuse(file, 'modules_to_save is set');
  if (peft.rankPattern.length > 0 || peft.alphaPattern.length > 0) throw refuse(file, 'rank_pattern/alpha_pattern give modules different scales');
  const { r, alpha } = moduleScaling(peft, '');
  return { alpha, r, rs: raw.use_rslora === true };
}

/** Plan the adapter GGUF against the base's config (architecture, heads for the q/k row permutation). */
export async function planLoraAdapterGguf(fs: FsPort, adapterPath: string, basePath: string, type: 'f32' | 'f16', binReader: BinHeaderReader): Promise<GgufExportPlan> {
  const cfgFile = joinPath(adapterPath, 'adapter_config.json');
  const raw = await readJsonObject(fs, cfgFile, false);
  if (!raw) throw new CoreError('not-found', tr`${adapterPath}: no adapter_config.json.`, adapterPath);
  const { alpha, r, rs } = checkConfig(raw, cfgFile);
  const baseCfgFile = joinPath(basePath, 'config.json');
  const baseCfg = await readJsonObject(fs, baseCfgFile, false);
  if (!baseCfg) throw new CoreError('not-found', tr`${basePath}: no config.json; the adapter export needs the base model's hyperparameters.`, basePath);
  const hp = llamaHparams(baseCfg, baseCfgFile);
  const tensors: PlannedGgufTensor[] = [];
  let adapted = 0;
  for (const [module, p] of await loraPairs(fs, adapterPath, binReader, cfgFile)) {
    const gname = llamaGgufName(`${module}.weight`);
    if (!gname) throw new CoreError('unsupported', tr`${cfgFile}: module '${module}' has no llama.cpp tensor name.`, cfgFile);
    if (!p.a || !p.b) throw new CoreError('bad-format', tr`${cfgFile}: module '${module}' has ${p.a ? 'lora_A' : 'lora_B'} without its partner.`, cfgFile);
    adapted += p.b.shape[0]! * p.a.shape[1]!;
    for (const [suffix, t, heads] of [['lora_a', p.a, null], ['lora_b', p.b, permuteHeads(`${module}.weight`, hp.nHead, hp.nKvHead)]] as const) {
      const ne = [...t.shape].reverse();
      const name = `${gname}.${suffix}`;
      tensors.push({ name, ne, type: convertType(name, ne.length, type === 'f32' ? 'F32' : 'F16'), hfName: t.name, op: { kind: 'copy', src: t }, dtype: t.dtype, shape: t.shape, heads });
    }
  }
  if (tensors.length === 0) throw new CoreError('bad-format', tr`${adapterPath}: the adapter holds no LoRA factors.`, adapterPath);
  const kvs = adapterKvs(await readModelCard(fs, adapterPath), basename(adapterPath), rs ? alpha * Math.sqrt(r) : alpha, adapted);
  return { inputs: { modelPath: basePath, adapterPath, type }, kvs, tensors, layout: layoutGguf(kvs, tensors), warnings: [], needsBackend: false };
}

/** `adapted`: elements of the weights the adapter changes; gguf-py negates that count for adapters ("not exact"). */
function adapterKvs(card: Record<string, unknown>, folderName: string, alpha: number, adapted: number): GgufKv[] {
  return [
    { key: 'general.architecture', value: { type: 'string', value: 'llama' } },
    { key: 'general.type', value: { type: 'string', value: 'adapter' } },
    { key: 'adapter.type', value: { type: 'string', value: 'lora' } },
    // The adapter folder is the converter's model card folder; it has no config.json of its own.
    ...authorshipKvs(card, {}, folderName, -adapted, null),
    { key: 'adapter.lora.alpha', value: { type: 'f32', value: alpha } },
    { key: 'general.quantization_version', value: { type: 'u32', value: GGML_QUANT_VERSION } },
  ];
}
