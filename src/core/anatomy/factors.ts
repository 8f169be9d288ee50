// Host copies of an adapter's LoRA factors (A, B, DoRA magnitude) and of the matching base weights' norms, for the
// anatomy computations. Reads tensor data directly (no backend): the factors are small, the base is streamed per tensor.

import { CoreError, throwIfAborted } from '../errors';
import { readAdapterIndex, type AdapterIndex } from '../model/llama/adapters';
import { languageModelName } from '../model/llama/families';
import { decodeToF32 } from '../model/tensorLoader';
import { moduleScaling } from '../peft/config';
import type { ByteSource, FsPort } from '../ports';
import { readFully } from '../safetensors/header';
import { readModelWeights, type WeightTensor } from '../safetensors/modelWeights';
import { tr } from '../text';
import { readTorchBinTensors } from '../torchpickle/binReader';

/** One adapted module's factors; the update is scaling * B A. */
export interface ModuleFactors {
  /** Module path without the PEFT prefix, e.g. 'model.layers.0.self_attn.q_proj'. */
  readonly module: string;
  /** (r, in) */
  readonly a: Float32Array;
  /** (out, r) */
  readonly b: Float32Array;
  readonly r: number;
  readonly inDim: number;
  readonly outDim: number;
  readonly scaling: number;
  /** DoRA magnitude m (out), or null. */
  readonly magnitude: Float32Array | null;
}

export interface AdapterFactors {
  readonly folder: string;
  readonly index: AdapterIndex;
  /** Sorted by module path. */
  readonly modules: readonly ModuleFactors[];
}

/** Reads tensors as f32 through one open source per file. */
class HostReader {
  private readonly sources = new Map<string, ByteSource>();

  constructor(private readonly fs: FsPort) {}

  async f32(t: WeightTensor): Promise<Float32Array> {
    let src = this.sources.get(t.file);
    if (!src) {
      src = await this.fs.open(t.file);
      this.sources.set(t.file, src);
    }
    const bytes = new Uint8Array(t.end - t.begin);
    await readFully(src, t.begin, bytes);
    return decodeToF32(t.dtype, bytes);
  }

  async close(): Promise<void> {
    for (const s of this.sources.values()) await s.close();
    this.sources.clear();
  }
}

/** The LoRA factors of every module of the adapter in `folder` (linear LoRA and embedding LoRA). */
export async function readAdapterFactors(fs: FsPort, folder: string, signal?: AbortSignal): Promise<AdapterFactors> {
  const index = await readAdapterIndex(fs, folder);
  const reader = new HostReader(fs);
  const modules: ModuleFactors[] = [];
  try {
    for (const key of [...index.byKey.keys()].sort()) {
      throwIfAborted(signal);
      const m = /^(.*)\.(lora_A\.weight|lora_embedding_A)$/.exec(key);
      if (m) modules.push(await readModule(index, reader, m[1]!, m[2] === 'lora_embedding_A'));
    }
  } finally {
    await reader.close();
  }
  if (modules.length === 0) throw new CoreError('bad-format', tr`${index.weightsPath}: holds no LoRA factors (lora_A / lora_B).`, index.weightsPath);
  return { folder, index, modules };
}

async function readModule(index: AdapterIndex, reader: HostReader, module: string, embedding: boolean): Promise<ModuleFactors> {
  const aKey = embedding ? `${module}.lora_embedding_A` : `${module}.lora_A.weight`;
  const bKey = embedding ? `${module}.lora_embedding_B` : `${module}.lora_B.weight`;
  const aInfo = index.byKey.get(aKey)!;
  const bInfo = index.byKey.get(bKey);
  if (!bInfo) throw new CoreError('bad-format', tr`${index.weightsPath}: '${aKey}' has no matching '${bKey}'.`, index.weightsPath);
  const [r, inDim] = aInfo.shape as [number, number];
  const outDim = bInfo.shape[0]!;
  if (aInfo.shape.length !== 2 || bInfo.shape.length !== 2 || bInfo.shape[1] !== r) {
    throw new CoreError('bad-format', tr`${index.weightsPath}: '${module}' has A [${aInfo.shape.join(', ')}] and B [${bInfo.shape.join(', ')}], which do not multiply.`, index.weightsPath);
  }
  const magInfo = index.byKey.get(`${module}.lora_magnitude_vector`) ?? index.byKey.get(`${module}.lora_magnitude_vector.weight`);
  return {
    module, r, inDim, outDim,
    a: await reader.f32(aInfo),
    b: await reader.f32(bInfo),
    scaling: moduleScaling(index.config, module).scaling,
    magnitude: magInfo ? await reader.f32(magInfo) : null,
  };
}

/** Frobenius norm of a base weight and (for DoRA) the norms of its rows, in float64. */
export interface BaseWeightNorms {
  readonly norm: number;
  /** (out) ||W_j||_2 over the input dimension, as DoRA's magnitude is initialised. */
  readonly rowNorms: Float64Array;
}

/** Norms of the base weights the adapter's modules update: module path -> norms (absent when the base lacks it). */
export async function readBaseNorms(fs: FsPort, baseFolder: string, modules: readonly string[], signal?: AbortSignal): Promise<Map<string, BaseWeightNorms>> {
  const weights = await readModelWeights(fs, baseFolder, readTorchBinTensors);
  const tensors = new Map<string, WeightTensor>();
  for (const [name, t] of weights.tensors) {
    const renamed = languageModelName(name);
    if (renamed !== null) tensors.set(renamed, t);
  }
  const reader = new HostReader(fs);
  const out = new Map<string, BaseWeightNorms>();
  try {
    for (const module of modules) {
      throwIfAborted(signal);
      // A tied head stores no lm_head.weight: it is embed_tokens.
      const t = tensors.get(`${module}.weight`) ?? (module === 'lm_head' ? tensors.get('model.embed_tokens.weight') : undefined);
      if (t && t.shape.length === 2) out.set(module, rowNorms(await reader.f32(t), t.shape[0]!, t.shape[1]!));
    }
  } finally {
    await reader.close();
  }
  return out;
}

function rowNorms(w: Float32Array, rows: number, cols: number): BaseWeightNorms {
  const norms = new Float64Array(rows);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[i * cols + c]! ** 2;
    norms[i] = Math.sqrt(s);
    total += s;
  }
  return { norm: Math.sqrt(total), rowNorms: norms };
}
