// GGUF Q4_0 and Q4_K blocks as the engine's q4 host blocks (core/tensor/q4.ts): the same values, re-laid out.

import { f16ToF32 } from '../tensor/dtype';
import { q4Bytes } from '../tensor/q4';
import { scaleMinK4 } from './kquants';

/** GGUF types whose blocks convert to q4 host blocks without changing a value. */
export type Q4GgufType = 'Q4_0' | 'Q4_K';
export const Q4_GGUF_TYPES: ReadonlySet<string> = new Set<Q4GgufType>(['Q4_0', 'Q4_K']);

const fr = Math.fround;
const f16At = (b: Uint8Array, at: number): number => f16ToF32(b[at]! | (b[at + 1]! << 8));

/** Host blocks from GGUF Q4_0 / Q4_K blocks of `count` values (a multiple of the type's block size). */
export function q4FromGguf(type: Q4GgufType, raw: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(q4Bytes(count));
  const f = new Float32Array(out.buffer);
  if (type === 'Q4_0') {
    for (let b = 0; b < count / 32; b++) {
      const d = f16At(raw, b * 18);
      f[b * 6] = d;
      f[b * 6 + 1] = fr(8 * d);
      out.set(raw.subarray(b * 18 + 2, b * 18 + 18), b * 24 + 8);
    }
    return out;
  }
  for (let sb = 0; sb < count / 256; sb++) {
    const o = sb * 144;
    const d = f16At(raw, o), dmin = f16At(raw, o + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, mn] = scaleMinK4(j, raw, o + 4);
      const b = sb * 8 + j;
      f[b * 6] = fr(d * sc);
      f[b * 6 + 1] = fr(dmin * mn);
      // Sub-block j: the low (even j) or high (odd j) nibbles of the 32 bytes of its 64-value chunk.
      const qs = o + 16 + (j >> 1) * 32;
      const shift = (j & 1) * 4;
      for (let k = 0; k < 16; k++) {
        out[b * 24 + 8 + k] = ((raw[qs + k]! >> shift) & 0xf) | (((raw[qs + k + 16]! >> shift) & 0xf) << 4);
      }
    }
  }
  return out;
}

