// planMerge: from headers and configs only, decide what every output tensor is (copied, LoRA-merged, replaced by a
// modules_to_save tensor, bias-updated), validate adapter <-> base shapes, and lay out the output shards. Nothing is
// written and no tensor data is read, so every mismatch is reported before the output folder exists.
// Semantics: PEFT merge_and_unload (tuners/lora/layer.py, variants.py DoRA); ../shared/DOMAIN.md section 4.

import { CoreError } from '../errors';
import { readJsonObject } from '../jsonFile';
import { moduleScaling, normalizePeftConfig, variantOf, type LoraVariant, type PeftConfig } from '../peft/config';
import type { FsPort } from '../ports';
import { joinPath } from '../paths';
import { readSafetensorsHeader, type TensorInfo } from '../safetensors/header';
import { changedError } from './inputReader';
import { readModelWeights, type BinHeaderReader, type ModelWeights, type WeightTensor } from '../safetensors/modelWeights';
import { planShards, type OutTensorSpec, type ShardPlan } from '../safetensors/writer';
import { dtypeFromTorchName, isFloatDType, numel, torchDTypeName, type DType, type FloatDType } from '../tensor/dtype';
import { tr, type Text } from '../text';

export type OutDTypeChoice = 'auto' | 'float16' | 'bfloat16' | 'float32';

/** transformers' default max_shard_size ("5GB" = 5 * 10^9 bytes). */
export const DEFAULT_SHARD_BYTES = 5_000_000_000;

/** How a LoRA delta maps onto the stored base weight. */
export type LoraLayout =
  /** nn.Linear: W [out, in] += s * B [out, r] @ A [r, in]. */
  | 'linear'
  /** GPT-2 Conv1D (fan_in_fan_out): W [in, out] += s * (B @ A)^T. */
  | 'conv1d'
  /** nn.Embedding: W [vocab, dim] += s * (B [dim, r] @ A [r, vocab])^T. */
  | 'embedding';

export type TensorOp =
  | { readonly kind: 'copy'; readonly src: WeightTensor }
  | {
    readonly kind: 'lora';
    readonly src: WeightTensor;
    readonly module: string;
    readonly layout: LoraLayout;
    readonly a: WeightTensor; // (r, in) or (r, vocab) for embeddings
    readonly b: WeightTensor; // (out, r) or (dim, r) for embeddings
    readonly magnitude: WeightTensor | null; // DoRA (out)
    readonly r: number;
    readonly alpha: number;
    readonly scaling: number;
  }
  | { readonly kind: 'loraBias'; readonly src: WeightTensor; readonly module: string; readonly bias: WeightTensor; readonly scaling: number }
  | { readonly kind: 'replace'; readonly src: WeightTensor; readonly replaced: WeightTensor | null };

export interface PlannedTensor extends OutTensorSpec {
  readonly op: TensorOp;
}

export interface MergeInputs {
  /** Folders as the user gave them (kept verbatim for the manifest) and resolved absolute paths. */
  readonly baseGiven: string;
  readonly basePath: string;
  readonly adapterGiven: string;
  readonly adapterPath: string;
  readonly dtype?: OutDTypeChoice;
  readonly shardSize?: number;
}

export interface AdapterWeights {
  readonly folder: string;
  readonly file: string;
  readonly tensors: ReadonlyMap<string, WeightTensor>;
}

export interface MergePlan {
  readonly inputs: MergeInputs;
  readonly peft: PeftConfig;
  readonly variant: LoraVariant;
  readonly base: ModelWeights;
  readonly baseConfig: Record<string, unknown> | null;
  readonly adapter: AdapterWeights;
  /** Output tensors in processing order (base file order, so reads are sequential). */
  readonly tensors: readonly PlannedTensor[];
  readonly shards: readonly ShardPlan<PlannedTensor>[];
  /** The config.json to write. */
  readonly outConfig: Record<string, unknown> | null;
  readonly outDtype: FloatDType;
  /** Where tokenizer files come from. */
  readonly tokenizerFrom: 'adapter' | 'base';
  readonly tokenizerFiles: readonly string[];
  readonly extraFiles: readonly string[];
  readonly outputBytes: number;
  /** Elements of the largest tensor that is computed in f32 (memory bound). */
  readonly largestComputeElems: number;
  readonly warnings: readonly string[];
  /** Size and mtime of every weights file when its header was read: the merge fails if one differs when it reads it. */
  readonly inputStamps: Readonly<Record<string, FileStamp>>;
}

