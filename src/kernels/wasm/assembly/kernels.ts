// WASM SIMD kernels (AssemblyScript, compiled by scripts/build-wasm.mjs twice: plain SIMD and relaxed SIMD).
// Every kernel works on raw pointers into an imported shared memory and never touches a stack or heap, so one module is
// instantiated per thread per memory. Threaded kernels take (r0, r1, tid, ...): the row range a thread grabbed and the
// thread's index (which selects its private scratch). Measured tricks: ../../../../shared/KERNELS.md (f16 decode via
// 16-bit shifts + shuffle + 2^112, q8_0 in SoA with i16 dot products, packed weight panels for matmul).

import { toF16Scalar } from './half';
import { decode_q4 } from './q4';

// 2^112: rescales an f16 whose exponent was copied unbiased into an f32 (exact, subnormals included).
const TWO112: f32 = 5.192296858534828e33;
/** Columns of the weight panel packed per K block in matmul (8 rows x KC floats = 8 KiB, stays in L1). */
const KC: i32 = 256;
/** Per-thread scratch bytes matmul needs: the panel plus a 32-byte tile for partial stores. */
export const MM_SCRATCH: i32 = 8 * KC * 4 + 64;

// @ts-ignore: decorator
@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// Low 16 bits of each f32 (the 3 low mantissa bits of the half) and high 16 bits (sign, exponent, 7 mantissa bits).
// @ts-ignore: decorator
@inline function f16lo(h: v128): v128 {
  return i16x8.shl(h, 13);
}
// @ts-ignore: decorator
@inline function f16hi(h: v128): v128 {
  return v128.and(i16x8.shr_s(h, 3), i16x8.splat(-28673)); // 0x8fff
}

/** Scalar f16 -> f32 with the same trick (no inf/NaN: weights are finite). */
// @ts-ignore: decorator
@inline function h2f(h: u32): f32 {
  return reinterpret<f32>(((h & 0x8000) << 16) | ((h & 0x7fff) << 13)) * TWO112;
}

// @ts-ignore: decorator
@inline function bf2f(h: u32): f32 {
  return reinterpret<f32>(h << 16);
}

// ---- matvec (n == 1): one pass over the weights, memory-bound ------------------------------------------------------

// Eight independent accumulators per row: with four, every fma waits on the previous one into the same register
// (latency-bound below the memory bandwidth); eight keep the FMA pipes busy while the loads stream.

// @ts-ignore: decorator
@inline function sum8(a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128): f32 {
  return hsum(f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))));
}

// Column panels (see WasmBackend.alloc): a weight [rows, cols] may be stored as panels of pw columns, panel p holding
// rows x wp(p) values row-major, so a matvec streams one panel row at a time against an x window of pw floats that
// stays in L1 (a full 16 KiB x row was evicted by the weight stream: 0.73 of the bandwidth probe instead of 0.96).
// Virtual row v = p * rows + r is panel p's row r; pw = cols is the plain row-major layout. Element (r, c) of panel
// p = c / pw lives at linear index rows * c0 + r * wp + (c - c0), c0 = p * pw (q8_0: that many int8, scales / 32).

/** First column of virtual row v. */
// @ts-ignore: decorator
@inline function panelCol(v: i32, rows: i32, pw: i32): i32 {
  return (v / rows) * pw;
}

/** Linear element index where virtual row v starts. */
// @ts-ignore: decorator
@inline function panelStart(v: i32, rows: i32, cols: i32, pw: i32): usize {
  const p = v / rows;
  const c0 = p * pw;
  return <usize>rows * <usize>c0 + <usize>(v - p * rows) * <usize>min(pw, cols - c0);
}

/** out[r] = sum over panels p in order of part[p * rows + r]: the matvec of a weight stored in np panels. */
export function mv_reduce(out: usize, part: usize, rows: i32, np: i32): void {
  for (let r = 0; r < rows; r++) {
    let s = load<f32>(part + (<usize>r << 2));
    for (let p = 1; p < np; p++) s += load<f32>(part + (<usize>(p * rows + r) << 2));
    store<f32>(out + (<usize>r << 2), s);
  }
}

/** Matvec over virtual rows v0..v1 (one partial sum each into out[v]); see "Column panels" above. */
export function mv_f32(v0: i32, v1: i32, tid: i32, out: usize, w: usize, x0: usize, cols: i32, rows: i32, pw: i32): void {
  const z = f32x4.splat(0);
  for (let v = v0; v < v1; v++) {
    const c0 = panelCol(v, rows, pw);
    const wp = min(pw, cols - c0);
    const c32 = wp & ~31;
    const row = w + (panelStart(v, rows, cols, pw) << 2);
    const x = x0 + (<usize>c0 << 2);
    let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
    for (let k = 0; k < c32; k += 32) {
      const p = row + (<usize>k << 2);
      const q = x + (<usize>k << 2);
      a0 = fma(v128.load(p), v128.load(q), a0);
      a1 = fma(v128.load(p, 16), v128.load(q, 16), a1);
      a2 = fma(v128.load(p, 32), v128.load(q, 32), a2);
      a3 = fma(v128.load(p, 48), v128.load(q, 48), a3);
      a4 = fma(v128.load(p, 64), v128.load(q, 64), a4);
      a5 = fma(v128.load(p, 80), v128.load(q, 80), a5);
      a6 = fma(v128.load(p, 96), v128.load(q, 96), a6);
      a7 = fma(v128.load(p, 112), v128.load(q, 112), a7);
    }
    let s = sum8(a0, a1, a2, a3, a4, a5, a6, a7);
    for (let k = c32; k < wp; k++) s += load<f32>(row + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(out + (<usize>v << 2), s);
  }
}

/**
 * For mv_f16: xs = x * 2^(112 - e) with the smallest e >= 0 that keeps every value finite; returns e. The f16 decode
 * then needs no 2^112 multiply per weight (it moved onto x, once per call); products are the same real numbers, so
 * with e == 0 (any |x| < 2^15) the sums are bit-identical to decoding first. mv_f16 multiplies each sum by 2^e.
 */
export function f16_prescale(xs: usize, x: usize, cols: i32): i32 {
  let m: f32 = 0;
  for (let k = 0; k < cols; k++) m = max(m, abs(load<f32>(x + (<usize>k << 2))));
  let e = 0;
  if (m >= 32768) e = <i32>((reinterpret<u32>(m) >> 23) & 0xff) - 127 - 14; // keeps max|x| * 2^(112-e) below 2^127
  if (e > 112) e = 112;
  const f = reinterpret<f32>(<u32>(127 + 112 - e) << 23);
  const fv = f32x4.splat(f);
  const c4 = cols & ~3;
  for (let k = 0; k < c4; k += 4) v128.store(xs + (<usize>k << 2), f32x4.mul(v128.load(x + (<usize>k << 2)), fv));
  for (let k = c4; k < cols; k++) store<f32>(xs + (<usize>k << 2), load<f32>(x + (<usize>k << 2)) * f);
  return e;
}

/** f16 weights against xs from f16_prescale (x * 2^(112-e)); `post` = 2^e. */
export function mv_f16(v0: i32, v1: i32, tid: i32, out: usize, w: usize, xs0: usize, cols: i32, post: f32, rows: i32, pw: i32): void {
  const z = f32x4.splat(0);
  for (let v = v0; v < v1; v++) {
    const c0 = panelCol(v, rows, pw);
    const wp = min(pw, cols - c0);
    const c32 = wp & ~31;
    const row = w + (panelStart(v, rows, cols, pw) << 1);
    const xs = xs0 + (<usize>c0 << 2);
    let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
    for (let k = 0; k < c32; k += 32) {
      const p = row + (<usize>k << 1);
      const q = xs + (<usize>k << 2);
      const h0 = v128.load(p), h1 = v128.load(p, 16), h2 = v128.load(p, 32), h3 = v128.load(p, 48);
      const l0 = f16lo(h0), g0 = f16hi(h0), l1 = f16lo(h1), g1 = f16hi(h1);
      const l2 = f16lo(h2), g2 = f16hi(h2), l3 = f16lo(h3), g3 = f16hi(h3);
      a0 = fma(i16x8.shuffle(l0, g0, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q), a0);
      a1 = fma(i16x8.shuffle(l0, g0, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 16), a1);
      a2 = fma(i16x8.shuffle(l1, g1, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q, 32), a2);
      a3 = fma(i16x8.shuffle(l1, g1, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 48), a3);
      a4 = fma(i16x8.shuffle(l2, g2, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q, 64), a4);
      a5 = fma(i16x8.shuffle(l2, g2, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 80), a5);
      a6 = fma(i16x8.shuffle(l3, g3, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q, 96), a6);
      a7 = fma(i16x8.shuffle(l3, g3, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 112), a7);
    }
    let s = sum8(a0, a1, a2, a3, a4, a5, a6, a7);
    for (let k = c32; k < wp; k++) {
      const h = <u32>load<u16>(row + (<usize>k << 1));
      s += reinterpret<f32>(((h & 0x8000) << 16) | ((h & 0x7fff) << 13)) * load<f32>(xs + (<usize>k << 2));
    }
    store<f32>(out + (<usize>v << 2), s * post);
  }
}

export function mv_bf16(v0: i32, v1: i32, tid: i32, out: usize, w: usize, x0: usize, cols: i32, rows: i32, pw: i32): void {
  const z = f32x4.splat(0);
  const zi = i16x8.splat(0);
  for (let v = v0; v < v1; v++) {
    const c0 = panelCol(v, rows, pw);
    const wp = min(pw, cols - c0);
    const c32 = wp & ~31;
    const row = w + (panelStart(v, rows, cols, pw) << 1);
    const x = x0 + (<usize>c0 << 2);
    let a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
    for (let k = 0; k < c32; k += 32) {
      const p = row + (<usize>k << 1);
      const q = x + (<usize>k << 2);
      const h0 = v128.load(p), h1 = v128.load(p, 16), h2 = v128.load(p, 32), h3 = v128.load(p, 48);
      a0 = fma(i16x8.shuffle(zi, h0, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q), a0);
      a1 = fma(i16x8.shuffle(zi, h0, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 16), a1);
      a2 = fma(i16x8.shuffle(zi, h1, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q, 32), a2);
      a3 = fma(i16x8.shuffle(zi, h1, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 48), a3);
      a4 = fma(i16x8.shuffle(zi, h2, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q, 64), a4);
      a5 = fma(i16x8.shuffle(zi, h2, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 80), a5);
      a6 = fma(i16x8.shuffle(zi, h3, 0, 8, 1, 9, 2, 10, 3, 11), v128.load(q, 96), a6);
      a7 = fma(i16x8.shuffle(zi, h3, 4, 12, 5, 13, 6, 14, 7, 15), v128.load(q, 112), a7);
    }
    let s = sum8(a0, a1, a2, a3, a4, a5, a6, a7);
    for (let k = c32; k < wp; k++) s += bf2f(load<u16>(row + (<usize>k << 1))) * load<f32>(x + (<usize>k << 2));
    store<f32>(out + (<usize>v << 2), s);
  }
}

/**
 * Exact i32 dot product partials of one 32-value block: int8 weights widened to i16 against the activations already
 * widened once per call (q8_widen; that saves four extends per block, +12% measured). The relaxed i8 x i7 dot would be
 * faster still, but Node 20's baseline compiler (Liftoff) computes it differently from its optimizing one when an
 * operand is negative, so results would change as functions tier up; it is not used. v128.load8x8_s (widening as it
 * loads) measured 9% slower than the 16-byte loads split here.
 */
// @ts-ignore: decorator
@inline function q8BlockDot(p: usize, q: usize): v128 {
  const w0 = v128.load(p), w1 = v128.load(p, 16);
  let d = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), v128.load(q));
  d = i32x4.add(d, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), v128.load(q, 16)));
  d = i32x4.add(d, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), v128.load(q, 32)));
  return i32x4.add(d, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), v128.load(q, 48)));
}

