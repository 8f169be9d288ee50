// q8_0 quantization in GGUF's block_q8_0 layout (per 32 values: f16 scale d = max|x|/127, then 32 int8 round(x/d)),
// as ggml's quantize_row_q8_0_ref does it. Used for quantize-on-load on machines short of RAM.

import { f32ToF16 } from './dtype';

export const Q8_0_BLOCK = 32;
/** Bytes per block: f16 scale + 32 int8. */
export const Q8_0_BLOCK_BYTES = 34;

/** Bytes of a q8_0 tensor holding `count` values (count % 32 == 0). */
export function q8_0Bytes(count: number): number {
  return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

/**
 * Quantize `values` (length % 32 == 0) into `out` (q8_0Bytes(values.length) bytes) or a new array.
 * Rounds half away from zero like C roundf; the scale stored is d rounded to f16, the divisor is the unrounded d.
 */
export function quantizeQ8_0(values: Float32Array, out?: Uint8Array): Uint8Array {
  if (values.length % Q8_0_BLOCK !== 0) throw new RangeError(`q8_0 needs a multiple of 32 values, got ${values.length}`);
  const dst = out ?? new Uint8Array(q8_0Bytes(values.length));
  let p = 0;
  for (let b = 0; b < values.length; b += Q8_0_BLOCK) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[b + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    dst[p] = h & 0xff;
    dst[p + 1] = h >> 8;
    p += 2;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const v = Math.fround(values[b + j]! * id);
      dst[p + j] = (Math.sign(v) * Math.round(Math.abs(v))) & 0xff;
    }
    p += Q8_0_BLOCK;
  }
  return dst;
}
