// Bulk f16/bf16/f32 <-> f32 conversions for the merge, on raw little-endian bytes: decode is exact, encode rounds once to
// nearest even (same rules as tensor/dtype.ts, working on the f32 bit patterns in a loop) and reports the first
// non-finite output so a broken adapter never reaches the disk silently.

import { f16Lut, type FloatDType } from '../tensor/dtype';

function u16View(b: Uint8Array, count: number): Uint16Array {
  if ((b.byteOffset & 1) === 0) return new Uint16Array(b.buffer, b.byteOffset, count);
  return new Uint16Array(b.slice(0, count * 2).buffer);
}

/** Decode `count` elements of raw bytes into out[0..count). */
export function decodeInto(raw: Uint8Array, dtype: FloatDType, out: Float32Array, count: number): void {
  if (dtype === 'F32') {
    if ((raw.byteOffset & 3) === 0) out.set(new Float32Array(raw.buffer, raw.byteOffset, count));
    else out.set(new Float32Array(raw.slice(0, count * 4).buffer));
    return;
  }
  const src = u16View(raw, count);
  if (dtype === 'BF16') {
    const o = new Int32Array(out.buffer, out.byteOffset, count);
    for (let i = 0; i < count; i++) o[i] = src[i]! << 16;
  } else {
    const lut = f16Lut();
    for (let i = 0; i < count; i++) out[i] = lut[src[i]!]!;
  }
}

/** f32 bit pattern -> binary16 bits, round to nearest even (overflow -> inf, NaN stays NaN). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}

/**
 * Encode in[0..count) into `dtype` raw bytes in `out`. Returns the index of the first element whose f32 value or
 * rounded result is not finite, or -1.
 */
export function encodeInto(input: Float32Array, count: number, dtype: FloatDType, out: Uint8Array): number {
  // Int32 views keep every element a small integer for V8 (Uint32 values above 2^31 would become heap doubles).
  const bits = new Int32Array(input.buffer, input.byteOffset, count);
  let bad = -1;
  if (dtype === 'F32') {
    if (out.buffer !== input.buffer || out.byteOffset !== input.byteOffset) out.set(new Uint8Array(input.buffer, input.byteOffset, count * 4));
    for (let i = 0; i < count; i++) if ((bits[i]! & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  const o = new Uint16Array(out.buffer, out.byteOffset, count);
  if (dtype === 'BF16') {
    for (let i = 0; i < count; i++) {
      const x = bits[i]!;
      if ((x & 0x7f800000) === 0x7f800000) {
        if (bad < 0) bad = i;
        o[i] = (x & 0x7fffff) !== 0 ? ((x >>> 16) | 0x40) & 0xffff : x >>> 16;
        continue;
      }
      const r = (((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
      if ((r & 0x7f80) === 0x7f80 && bad < 0) bad = i; // rounded up past the largest finite bf16
      o[i] = r;
    }
    return bad;
  }
  for (let i = 0; i < count; i++) {
    const h = f32BitsToF16(bits[i]!);
    if ((h & 0x7c00) === 0x7c00 && bad < 0) bad = i;
    o[i] = h;
  }
  return bad;
}

/**
 * Widen `count` raw `dtype` elements held at the start of `buf` into f32 in the same buffer (which must hold count*4
 * bytes, 4-aligned). Walks backwards so every source element is read before its bytes are overwritten: a file is read
 * straight into the compute buffer, with no second copy of the tensor.
 */
export function decodeInPlace(buf: Uint8Array, dtype: FloatDType, count: number): Float32Array {
  const f = new Float32Array(buf.buffer, buf.byteOffset, count);
  if (dtype === 'F32') return f;
  const src = new Uint16Array(buf.buffer, buf.byteOffset, count);
  if (dtype === 'BF16') {
    const o = new Int32Array(buf.buffer, buf.byteOffset, count);
    for (let i = count - 1; i >= 0; i--) o[i] = src[i]! << 16;
  } else {
    const lut = f16Lut();
    for (let i = count - 1; i >= 0; i--) f[i] = lut[src[i]!]!;
  }
  return f;
}
