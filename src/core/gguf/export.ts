// GGUF export of a LLaMA-family model in one streaming pass: a full model folder, or an adapter merged into its base on
// the way (every variant planMerge supports; no intermediate safetensors). Tensor by tensor: values as f32 (merged when
// the adapter changes them), Q/K rows permuted as llama.cpp's converter does, encoded in the type llama.cpp's tools
// would choose, written behind a temp file that is renamed into place only when complete.

import type { Backend, GgmlQuantType } from '../backend';
import { CoreError, throwIfAborted } from '../errors';
import { readJsonObject } from '../jsonFile';
import { planMerge, type TensorOp } from '../merge/plan';
import { InputReader } from '../merge/inputReader';
import { PartialOutput } from '../merge/partialOutput';
import type { ByteSink, FsPort, ProgressFn, WritableFsPort } from '../ports';
import { basename, dirname, isInside, joinPath } from '../paths';
import { readModelWeights, type BinHeaderReader } from '../safetensors/modelWeights';
import { numel, type DType } from '../tensor/dtype';
import { tr } from '../text';
import { backendQuantizes, encodeTensor } from './encode';
import { dropPrefetched, prefetchBase, tensorOnBackend, tensorValues, type PrefetchedBase } from './tensorValues';
import { type ExportType, type GgufKv } from './format';
import { llamaHparams, llamaMetadata } from './llamaMeta';
import { exportTensorType, isSkippedTensor, llamaGgufName, permuteHeads, permutedRow, permuteRows, quantizeState } from './llamaTensors';
import { GgufStreamWriter, layoutGguf, type GgufLayout, type GgufTensorSpec } from './writer';

export interface GgufExportInputs {
  /** The model folder (full model) or the base of the adapter. */
  readonly modelPath: string;
  /** Set for the merge form. */
  readonly adapterPath?: string;
  readonly type: ExportType;
}

export interface PlannedGgufTensor extends GgufTensorSpec {
  readonly hfName: string;
  readonly op: TensorOp;
  /** The merge's output dtype of this tensor (values are rounded to it before conversion). */
  readonly dtype: DType;
  /** PyTorch order. */
  readonly shape: readonly number[];
  /** Heads to regroup the rows by (q/k projections), or null. */
  readonly heads: number | null;
}

export interface GgufExportPlan {
  readonly inputs: GgufExportInputs;
  readonly kvs: readonly GgufKv[];
  readonly tensors: readonly PlannedGgufTensor[];
  readonly layout: GgufLayout;
  readonly warnings: readonly string[];
  /** LoRA merges run on a backend, and so do the K-quant tensors (threaded quantizers, Backend.quantizeGgml). */
  readonly needsBackend: boolean;
}

const LLAMA_ARCHS = new Set(['LlamaForCausalLM', 'LLaMAForCausalLM', 'MistralForCausalLM']);

/** llama-quantize's walk order: tensors outside blocks first, then block by block, by name within each. */
function quantizeOrder(a: string, b: string): number {
  const la = /^blk\.(\d+)\./.exec(a)?.[1];
  const lb = /^blk\.(\d+)\./.exec(b)?.[1];
  const ia = la === undefined ? -1 : Number(la);
  const ib = lb === undefined ? -1 : Number(lb);
  if (ia !== ib) return ia - ib;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface SourceTensor { readonly name: string; readonly shape: readonly number[]; readonly dtype: DType; readonly op: TensorOp }

async function sources(fs: FsPort, inputs: GgufExportInputs, binReader: BinHeaderReader): Promise<{ list: SourceTensor[]; config: Record<string, unknown> | null; tokenizerFolder: string; warnings: readonly string[] }> {
  if (!inputs.adapterPath) {
    const weights = await readModelWeights(fs, inputs.modelPath, binReader);
    const list = [...weights.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, op: { kind: 'copy', src: t } as TensorOp }));
    return { list, config: await readJsonObject(fs, joinPath(inputs.modelPath, 'config.json'), false), tokenizerFolder: inputs.modelPath, warnings: [] };
  }
  const plan = await planMerge(fs, { baseGiven: inputs.modelPath, basePath: inputs.modelPath, adapterGiven: inputs.adapterPath, adapterPath: inputs.adapterPath, dtype: 'auto' }, binReader);
  const tokenizerFolder = plan.tokenizerFrom === 'adapter' ? inputs.adapterPath : inputs.modelPath;
  return { list: plan.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, op: t.op })), config: plan.outConfig, tokenizerFolder, warnings: plan.warnings };
}

function checkArchitecture(config: Record<string, unknown> | null, folder: string): Record<string, unknown> {
  const file = joinPath(folder, 'config.json');
  if (!config) throw new CoreError('not-found', tr`${folder}: no config.json; the GGUF export needs the model's hyperparameters.`, folder);
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : String(config.model_type ?? '');
  if (!LLAMA_ARCHS.has(arch)) {
    throw new CoreError('unsupported', tr`${file}: architecture '${arch}' is not supported by the GGUF export yet (LlamaForCausalLM and MistralForCausalLM are).`, file);
  }
  return config;
}