export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
}

export const PEFT_PREFIX = 'base_model.model.';
export const TOKENIZER_FILES = [
  'tokenizer.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json',
  'vocab.json', 'merges.txt', 'chat_template.jinja', 'chat_template.json',
];
/** Copied from the base (when present) besides config.json and the tokenizer. */
export const BASE_EXTRA_FILES = ['generation_config.json'];

// An adapter-name segment (older saves kept '.default') may sit between the part and weight/bias.
const LORA_KEY = /^(.+)\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)(?:\.(?!weight$|bias$)[A-Za-z0-9_-]+)?(?:\.(weight|bias))?$/;


const WEIGHTS_FILE = /\.(safetensors|bin)$/;

/** Size and mtime of the weights files in `folders`, taken before any header is read (the plan trusts those headers). */
async function stampWeights(fs: FsPort, folders: readonly string[]): Promise<Record<string, FileStamp>> {
  const out: Record<string, FileStamp> = {};
  for (const folder of folders) {
    for (const e of await fs.readDir(folder).catch(() => [])) {
      if (e.kind === 'dir' || !WEIGHTS_FILE.test(e.name)) continue;
      const st = await fs.stat(joinPath(folder, e.name));
      if (st?.kind === 'file') out[joinPath(folder, e.name)] = { size: st.size, mtimeMs: st.mtimeMs };
    }
  }
  return out;
}

/** The stamps of the files the plan uses; one that changed while its header was read fails the plan. */
async function confirmStamps(fs: FsPort, early: Readonly<Record<string, FileStamp>>, files: readonly string[]): Promise<Record<string, FileStamp>> {
  const out: Record<string, FileStamp> = {};
  for (const f of files) {
    const st = await fs.stat(f);
    const was = early[f];
    if (was && (!st || st.size !== was.size || st.mtimeMs !== was.mtimeMs)) throw changedError(f, was, st);
    if (st) out[f] = was ?? { size: st.size, mtimeMs: st.mtimeMs };
  }
  return out;
}

/** Open the adapter's weights (safetensors preferred, else .bin through the restricted reader). */
export async function readAdapterWeights(fs: FsPort, folder: string, binReader: BinHeaderReader): Promise<AdapterWeights> {
  const st = joinPath(folder, 'adapter_model.safetensors');
  const bin = joinPath(folder, 'adapter_model.bin');
  let file: string;
  let infos: readonly TensorInfo[];
  if ((await fs.stat(st))?.kind === 'file') {
    file = st;
    const src = await fs.open(st);
    try {
      infos = (await readSafetensorsHeader(src)).tensors;
    } finally {
      await src.close();
    }
  } else if ((await fs.stat(bin))?.kind === 'file') {
    file = bin;
    infos = await binReader(fs, bin);
  } else {
    throw new CoreError('not-found', tr`${folder}: no adapter weights (adapter_model.safetensors or adapter_model.bin).`, folder);
  }
  const tensors = new Map<string, WeightTensor>();
  for (const t of infos) {
    if (t.end - t.begin === 0 && numel(t.shape) === 0) {
      throw new CoreError('bad-format', tr`${file}: tensor '${t.name}' is empty (shape ${JSON.stringify(t.shape)}): typical of a DeepSpeed ZeRO-3 save without gathering the weights.`, file);
    }
    tensors.set(t.name, { ...t, file });
  }
  return { folder, file, tensors };
}