/** x16[0..count) = xq widened to i16 (count % 16 == 0): mv_q8's activations, once per call. */
export function q8_widen(x16: usize, xq: usize, count: i32): void {
  for (let k = 0; k < count; k += 16) {
    const v = v128.load(xq + <usize>k);
    v128.store(x16 + (<usize>k << 1), i16x8.extend_low_i8x16_s(v));
    v128.store(x16 + (<usize>k << 1), i16x8.extend_high_i8x16_s(v), 16);
  }
}

/**
 * q8_0 SoA matvec against activations quantized to q8_0 (quant_q8, then q8_widen): int8 x int8 products summed
 * exactly in i32 per block (llama.cpp's vec_dot_q8_0_q8_0), then scaled by both block scales. The scales of four
 * blocks are multiplied as one vector and splat per block from its lane, into two accumulators: +15% on 2 threads
 * against one scalar scale product per block (A/B). Measured slower: transposing four blocks' i32 sums to convert and
 * scale them at once (the shuffles cost more than they save).
 */
export function mv_q8(v0: i32, v1: i32, tid: i32, out: usize, wq: usize, ws: usize, x160: usize, xs0: usize, cols: i32, rows: i32, pw: i32): void {
  for (let v = v0; v < v1; v++) {
    const c0 = panelCol(v, rows, pw);
    const nb = min(pw, cols - c0) >> 5;
    const start = panelStart(v, rows, cols, pw);
    const row = wq + start;
    const srow = ws + ((start >> 5) << 2);
    const x16 = x160 + (<usize>c0 << 1);
    const xs = xs0 + (<usize>(c0 >> 5) << 2);
    let acc = f32x4.splat(0), acc1 = f32x4.splat(0);
    const nb4 = nb & ~3;
    for (let b = 0; b < nb4; b += 4) {
      // Four blocks' scales multiplied as one vector, each splat from its lane.
      const s4 = f32x4.mul(v128.load(srow + (<usize>b << 2)), v128.load(xs + (<usize>b << 2)));
      const p = row + (<usize>b << 5), q = x16 + (<usize>b << 6);
      const d0 = f32x4.convert_i32x4_s(q8BlockDot(p, q));
      const d1 = f32x4.convert_i32x4_s(q8BlockDot(p + 32, q + 64));
      const d2 = f32x4.convert_i32x4_s(q8BlockDot(p + 64, q + 128));
      const d3 = f32x4.convert_i32x4_s(q8BlockDot(p + 96, q + 192));
      acc = fma(d0, i32x4.shuffle(s4, s4, 0, 0, 0, 0), acc);
      acc1 = fma(d1, i32x4.shuffle(s4, s4, 1, 1, 1, 1), acc1);
      acc = fma(d2, i32x4.shuffle(s4, s4, 2, 2, 2, 2), acc);
      acc1 = fma(d3, i32x4.shuffle(s4, s4, 3, 3, 3, 3), acc1);
    }
    for (let b = nb4; b < nb; b++) {
      const sc = load<f32>(srow + (<usize>b << 2)) * load<f32>(xs + (<usize>b << 2));
      acc = fma(f32x4.convert_i32x4_s(q8BlockDot(row + (<usize>b << 5), x16 + (<usize>b << 6))), f32x4.splat(sc), acc);
    }
    store<f32>(out + (<usize>v << 2), hsum(f32x4.add(acc, acc1)));
  }
}

/** Quantize count (% 32 == 0) f32 values to q8_0 SoA: d = max|x|/127 (kept in f32), q = round-to-even(x/d). */
export function quant_q8(xq: usize, xs: usize, x: usize, count: i32): void {
  const nb = count >> 5;
  for (let b = 0; b < nb; b++) {
    const p = x + (<usize>b << 7);
    const v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64), v5 = v128.load(p, 80), v6 = v128.load(p, 96), v7 = v128.load(p, 112);
    let m = f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3)));
    m = f32x4.max(m, f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    const amax = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const d: f32 = amax / 127;
    const id = f32x4.splat(d != 0 ? <f32>1 / d : 0);
    store<f32>(xs + (<usize>b << 2), d);
    const q0 = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v0, id))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v1, id))));
    const q1 = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v2, id))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v3, id))));
    const q2 = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v4, id))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v5, id))));
    const q3 = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v6, id))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v7, id))));
    v128.store(xq + (<usize>b << 5), i8x16.narrow_i16x8_s(q0, q1));
    v128.store(xq + (<usize>b << 5), i8x16.narrow_i16x8_s(q2, q3), 16);
  }
}

/** Repack nb GGUF block_q8_0 (f16 scale + 32 int8, 34 bytes) into SoA planes (int8 q, f32 scales). */
export function repack_q8(dq: usize, ds: usize, src: usize, nb: i32): void {
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 34;
    store<f32>(ds + (<usize>b << 2), h2f(<u32>load<u8>(p) | (<u32>load<u8>(p, 1) << 8)));
    v128.store(dq + (<usize>b << 5), v128.load(p, 2));
    v128.store(dq + (<usize>b << 5), v128.load(p, 18), 16);
  }
}

// ---- decode rows to f32 (embedding lookup, matmul panels) -----------------------------------------------------------

/**
 * dst[0..count) = src decoded; dtype 0 f32, 1 f16, 2 bf16, 3 q8_0 SoA (src = int8 plane, scales = f32 per 32), 4 q4 SoA
 * (src = nibble plane, scales = (s, m) f32 pairs per 32).
 */
