// PEFT LoRA adapters loaded beside the base and applied on the fly: y = W x + s * B (A x), with s from
// lora_alpha / r (or / sqrt(r) for rsLoRA) and rank/alpha patterns, times the caller's scale. DoRA, embedding LoRA,
// lora_bias and full tensors (modules_to_save, bias="all") are kept per adapter; nothing is merged into the base.
// Reference: huggingface/peft tuners/lora/{layer,dora}.py, utils/save_and_load.py (key naming).

import type { Backend, BTensor } from '../../backend';
import { CoreError } from '../../errors';
import { readJsonObject } from '../../jsonFile';
import { joinPath } from '../../paths';
import { moduleScaling, normalizePeftConfig, variantOf, type PeftConfig } from '../../peft/config';
import type { FsPort } from '../../ports';
import { readSafetensorsHeader, type TensorInfo } from '../../safetensors/header';
import type { WeightTensor } from '../../safetensors/modelWeights';
import { hasTokenizer } from '../../tokenizer/loadTokenizer';
import { readTorchBinTensors } from '../../torchpickle/binReader';
import { TensorLoader } from '../tensorLoader';
import { languageModelName } from './families';

/** One adapted linear module. */
export interface LoraModule {
  /** (r, in) */
  readonly a: BTensor;
  /** (out, r) */
  readonly b: BTensor;
  readonly r: number;
  /** alpha / r or alpha / sqrt(r), from the config's patterns. */
  readonly scaling: number;
  /** DoRA magnitude m (out), host copy; with host copies of A (r, in) and B (out, r) for the weight norm. */
  readonly dora: { readonly magnitude: Float32Array; readonly aHost: Float32Array; readonly bHost: Float32Array } | null;
  /** lora_bias: B's bias (out), host copy; added as s * bias. */
  readonly loraBias: Float32Array | null;
}

/** LoRA on the token embedding: E'[id] = E[id] + s * B @ A[:, id]. */
export interface EmbeddingLora {
  /** A transposed on the host: (vocab, r), so one row per token id. */
  readonly aT: Float32Array;
  /** (hidden, r) */
  readonly b: BTensor;
  readonly r: number;
  readonly scaling: number;
}

export interface LoadedAdapter {
  readonly path: string;
  readonly config: PeftConfig;
  readonly variant: string;
  /** Module path (e.g. 'model.layers.0.self_attn.q_proj') -> LoRA factors. */
  readonly modules: ReadonlyMap<string, LoraModule>;
  readonly embedding: EmbeddingLora | null;
  /** Base tensor name -> replacement (modules_to_save, trained biases). */
  readonly overrides: ReadonlyMap<string, BTensor>;
  /** Folder of the adapter's own tokenizer (shipped with a resized vocabulary), or null. */
  readonly tokenizerFolder: string | null;
  readonly bytes: number;
}

const PREFIX = 'base_model.model.';

/**
 * Strip PEFT's prefix and a leftover adapter name ('lora_A.default.weight' from some tools); a multimodal Gemma 3
 * adapter's language-model keys get the text model's names, and its vision-tower keys null (text never reaches them).
 */
function normalizeKey(key: string): string | null {
  const k = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
  return languageModelName(k.replace(/\.(lora_[AB]|lora_embedding_[AB]|lora_magnitude_vector)\.default(\.weight|\.bias)?$/, '.$1$2'));
}


/** An adapter folder's config and tensor index (keys normalised to base module names), read from headers only. */
export interface AdapterIndex {
  readonly config: PeftConfig;
  readonly variant: string;
  /** adapter_model.safetensors or adapter_model.bin. */
  readonly weightsPath: string;
  readonly byKey: ReadonlyMap<string, WeightTensor>;
}