function layerIndex(module: string, pattern: PeftConfig['layersPattern']): number | null {
  const names = pattern === null ? ['layers', 'h', 'blocks', 'layer', 'transformer_blocks'] : typeof pattern === 'string' ? [pattern] : pattern;
  for (const n of names) {
    const m = new RegExp(`(?:^|\\.)${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)(?:\\.|$)`).exec(module);
    if (m) return Number(m[1]);
  }
  return null;
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Decide everything about a merge from headers and configs. Throws CoreError before anything is written. */
export async function planMerge(fs: FsPort, inputs: MergeInputs, binReader: BinHeaderReader): Promise<MergePlan> {
  const warnings: string[] = [];
  const early = await stampWeights(fs, [inputs.basePath, inputs.adapterPath]);
  const cfgPath = joinPath(inputs.adapterPath, 'adapter_config.json');
  const rawCfg = await readJsonObject(fs, cfgPath, false);
  if (!rawCfg) throw new CoreError('not-found', tr`${inputs.adapterPath}: no adapter_config.json.`, inputs.adapterPath);
  const peft = normalizePeftConfig(rawCfg);
  if (peft.format === 'mlx') throw new CoreError('unsupported', tr`${cfgPath}: this is an MLX-LM adapter config, not PEFT; merge it with mlx_lm.fuse.`, cfgPath);
  const variant = variantOf(peft);
  if (variant === 'other') throw new CoreError('unsupported', tr`${cfgPath}: peft_type '${peft.peftType}' is not LoRA; only LoRA adapters can be merged.`, cfgPath);
  if (peft.layerReplication !== null && !(Array.isArray(peft.layerReplication) && peft.layerReplication.length === 0)) {
    throw new CoreError('unsupported', tr`${cfgPath}: layer_replication is set; PEFT forbids merging such adapters (the replicated layers share base weights).`, cfgPath);
  }

  const baseConfig = await readJsonObject(fs, joinPath(inputs.basePath, 'config.json'), false);
  const quant = baseConfig?.quantization_config as Record<string, unknown> | undefined;
  const quantMethod = typeof quant?.quant_method === 'string' ? quant.quant_method : quant ? 'unknown' : null;
  if (quantMethod === 'gptq') {
    throw new CoreError('unsupported', tr`${inputs.basePath}: the base is GPTQ-quantized; merging into GPTQ weights is not possible. Point --base at the original 16-bit model.`, inputs.basePath);
  }

  const base = await readModelWeights(fs, inputs.basePath, binReader);
  const adapter = await readAdapterWeights(fs, inputs.adapterPath, binReader);

  const resolveBase = (name: string): WeightTensor | null => {
    for (const n of [name, name.replace(/^model\./, ''), `model.${name}`]) {
      const t = base.tensors.get(n);
      if (t) return t;
    }
    return null;
  };

  // Group adapter tensors by module.
  interface ModuleParts { a?: WeightTensor; b?: WeightTensor; bBias?: WeightTensor; ea?: WeightTensor; eb?: WeightTensor; mag?: WeightTensor }
  const modules = new Map<string, ModuleParts>();
  const fullTensors: Array<[string, WeightTensor]> = [];
  for (const [key, t] of adapter.tensors) {
    const name = key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key;
    const m = LORA_KEY.exec(name);
    if (!m) {
      fullTensors.push([name, t]);
      continue;
    }
    const [, module, part, suffix] = m as unknown as [string, string, string, string | undefined];
    const parts = modules.get(module!) ?? {};
    modules.set(module!, parts);
    if (part === 'lora_A') parts.a = t;
    else if (part === 'lora_B') { if (suffix === 'bias') parts.bBias = t; else parts.b = t; }
    else if (part === 'lora_embedding_A') parts.ea = t;
    else if (part === 'lora_embedding_B') parts.eb = t;
    else parts.mag = t;
  }
  if (modules.size === 0 && fullTensors.length === 0) throw new CoreError('bad-format', tr`${adapter.file}: holds no tensors.`, adapter.file);

  const ops = new Map<string, TensorOp>();
  const extraOut: PlannedTensor[] = [];
  const incompatible = (msg: Text): CoreError => new CoreError('incompatible', tr`${msg} The adapter does not fit this base model (${inputs.basePath}).`, adapter.file);

  // Square layers cannot be told apart by shape; decide them like the rest of the model (GPT-2 style Conv1D or not).
  let conv1dSeen = false;
  let linearSeen = false;
  for (const [module, p] of modules) {
    if (!p.a || !p.b) continue;
    const w = resolveBase(`${module}.weight`);
    if (!w || w.shape.length !== 2) continue;
    const rin = p.a.shape[1]; const rout = p.b.shape[0];
    if (rin === rout) continue;
    if (w.shape[0] === rout && w.shape[1] === rin) linearSeen = true;
    else if (w.shape[0] === rin && w.shape[1] === rout) conv1dSeen = true;
  }
  const modelType = typeof baseConfig?.model_type === 'string' ? baseConfig.model_type : '';
  const squareIsConv1d = conv1dSeen && !linearSeen ? true : linearSeen ? false : modelType === 'gpt2';
  let fanWarned = false;

  for (const [module, p] of modules) {
    const idx = layerIndex(module, peft.layersPattern);
    if (peft.layersToTransform && idx !== null && !peft.layersToTransform.includes(idx)) {
      warnings.push(`${module}: layer ${idx} is not in layers_to_transform ${JSON.stringify(peft.layersToTransform)}; its adapter weights are ignored, as PEFT would.`);
      continue;
    }
    const { r, alpha, scaling } = moduleScaling(peft, module);
    const embedding = p.ea !== undefined || p.eb !== undefined;
    const aT = embedding ? p.ea : p.a;
    const bT = embedding ? p.eb : p.b;
    if (!aT || !bT) {
      if (p.bBias || p.mag) throw new CoreError('bad-format', tr`${adapter.file}: module '${module}' has a bias or magnitude but no lora_A/lora_B pair.`, adapter.file);
      throw new CoreError('bad-format', tr`${adapter.file}: module '${module}' has ${aT ? 'lora_A' : 'lora_B'} without its partner.`, adapter.file);
    }
    if (aT.shape.length !== 2 || bT.shape.length !== 2 || aT.shape[0] !== bT.shape[1]) {
      throw new CoreError('bad-format', tr`${adapter.file}: module '${module}': lora_A ${shapeStr(aT.shape)} and lora_B ${shapeStr(bT.shape)} do not form a rank-r pair.`, adapter.file);
    }
    for (const t of [aT, bT, p.mag, p.bBias]) {
      if (t && !isFloatDType(t.dtype)) throw new CoreError('bad-format', tr`${adapter.file}: '${t.name}' has dtype ${t.dtype}; adapter weights must be F32, F16 or BF16.`, adapter.file);
    }
    const tensorRank = aT.shape[0]!;
    if (tensorRank !== r) {
      throw new CoreError('bad-format', tr`${adapter.file}: module '${module}' has rank ${tensorRank} in its weights but the config gives r=${r}${peft.rankPattern.length ? tr` (after rank_pattern)` : ''}; PEFT would refuse to load it.`, adapter.file);
    }
    // A LoRA on the lm_head of a tied base (Qwen3 small sizes, Gemma) starts from the embeddings, as a new tensor.
    const tiedHead = !resolveBase(`${module}.weight`) && /(^|\.)lm_head$/.test(module) && baseConfig?.tie_word_embeddings !== false
      ? [...base.tensors.values()].find((t) => /(^|\.)(embed_tokens|wte|word_embeddings)\.weight$/.test(t.name)) ?? null : null;
    const w = resolveBase(`${module}.weight`) ?? tiedHead;
    if (!w) throw incompatible(tr`The adapter changes '${module}', but the base has no '${module}.weight'.`);
    if (!isFloatDType(w.dtype)) {
      const advice = quantMethod ? tr` The base is quantized (${quantMethod}); point --base at the original 16-bit weights (QLoRA adapters are merged onto them).` : '';
      throw new CoreError('unsupported', tr`${w.file}: '${w.name}' is stored as ${w.dtype}; only F32/F16/BF16 weights can be merged.${advice}`, w.file);
    }
    if (w.shape.length !== 2) throw incompatible(tr`'${w.name}' has shape ${shapeStr(w.shape)}; LoRA merging needs a 2-D weight.`);
    const [R, C] = w.shape as [number, number];
    let layout: LoraLayout;
    if (embedding) {
      // lora_embedding_A (r, vocab), lora_embedding_B (dim, r); W (vocab, dim).
      if (R !== aT.shape[1] || C !== bT.shape[0]) {
        throw incompatible(tr`Embedding '${module}': base ${shapeStr(w.shape)} vs lora_embedding_A ${shapeStr(aT.shape)} / lora_embedding_B ${shapeStr(bT.shape)}.`);
      }
      layout = 'embedding';
    } else {
      const rin = aT.shape[1]!; const rout = bT.shape[0]!;
      const linear = R === rout && C === rin;
      const conv = R === rin && C === rout;
      if (!linear && !conv) {
        throw incompatible(tr`Module '${module}': base weight ${shapeStr(w.shape)} vs lora_A ${shapeStr(aT.shape)} and lora_B ${shapeStr(bT.shape)} (expected [${rout}, ${rin}]).`);
      }
      layout = linear && conv ? (squareIsConv1d ? 'conv1d' : 'linear') : linear ? 'linear' : 'conv1d';
      if ((layout === 'conv1d') !== peft.fanInFanOut && !fanWarned) {
        fanWarned = true;
        warnings.push(layout === 'conv1d'
          ? `adapter_config.json says fan_in_fan_out=false but the base stores [in, out] (Conv1D) weights; merged transposed, as the shapes require.`
          : `adapter_config.json says fan_in_fan_out=true but the base stores [out, in] (nn.Linear) weights; merged untransposed, as PEFT forces it false for Linear layers.`);
      }
    }
    if (p.mag) {
      if (layout !== 'linear') throw new CoreError('unsupported', tr`${adapter.file}: DoRA on ${layout === 'embedding' ? tr`an embedding` : tr`a Conv1D`} layer ('${module}') is not supported by this merge.`, adapter.file);
      if (numel(p.mag.shape) !== R) throw incompatible(tr`DoRA magnitude of '${module}' has ${numel(p.mag.shape)} values, the weight has ${R} rows.`);
    } else if (variant === 'dora') {
      throw new CoreError('bad-format', tr`${adapter.file}: use_dora is set but module '${module}' has no lora_magnitude_vector.`, adapter.file);
    }
    const op: TensorOp = { kind: 'lora', src: w, module, layout, a: aT, b: bT, magnitude: p.mag ?? null, r, alpha, scaling };
    if (tiedHead) {
      extraOut.push({ name: 'lm_head.weight', dtype: w.dtype, shape: w.shape, op });
      continue;
    }
    if (ops.has(w.name)) throw new CoreError('bad-format', tr`${adapter.file}: two adapter entries change '${w.name}'.`, adapter.file);
    ops.set(w.name, op);
    if (p.bBias) {
      const bias = resolveBase(`${module}.bias`);
      if (!bias) throw incompatible(tr`lora_bias of '${module}' needs a base bias '${module}.bias', which the base does not have.`);
      if (numel(bias.shape) !== numel(p.bBias.shape)) throw incompatible(tr`lora_B.bias of '${module}' has ${numel(p.bBias.shape)} values, the base bias ${numel(bias.shape)}.`);
      ops.set(bias.name, { kind: 'loraBias', src: bias, module, bias: p.bBias, scaling });
    }
  }

  // modules_to_save / bias="all": full tensors replacing the base's (a resized vocabulary changes the row count).
  let newVocab: number | null = null;
  const embedLike = (n: string): boolean => /(^|\.)(embed_tokens|wte|word_embeddings|lm_head|embed_out|output)\.weight$/.test(n);
  const tiedConfig = baseConfig ? baseConfig.tie_word_embeddings !== false : false;
  let lmHeadChanged = false;
  for (const [name, t] of fullTensors) {
    if (!isFloatDType(t.dtype)) throw new CoreError('bad-format', tr`${adapter.file}: '${t.name}' has dtype ${t.dtype}; saved modules must be F32, F16 or BF16.`, adapter.file);
    let target = resolveBase(name);
    const isLmHead = /(^|\.)lm_head\.weight$/.test(name);
    if (isLmHead) lmHeadChanged = true;
    if (!target && isLmHead) {
      // Tied embeddings store no lm_head: the saved lm_head becomes a tensor of its own.
      extraOut.push({ name: 'lm_head.weight', dtype: t.dtype, shape: t.shape, op: { kind: 'replace', src: t, replaced: null } });
      if (t.shape.length === 2) newVocab = t.shape[0]!;
      continue;
    }
    if (!target) throw incompatible(tr`The adapter saves a full '${name}' (modules_to_save or bias), but the base has no such tensor.`);
    if (ops.has(target.name)) throw new CoreError('bad-format', tr`${adapter.file}: '${target.name}' is both LoRA-adapted and saved in full.`, adapter.file);
    if (shapeStr(target.shape) !== shapeStr(t.shape)) {
      const resized = embedLike(target.name) && t.shape.length === 2 && target.shape.length === 2 && t.shape[1] === target.shape[1];
      if (!resized) throw incompatible(tr`'${name}' is ${shapeStr(t.shape)} in the adapter but ${shapeStr(target.shape)} in the base.`);
      if (newVocab !== null && newVocab !== t.shape[0]) throw new CoreError('bad-format', tr`${adapter.file}: the saved embeddings disagree on the vocabulary size (${newVocab} vs ${t.shape[0]}).`, adapter.file);
      newVocab = t.shape[0]!;
      warnings.push(`'${target.name}' is resized from ${target.shape[0]} to ${t.shape[0]} rows (the adapter's vocabulary); vocab_size is updated.`);
    }
    ops.set(target.name, { kind: 'replace', src: t, replaced: target });
    target = null;
  }
  // LoRA on a tied lm_head with no stored lm_head: the delta applies to a copy of the embeddings.
  for (const [module, p] of modules) {
    if (/(^|\.)lm_head$/.test(module) && (p.a || p.ea)) lmHeadChanged = true;
  }
  if (newVocab !== null) {
    for (const [name, op] of ops) {
      if (op.kind === 'lora' && op.layout === 'embedding' && embedLike(name)) {
        throw new CoreError('unsupported', tr`${adapter.file}: '${name}' gets an embedding LoRA while the vocabulary is resized.`, adapter.file);
      }
    }
  }

  const choice = inputs.dtype ?? 'auto';
  const forced = choice === 'auto' ? null : dtypeFromTorchName(choice);
  const outDtypeOf = (d: DType): DType => (forced && isFloatDType(d) ? forced : d);

  // Output order: base files in order, tensors by offset (sequential reads), then tensors the base lacked.
  const baseSorted = [...base.tensors.values()].sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : x.begin - y.begin));
  const tensors: PlannedTensor[] = [];
  let largestComputeElems = 0;
  for (const t of baseSorted) {
    const op: TensorOp = ops.get(t.name) ?? { kind: 'copy', src: t };
    const shape = op.kind === 'replace' ? op.src.shape : t.shape;
    tensors.push({ name: t.name, dtype: outDtypeOf(t.dtype), shape, op });
    if (op.kind === 'lora') largestComputeElems = Math.max(largestComputeElems, numel(t.shape));
  }
  for (const e of extraOut) {
    tensors.push({ ...e, dtype: forced ?? (baseSorted.find((t) => embedLike(t.name))?.dtype ?? e.dtype) });
    if (e.op.kind === 'lora') largestComputeElems = Math.max(largestComputeElems, numel(e.shape));
  }

  // Config: dtype, vocabulary, no quantization, untied when lm_head diverged from the embeddings.
  const floatDtypes = new Map<FloatDType, number>();
  for (const t of tensors) if (isFloatDType(t.dtype)) floatDtypes.set(t.dtype, (floatDtypes.get(t.dtype) ?? 0) + numel(t.shape));
  const dominant = [...floatDtypes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  const outDtype: FloatDType = forced ?? (dominant as FloatDType);
  let outConfig: Record<string, unknown> | null = null;
  if (baseConfig) {
    outConfig = { ...baseConfig, torch_dtype: torchDTypeName(outDtype) };
    if ('quantization_config' in outConfig) {
      delete outConfig.quantization_config;
      warnings.push(`The base config has quantization_config (${quantMethod}); the merged model is written unquantized (${torchDTypeName(outDtype)}) and the key is dropped.`);
    }
    if (newVocab !== null) outConfig.vocab_size = newVocab;
    if (tiedConfig && lmHeadChanged) {
      outConfig.tie_word_embeddings = false;
      warnings.push('lm_head diverges from the tied input embeddings; tie_word_embeddings is set to false in the output config.');
    }
  } else {
    warnings.push(`${inputs.basePath}: no config.json; the output will have none either.`);
  }
  // A tied lm_head changed by LoRA needs the base embeddings as its starting point.
  if (tiedConfig && lmHeadChanged && !tensors.some((t) => /(^|\.)lm_head\.weight$/.test(t.name))) {
    throw new CoreError('unsupported', tr`${adapter.file}: the adapter changes a tied lm_head that the base does not store; this merge cannot untie it.`, adapter.file);
  }

  // Tokenizer: the adapter's when it ships one (resized vocabularies need it), else the base's.
  const present = async (folder: string): Promise<string[]> => {
    const out: string[] = [];
    for (const f of TOKENIZER_FILES) if ((await fs.stat(joinPath(folder, f)))?.kind === 'file') out.push(f);
    return out;
  };
  const adapterTok = await present(inputs.adapterPath);
  const hasAdapterTokenizer = adapterTok.some((f) => f === 'tokenizer.json' || f === 'tokenizer.model' || f === 'tokenizer_config.json');
  const tokenizerFrom = hasAdapterTokenizer ? 'adapter' : 'base';
  const tokenizerFiles = hasAdapterTokenizer ? adapterTok : await present(inputs.basePath);
  if (newVocab !== null && !hasAdapterTokenizer) {
    warnings.push(`The vocabulary is resized to ${newVocab} but the adapter folder ships no tokenizer; the base tokenizer is copied and will not match.`);
  }
  const extraFiles: string[] = [];
  for (const f of BASE_EXTRA_FILES) if ((await fs.stat(joinPath(inputs.basePath, f)))?.kind === 'file') extraFiles.push(f);

  const shardSize = inputs.shardSize ?? DEFAULT_SHARD_BYTES;
  const shards = planShards(tensors, shardSize, { format: 'pt' });
  const outputBytes = shards.reduce((s, x) => s + x.size, 0);
  if (![...ops.values()].some((o) => o.kind !== 'copy')) warnings.push('The adapter changes nothing in this base (no LoRA modules matched); the output is a copy.');
  const inputStamps = await confirmStamps(fs, early, [...base.files, adapter.file]);
  return {
    inputs, peft, variant, base, baseConfig, adapter, tensors, shards, outConfig, outDtype, tokenizerFrom, tokenizerFiles,
    extraFiles, outputBytes, largestComputeElems, warnings, inputStamps,
  };
}
