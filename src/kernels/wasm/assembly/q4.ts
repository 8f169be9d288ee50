// 4-bit weights with a scale and a min per 32 values (value = s * q - m, q in 0..15): how GGUF Q4_0 (s = d, m = 8d),
// Q4_1 and Q4_K (s = d * sc, m = dmin * min of the sub-block) are kept, in their stored precision, instead of being
// requantized to 8 bits. SoA as q8_0: a nibble plane (16 bytes per block: byte j holds element j in its low nibble and
// element j + 16 in its high one) and a plane of (s, m) f32 pairs.
//
// The matvec is llama.cpp's q4_1 x q8_1 per block: activations quantized to q8_0 (quant_q8) with their block sums
// xsum_b = xs_b * sum(xq_b) (q8_block_sums), and
//   row . x = sum_b s_b * xs_b * (q_b . xq_b) - sum_b m_b * xsum_b,
// the first sum exact in i32 per block, the second an f32 dot product over blocks (4 blocks per vector).
// q_b . xq_b: i16 dot products against the activations widened once per call (q8_widen). The relaxed i8 x i7 dot
// would do 16 products per instruction, and the spec leaves its result open only when the i7 operand has its top bit
// set (the levels here are 0..15), yet Node 20's Liftoff still computes other sums than TurboFan with the activations
// as the i8 operand (test/numerics/q4Tiers.test.ts caught it); it is not used.

// @ts-ignore: decorator
@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** i32 partial sums of q . xq over one block: 16 nibble bytes at p against 32 i16 activations at q. */
// @ts-ignore: decorator
@inline function q4BlockDot(p: usize, q: usize): v128 {
  const v = v128.load(p);
  const lo = v128.and(v, i8x16.splat(0x0f)), hi = i8x16.shr_u(v, 4);
  let d = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(lo), v128.load(q));
  d = i32x4.add(d, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(lo), v128.load(q, 16)));
  d = i32x4.add(d, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(hi), v128.load(q, 32)));
  return i32x4.add(d, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(hi), v128.load(q, 48)));
}

/** xsum[b] = xs[b] * sum of the 32 int8 activations of block b (nb blocks): the min term's activation side. */
export function q8_block_sums(xsum: usize, xq: usize, xs: usize, nb: i32): void {
  for (let b = 0; b < nb; b++) {
    const p = xq + (<usize>b << 5);
    const s16 = i16x8.add(i16x8.extadd_pairwise_i8x16_s(v128.load(p)), i16x8.extadd_pairwise_i8x16_s(v128.load(p, 16)));
    const s32 = i32x4.extadd_pairwise_i16x8_s(s16);
    const t = i32x4.extract_lane(s32, 0) + i32x4.extract_lane(s32, 1) + i32x4.extract_lane(s32, 2) + i32x4.extract_lane(s32, 3);
    store<f32>(xsum + (<usize>b << 2), <f32>t * load<f32>(xs + (<usize>b << 2)));
  }
}

/**
 * out[r] = W[r, :] . x for rows r0..r1 of a q4 SoA weight (row-major, cols % 32 == 0): wq the nibble plane, wsm the
 * (s, m) pairs; x16/xs/xsum the activations as quant_q8 + q8_widen + q8_block_sums leave them. Two accumulators, four
 * blocks' scale products as one vector (as mv_q8).
 */
export function mv_q4(r0: i32, r1: i32, tid: i32, out: usize, wq: usize, wsm: usize, x16: usize, xs: usize, xsum: usize, cols: i32): void {
  const nb = cols >> 5;
  const nb4 = nb & ~3;
  for (let r = r0; r < r1; r++) {
    const row = wq + ((<usize>r * <usize>cols) >> 1);
    const sm = wsm + ((<usize>r * <usize>nb) << 3);
    let acc = f32x4.splat(0), acc1 = f32x4.splat(0), accm = f32x4.splat(0);
    for (let b = 0; b < nb4; b += 4) {
      const p0 = v128.load(sm + (<usize>b << 3)), p1 = v128.load(sm + (<usize>b << 3), 16);
      const s4 = f32x4.mul(i32x4.shuffle(p0, p1, 0, 2, 4, 6), v128.load(xs + (<usize>b << 2)));
      accm = fma(i32x4.shuffle(p0, p1, 1, 3, 5, 7), v128.load(xsum + (<usize>b << 2)), accm);
      const p = row + (<usize>b << 4), q = x16 + (<usize>b << 6);
      const d0 = f32x4.convert_i32x4_s(q4BlockDot(p, q));
      const d1 = f32x4.convert_i32x4_s(q4BlockDot(p + 16, q + 64));
      const d2 = f32x4.convert_i32x4_s(q4BlockDot(p + 32, q + 128));
      const d3 = f32x4.convert_i32x4_s(q4BlockDot(p + 48, q + 192));
      acc = fma(d0, i32x4.shuffle(s4, s4, 0, 0, 0, 0), acc);
      acc1 = fma(d1, i32x4.shuffle(s4, s4, 1, 1, 1, 1), acc1);
      acc = fma(d2, i32x4.shuffle(s4, s4, 2, 2, 2, 2), acc);
      acc1 = fma(d3, i32x4.shuffle(s4, s4, 3, 3, 3, 3), acc1);
    }
    let tail: f32 = 0;
    for (let b = nb4; b < nb; b++) {
      const s = load<f32>(sm + (<usize>b << 3)) * load<f32>(xs + (<usize>b << 2));
      acc = fma(f32x4.convert_i32x4_s(q4BlockDot(row + (<usize>b << 4), x16 + (<usize>b << 6))), f32x4.splat(s), acc);
      tail += load<f32>(sm + (<usize>b << 3), 4) * load<f32>(xsum + (<usize>b << 2));
    }
    store<f32>(out + (<usize>r << 2), hsum(f32x4.add(acc, acc1)) - (hsum(accm) + tail));
  }
}

/**
 * dst[0..count) = the q4 values from `q` (nibble plane, at a block boundary) and `sm` ((s, m) pairs): s * q - m with
 * one rounding each, as the reference backend computes them.
 */
export function decode_q4(dst: usize, q: usize, sm: usize, count: i32): void {
  for (let b = 0; b < count >> 5; b++) {
    const s = f32x4.splat(load<f32>(sm + (<usize>b << 3))), m = f32x4.splat(load<f32>(sm + (<usize>b << 3), 4));
    const v = v128.load(q + (<usize>b << 4));
    const o = dst + (<usize>b << 7);
    decodeNibbles(o, v128.and(v, i8x16.splat(0x0f)), s, m);
    decodeNibbles(o + 64, i8x16.shr_u(v, 4), s, m);
  }
}

/** 16 values q (u8 lanes) as s * q - m at o. */
// @ts-ignore: decorator
@inline function decodeNibbles(o: usize, n: v128, s: v128, m: v128): void {
  const lo = i16x8.extend_low_i8x16_u(n), hi = i16x8.extend_high_i8x16_u(n);
  v128.store(o, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), s), m));
  v128.store(o, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), s), m), 16);
  v128.store(o, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), s), m), 32);
  v128.store(o, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), s), m), 48);
}

/** Repack nb host blocks (24 bytes: f32 s, f32 m, 16 nibble bytes) into the planes. */
export function repack_q4(dq: usize, dsm: usize, src: usize, nb: i32): void {
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 24;
    store<u64>(dsm + (<usize>b << 3), load<u64>(p));
    v128.store(dq + (<usize>b << 4), v128.load(p, 8));
  }
}
