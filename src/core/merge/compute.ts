// The arithmetic of one merged tensor, shared by the merge and its verification (which recomputes sample rows with the
// very same code): LoRA delta through Backend.loraDelta, DoRA's row renormalisation, lora_bias, all in f32.
// Semantics: PEFT get_delta_weight / DoraLinearVariant.merge_unsafe; rounding to the stored dtype happens in the caller.

import type { Backend, BTensor } from '../backend';
import type { WeightTensor } from '../safetensors/modelWeights';
import { CoreError } from '../errors';
import { floatStorage, isFloatDType, numel, type FloatDType } from '../tensor/dtype';
import { decodeInto } from './convert';
import type { InputReader } from './inputReader';
import type { TensorOp } from './plan';
import { tr } from '../text';

type LoraOp = Extract<TensorOp, { kind: 'lora' }>;

export interface LoraFactors {
  /** Left factor in the stored weight's row space: B (rows, r) for linear, A^T for conv1d/embedding. */
  readonly left: Float32Array;
  /** Right factor (r, cols): A for linear, B^T for conv1d/embedding. */
  readonly right: Float32Array;
  readonly r: number;
  readonly rows: number;
  readonly cols: number;
  /** DoRA magnitude per row, or null. */
  readonly magnitude: Float32Array | null;
}

/** Read a small adapter tensor fully as f32. */
export async function readF32(reader: InputReader, t: WeightTensor): Promise<Float32Array> {
  if (!isFloatDType(t.dtype)) throw new Error(`${t.name}: not a float tensor`);
  const n = numel(t.shape);
  const raw = new Uint8Array(t.end - t.begin);
  await reader.read(t.file, t.begin, raw);
  const out = new Float32Array(n);
  decodeInto(raw, t.dtype, out, n);
  return out;
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j]!;
  return out;
}

export async function loadLoraFactors(reader: InputReader, op: LoraOp): Promise<LoraFactors> {
  const a = await readF32(reader, op.a);
  const b = await readF32(reader, op.b);
  const r = op.a.shape[0]!;
  const aCols = op.a.shape[1]!;
  const bRows = op.b.shape[0]!;
  const magnitude = op.magnitude ? await readF32(reader, op.magnitude) : null;
  if (op.layout === 'linear') return { left: b, right: a, r, rows: bRows, cols: aCols, magnitude };
  // (B @ A)^T = A^T @ B^T: the delta of a weight stored transposed (Conv1D [in, out], Embedding [vocab, dim]).
  return { left: transpose(a, r, aCols), right: transpose(b, bRows, r), r, rows: aCols, cols: bRows, magnitude };
}

function upload(backend: Backend, data: Float32Array, shape: readonly number[], label: string): BTensor {
  const t = backend.alloc('f32', shape, label, 'none');
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const view = backend.hostView(t);
  if (view) view.set(bytes);
  else backend.write(t, bytes);
  return t;
}

/**
 * In place on w (rows `rowIndex` of the stored weight, f32, `w` holds rowIndex.length x cols, or every row when
 * rowIndex is null): W += scaling * left @ right, then DoRA's m / ||W + delta||_row when the module has a magnitude.
 * `wT` is the backend tensor whose host view is `w`.
 */
export function applyLora(backend: Backend, wT: BTensor, w: Float32Array, f: LoraFactors, scaling: number, rowIndex: readonly number[] | null): void {
  const rows = rowIndex ? rowIndex.length : f.rows;
  let left = f.left;
  if (rowIndex) {
    left = new Float32Array(rows * f.r);
    rowIndex.forEach((ri, i) => left.set(f.left.subarray(ri * f.r, (ri + 1) * f.r), i * f.r));
  }
  const bT = upload(backend, left, [rows, f.r], 'merge.B');
  const aT = upload(backend, f.right, [f.r, f.cols], 'merge.A');
  try {
    backend.loraDelta(wT, bT, aT, scaling);
  } finally {
    backend.free(bT);
    backend.free(aT);
  }
  if (f.magnitude) applyDora(w, rows, f.cols, f.magnitude, rowIndex);
}

/** DoRA: PEFT computes the row norm in f32 over W + delta, divides the magnitude by it (f32) and scales the row (f32). */
function applyDora(w: Float32Array, rows: number, cols: number, magnitude: Float32Array, rowIndex: readonly number[] | null): void {
  for (let i = 0; i < rows; i++) {
    const ri = rowIndex ? rowIndex[i]! : i;
    const o = i * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += w[o + j]! * w[o + j]!;
    const norm = Math.fround(Math.sqrt(ss));
    const factor = Math.fround(magnitude[ri]! / norm);
    for (let j = 0; j < cols; j++) w[o + j] = Math.fround(factor * w[o + j]!);
  }
}

/**
 * One merged tensor on the backend (Backend.loraMerge): widen + delta + round in a single pass over `w` (stored dtype),
 * or for DoRA widen + delta into f32, the row renormalisation on the host, then one rounding pass. Same arithmetic as
 * applyLora + encodeInto (which verification uses). Returns the output tensor (the caller frees it) and the index of
 * the first non-finite output, or -1.
 */
export function mergeOnBackend(backend: Backend, w: BTensor, f: LoraFactors, scaling: number, outDtype: FloatDType): { out: BTensor; bad: number } {
  const merge = backend.loraMerge?.bind(backend);
  if (!merge) throw new CoreError('unsupported', tr`The ${backend.info.name} backend cannot merge; use the wasm or reference backend.`);
  const bT = upload(backend, f.left, [f.rows, f.r], 'merge.B');
  const aT = upload(backend, f.right, [f.r, f.cols], 'merge.A');
  const out = backend.alloc(floatStorage(outDtype), [f.rows, f.cols], 'merge.out', 'none');
  try {
    if (!f.magnitude) return { out, bad: merge(out, w, bT, aT, scaling) };
    const wide = backend.alloc('f32', [f.rows, f.cols], 'merge.dora', 'none');
    try {
      merge(wide, w, bT, aT, scaling);
      const view = backend.hostView(wide)!;
      applyDora(new Float32Array(view.buffer, view.byteOffset, f.rows * f.cols), f.rows, f.cols, f.magnitude, null);
      return { out, bad: merge(out, wide, null, null, 0) };
    } finally {
      backend.free(wide);
    }
  } catch (err) {
    backend.free(out);
    throw err;
  } finally {
    backend.free(bT);
    backend.free(aT);
  }
}

/** lora_bias: b += lora_B.bias * scaling (the product in f32, as torch does, then the f32 sum). */
export function applyLoraBias(bias: Float32Array, loraBias: Float32Array, scaling: number): void {
  const s = Math.fround(scaling);
  for (let j = 0; j < bias.length; j++) bias[j] = Math.fround(bias[j]! + Math.fround(loraBias[j]! * s));
}