export function decode(dst: usize, src: usize, scales: usize, count: i32, dtype: i32): void {
  const c8 = count & ~7;
  if (dtype == 0) {
    memory.copy(dst, src, <usize>count << 2);
  } else if (dtype == 1) {
    const k112 = f32x4.splat(TWO112);
    for (let k = 0; k < c8; k += 8) {
      const h = v128.load(src + (<usize>k << 1));
      const l = f16lo(h), g = f16hi(h);
      v128.store(dst + (<usize>k << 2), f32x4.mul(i16x8.shuffle(l, g, 0, 8, 1, 9, 2, 10, 3, 11), k112));
      v128.store(dst + (<usize>k << 2), f32x4.mul(i16x8.shuffle(l, g, 4, 12, 5, 13, 6, 14, 7, 15), k112), 16);
    }
    for (let k = c8; k < count; k++) store<f32>(dst + (<usize>k << 2), h2f(load<u16>(src + (<usize>k << 1))));
  } else if (dtype == 2) {
    const z = i16x8.splat(0);
    for (let k = 0; k < c8; k += 8) {
      const h = v128.load(src + (<usize>k << 1));
      v128.store(dst + (<usize>k << 2), i16x8.shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(dst + (<usize>k << 2), i16x8.shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15), 16);
    }
    for (let k = c8; k < count; k++) store<f32>(dst + (<usize>k << 2), bf2f(load<u16>(src + (<usize>k << 1))));
  } else if (dtype == 4) {
    decode_q4(dst, src, scales, count);
  } else {
    for (let b = 0; b < count >> 5; b++) {
      const d = f32x4.splat(load<f32>(scales + (<usize>b << 2)));
      const q = src + (<usize>b << 5);
      const o = dst + (<usize>b << 7);
      for (let j = 0; j < 2; j++) {
        const v = v128.load(q + (<usize>j << 4));
        const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
        const oo = o + (<usize>j << 6);
        v128.store(oo, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d));
        v128.store(oo, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d), 16);
        v128.store(oo, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d), 32);
        v128.store(oo, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d), 48);
      }
    }
  }
}

// ---- matmul (n > 1, prefill): 8 weight rows decoded into a packed [KC][8] panel, 4x8 register tile ------------------

/**
 * Stores the 4x4 transpose of four vectors of 32-bit units (a..d: rows) at p, p + stride, p + 2 stride, p + 3 stride:
 * vector j holds unit j of a, b, c, d (the mm panels and the four-row interleaved activations).
 */
// @ts-ignore: decorator
@inline function storeTransposed4(p: usize, stride: usize, a: v128, b: v128, c: v128, d: v128): void {
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5), cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7), cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(p, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
  v128.store(p + stride, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7));
  v128.store(p + 2 * stride, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5));
  v128.store(p + 3 * stride, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7));
}

/**
 * Decode rows r..r+vr of W, columns k0..k0+kc, transposed into panel[k][8] (rows >= vr are zero). The 8 rows are
 * decoded into tmp (8 x KC floats) first, then transposed 4 columns at a time with 4x4 lane shuffles (the scalar
 * transpose was ~13% of prefill).
 */
function packPanel(panel: usize, tmp: usize, w: usize, ws: usize, r: i32, vr: i32, rows: i32, cols: i32, pw: i32, k0: i32, kc: i32, dtype: i32): void {
  const rowBytes = <usize>KC << 2;
  // k0..k0+kc lies in one column panel (pw is cols or a multiple of KC).
  const c0 = (k0 / pw) * pw;
  const wp = min(pw, cols - c0);
  const shift: usize = dtype == 0 ? 2 : dtype == 3 ? 0 : 1;
  for (let j = 0; j < 8; j++) {
    const t = tmp + <usize>j * rowBytes;
    if (j < vr) {
      const at = <usize>rows * <usize>c0 + <usize>(r + j) * <usize>wp + <usize>(k0 - c0);
      if (dtype == 4) decode_q4(t, w + (at >> 1), ws + ((at >> 5) << 3), kc);
      else decode(t, w + (at << shift), ws + ((at >> 5) << 2), kc, dtype);
    } else {
      memory.fill(t, 0, <usize>kc << 2);
    }
  }
  const k4 = kc & ~3;
  for (let k = 0; k < k4; k += 4) {
    const o = <usize>k << 2;
    for (let h = 0; h < 2; h++) {
      const t = tmp + <usize>(h * 4) * rowBytes + o;
      const a = v128.load(t), b = v128.load(t + rowBytes), c = v128.load(t + 2 * rowBytes), d = v128.load(t + 3 * rowBytes);
      storeTransposed4(panel + ((<usize>k * 8 + <usize>(h * 4)) << 2), 32, a, b, c, d);
    }
  }
  for (let k = k4; k < kc; k++) {
    for (let j = 0; j < 8; j++) store<f32>(panel + ((<usize>k * 8 + <usize>j) << 2), load<f32>(tmp + <usize>j * rowBytes + (<usize>k << 2)));
  }
}

// @ts-ignore: decorator
@inline function storeTile(o: usize, a0: v128, a1: v128, vr: i32, first: bool, tile: usize): void {
  if (vr == 8) {
    if (first) {
      v128.store(o, a0);
      v128.store(o, a1, 16);
    } else {
      v128.store(o, f32x4.add(v128.load(o), a0));
      v128.store(o, f32x4.add(v128.load(o, 16), a1), 16);
    }
  } else {
    v128.store(tile, a0);
    v128.store(tile, a1, 16);
    for (let j = 0; j < vr; j++) {
      const p = o + (<usize>j << 2);
      const v = load<f32>(tile + (<usize>j << 2));
      store<f32>(p, first ? v : load<f32>(p) + v);
    }
  }
}

/**
 * x (n rows x cols 32-bit units: f32, or the i16 pairs of widened q8_0 activations) interleaved by groups of four
 * rows for mm and mm_q8: x4[g][k][row 0..3], rows >= n zero. The micro-kernels then read the four rows at constant
 * offsets from one pointer bumped per step; on the row-major layout TurboFan recomputed four row addresses per step
 * (13 scalar instructions beside mm_q8's 16 dot products and adds, --print-wasm-code).
 */
export function interleave4(x4: usize, x: usize, n: i32, cols: i32): void {
  const z = f32x4.splat(0);
  const rowBytes = <usize>cols << 2;
  const c4 = cols & ~3;
  for (let g = 0; g < n; g += 4) {
    const r0 = x + <usize>g * rowBytes;
    const live1 = g + 1 < n, live2 = g + 2 < n, live3 = g + 3 < n;
    const dst = x4 + <usize>(g >> 2) * (rowBytes << 2);
    for (let k = 0; k < c4; k += 4) {
      const o = <usize>k << 2;
      const a = v128.load(r0 + o), b = live1 ? v128.load(r0 + rowBytes + o) : z;
      const c = live2 ? v128.load(r0 + 2 * rowBytes + o) : z, d = live3 ? v128.load(r0 + 3 * rowBytes + o) : z;
      storeTransposed4(dst + (o << 2), 16, a, b, c, d);
    }
    for (let k = c4; k < cols; k++) {
      const p = dst + (<usize>k << 4);
      for (let j = 0; j < 4; j++) store<f32>(p + (<usize>j << 2), g + j < n ? load<f32>(r0 + <usize>j * rowBytes + (<usize>k << 2)) : 0);
    }
  }
}

/**
 * out[i, r] = x[i, :] . W[r, :] for rows r0..r1 (r0 multiple of 8), all n, x as interleave4 leaves it. W dtype as
 * in decode(); ws = q8_0 scales or q4 (s, m) pairs. Scratch per thread: MM_SCRATCH bytes for the panel plus 8 x KC
 * floats of decode buffer. A last group of fewer than four rows runs as a full one over its zero rows (not stored).
 */
