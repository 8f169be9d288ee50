// What fits on a WebGPU adapter. Every kernel binds a whole tensor as one storage buffer, so a tensor larger than
// maxStorageBufferBindingSize or maxBufferSize cannot run; and weights larger than the GPU's memory cannot load. Both
// are checked before any weight is read (Backend.checkModelFits) so a model is refused in a second, naming the cause,
// instead of failing minutes into a load.

import type { ModelPlan, WeightDType } from '../../core/backend';

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
  }
}

export function checkBufferLimits(label: string, dtype: WeightDType, shape: readonly number[], bytes: number, limits: BufferLimits): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (bytes <= limit) return;
  const which = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
  throw new RangeError(`tensor '${label || '(unnamed)'}' (${dtype} [${shape.join(', ')}], ${bytes} bytes) exceeds this WebGPU adapter's ${which} `
    + `of ${limit} bytes: use the WASM backend for this model`);
}

/** Refuses a model whose largest tensor or total size (weights + KV cache) does not fit; throws before anything loads. */
export function checkModelFits(plan: ModelPlan, limits: BufferLimits): void {
  let total = plan.extraBytes;
  for (const t of plan.tensors) {
    const bytes = storageBytes(t.dtype, t.shape.reduce((a, b) => a * b, 1));
    checkBufferLimits(t.name, t.dtype, t.shape, bytes, limits);
    total += bytes;
  }
  const mem = limits.memoryBytes;
  if (mem && total > mem) {
    const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
    throw new RangeError(`the model needs ${gb(total)} on the GPU (weights + KV cache) but the GPU has ${gb(mem)}: use the WASM backend, `
      + 'quantize on load (q8_0), or a shorter context length');
  }
}
