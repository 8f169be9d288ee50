// Scalar f32 -> binary16 shared by the kernels (merge tails) and the K-quant quantizers (super-scales): the same
// rounding as core/merge/convert.ts f32BitsToF16, which the byte-identical GGUF export relies on.

/** Scalar f32 -> f16 bits, round to nearest even (same results as kernels.ts toF16, the vector form). */
export function toF16Scalar(bits: u32): u32 {
  const sign = (bits >> 16) & 0x8000;
  const exp = <i32>((bits >> 23) & 0xff);
  let mant = bits & 0x7fffff;
  if (exp == 0xff) return sign | 0x7c00 | (mant != 0 ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = <u32>(14 - e);
    const half: u32 = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >> shift;
    if (rest > half || (rest == half && (m & 1) != 0)) m++;
    return sign | m;
  }
  let h = sign | (<u32>e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++;
  return h;
}