export function mm(r0: i32, r1: i32, tid: i32, out: usize, w: usize, ws: usize, x4: usize, n: i32, rows: i32, cols: i32, dtype: i32, scratch: usize, pw: i32): void {
  const base = scratch + <usize>tid * <usize>(MM_SCRATCH + 8 * KC * 4);
  const panel = base;
  const tile = base + <usize>(8 * KC * 4);
  const tmp = base + <usize>MM_SCRATCH;
  const group = <usize>cols << 4; // bytes of one group of four rows in x4
  const os = <usize>rows << 2;
  for (let r = r0; r < r1; r += 8) {
    const vr = min(8, r1 - r);
    for (let k0 = 0; k0 < cols; k0 += KC) {
      const kc = min(KC, cols - k0);
      packPanel(panel, tmp, w, ws, r, vr, rows, cols, pw, k0, kc, dtype);
      const first = k0 == 0;
      const pend = panel + (<usize>kc << 5);
      for (let i = 0; i < n; i += 4) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        for (let pp = panel, xp = x4 + <usize>(i >> 2) * group + (<usize>k0 << 4); pp < pend; pp += 32, xp += 16) {
          const p0 = v128.load(pp), p1 = v128.load(pp, 16);
          const b0 = v128.load32_splat(xp), b1 = v128.load32_splat(xp, 4);
          const b2 = v128.load32_splat(xp, 8), b3 = v128.load32_splat(xp, 12);
          c00 = fma(b0, p0, c00); c01 = fma(b0, p1, c01);
          c10 = fma(b1, p0, c10); c11 = fma(b1, p1, c11);
          c20 = fma(b2, p0, c20); c21 = fma(b2, p1, c21);
          c30 = fma(b3, p0, c30); c31 = fma(b3, p1, c31);
        }
        const o = out + ((<usize>i * <usize>rows + <usize>r) << 2);
        const ni = n - i;
        storeTile(o, c00, c01, vr, first, tile);
        if (ni > 1) storeTile(o + os, c10, c11, vr, first, tile);
        if (ni > 2) storeTile(o + 2 * os, c20, c21, vr, first, tile);
        if (ni > 3) storeTile(o + 3 * os, c30, c31, vr, first, tile);
      }
    }
  }
}

// ---- q8_0 matmul (n > 1, prefill) through i16 dot products: llama.cpp's q8_0 x q8_0 per block, tiled ---------------

/**
 * The panel of mm_q8: rows r..r+8 of a q8_0 SoA weight, columns k0..k0+kc (kc % 32 == 0), widened to i16 and laid out
 * [k / 2][8 rows][2], so one v128 holds 4 rows x 2 adjacent columns: i32x4.dot_i16x8_s against a splat of two
 * activations gives 4 outputs x 2 products each. Scales go to psc as [block][8 rows]. Rows >= vr are zero.
 */
function packPanelQ8(panel: usize, psc: usize, wq: usize, ws: usize, r: i32, vr: i32, rows: i32, cols: i32, pw: i32, k0: i32, kc: i32): void {
  const c0 = (k0 / pw) * pw;
  const wp = min(pw, cols - c0);
  const nb = kc >> 5;
  const z = i32x4.splat(0);
  for (let h = 0; h < 2; h++) {
    const live0 = h * 4 < vr, live1 = h * 4 + 1 < vr, live2 = h * 4 + 2 < vr, live3 = h * 4 + 3 < vr;
    const a0 = <usize>rows * <usize>c0 + <usize>(r + h * 4) * <usize>wp + <usize>(k0 - c0);
    const a1 = a0 + <usize>wp, a2 = a1 + <usize>wp, a3 = a2 + <usize>wp;
    for (let k = 0; k < kc; k += 16) {
      const v0 = live0 ? v128.load(wq + a0 + <usize>k) : z, v1 = live1 ? v128.load(wq + a1 + <usize>k) : z;
      const v2 = live2 ? v128.load(wq + a2 + <usize>k) : z, v3 = live3 ? v128.load(wq + a3 + <usize>k) : z;
      packSixteen(panel, k, h, v0, v1, v2, v3, false);
    }
  }
  for (let b = 0; b < nb; b++) {
    for (let j = 0; j < 8; j++) {
      const at = <usize>rows * <usize>c0 + <usize>(r + j) * <usize>wp + <usize>(k0 - c0);
      const sc: f32 = j < vr ? load<f32>(ws + (((at >> 5) + <usize>b) << 2)) : 0;
      store<f32>(psc + ((<usize>(b * 8 + j)) << 2), sc);
    }
  }
}

/**
 * Sixteen 8-bit values of four rows (v0..v3: rows h*4..h*4+3, columns k..k+15) widened to i16 into the mm_q8 panel:
 * each row's 8 i16 are 4 pairs (i32 units); a 4x4 transpose of units puts pair p of the four rows in one vector.
 */
// @ts-ignore: decorator
@inline function packSixteen(panel: usize, k: i32, h: i32, v0: v128, v1: v128, v2: v128, v3: v128, unsigned: bool): void {
  for (let half = 0; half < 2; half++) {
    const a = widenHalf(v0, half, unsigned), b = widenHalf(v1, half, unsigned);
    const c = widenHalf(v2, half, unsigned), d = widenHalf(v3, half, unsigned);
    // Pair index of the first of these four pairs; each pair's 8 rows take 32 bytes, this half's 4 rows 16.
    storeTransposed4(panel + ((<usize>((k >> 1) + half * 4) << 5) + (<usize>h << 4)), 32, a, b, c, d);
  }
}

// @ts-ignore: decorator
@inline function widenHalf(v: v128, half: i32, unsigned: bool): v128 {
  if (unsigned) return half == 0 ? i16x8.extend_low_i8x16_u(v) : i16x8.extend_high_i8x16_u(v);
  return half == 0 ? i16x8.extend_low_i8x16_s(v) : i16x8.extend_high_i8x16_s(v);
}

/**
 * The panel of mm_q8 for a q4 weight (row-major, pw = cols): the levels q (0..15) as i16 in the same layout, the
 * scales s to psc and the mins m to pmn, both [block][8 rows]. Rows >= vr are zero.
 */
function packPanelQ4(panel: usize, psc: usize, pmn: usize, wq: usize, wsm: usize, r: i32, vr: i32, cols: i32, k0: i32, kc: i32): void {
  const z = i32x4.splat(0);
  const mask = i8x16.splat(0x0f);
  for (let h = 0; h < 2; h++) {
    const live0 = h * 4 < vr, live1 = h * 4 + 1 < vr, live2 = h * 4 + 2 < vr, live3 = h * 4 + 3 < vr;
    // Nibble byte offsets of the four rows at column k0.
    const a0 = (<usize>(r + h * 4) * <usize>cols + <usize>k0) >> 1;
    const rb = <usize>cols >> 1;
    for (let k = 0; k < kc; k += 32) {
      const o = <usize>k >> 1;
      const n0 = live0 ? v128.load(wq + a0 + o) : z, n1 = live1 ? v128.load(wq + a0 + rb + o) : z;
      const n2 = live2 ? v128.load(wq + a0 + 2 * rb + o) : z, n3 = live3 ? v128.load(wq + a0 + 3 * rb + o) : z;
      packSixteen(panel, k, h, v128.and(n0, mask), v128.and(n1, mask), v128.and(n2, mask), v128.and(n3, mask), true);
      packSixteen(panel, k + 16, h, i8x16.shr_u(n0, 4), i8x16.shr_u(n1, 4), i8x16.shr_u(n2, 4), i8x16.shr_u(n3, 4), true);
    }
  }
  for (let b = 0; b < kc >> 5; b++) {
    for (let j = 0; j < 8; j++) {
      const at = ((<usize>(r + j) * <usize>cols + <usize>k0) >> 5) + <usize>b;
      const live = j < vr;
      store<f32>(psc + ((<usize>(b * 8 + j)) << 2), live ? load<f32>(wsm + (at << 3)) : 0);
      store<f32>(pmn + ((<usize>(b * 8 + j)) << 2), live ? load<f32>(wsm + (at << 3), 4) : 0);
    }
  }
}

/** acc[0..8) += convert(d0 | d1) * (w scales of the 8 rows) * x's block scale: one block's sums of one activation row. */
// @ts-ignore: decorator
@inline function q8BlockFinish(a: usize, d0: v128, d1: v128, w0: v128, w1: v128, xsc: v128): void {
  v128.store(a, fma(f32x4.convert_i32x4_s(d0), f32x4.mul(w0, xsc), v128.load(a)));
  v128.store(a, fma(f32x4.convert_i32x4_s(d1), f32x4.mul(w1, xsc), v128.load(a, 16)), 16);
}

/**
 * One q8_0 block (16 column pairs) of a group of four activation rows (x4: q8_widen, then interleave4 over i16
 * pairs) against the 8-row panel: a 4 x 8 tile of exact i32 sums, then scaled into acc.
 */