/** Decide every tensor's name, type and place, and all metadata, from headers and configs. Nothing is written. */
export async function planGgufExport(fs: FsPort, inputs: GgufExportInputs, binReader: BinHeaderReader): Promise<GgufExportPlan> {
  const src = await sources(fs, inputs, binReader);
  const config = checkArchitecture(src.config, inputs.modelPath);
  const hp = llamaHparams(config, joinPath(inputs.modelPath, 'config.json'));
  const named = src.list.filter((t) => !isSkippedTensor(t.name)).map((t) => {
    const ggufName = llamaGgufName(t.name);
    if (!ggufName) throw new CoreError('unsupported', tr`${inputs.modelPath}: tensor '${t.name}' has no llama.cpp name; the GGUF export does not know where it goes.`, inputs.modelPath);
    return { t, ggufName };
  });
  const quantized = !['f32', 'f16', 'bf16'].includes(inputs.type);
  if (quantized) named.sort((a, b) => quantizeOrder(a.ggufName, b.ggufName));
  const st = quantizeState(named.map((n) => n.ggufName), hp.nLayer, hp.nHead, hp.nKvHead);
  const tensors = named.map(({ t, ggufName }): PlannedGgufTensor => {
    const ne = [...t.shape].reverse();
    return {
      name: ggufName, ne, type: exportTensorType(st, ggufName, ne, inputs.type), hfName: t.name, op: t.op, dtype: t.dtype, shape: t.shape,
      heads: permuteHeads(t.name, hp.nHead, hp.nKvHead),
    };
  });
  const kvs = await llamaMetadata(fs, {
    config, configFile: joinPath(inputs.modelPath, 'config.json'), tokenizerFolder: src.tokenizerFolder, modelFolder: inputs.modelPath,
    // A merged model's folder carries no model card (merge copies none), so only the full-model form has one.
    name: basename(inputs.adapterPath ?? inputs.modelPath), cardFolder: inputs.adapterPath ? null : inputs.modelPath, totalParams: tensors.reduce((s, t) => s + numel(t.shape), 0), exportType: inputs.type,
  });
  return {
    inputs, kvs, tensors, layout: layoutGguf(kvs, tensors), warnings: src.warnings, needsBackend: tensors.some((t) => t.op.kind === 'lora' || backendQuantizes(t.type)),
  };
}

/** Output file rules: parent exists, the file does not, and it is not inside an input folder. */
export async function checkGgufOutput(io: WritableFsPort, out: string, inputs: readonly string[]): Promise<void> {
  const parent = dirname(out);
  if ((await io.stat(parent))?.kind !== 'dir') throw new CoreError('not-found', tr`${parent}: the output's parent folder does not exist.`, parent);
  const realOut = joinPath(await io.realpath(parent), basename(out));
  for (const p of inputs) {
    if (isInside(realOut, await io.realpath(p))) throw new CoreError('usage', tr`${out}: the output file may not be inside an input folder (${p}).`, out);
  }
  if (await io.stat(out)) throw new CoreError('exists', tr`${out}: the output file already exists.`, out);
}

export interface GgufExportOptions {
  /** Recorded in the temporary folder's owner record (see core/merge/partialOutput). */
  readonly toolVersion: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressFn;
  /** Awaited after each tensor (tests hold a small export open with it). */
  readonly afterTensor?: () => Promise<void>;
}

export interface GgufExportSummary {
  readonly out: string;
  readonly tensors: number;
  readonly bytesWritten: number;
}

/**
 * The stored bytes of one planned tensor; `base` is its stored tensor already being read into the backend (see
 * prefetchFor), owned from here on.
 */
async function tensorBytes(t: PlannedGgufTensor, reader: InputReader, backend: Backend | null, base: PrefetchedBase | null): Promise<Uint8Array> {
  if (base) return quantizedOnBackend(t, reader, backend!, base);
  let values = await tensorValues(t.op, t.hfName, t.dtype, reader, backend);
  if (t.heads !== null) values = permuteRows(values, t.shape[0]!, t.shape.length > 1 ? t.shape[1]! : 1, t.heads);
  return encodeTensor(values, t.type, backend);
}

/**
 * For tensors the backend quantizes itself: their stored tensor read into the backend ahead of their turn (null: the
 * host path computes them).
 */
function prefetchFor(t: PlannedGgufTensor | undefined, reader: InputReader, backend: Backend | null): PrefetchedBase | null {
  if (!t || !backend?.quantizeGgmlTensor || !backendQuantizes(t.type)) return null;
  if (t.heads !== null && (t.shape.length !== 2 || t.shape[0]! % (t.heads * 2) !== 0)) return null;
  return prefetchBase(t.op, t.dtype, reader, backend);
}

