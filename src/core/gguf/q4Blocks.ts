// GGUF Q4_0 and Q4_K blocks as the engine's q4 host blocks (core/tensor/q4.ts): the same values, re-laid out.

import { f16Lut } from '../tensor/dtype';
import { q4Bytes } from '../tensor/q4';

/** GGUF types whose blocks convert to q4 host blocks without changing a value. */
export type Q4GgufType = 'Q4_0' | 'Q4_K';
export const Q4_GGUF_TYPES: ReadonlySet<string> = new Set<Q4GgufType>(['Q4_0', 'Q4_K']);

const fr = Math.fround;

/**
 * Host blocks from GGUF Q4_0 / Q4_K blocks of `count` values (a multiple of the type's block size). Plain loops over
 * the bytes, no per-block views or arrays: this runs over every weight of a 4-bit model at load.
 */
export function q4FromGguf(type: Q4GgufType, raw: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(q4Bytes(count));
  const f = new Float32Array(out.buffer);
  const lut = f16Lut();
  if (type === 'Q4_0') {
    for (let b = 0; b < count / 32; b++) {
      const at = b * 18;
      const d = lut[raw[at]! | (raw[at + 1]! << 8)]!;
      f[b * 6] = d;
      f[b * 6 + 1] = fr(8 * d);
      const o = b * 24 + 8;
      for (let k = 0; k < 16; k++) out[o + k] = raw[at + 2 + k]!;
    }
    return out;
  }
  for (let sb = 0; sb < count / 256; sb++) {
    const o = sb * 144;
    const d = lut[raw[o]! | (raw[o + 1]! << 8)]!, dmin = lut[raw[o + 2]! | (raw[o + 3]! << 8)]!;
    for (let j = 0; j < 8; j++) {
      // get_scale_min_k4 on the 12 packed bytes at o + 4 (kquants.ts scaleMinK4, inlined: no pair per sub-block).
      const sc = j < 4 ? raw[o + 4 + j]! & 63 : (raw[o + 8 + j]! & 0xf) | ((raw[o + j]! >> 6) << 4);
      const mn = j < 4 ? raw[o + 8 + j]! & 63 : (raw[o + 8 + j]! >> 4) | ((raw[o + 4 + j]! >> 6) << 4);
      const b = sb * 8 + j;
      f[b * 6] = fr(d * sc);
      f[b * 6 + 1] = fr(dmin * mn);
      // Sub-block j: the low (even j) or high (odd j) nibbles of the 32 bytes of its 64-value chunk.
      const qs = o + 16 + (j >> 1) * 32;
      const shift = (j & 1) * 4;
      const ob = b * 24 + 8;
      for (let k = 0; k < 16; k++) out[ob + k] = ((raw[qs + k]! >> shift) & 0xf) | (((raw[qs + k + 16]! >> shift) & 0xf) << 4);
    }
  }
  return out;
}