// @ts-ignore: decorator
@inline function q8Block4(pp: usize, xg: usize, a: usize, w0: v128, w1: v128, s0: v128, s1: v128, s2: v128, s3: v128): void {
  let d00 = i32x4.splat(0), d01 = d00, d10 = d00, d11 = d00, d20 = d00, d21 = d00, d30 = d00, d31 = d00;
  const end = pp + 512;
  for (let q = pp, xp = xg; q < end; q += 32, xp += 16) {
    const p0 = v128.load(q), p1 = v128.load(q, 16);
    const b0 = v128.load32_splat(xp), b1 = v128.load32_splat(xp, 4);
    const b2 = v128.load32_splat(xp, 8), b3 = v128.load32_splat(xp, 12);
    d00 = i32x4.add(d00, i32x4.dot_i16x8_s(p0, b0)); d01 = i32x4.add(d01, i32x4.dot_i16x8_s(p1, b0));
    d10 = i32x4.add(d10, i32x4.dot_i16x8_s(p0, b1)); d11 = i32x4.add(d11, i32x4.dot_i16x8_s(p1, b1));
    d20 = i32x4.add(d20, i32x4.dot_i16x8_s(p0, b2)); d21 = i32x4.add(d21, i32x4.dot_i16x8_s(p1, b2));
    d30 = i32x4.add(d30, i32x4.dot_i16x8_s(p0, b3)); d31 = i32x4.add(d31, i32x4.dot_i16x8_s(p1, b3));
  }
  q8BlockFinish(a, d00, d01, w0, w1, s0);
  q8BlockFinish(a + 32, d10, d11, w0, w1, s1);
  q8BlockFinish(a + 64, d20, d21, w0, w1, s2);
  q8BlockFinish(a + 96, d30, d31, w0, w1, s3);
}

/** acc[ii][0..8) -= m of the 8 rows * xsum[ii] for the ni activation rows of one block (q4's min term). */
// @ts-ignore: decorator
@inline function q4MinTerm(acc: usize, pm: usize, xsum: usize, ni: i32, sRow: usize): void {
  const m0 = v128.load(pm), m1 = v128.load(pm, 16);
  for (let ii = 0; ii < ni; ii++) {
    const a = acc + (<usize>ii << 5);
    const xm = v128.load32_splat(xsum + <usize>ii * sRow);
    v128.store(a, f32x4.sub(v128.load(a), f32x4.mul(m0, xm)));
    v128.store(a, f32x4.sub(v128.load(a, 16), f32x4.mul(m1, xm)), 16);
  }
}

/**
 * out[i, r] = sum over blocks b of (wq[r, b] . xq[i, b]) * ws[r, b] * xs[i, b] for rows r0..r1 (multiple of 8), all n:
 * the q8_0 prefill, with the activations quantized to q8_0 per row (quant_q8 + q8_widen over n * cols, as mv_q8 does, then interleave4
 * per call). Integer products are exact; an i16 dot product does 8 multiply-adds per instruction where the f32 path
 * does 4, and the panel is half the bytes. Scratch per thread as mm (MM_SCRATCH + 8 x KC floats).
 * A q4 weight (xsum != 0: the activations' block sums of q8_block_sums, ws its (s, m) pairs) packs its levels into the
 * same panel and subtracts sum_b m[r, b] * xsum[i, b], as mv_q4 does.
 */
export function mm_q8(r0: i32, r1: i32, tid: i32, out: usize, wq: usize, ws: usize, x4: usize, xs: usize, n: i32, rows: i32, cols: i32, scratch: usize, pw: i32, xsum: usize): void {
  const base = scratch + <usize>tid * <usize>(MM_SCRATCH + 8 * KC * 4);
  const panel = base;
  const psc = base + <usize>(KC * 8 * 2);
  const tile = psc + <usize>(KC / 32 * 8 * 4);
  const acc = tile + 64;
  const pmn = acc + 128;
  const xGroup = <usize>cols << 3; // bytes of one group of four rows in x4
  const sRow = <usize>(cols >> 5) << 2;
  for (let r = r0; r < r1; r += 8) {
    const vr = min(8, r1 - r);
    for (let k0 = 0; k0 < cols; k0 += KC) {
      const kc = min(KC, cols - k0);
      if (xsum) packPanelQ4(panel, psc, pmn, wq, ws, r, vr, cols, k0, kc);
      else packPanelQ8(panel, psc, wq, ws, r, vr, rows, cols, pw, k0, kc);
      const first = k0 == 0;
      for (let i = 0; i < n; i += 4) {
        const ni = min(4, n - i);
        for (let t = 0; t < 32; t += 4) v128.store(acc + (<usize>t << 2), f32x4.splat(0));
        // Rows past n (zeros in x4) take the last row's scales, so nothing past xs is read.
        const sr1 = <usize>min(1, ni - 1) * sRow, sr2 = <usize>min(2, ni - 1) * sRow, sr3 = <usize>min(3, ni - 1) * sRow;
        for (let b = 0; b < kc >> 5; b++) {
          const pp = panel + (<usize>(b * 16) << 5);
          const w0 = v128.load(psc + (<usize>(b * 8) << 2)), w1 = v128.load(psc + (<usize>(b * 8) << 2), 16);
          const xg = x4 + <usize>(i >> 2) * xGroup + (<usize>(k0 + b * 32) << 3);
          const xsc = xs + <usize>i * sRow + (<usize>((k0 >> 5) + b) << 2);
          q8Block4(pp, xg, acc, w0, w1, v128.load32_splat(xsc), v128.load32_splat(xsc + sr1), v128.load32_splat(xsc + sr2), v128.load32_splat(xsc + sr3));
          if (xsum) q4MinTerm(acc, pmn + (<usize>(b * 8) << 2), xsum + <usize>i * sRow + (<usize>((k0 >> 5) + b) << 2), ni, sRow);
        }
        for (let ii = 0; ii < ni; ii++) {
          const a = acc + (<usize>ii << 5);
          storeTile(out + ((<usize>(i + ii) * <usize>rows + <usize>r) << 2), v128.load(a), v128.load(a, 16), vr, first, tile);
        }
      }
    }
  }
}

// ---- LoRA -------------------------------------------------------------------------------------------------------------

// ---- merge: widen + LoRA delta + round, fused ---------------------------------------------------------------------

/** Storage codes shared with decode(): 0 f32, 1 f16, 2 bf16. */
// @ts-ignore: decorator
@inline function loadWide(p: usize, dtype: i32, k112: v128): v128 {
  if (dtype == 0) return v128.load(p);
  const h = v128.load64_zero(p);
  if (dtype == 2) return i16x8.shuffle(i16x8.splat(0), h, 0, 8, 1, 9, 2, 10, 3, 11);
  return f32x4.mul(i16x8.shuffle(f16lo(h), f16hi(h), 0, 8, 1, 9, 2, 10, 3, 11), k112);
}

// f32 -> f16, round to nearest even, branch-free (F. Giesen's float_to_half_fast3_rtne): subnormal results come from
// one float add against a magic constant (the FPU rounds), normal ones from an integer add of the rounding bias.
// @ts-ignore: decorator
@inline function toF16(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = v128.xor(x, sign);
  const magic = i32x4.splat(((127 - 15) + (23 - 10) + 1) << 23);
  const sub = i32x4.sub(f32x4.add(a, magic), magic);
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const norm = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(((15 - 127) << 23) + 0xfff)), odd), 13);
  let h = v128.bitselect(sub, norm, i32x4.lt_s(a, i32x4.splat(113 << 23)));
  // Overflow to inf, NaN to a quiet NaN.
  h = v128.bitselect(i32x4.splat(0x7c00), h, i32x4.ge_s(a, i32x4.splat((127 + 16) << 23)));
  h = v128.bitselect(i32x4.splat(0x7e00), h, i32x4.gt_s(a, i32x4.splat(0x7f800000)));
  return v128.or(h, i32x4.shr_u(sign, 16));
}

// f32 -> bf16 bits in the low half of each lane, round to nearest even (NaN inputs are reported, never written).
// @ts-ignore: decorator
@inline function toBf16(x: v128): v128 {
  return i32x4.shr_u(i32x4.add(x, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(x, 16), i32x4.splat(1)))), 16);
}

/** Store 4 f32 sums in the output dtype at element j of row `o`; returns a lane mask of non-finite outputs. */
// @ts-ignore: decorator
@inline function storeOut(o: usize, j: i32, v: v128, dtype: i32): v128 {
  if (dtype == 0) {
    v128.store(o + (<usize>j << 2), v);
    return i32x4.eq(v128.and(v, i32x4.splat(0x7f800000)), i32x4.splat(0x7f800000));
  }
  const h = dtype == 2 ? toBf16(v) : toF16(v);
  const e = i32x4.splat(dtype == 2 ? 0x7f80 : 0x7c00);
  v128.store64_lane(o + (<usize>j << 1), i16x8.narrow_i32x4_u(h, h), 0);
  const bad = i32x4.eq(v128.and(h, e), e);
  if (dtype == 1) return bad;
  // bf16's rounding add can wrap a NaN with a full payload around to a finite pattern: check the input too.
  return v128.or(bad, i32x4.eq(v128.and(v, i32x4.splat(0x7f800000)), i32x4.splat(0x7f800000)));
}