/**
 * A quantized tensor made inside the backend, from the merged (or stored) weight where it already lies to the GGUF
 * blocks, rows in the q/k order of the file: no host f32 copy, decode or permutation pass. Where the backend declines
 * the tensor (memory, placement) its values are read back and take the host quantizer (same bytes).
 */
async function quantizedOnBackend(t: PlannedGgufTensor, reader: InputReader, backend: Backend, base: PrefetchedBase): Promise<Uint8Array> {
  const rows = t.shape[0]!;
  const bt = await tensorOnBackend(t.op, t.hfName, t.dtype, reader, backend, base);
  try {
    const order = t.heads === null ? null : Int32Array.from({ length: rows }, (_, r) => permutedRow(r, rows, t.heads!));
    const fast = backend.quantizeGgmlTensor!(t.type as GgmlQuantType, bt, order);
    if (fast) return fast;
    let values = await backend.read(bt);
    if (t.heads !== null) values = permuteRows(values, rows, t.shape[1]!, t.heads);
    return encodeTensor(values, t.type, backend);
  } finally {
    backend.free(bt);
  }
}

/** Write the planned file atomically: a temp file next to `out`, renamed when complete, removed on any failure. */
export async function runGgufExport(plan: GgufExportPlan, out: string, io: WritableFsPort, backend: Backend | null, options: GgufExportOptions): Promise<GgufExportSummary> {
  const { signal, onProgress } = options;
  const inputs = [plan.inputs.modelPath, ...(plan.inputs.adapterPath ? [plan.inputs.adapterPath] : [])];
  await checkGgufOutput(io, out, inputs);
  const free = await io.freeSpace(dirname(out));
  if (free !== null && free < plan.layout.fileSize) {
    throw new CoreError('no-space', tr`${dirname(out)}: ${(free / 1e9).toFixed(2)} GB free, the GGUF file needs ${(plan.layout.fileSize / 1e9).toFixed(2)} GB.`, dirname(out));
  }
  // The file is written inside an owned temporary folder (the lock refuses a second job to the same output; a killed
  // run's folder names a dead process, so the next job in this folder removes it) and renamed into place at the end.
  const partial = await PartialOutput.begin(io, out, { job: 'GGUF export', toolVersion: options.toolVersion });
  const reader = new InputReader(io, { signal, hash: false });
  let sink: ByteSink | null = null;
  try {
    sink = await io.create(joinPath(partial.dir, basename(out)));
    const writer = new GgufStreamWriter(sink, plan.layout);
    await writeTensors(plan, writer, reader, backend, options);
    await writer.close();
    sink = null;
    onProgress?.('gguf', plan.layout.fileSize, plan.layout.fileSize, `${plan.tensors.length}/${plan.tensors.length}`);
    throwIfAborted(signal);
    await reader.close();
    await partial.publishFile(basename(out));
    return { out, tensors: plan.tensors.length, bytesWritten: writer.bytesWritten };
  } catch (err) {
    await sink?.close().catch(() => undefined);
    await reader.close().catch(() => undefined);
    await partial.abandon();
    throw err;
  }
}

/** The header, then every tensor in the plan's order, with progress and a chance to cancel between tensors. */
async function writeTensors(plan: GgufExportPlan, writer: GgufStreamWriter, reader: InputReader, backend: Backend | null, options: GgufExportOptions): Promise<void> {
  const { signal, onProgress } = options;
  await writer.writeHeader();
  // One write in flight while the next tensor is computed (its bytes are the only extra memory); it settles to its
  // error, if any, so a failure surfaces where it is awaited, never as an unhandled rejection.
  let writing: Promise<unknown> = Promise.resolve(null);
  const written = async (): Promise<void> => {
    const err = await writing;
    if (err) throw err;
  };
  // The next tensor's stored bytes are read while this one is computed (as the merge prefetches).
  let next = prefetchFor(plan.tensors[0], reader, backend);
  try {
    for (const [i, t] of plan.tensors.entries()) {
      throwIfAborted(signal);
      onProgress?.('gguf', writer.bytesWritten, plan.layout.fileSize, `${i}/${plan.tensors.length} ${t.name}`);
      const base = next;
      try {
        next = prefetchFor(plan.tensors[i + 1], reader, backend);
      } catch (err) {
        next = null;
        if (backend) await dropPrefetched(base, backend);
        throw err;
      }
      const bytes = await tensorBytes(t, reader, backend, base);
      await written();
      writing = writer.write(bytes).then(() => null, (err: unknown) => err ?? new Error('write failed'));
      await (options.afterTensor?.() ?? new Promise((r) => setTimeout(r, 0))); // let engine/cancel in
    }
    await written();
  } finally {
    await writing; // never close the file under a running write
    if (backend) await dropPrefetched(next, backend);
  }
}