/** Read adapter_config.json and the weights' tensor index; refuses MLX, non-LoRA and layer_replication adapters. */
export async function readAdapterIndex(fs: FsPort, folder: string): Promise<AdapterIndex> {
  const configPath = joinPath(folder, 'adapter_config.json');
  if ((await fs.stat(configPath))?.kind !== 'file') throw new CoreError('not-found', `${folder}: no adapter_config.json.`, folder);
  const config = normalizePeftConfig(await readJsonObject(fs, configPath, true));
  const variant = variantOf(config);
  if (config.format === 'mlx') throw new CoreError('unsupported', `${configPath}: an MLX adapter, not PEFT; convert it with mlx_lm first.`, configPath);
  if (variant === 'other') throw new CoreError('unsupported', `${configPath}: peft_type '${config.peftType}' is not LoRA.`, configPath);
  if (config.layerReplication !== null) throw new CoreError('unsupported', `${configPath}: layer_replication is not supported.`, configPath);
  // adapter_model.safetensors, else a torch.save adapter_model.bin read through the restricted (never executing) index.
  let weightsPath = joinPath(folder, 'adapter_model.safetensors');
  let infos: readonly TensorInfo[];
  if ((await fs.stat(weightsPath))?.kind === 'file') {
    const src = await fs.open(weightsPath);
    infos = (await readSafetensorsHeader(src).finally(() => src.close())).tensors;
  } else {
    weightsPath = joinPath(folder, 'adapter_model.bin');
    if ((await fs.stat(weightsPath))?.kind !== 'file') throw new CoreError('not-found', `${folder}: no adapter_model.safetensors or adapter_model.bin.`, folder);
    infos = await readTorchBinTensors(fs, weightsPath);
  }
  const byKey = new Map<string, WeightTensor>();
  for (const t of infos) {
    const key = normalizeKey(t.name);
    if (key !== null) byKey.set(key, { ...t, file: weightsPath });
  }
  return { config, variant, weightsPath, byKey };
}

/**
 * Load an adapter folder for a base whose tensors are `baseTensors` (name -> info). Checks every key maps to a base
 * module with matching shapes, so a wrong base fails here with a clear message instead of producing garbage.
 */