/** Non-finite mask of 8 outputs of one row (two stores of 4). */
// @ts-ignore: decorator
@inline function finishPair(row: usize, orow: usize, j: i32, d0: v128, d1: v128, wDt: i32, outDt: i32, wShift: usize, k112: v128, add: bool): v128 {
  const p = row + (<usize>j << wShift);
  let x0 = loadWide(p, wDt, k112), x1 = loadWide(p + (4 << wShift), wDt, k112);
  if (add) {
    x0 = f32x4.add(x0, d0);
    x1 = f32x4.add(x1, d1);
  }
  return v128.or(storeOut(orow, j, x0, outDt), storeOut(orow, j + 4, x1, outDt));
}

/** One output element past the SIMD columns: same arithmetic (plain multiply-adds, like every kernel's tail). */
function mergeTail(row: usize, orow: usize, j: i32, sb: usize, a: usize, cols: i32, r: i32, wDt: i32, outDt: i32): bool {
  let x: f32;
  if (wDt == 0) x = load<f32>(row + (<usize>j << 2));
  else if (wDt == 2) x = bf2f(<u32>load<u16>(row + (<usize>j << 1)));
  else x = h2f(<u32>load<u16>(row + (<usize>j << 1)));
  if (r > 0) {
    let d: f32 = 0;
    for (let k = 0; k < r; k++) d += load<f32>(sb + (<usize>k << 2)) * load<f32>(a + ((<usize>k * <usize>cols + <usize>j) << 2));
    x = x + d;
  }
  const bits = reinterpret<u32>(x);
  let bad = (bits & 0x7f800000) == 0x7f800000;
  if (outDt == 0) {
    store<f32>(orow + (<usize>j << 2), x);
  } else if (outDt == 2) {
    const h = (bits + 0x7fff + ((bits >> 16) & 1)) >> 16;
    store<u16>(orow + (<usize>j << 1), <u16>h);
    bad = bad || (h & 0x7f80) == 0x7f80;
  } else {
    const h = toF16Scalar(bits);
    store<u16>(orow + (<usize>j << 1), <u16>h);
    bad = bad || (h & 0x7c00) == 0x7c00;
  }
  return bad;
}

/**
 * Rows r0..r1 of the merge: out = round_to(outDt, widen(w) + scale * B[i, :] @ A), or a plain dtype conversion when
 * r == 0 (nothing added, so -0 stays -0). Per output element: the B value scaled first, the rank terms summed in order
 * k = 0..r-1 with fma from zero, one add to W, one rounding. Register blocking (4 rows x 8 columns share each A load)
 * does not change that per-element order, so lora_delta (this same code, in place) and every thread count agree bit for
 * bit. out may equal w when the dtypes match. Per-thread scratch: 4 * r floats at scratch + tid * 16 * r. bad != 0: a
 * row with a non-finite output lowers the i32 at bad + tid * 4 (initialised to the row count by the caller).
 */
function mergeRows(r0: i32, r1: i32, tid: i32, out: usize, outDt: i32, w: usize, wDt: i32, b: usize, a: usize,
  cols: i32, r: i32, scale: f32, scratch: usize, bad: usize): void {
  const sb = scratch + (<usize>tid * <usize>r << 4);
  const rs = <usize>r << 2; // bytes of one scaled B row
  const c8 = cols & ~7;
  const ar = <usize>cols << 2;
  const k112 = f32x4.splat(TWO112);
  const wShift: usize = wDt == 0 ? 2 : 1;
  const oShift: usize = outDt == 0 ? 2 : 1;
  const z = f32x4.splat(0);
  const add = r > 0;
  for (let i = r0; i < r1; i += 4) {
    const nr = min(4, r1 - i);
    for (let rr = 0; rr < 4; rr++) {
      for (let k = 0; k < r; k++) {
        const v: f32 = rr < nr ? scale * load<f32>(b + ((<usize>(i + rr) * <usize>r + <usize>k) << 2)) : 0;
        store<f32>(sb + <usize>rr * rs + (<usize>k << 2), v);
      }
    }
    const rowStep = <usize>cols << wShift, outStep = <usize>cols << oShift;
    const row0 = w + <usize>i * rowStep, out0 = out + <usize>i * outStep;
    let m0 = i32x4.splat(0), m1 = i32x4.splat(0), m2 = i32x4.splat(0), m3 = i32x4.splat(0);
    for (let j = 0; j < c8; j += 8) {
      let c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
      let q = a + (<usize>j << 2);
      for (let k = 0; k < r; k++) {
        const a0 = v128.load(q), a1 = v128.load(q, 16);
        const o = sb + (<usize>k << 2);
        const s0 = v128.load32_splat(o), s1 = v128.load32_splat(o + rs);
        const s2 = v128.load32_splat(o + 2 * rs), s3 = v128.load32_splat(o + 3 * rs);
        c00 = fma(s0, a0, c00); c01 = fma(s0, a1, c01);
        c10 = fma(s1, a0, c10); c11 = fma(s1, a1, c11);
        c20 = fma(s2, a0, c20); c21 = fma(s2, a1, c21);
        c30 = fma(s3, a0, c30); c31 = fma(s3, a1, c31);
        q += ar;
      }
      m0 = v128.or(m0, finishPair(row0, out0, j, c00, c01, wDt, outDt, wShift, k112, add));
      if (nr > 1) m1 = v128.or(m1, finishPair(row0 + rowStep, out0 + outStep, j, c10, c11, wDt, outDt, wShift, k112, add));
      if (nr > 2) m2 = v128.or(m2, finishPair(row0 + 2 * rowStep, out0 + 2 * outStep, j, c20, c21, wDt, outDt, wShift, k112, add));
      if (nr > 3) m3 = v128.or(m3, finishPair(row0 + 3 * rowStep, out0 + 3 * outStep, j, c30, c31, wDt, outDt, wShift, k112, add));
    }
    for (let rr = 0; rr < nr; rr++) {
      let rowBad = v128.any_true(rr == 0 ? m0 : rr == 1 ? m1 : rr == 2 ? m2 : m3);
      const row = row0 + <usize>rr * rowStep, orow = out0 + <usize>rr * outStep;
      for (let j = c8; j < cols; j++) {
        if (mergeTail(row, orow, j, sb + <usize>rr * rs, a, cols, r, wDt, outDt)) rowBad = true;
      }
      if (rowBad && bad != 0 && i + rr < load<i32>(bad + (<usize>tid << 2))) store<i32>(bad + (<usize>tid << 2), i + rr);
    }
  }
}

/** The merge's fused kernel (see mergeRows); Backend.loraMerge. */
export function lora_merge(r0: i32, r1: i32, tid: i32, out: usize, outDt: i32, w: usize, wDt: i32, b: usize, a: usize,
  cols: i32, r: i32, scale: f32, scratch: usize, bad: usize): void {
  mergeRows(r0, r1, tid, out, outDt, w, wDt, b, a, cols, r, scale, scratch, bad);
}

/**
 * f32 W[rows, cols] += scale * B[rows, r] @ A[r, cols] in place, rows r0..r1 (Backend.loraDelta): mergeRows with W as
 * both input and output, so the unfused path (verification) reproduces the fused merge exactly. Scratch as mergeRows.
 */
export function lora_delta(r0: i32, r1: i32, tid: i32, w: usize, b: usize, a: usize, cols: i32, r: i32, scale: f32, scratch: usize): void {
  mergeRows(r0, r1, tid, w, 0, w, 0, b, a, cols, r, scale, scratch, 0);
}

// ---- XXH32 stripe rounds (the merge's input content hash): the four accumulators are the four lanes ---------------

/** state: v1..v4 (16 bytes), updated over `stripes` 16-byte stripes at p. */
export function xxh32_stripes(state: usize, p: usize, stripes: i32): void {
  let v = v128.load(state);
  const p1 = i32x4.splat(<i32>2654435761);
  const p2 = i32x4.splat(<i32>2246822519);
  const end = p + (<usize>stripes << 4);
  for (let q = p; q < end; q += 16) {
    v = i32x4.add(v, i32x4.mul(v128.load(q), p2));
    v = i32x4.mul(v128.or(i32x4.shl(v, 13), i32x4.shr_u(v, 19)), p1);
  }
  v128.store(state, v);
}

/** out[i] += scale * src[i] over count values (loraApply's up-projection result). */
/** One row's B[j, :r] . t[:r]: four lanes over r & ~3, lanes summed (l0 + l2) + (l1 + l3), then the r % 4 tail. */
// @ts-ignore: decorator
@inline function loraRowDot(row: usize, t: usize, r: i32): f32 {
  const r4 = r & ~3;
  let acc = f32x4.splat(0);
  for (let k = 0; k < r4; k += 4) acc = fma(v128.load(row + (<usize>k << 2)), v128.load(t + (<usize>k << 2)), acc);
  let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  for (let k = r4; k < r; k++) s += load<f32>(row + (<usize>k << 2)) * load<f32>(t + (<usize>k << 2));
  return s;
}

