// What fits on a WebGPU adapter. A weight larger than maxStorageBufferBindingSize or maxBufferSize (in practice the
// vocab x hidden embedding and lm_head: 152064 x 3584 f16 is 1.09 GB) is split by rows into several buffers, each
// under both limits (planRowParts); only a single row over the limit cannot run. Other tensors are not split.
// Weights larger than the GPU's memory cannot load. Both are checked before any weight is read
// (Backend.checkModelFits) so a model is refused in a second, naming the cause, instead of failing minutes into a load.

import type { ModelPlan, WeightDType } from '../../core/backend';
import { matrixShape } from '../reference/referenceBackend';

export interface BufferLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  /** The GPU's memory in bytes when the platform tells it (WebGPU itself does not); null = unknown. */
  readonly memoryBytes?: number | null;
}

/** Bytes a tensor occupies in GPU storage (f16/bf16 packed two per word, q8_0 as int8 plane + f32 scales). */
export function storageBytes(dtype: WeightDType, count: number): number {
  switch (dtype) {
    case 'f32': return count * 4;
    case 'f16': case 'bf16': return count * 2;
    case 'q8_0': return count + (count / 32) * 4;
    case 'q4': return count / 2 + (count / 32) * 8;
  }
}

/** The bytes one buffer may hold: the smaller limit, down to the 16-byte multiple buffers are allocated in. */
function bufferLimit(limits: BufferLimits): number {
  return Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 16) * 16;
}

function limitName(limits: BufferLimits): string {
  return limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
}

/** For tensors that are not split (activations, KV caches): one over the limit cannot run on this adapter. */
export function refuseOverLimit(label: string, dtype: WeightDType, shape: readonly number[], limits: BufferLimits): never {
  const bytes = storageBytes(dtype, shape.reduce((a, b) => a * b, 1));
  throw new RangeError(`tensor '${label || '(unnamed)'}' (${dtype} [${shape.join(', ')}], ${bytes} bytes) exceeds this WebGPU adapter's `
    + `${limitName(limits)} of ${bufferLimit(limits)} bytes: use the WASM backend for this model`);
}

/** Rows [row0, row0 + rows) of a tensor, stored in a buffer of their own. */
export interface RowPart {
  readonly row0: number;
  readonly rows: number;
}

/**
 * How a rows x cols tensor is stored: one part when it fits one buffer, else consecutive row ranges, each under the
 * limit. Matvec output rows and embedding rows are independent, so each part is dispatched on its own. Throws when a
 * single row does not fit (nothing to split).
 */
export function planRowParts(label: string, dtype: WeightDType, shape: readonly number[], rows: number, cols: number, limits: BufferLimits): RowPart[] {
  const limit = bufferLimit(limits);
  const rowBytes = storageBytes(dtype, cols);
  if (rows * rowBytes <= limit) return [{ row0: 0, rows }];
  // f16/bf16 pack two values per u32 word: a part must start on a word, so with odd cols take an even row count.
  const packed = (dtype === 'f16' || dtype === 'bf16') && cols % 2 === 1;
  let perPart = Math.floor(limit / rowBytes);
  if (packed) perPart -= perPart % 2;
  if (perPart < 1) {
    throw new RangeError(`tensor '${label || '(unnamed)'}' (${dtype} [${shape.join(', ')}]) has rows of ${rowBytes} bytes, over this WebGPU adapter's `
      + `${limitName(limits)} of ${limit} bytes: use the WASM backend for this model`);
  }
  const parts: RowPart[] = [];
  for (let row0 = 0; row0 < rows; row0 += perPart) parts.push({ row0, rows: Math.min(perPart, rows - row0) });
  return parts;
}

/** Refuses a model with a row too wide for one buffer or a total size (weights + KV cache) over the GPU's memory. */
export function checkModelFits(plan: ModelPlan, limits: BufferLimits): void {
  let total = plan.extraBytes;
  for (const t of plan.tensors) {
    const [rows, cols] = matrixShape(t.shape);
    planRowParts(t.name, t.dtype, t.shape, rows, cols, limits);
    total += storageBytes(t.dtype, rows * cols);
  }
  const mem = limits.memoryBytes;
  if (mem && total > mem) {
    const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
    throw new RangeError(`the model needs ${gb(total)} on the GPU (weights + KV cache) but the GPU has ${gb(mem)}: use the WASM backend, `
      + 'quantize on load (q8_0), or a shorter context length');
  }
}