export async function loadAdapter(fs: FsPort, backend: Backend, folder: string,
  baseTensors: ReadonlyMap<string, WeightTensor>, signal?: AbortSignal): Promise<LoadedAdapter> {
  const { config, variant, weightsPath, byKey } = await readAdapterIndex(fs, folder);
  const loader = new TensorLoader(fs, backend, signal);
  const modules = new Map<string, LoraModule>();
  const overrides = new Map<string, BTensor>();
  let embedding: EmbeddingLora | null = null;
  const mismatch = (what: string): never => {
    throw new CoreError('incompatible', `${weightsPath}: ${what} — is this adapter for a different base model?`, weightsPath);
  };
  try {
    for (const [key, info] of byKey) {
      const m = /^(.*)\.lora_A\.weight$/.exec(key);
      if (m) {
        const mod = m[1]!;
        const bInfo = byKey.get(`${mod}.lora_B.weight`) ?? mismatch(`'${key}' has no lora_B`);
        // A tied base (Qwen3 small sizes, Gemma) stores no lm_head.weight: the head is embed_tokens.
        const base = baseTensors.get(`${mod}.weight`) ?? (mod === 'lm_head' ? baseTensors.get('model.embed_tokens.weight') : undefined)
          ?? mismatch(`'${mod}' is not a module of the base`);
        const [outDim, inDim] = base.shape as [number, number];
        const r = info.shape[0]!;
        if (info.shape[1] !== inDim || bInfo.shape[0] !== outDim || bInfo.shape[1] !== r) {
          mismatch(`'${mod}' LoRA shapes A[${info.shape}] B[${bInfo.shape}] do not fit the base weight [${base.shape}]`);
        }
        const { scaling } = moduleScaling(config, mod);
        const magInfo = byKey.get(`${mod}.lora_magnitude_vector`) ?? byKey.get(`${mod}.lora_magnitude_vector.weight`);
        const dora = magInfo
          ? { magnitude: await loader.readF32(magInfo), aHost: await loader.readF32(info), bHost: await loader.readF32(bInfo) }
          : null;
        const biasInfo = byKey.get(`${mod}.lora_B.bias`);
        modules.set(mod, {
          a: await loader.load(info, 'f32', key), b: await loader.load(bInfo, 'f32', `${mod}.lora_B.weight`), r, scaling, dora,
          loraBias: biasInfo ? await loader.readF32(biasInfo) : null,
        });
        continue;
      }
      const e = /^(.*)\.lora_embedding_A$/.exec(key);
      if (e) {
        const mod = e[1]!;
        const bInfo = byKey.get(`${mod}.lora_embedding_B`) ?? mismatch(`'${key}' has no lora_embedding_B`);
        const [r, vocab] = info.shape as [number, number];
        const a = await loader.readF32(info);
        const aT = new Float32Array(vocab * r);
        for (let i = 0; i < r; i++) for (let v = 0; v < vocab; v++) aT[v * r + i] = a[i * vocab + v]!;
        embedding = { aT, b: await loader.load(bInfo, 'f32', `${mod}.lora_embedding_B`), r, scaling: moduleScaling(config, mod).scaling };
        continue;
      }
      if (/\.(lora_B\.weight|lora_B\.bias|lora_embedding_B|lora_magnitude_vector(\.weight)?)$/.test(key)) continue;
      // A full tensor: modules_to_save or a trained bias; it replaces the base tensor of the same name.
      const base = baseTensors.get(key);
      const isVocab = /(^|\.)(embed_tokens|lm_head)\.weight$/.test(key);
      if (!base && !(isVocab && key.endsWith('lm_head.weight'))) mismatch(`'${key}' is not a tensor of the base`);
      if (base && !isVocab && base.shape.join() !== info.shape.join()) mismatch(`'${key}' has shape [${info.shape}], the base [${base.shape}]`);
      overrides.set(key, await loader.load(info, /norm|bias/.test(key) ? 'f32' : undefined, `adapter:${key}`));
    }
  } finally {
    await loader.close();
  }
  if (modules.size === 0 && overrides.size === 0 && !embedding) {
    throw new CoreError('bad-format', `${weightsPath}: holds no LoRA weights.`, weightsPath);
  }
  return {
    path: folder, config, variant, modules, embedding, overrides,
    tokenizerFolder: (await hasTokenizer(fs, folder)) ? folder : null,
    bytes: loader.bytesRead,
  };
}

/** Free an adapter's backend tensors. */
export function freeAdapter(backend: Backend, a: LoadedAdapter): void {
  for (const m of a.modules.values()) {
    backend.free(m.a);
    backend.free(m.b);
  }
  if (a.embedding) backend.free(a.embedding.b);
  for (const t of a.overrides.values()) backend.free(t);
}

/**
 * DoRA's per-row factor g = m / ||W + s B A||_row (PEFT dora.py get_weight_norm, the norm over the input dim), for
 * the effective scaling `s`. Computed on the host in float64 from the base weight `w` (out, in).
 */
export function doraRowScale(w: Float32Array, m: LoraModule, s: number): Float32Array {
  const dora = m.dora!;
  const out = dora.magnitude.length;
  const inDim = w.length / out;
  const g = new Float32Array(out);
  const row = new Float64Array(inDim);
  for (let j = 0; j < out; j++) {
    for (let c = 0; c < inDim; c++) row[c] = w[j * inDim + c]!;
    for (let k = 0; k < m.r; k++) {
      const bjk = s * dora.bHost[j * m.r + k]!;
      if (bjk === 0) continue;
      const aOff = k * inDim;
      for (let c = 0; c < inDim; c++) row[c]! += bjk * dora.aHost[aOff + c]!;
    }
    let ss = 0;
    for (let c = 0; c < inDim; c++) ss += row[c]! * row[c]!;
    g[j] = dora.magnitude[j]! / Math.sqrt(ss);
  }
  return g;
}