/**
 * The decode's LoRA up-projection, rows v0..v1 (Backend.loraApply with n = 1): out[j] += scale * (B[j, :r] . t), with
 * B row-major [rows, r] and t = A x. A general matvec streams B's 16-float rows through its 32-column loop's scalar
 * tail; here four rows share one pass and their four lane sums are transposed into one vector. Every row's sum has the
 * same order (loraRowDot's), so the result does not depend on how rows are split between threads.
 */
export function lora_up(v0: i32, v1: i32, tid: i32, out: usize, b: usize, t: usize, r: i32, scale: f32): void {
  let j = v0;
  if ((r & 3) == 0) {
    const sv = f32x4.splat(scale);
    for (; j + 4 <= v1; j += 4) {
      const row = b + (<usize>j * <usize>r << 2);
      const rb = <usize>r << 2;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (let k = 0; k < r; k += 4) {
        const tv = v128.load(t + (<usize>k << 2));
        const o = <usize>k << 2;
        a0 = fma(v128.load(row + o), tv, a0);
        a1 = fma(v128.load(row + rb + o), tv, a1);
        a2 = fma(v128.load(row + 2 * rb + o), tv, a2);
        a3 = fma(v128.load(row + 3 * rb + o), tv, a3);
      }
      // Lanes 0+2 and 1+3 of each row, then their sum: [s0, s1, s2, s3] in loraRowDot's order.
      const u0 = f32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
      const u1 = f32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
      const sums = f32x4.add(i32x4.shuffle(u0, u1, 0, 1, 4, 5), i32x4.shuffle(u0, u1, 2, 3, 6, 7));
      const p = out + (<usize>j << 2);
      v128.store(p, f32x4.add(v128.load(p), f32x4.mul(sv, sums)));
    }
  }
  for (; j < v1; j++) {
    const p = out + (<usize>j << 2);
    store<f32>(p, load<f32>(p) + scale * loraRowDot(b + (<usize>j * <usize>r << 2), t, r));
  }
}

export function axpy(out: usize, src: usize, scale: f32, count: i32): void {
  const c4 = count & ~3;
  const s = f32x4.splat(scale);
  for (let k = 0; k < c4; k += 4) {
    const p = out + (<usize>k << 2);
    v128.store(p, fma(s, v128.load(src + (<usize>k << 2)), v128.load(p)));
  }
  for (let k = c4; k < count; k++) {
    const p = out + (<usize>k << 2);
    store<f32>(p, load<f32>(p) + scale * load<f32>(src + (<usize>k << 2)));
  }
}

// ---- elementwise and row ops ------------------------------------------------------------------------------------------

export function rmsnorm(out: usize, x: usize, wt: usize, n: i32, d: i32, eps: f32): void {
  const d4 = d & ~3;
  for (let i = 0; i < n; i++) {
    const xr = x + (<usize>i * <usize>d << 2);
    const orow = out + (<usize>i * <usize>d << 2);
    let acc = f32x4.splat(0);
    for (let j = 0; j < d4; j += 4) {
      const v = v128.load(xr + (<usize>j << 2));
      acc = fma(v, v, acc);
    }
    let ss: f64 = <f64>hsum(acc);
    for (let j = d4; j < d; j++) {
      const v = <f64>load<f32>(xr + (<usize>j << 2));
      ss += v * v;
    }
    const inv = <f32>(1 / Math.sqrt(ss / <f64>d + <f64>eps));
    const iv = f32x4.splat(inv);
    for (let j = 0; j < d4; j += 4) {
      const o = <usize>j << 2;
      v128.store(orow + o, f32x4.mul(f32x4.mul(v128.load(xr + o), iv), v128.load(wt + o)));
    }
    for (let j = d4; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(orow + o, load<f32>(xr + o) * inv * load<f32>(wt + o));
    }
  }
}

/** HF rotate_half RoPE in place; scratch holds half cos + half sin floats. */
/** Rotates pairs (j, j + half) of each head; half = rotaryDim / 2 (< hd / 2 with partial_rotary_factor). */
export function rope(x: usize, n: i32, heads: i32, hd: i32, half: i32, pos0: i32, invFreq: usize, af: f32, scratch: usize): void {
  const cs = scratch;
  const sn = scratch + (<usize>half << 2);
  const h4 = half & ~3;
  for (let i = 0; i < n; i++) {
    const pos = <f32>(pos0 + i);
    for (let j = 0; j < half; j++) {
      const ang = <f64>(pos * load<f32>(invFreq + (<usize>j << 2)));
      store<f32>(cs + (<usize>j << 2), <f32>(Math.cos(ang) * <f64>af));
      store<f32>(sn + (<usize>j << 2), <f32>(Math.sin(ang) * <f64>af));
    }
    for (let h = 0; h < heads; h++) {
      const p = x + ((<usize>i * <usize>heads + <usize>h) * <usize>hd << 2);
      const p2 = p + (<usize>half << 2);
      for (let j = 0; j < h4; j += 4) {
        const o = <usize>j << 2;
        const x1 = v128.load(p + o), x2 = v128.load(p2 + o), c = v128.load(cs + o), s = v128.load(sn + o);
        v128.store(p + o, f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)));
        v128.store(p2 + o, f32x4.add(f32x4.mul(x2, c), f32x4.mul(x1, s)));
      }
      for (let j = h4; j < half; j++) {
        const o = <usize>j << 2;
        const x1 = load<f32>(p + o), x2 = load<f32>(p2 + o), c = load<f32>(cs + o), s = load<f32>(sn + o);
        store<f32>(p + o, x1 * c - x2 * s);
        store<f32>(p2 + o, x2 * c + x1 * s);
      }
    }
  }
}

export function softmax(x: usize, n: i32, cols: i32): void {
  for (let i = 0; i < n; i++) {
    const row = x + (<usize>i * <usize>cols << 2);
    let m: f32 = -Infinity;
    for (let j = 0; j < cols; j++) m = max(m, load<f32>(row + (<usize>j << 2)));
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const e = Mathf.exp(load<f32>(row + (<usize>j << 2)) - m);
      store<f32>(row + (<usize>j << 2), e);
      s += <f64>e;
    }
    const inv = <f32>(1 / s);
    for (let j = 0; j < cols; j++) store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) * inv);
  }
}

/**
 * exp(x) for four lanes (Cephes expf: x = n ln2 + r in two parts, a degree-5 polynomial, 2^n through the exponent
 * bits), within 2 ulp of the correctly rounded value for x in [-87, 88]; inputs are clamped there, where expf is
 * already 0-ish or near overflow (SiLU's g / (1 + exp(-g)) is then -0 or g, as with the scalar expf).
 */
