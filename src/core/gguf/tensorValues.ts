// One output tensor's values as f32, whatever it is: a stored tensor (widened), a LoRA-merged weight (merged on the
// backend and rounded to the merge's output dtype first, so the GGUF holds what converting the merged safetensors
// would give), a lora_bias update, or a modules_to_save replacement. Shared by the GGUF export's model and merge forms.

import type { Backend, BTensor } from '../backend';
import { CoreError } from '../errors';
import { applyLoraBias, loadLoraFactors, mergeOnBackend, readF32 } from '../merge/compute';
import { decodeInPlace, decodeInto, encodeInto } from '../merge/convert';
import type { InputReader } from '../merge/inputReader';
import type { TensorOp } from '../merge/plan';
import { floatStorage, isFloatDType, numel, type DType, type FloatDType } from '../tensor/dtype';
import { tr } from '../text';

/** Round f32 values to `dtype` and back (the merge stores its result in the base dtype). */
function roundTo(values: Float32Array, dtype: FloatDType): Float32Array {
  if (dtype === 'F32') return values;
  const raw = new Uint8Array(values.length * 2);
  encodeInto(values, values.length, dtype, raw);
  decodeInto(raw, dtype, values, values.length);
  return values;
}

function nonFinite(name: string, index: number): CoreError {
  return new CoreError('non-finite', tr`Merging '${name}' produced a non-finite value at element ${index}; the adapter is broken or its scale overflows this dtype. Nothing was written.`);
}

/** The merged weight rounded to `dtype`, as a backend tensor (the caller frees it); `w` is its base, already read. */
async function mergedOnBackend(op: Extract<TensorOp, { kind: 'lora' }>, name: string, dtype: FloatDType, reader: InputReader, backend: Backend, w: BTensor): Promise<BTensor> {
  try {
    const factors = await loadLoraFactors(reader, op);
    const { out, bad } = mergeOnBackend(backend, w, factors, op.scaling, dtype);
    if (bad >= 0) {
      backend.free(out);
      throw nonFinite(name, bad);
    }
    return out;
  } finally {
    backend.free(w);
  }
}

async function mergedLora(op: Extract<TensorOp, { kind: 'lora' }>, name: string, dtype: FloatDType, reader: InputReader, backend: Backend): Promise<Float32Array> {
  const base = prefetchBase(op, dtype, reader, backend)!;
  const out = await mergedOnBackend(op, name, dtype, reader, backend, await readyTensor(base, backend));
  try {
    const n = numel(op.src.shape);
    const values = new Float32Array(n);
    decodeInto(backend.hostView(out)!, dtype, values, n);
    return values;
  } finally {
    backend.free(out);
  }
}

/**
 * The stored tensor an output is computed from, being read into `backend` (straight into its memory) ahead of its
 * turn: the export starts the next tensor's read before it computes this one. null when the backend takes no part (a
 * bias update, a dtype change, a backend without host views). `ready` settles to the read's error, or null.
 */
export interface PrefetchedBase {
  readonly tensor: BTensor;
  readonly ready: Promise<unknown>;
}

export function prefetchBase(op: TensorOp, dtype: DType, reader: InputReader, backend: Backend): PrefetchedBase | null {
  if (op.kind === 'loraBias' || !isFloatDType(op.src.dtype)) return null;
  if (op.kind !== 'lora' && op.src.dtype !== dtype) return null;
  const tensor = backend.alloc(floatStorage(op.src.dtype), op.src.shape, op.src.name, 'none');
  const view = backend.hostView(tensor);
  if (!view) {
    backend.free(tensor);
    return null;
  }
  const ready = reader.read(op.src.file, op.src.begin, view).then(() => null, (err: unknown) => err ?? new Error('read failed'));
  return { tensor, ready };
}

/** The prefetched tensor once read; on a failed read it is freed and the error thrown. */
async function readyTensor(p: PrefetchedBase, backend: Backend): Promise<BTensor> {
  const err = await p.ready;
  if (err) {
    backend.free(p.tensor);
    throw err;
  }
  return p.tensor;
}

/** Frees a prefetched tensor nobody will use, after its read settles (the read writes into it until then). */
export async function dropPrefetched(p: PrefetchedBase | null, backend: Backend): Promise<void> {
  if (!p) return;
  await p.ready;
  backend.free(p.tensor);
}

/**
 * Output tensor `name`'s values as a tensor in `backend` (the caller frees it), for the backend's own quantizer: the
 * LoRA-merged weight where the merge left it, or the stored tensor itself when it keeps its dtype. `base` is
 * prefetchBase's read of the op's stored tensor (owned from here on).
 */
export async function tensorOnBackend(op: TensorOp, name: string, dtype: DType, reader: InputReader, backend: Backend, base: PrefetchedBase): Promise<BTensor> {
  const w = await readyTensor(base, backend);
  return op.kind === 'lora' ? mergedOnBackend(op, name, dtype as FloatDType, reader, backend, w) : w;
}

function requireFloat(name: string, dtype: DType, file: string): void {
  if (!isFloatDType(dtype)) throw new CoreError('unsupported', tr`${file}: tensor '${name}' is stored as ${dtype}; the GGUF export converts F32, F16 and BF16 weights.`, file);
}

/**
 * The values of output tensor `name` (planned dtype `dtype`) computed from its op, as f32.
 * The backend is only used for LoRA-merged weights.
 */
export async function tensorValues(op: TensorOp, name: string, dtype: DType, reader: InputReader, backend: Backend | null): Promise<Float32Array> {
  requireFloat(op.src.name, op.src.dtype, op.src.file);
  const out = dtype as FloatDType;
  switch (op.kind) {
    case 'copy':
    case 'replace': {
      // Read into the f32 buffer and widen in place: one tensor-sized allocation, not stored bytes plus f32.
      const n = numel(op.src.shape);
      const buf = new Uint8Array(n * 4);
      await reader.read(op.src.file, op.src.begin, buf.subarray(0, op.src.end - op.src.begin));
      const values = decodeInPlace(buf, op.src.dtype as FloatDType, n);
      return op.src.dtype === out ? values : roundTo(values, out);
    }
    case 'loraBias': {
      const bias = await readF32(reader, op.src);
      applyLoraBias(bias, await readF32(reader, op.bias), op.scaling);
      return roundTo(bias, out);
    }
    case 'lora':
      if (!backend) throw new CoreError('internal', tr`'${name}' needs a backend to merge.`);
      return mergedLora(op, name, out, reader, backend);
  }
}