// @ts-ignore: decorator
@inline function exp4(x: v128): v128 {
  const xc = f32x4.min(f32x4.max(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  const r = fma(n, f32x4.splat(2.12194440e-4), fma(n, f32x4.splat(-0.693359375), xc));
  let p = fma(f32x4.splat(1.9875691500e-4), r, f32x4.splat(1.3981999507e-3));
  p = fma(p, r, f32x4.splat(8.3334519073e-3));
  p = fma(p, r, f32x4.splat(4.1665795894e-2));
  p = fma(p, r, f32x4.splat(1.6666665459e-1));
  p = fma(p, r, f32x4.splat(5.0000001201e-1));
  const e = f32x4.add(fma(p, f32x4.mul(r, r), r), f32x4.splat(1));
  return f32x4.mul(e, i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23));
}

/**
 * out = act(g) * u over elements [e0, e1) (op 0 SiLU, 1 GELU-tanh), threaded by element ranges (chunks are multiples
 * of 4 from 0, so which lanes take the vector path depends on count alone: any thread split gives the same bits).
 */
export function gated_rows(e0: i32, e1: i32, tid: i32, out: usize, g: usize, u: usize, op: i32): void {
  if (op == 1) {
    geglu(out + (<usize>e0 << 2), g + (<usize>e0 << 2), u + (<usize>e0 << 2), e1 - e0);
    return;
  }
  let i = e0;
  for (; i + 4 <= e1; i += 4) {
    const o = <usize>i << 2;
    const gv = v128.load(g + o);
    const silu = f32x4.div(gv, f32x4.add(f32x4.splat(1), exp4(f32x4.neg(gv))));
    v128.store(out + o, f32x4.mul(silu, v128.load(u + o)));
  }
  for (; i < e1; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    store<f32>(out + o, gv / (1 + Mathf.exp(-gv)) * load<f32>(u + o));
  }
}

/** GeGLU with torch's gelu(approximate='tanh'): 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) * up. */
function geglu(out: usize, g: usize, u: usize, count: i32): void {
  const c = <f32>Math.sqrt(2 / Math.PI);
  for (let i = 0; i < count; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    store<f32>(out + o, <f32>0.5 * gv * (1 + Mathf.tanh(c * (gv + <f32>0.044715 * gv * gv * gv))) * load<f32>(u + o));
  }
}

/** op 0: out = a + b; 1: out = a * b (b broadcast over rows of width d when d > 0); 2: out = a + b broadcast. */
export function binary(out: usize, a: usize, b: usize, count: i32, d: i32, op: i32): void {
  const width = d > 0 ? d : count;
  const rows = d > 0 ? count / d : 1;
  const w4 = width & ~3;
  for (let i = 0; i < rows; i++) {
    const ro = <usize>i * <usize>width << 2;
    const bo: usize = d > 0 ? 0 : ro;
    for (let j = 0; j < w4; j += 4) {
      const o = <usize>j << 2;
      const va = v128.load(a + ro + o), vb = v128.load(b + bo + o);
      v128.store(out + ro + o, op == 1 ? f32x4.mul(va, vb) : f32x4.add(va, vb));
    }
    for (let j = w4; j < width; j++) {
      const o = <usize>j << 2;
      const va = load<f32>(a + ro + o), vb = load<f32>(b + bo + o);
      store<f32>(out + ro + o, op == 1 ? va * vb : va + vb);
    }
  }
}

// ---- attention over the KV cache, GQA; parallel over (query row, head) units ----------------------------------------

/** scale multiplies q·k; softcap > 0 caps scores at softcap * tanh(s / softcap); window > 0 is a sliding window. */
export function attention(r0: i32, r1: i32, tid: i32, out: usize, q: usize, k: usize, v: usize, pos0: i32,
  nHeads: i32, nKv: i32, hd: i32, scratch: usize, scoreStride: i32, scale: f32, softcap: f32, window: i32): void {
  const group = nHeads / nKv;
  const sc = scratch + (<usize>tid * <usize>scoreStride << 2);
  const h4 = hd & ~3;
  const kvRow = <usize>(nKv * hd) << 2;
  for (let u = r0; u < r1; u++) {
    const i = u / nHeads;
    const h = u % nHeads;
    const kvh = h / group;
    const len = pos0 + i + 1;
    const t0 = window > 0 ? max(0, len - window) : 0;
    const qp = q + ((<usize>i * <usize>nHeads + <usize>h) * <usize>hd << 2);
    let m: f32 = -Infinity;
    let kp = k + (<usize>t0 * kvRow) + (<usize>(kvh * hd) << 2);
    for (let t = t0; t < len; t++) {
      let acc = f32x4.splat(0);
      for (let j = 0; j < h4; j += 4) acc = fma(v128.load(qp + (<usize>j << 2)), v128.load(kp + (<usize>j << 2)), acc);
      let s = hsum(acc);
      for (let j = h4; j < hd; j++) s += load<f32>(qp + (<usize>j << 2)) * load<f32>(kp + (<usize>j << 2));
      s *= scale;
      if (softcap > 0) s = softcap * Mathf.tanh(s / softcap);
      store<f32>(sc + (<usize>t << 2), s);
      m = max(m, s);
      kp += kvRow;
    }
    let sum: f32 = 0;
    for (let t = t0; t < len; t++) {
      const e = Mathf.exp(load<f32>(sc + (<usize>t << 2)) - m);
      store<f32>(sc + (<usize>t << 2), e);
      sum += e;
    }
    const op = out + ((<usize>i * <usize>nHeads + <usize>h) * <usize>hd << 2);
    for (let j = 0; j < hd; j++) store<f32>(op + (<usize>j << 2), 0);
    let vp = v + (<usize>t0 * kvRow) + (<usize>(kvh * hd) << 2);
    for (let t = t0; t < len; t++) {
      const pv = load<f32>(sc + (<usize>t << 2));
      const p = f32x4.splat(pv);
      for (let j = 0; j < h4; j += 4) {
        const o = <usize>j << 2;
        v128.store(op + o, fma(p, v128.load(vp + o), v128.load(op + o)));
      }
      for (let j = h4; j < hd; j++) store<f32>(op + (<usize>j << 2), load<f32>(op + (<usize>j << 2)) + pv * load<f32>(vp + (<usize>j << 2)));
      vp += kvRow;
    }
    const inv = f32x4.splat(1 / sum);
    for (let j = 0; j < h4; j += 4) v128.store(op + (<usize>j << 2), f32x4.mul(v128.load(op + (<usize>j << 2)), inv));
    for (let j = h4; j < hd; j++) store<f32>(op + (<usize>j << 2), load<f32>(op + (<usize>j << 2)) / sum);
  }
}

// ---- streaming-read probe: the machine's read bandwidth as these threads see it (benchmarks, engine/probe) ----------

/** XOR-folds blocks r0..r1 of `blockBytes` (multiple of 64) at src; the fold is stored so the loads cannot be removed. */
export function stream_read(r0: i32, r1: i32, tid: i32, src: usize, blockBytes: i32, sink: usize): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
  for (let b = r0; b < r1; b++) {
    const p0 = src + <usize>b * <usize>blockBytes;
    const end = p0 + <usize>blockBytes;
    for (let p = p0; p < end; p += 64) {
      a0 = v128.xor(a0, v128.load(p));
      a1 = v128.xor(a1, v128.load(p, 16));
      a2 = v128.xor(a2, v128.load(p, 32));
      a3 = v128.xor(a3, v128.load(p, 48));
    }
  }
  v128.store(sink + (<usize>tid << 4), v128.xor(v128.xor(a0, a1), v128.xor(a2, a3)));
}

/**
 * f32 multiply-add peak of the calling threads (benchmarks' roofline): 12 independent accumulators, no memory traffic,
 * `iters` steps of 12 fma per unit r0..r1, folded into sink so nothing is optimised away.
 */
export function fma_peak(r0: i32, r1: i32, tid: i32, iters: i32, sink: usize): void {
  const m = f32x4.splat(<f32>0.999), c = f32x4.splat(<f32>0.001);
  let a0 = f32x4.splat(<f32>tid), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  for (let u = r0; u < r1; u++) {
    for (let i = 0; i < iters; i++) {
      a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
      a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
      a8 = fma(a8, m, c); a9 = fma(a9, m, c); a10 = fma(a10, m, c); a11 = fma(a11, m, c);
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  v128.store(sink + (<usize>tid << 4), f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
}

/**
 * The integer twin of fma_peak: 12 independent chains of i32x4.dot_i16x8_s + i32x4.add (8 multiply-adds per pair, the
 * q8_0 GEMM's inner step) with no memory traffic. Each chain feeds its own dot, so nothing is loop-invariant.
 */
export function dot_peak(r0: i32, r1: i32, tid: i32, iters: i32, sink: usize): void {
  const m = i16x8.splat(3), c = i32x4.splat(1);
  let a0 = i32x4.splat(tid), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  for (let u = r0; u < r1; u++) {
    for (let i = 0; i < iters; i++) {
      a0 = i32x4.add(i32x4.dot_i16x8_s(a0, m), c); a1 = i32x4.add(i32x4.dot_i16x8_s(a1, m), c);
      a2 = i32x4.add(i32x4.dot_i16x8_s(a2, m), c); a3 = i32x4.add(i32x4.dot_i16x8_s(a3, m), c);
      a4 = i32x4.add(i32x4.dot_i16x8_s(a4, m), c); a5 = i32x4.add(i32x4.dot_i16x8_s(a5, m), c);
      a6 = i32x4.add(i32x4.dot_i16x8_s(a6, m), c); a7 = i32x4.add(i32x4.dot_i16x8_s(a7, m), c);
      a8 = i32x4.add(i32x4.dot_i16x8_s(a8, m), c); a9 = i32x4.add(i32x4.dot_i16x8_s(a9, m), c);
      a10 = i32x4.add(i32x4.dot_i16x8_s(a10, m), c); a11 = i32x4.add(i32x4.dot_i16x8_s(a11, m), c);
    }
  }
  const s = i32x4.add(i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3)), i32x4.add(i32x4.add(a4, a5), i32x4.add(a6, a7)));
  v128.store(sink + (<usize>tid << 4), i32x4.add(s, i32x4.add(i32x4.add(a8, a9), i32x4.add(a10, a11))));
}

// ---- GGUF K-quant export quantizers (assembly/kquants.ts) -------------------------------------------------------------
export { quant_q4_k, quant_q5_k, quant_q6_k, quant_q8_0 } from './kquants';

// ---- 4-bit weights with a scale and a min per 32 values (assembly/q4.ts) ----------------------------------------------
export { mv_q4, q8_block_sums, decode_q4, repack_q4 } from './q4';
