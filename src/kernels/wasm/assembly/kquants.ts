// ggml's K-quant reference quantizers (q4_K, q5_K, q6_K) over super-block ranges, ported from src/core/gguf/kquants.ts,
// which stays the reference. Byte identity with it (and so with llama-quantize) is the point: every Math.fround(a op b)
// there is one f32 op here, in the same order (f32 ops never fuse in wasm: no relaxed SIMD or fma in this file); the
// sub-block fits run four sub-blocks at once, one per SIMD lane, each lane in the reference's sequential order; where
// JS works in double (nearestInt's subtraction, Math.min/max, stores into typed arrays) the f32 or f64 form used here
// gives the same values, with JS's conversion rules (NaN and infinities store as 0).
// Threaded kernels (b0, b1, tid, out, x, scratch): super-blocks [b0, b1) of 256 f32 at x, GGUF blocks at out, each
// thread working in its own KQ_SCRATCH bytes of scratch.

import { toF16Scalar } from './half';

const QK_K: i32 = 256;
const GROUP_MAX_EPS: f32 = <f32>1e-15;
const RDELTA: f32 = <f32>0.1;
const ROUNDER: f32 = 12582912; // 1.5 * 2^23
const TWO112: f32 = 5.192296858534828e33;

export const KQ_SCRATCH: i32 = 4096;
// Per-thread scratch layout (bytes): sub-block scales (q6_K: 16) and mins, the levels of the whole super-block, and
const SCL: usize = 416;
const MNS: usize = 480;
const LV: usize = 512;
// then transposed rows of four sub-blocks (32 x f32x4 each): values, shifted values, weights, candidate and best levels.
const TXS: usize = 1024;
const TXM: usize = 1536;
const TW: usize = 2048;
const TLF: usize = 2560;
const TLB: usize = 3072;
// q6_K's per-lane sums of one candidate (sum l*x*w, sum l*l*w).
const SUMS: usize = 3584;


// @ts-ignore: decorator
@inline function ld(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

/** ggml's nearest_int as the JS reference computes it: the add in binary32, the subtraction in double. */
// @ts-ignore: decorator
@inline function nearestInt(x: f32): f64 {
  return <f64>(x + ROUNDER) - 12582912.0;
}

/** JS ToInt32: NaN and infinities give 0, other values are truncated and wrapped modulo 2^32. */
function toInt32(x: f64): i32 {
  if (!isFinite<f64>(x)) return 0;
  const t = trunc<f64>(x);
  if (abs<f64>(t) < 2147483648.0) return <i32>t;
  return <i32><u32>(t - floor<f64>(t / 4294967296.0) * 4294967296.0);
}

/** f16 bits -> f32, exact for subnormals, infinities and NaN (super-scales of huge inputs overflow to inf). */
function halfToF32(h: u32): f32 {
  if ((h & 0x7c00) == 0x7c00) return reinterpret<f32>(((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13));
  return reinterpret<f32>(((h & 0x8000) << 16) | ((h & 0x7fff) << 13)) * TWO112;
}

/** Stores x as binary16 at `at` and returns the stored value widened back (what the reference's putF16 returns). */
function putF16(at: usize, x: f32): f32 {
  const h = toF16Scalar(reinterpret<u32>(x));
  store<u16>(at, <u16>h);
  return halfToF32(h);
}

// ---- q4_K / q5_K: scale + min per 32-element sub-block (make_qkx2_quants) ------------------------------------------

// Four sub-blocks are fitted at once, one per SIMD lane (rows of 32 x 4 values, lane k = sub-block j0 + k): each lane
// runs the reference's sequential loops in its order, branches become per-lane selects, so the bytes cannot change
// while four independent add chains hide each other's latency.

// @ts-ignore: decorator
@inline function row(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 4));
}

/**
 * Levels clamp(nearest_int(iscale * XM), 0, nmax) as f32 rows into TLF. Same values as the reference's double
 * subtraction: for S = f32(v + 1.5*2^23) in [2^22, 2^24] the f32 subtraction S - 1.5*2^23 is exact (an integer);
 * outside it both land beyond the clamp. The clamp stays in f32 with the pseudo-min/max (one minps/maxps each on x86,
 * where trunc_sat + integer clamp + convert took ~10 instructions): pmax(0, v) maps NaN and -0 to +0, as the
 * reference's typed-array store does, and pmin(nmax, v) caps infinities.
 */
function levels4(s: usize, iscale: v128, nmax: i32): void {
  const r = f32x4.splat(ROUNDER), hi = f32x4.splat(<f32>nmax), zero = f32x4.splat(0);
  for (let i = 0; i < 32; i++) {
    const v = f32x4.sub(f32x4.add(f32x4.mul(iscale, row(s + TXM, i)), r), r);
    v128.store(s + TLF + (<usize>i << 4), f32x4.pmin(hi, f32x4.pmax(zero, v)));
  }
}

/** Weighted squared error of scale*L + min (L the rows at `lv`) per lane. */
function fitError4(s: usize, lv: usize, scale: v128, m: v128): v128 {
  let err = f32x4.splat(0);
  for (let i = 0; i < 32; i++) {
    const diff = f32x4.sub(f32x4.add(f32x4.mul(scale, row(lv, i)), m), row(s + TXS, i));
    err = f32x4.add(err, f32x4.mul(row(s + TW, i), f32x4.mul(diff, diff)));
  }
  return err;
}

/** Four consecutive sub-blocks of n values at x into n rows at TXS, lane k holding sub-block k. */
function transposeFour(s: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    let v = f32x4.splat(ld(x, i));
    v = f32x4.replace_lane(v, 1, ld(x, n + i));
    v = f32x4.replace_lane(v, 2, ld(x, 2 * n + i));
    v = f32x4.replace_lane(v, 3, ld(x, 3 * n + i));
    v128.store(s + TXS + (<usize>i << 4), v);
  }
}

/** Sub-blocks j0..j0+3 into transposed rows: values TXS, weights TW = sqrt(mean(x^2)) + |x|. */
function loadFour(s: usize, x: usize, j0: i32): void {
  transposeFour(s, x + (<usize>j0 << 7), 32);
  let sumX2 = f32x4.splat(0);
  for (let i = 0; i < 32; i++) sumX2 = f32x4.add(sumX2, f32x4.mul(row(s + TXS, i), row(s + TXS, i)));
  const avX = f32x4.sqrt(f32x4.div(sumX2, f32x4.splat(32)));
  for (let i = 0; i < 32; i++) v128.store(s + TW + (<usize>i << 4), f32x4.add(avX, f32x4.abs(row(s + TXS, i))));
}

/** Four small non-negative i32 lanes as bytes at p. */
// @ts-ignore: decorator
@inline function storeBytes(p: usize, q: v128): void {
  store<u32>(p, i32x4.extract_lane(i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q, q), q), 0));
}

// @ts-ignore: decorator
@inline function sel(a: v128, b: v128, m: v128): v128 {
  return v128.bitselect(a, b, m);
}

/**
 * make_qkx2_quants for sub-blocks j0..j0+3 (weights x ~ scale*L + min, L in 0..nmax, nstep+1 candidates): scales to
 * SCL[j0..], -min to MNS[j0..], levels to L (u8, 32 per sub-block).
 */
function fitFour(s: usize, x: usize, j0: i32, nmax: i32, rmin: f32, nstep: i32): void {
  loadFour(s, x, j0);
  let mn = row(s + TXS, 0), mx = mn;
  let sumW = row(s + TW, 0);
  let sumX = f32x4.mul(sumW, mn);
  for (let i = 1; i < 32; i++) {
    const v = row(s + TXS, i), w = row(s + TW, i);
    mn = sel(v, mn, f32x4.lt(v, mn));
    mx = sel(v, mx, f32x4.gt(v, mx));
    sumW = f32x4.add(sumW, w);
    sumX = f32x4.add(sumX, f32x4.mul(w, v));
  }
  const zero = f32x4.splat(0);
  mn = sel(zero, mn, f32x4.gt(mn, zero));
  const active = f32x4.ne(mx, mn); // flat sub-blocks: scale 0, levels 0
  const fmax = f32x4.splat(<f32>nmax);
  for (let i = 0; i < 32; i++) v128.store(s + TXM + (<usize>i << 4), f32x4.sub(row(s + TXS, i), mn));
  const iscale0 = f32x4.div(fmax, f32x4.sub(mx, mn));
  let scale = f32x4.div(f32x4.splat(1), iscale0);
  levels4(s, iscale0, nmax);
  memory.copy(s + TLB, s + TLF, 512);
  let bestError = fitError4(s, s + TLB, scale, mn);
  for (let is = 0; is <= nstep; is++) {
    // `mn` moves to the best fit so far, and later candidates are scaled over the moved range (as in ggml).
    levels4(s, f32x4.div(f32x4.add(f32x4.splat(rmin + RDELTA * <f32>is), fmax), f32x4.sub(mx, mn)), nmax);
    let sumL = zero, sumL2v = zero, sumXL = zero;
    for (let i = 0; i < 32; i++) {
      const l = row(s + TLF, i);
      const wl = f32x4.mul(row(s + TW, i), l);
      sumL = f32x4.add(sumL, wl);
      sumL2v = f32x4.add(sumL2v, f32x4.mul(wl, l));
      sumXL = f32x4.add(sumXL, f32x4.mul(wl, row(s + TXS, i)));
    }
    const D = f32x4.sub(f32x4.mul(sumW, sumL2v), f32x4.mul(sumL, sumL));
    const ok = v128.and(active, f32x4.gt(D, zero)); // !(D > 0): NaN skips too
    if (!v128.any_true(ok)) continue;
    let thisScale = f32x4.div(f32x4.sub(f32x4.mul(sumW, sumXL), f32x4.mul(sumX, sumL)), D);
    let thisMin = f32x4.div(f32x4.sub(f32x4.mul(sumL2v, sumX), f32x4.mul(sumL, sumXL)), D);
    const pos = f32x4.gt(thisMin, zero);
    thisScale = sel(f32x4.div(sumXL, sumL2v), thisScale, pos);
    thisMin = sel(zero, thisMin, pos);
    const err = fitError4(s, s + TLF, thisScale, thisMin);
    const better = v128.and(ok, f32x4.lt(err, bestError));
    if (!v128.any_true(better)) continue;
    bestError = sel(err, bestError, better);
    scale = sel(thisScale, scale, better);
    mn = sel(thisMin, mn, better);
    for (let i = 0; i < 32; i++) {
      const at = <usize>i << 4;
      v128.store(s + TLB + at, sel(row(s + TLF, i), row(s + TLB, i), better));
      v128.store(s + TXM + at, sel(f32x4.sub(row(s + TXS, i), mn), row(s + TXM, i), better));
    }
  }
  v128.store(s + SCL + (<usize>j0 << 2), sel(scale, zero, active));
  v128.store(s + MNS + (<usize>j0 << 2), f32x4.neg(mn));
  const L = s + LV + (<usize>j0 << 5);
  for (let i = 0; i < 32; i++) {
    const q = i32x4.trunc_sat_f32x4_s(sel(row(s + TLB, i), zero, active));
    store<u8>(L + i, <u8>i32x4.extract_lane(q, 0));
    store<u8>(L + 32 + i, <u8>i32x4.extract_lane(q, 1));
    store<u8>(L + 64 + i, <u8>i32x4.extract_lane(q, 2));
    store<u8>(L + 96 + i, <u8>i32x4.extract_lane(q, 3));
  }
}

/** Sub-block j's 6-bit scale (low byte) and min (high byte) from the 12 packed bytes at sc (get_scale_min_k4). */
function scaleMinK4(j: i32, sc: usize): i32 {
  if (j < 4) return (<i32>load<u8>(sc + j) & 63) | ((<i32>load<u8>(sc + j + 4) & 63) << 8);
  const s = (<i32>load<u8>(sc + j + 4) & 0xf) | ((<i32>load<u8>(sc + j - 4) >> 6) << 4);
  const m = (<i32>load<u8>(sc + j + 4) >> 4) | ((<i32>load<u8>(sc + j) >> 6) << 4);
  return s | (m << 8);
}

/** A 6-bit sub-block scale or min: min(63, nearest_int(v) & 0xff), with JS's ToInt32 on the way. */
// @ts-ignore: decorator
@inline function sixBits(v: f32): i32 {
  return min<i32>(63, toInt32(nearestInt(v)) & 0xff);
}

/** Sub-block fits, packed 6-bit scales/mins at b+4, the two f16 super-scales at b, final levels into s+LV. */
function scaleMinBlock(s: usize, x: usize, b: usize, nmax: i32, rmin: f32, nstep: i32): void {
  const L = s + LV, sc = b + 4;
  let maxScale: f32 = 0, maxMin: f32 = 0;
  fitFour(s, x, 0, nmax, rmin, nstep);
  fitFour(s, x, 4, nmax, rmin, nstep);
  for (let j = 0; j < 8; j++) {
    if (ld(s + SCL, j) > maxScale) maxScale = ld(s + SCL, j);
    if (ld(s + MNS, j) > maxMin) maxMin = ld(s + MNS, j);
  }
  const invScale: f32 = maxScale > 0 ? <f32>63 / maxScale : 0;
  const invMin: f32 = maxMin > 0 ? <f32>63 / maxMin : 0;
  for (let j = 0; j < 8; j++) {
    const ls = sixBits(invScale * ld(s + SCL, j));
    const lm = sixBits(invMin * ld(s + MNS, j));
    if (j < 4) {
      store<u8>(sc + j, <u8>ls);
      store<u8>(sc + j + 4, <u8>lm);
    } else {
      store<u8>(sc + j + 4, <u8>((ls & 0xf) | ((lm & 0xf) << 4)));
      store<u8>(sc + j - 4, load<u8>(sc + j - 4) | <u8>((ls >> 4) << 6));
      store<u8>(sc + j, load<u8>(sc + j) | <u8>((lm >> 4) << 6));
    }
  }
  const d = putF16(b, maxScale / 63);
  const dmin = putF16(b + 2, maxMin / 63);
  // Final levels 4 at a time: the f32 rounding subtraction is exact wherever it is not clamped (see levels4).
  const r = f32x4.splat(ROUNDER), hi = i32x4.splat(nmax), zero = i32x4.splat(0);
  for (let j = 0; j < 8; j++) {
    const smk = scaleMinK4(j, sc);
    const dj = d * <f32>(smk & 0xff);
    if (dj == 0 || dj != dj) continue; // `if (!dj)`: keep the fitted levels
    const dm = dmin * <f32>(smk >> 8);
    const xj = x + (<usize>j << 7);
    const vdm = f32x4.splat(dm), vdj = f32x4.splat(dj);
    for (let k: usize = 0; k < 128; k += 16) {
      const t = f32x4.sub(f32x4.add(f32x4.div(f32x4.add(v128.load(xj + k), vdm), vdj), r), r);
      storeBytes(L + (j << 5) + (k >> 2), i32x4.max_s(zero, i32x4.min_s(hi, i32x4.trunc_sat_f32x4_s(t))));
    }
  }
}

/** q4_K levels: two sub-blocks per 32 bytes, the first in the low nibbles. */
function packQ4(L: usize, b: usize): void {
  for (let j = 0; j < QK_K; j += 64) {
    for (let l = 0; l < 32; l++) store<u8>(b + 16 + (j >> 1) + l, load<u8>(L + j + l) | (load<u8>(L + j + l + 32) << 4));
  }
}

/** q5_K levels: low nibbles as q4_K at b+48, the 5th bits in qh (b+16), two bit planes per sub-block pair. */
function packQ5(L: usize, b: usize): void {
  const qh = b + 16, ql = b + 48;
  memory.fill(qh, 0, 32);
  for (let n = 0, m1 = 1, m2 = 2; n < QK_K; n += 64, m1 <<= 2, m2 <<= 2) {
    for (let j = 0; j < 32; j++) {
      let l1 = <i32>load<u8>(L + n + j);
      let l2 = <i32>load<u8>(L + n + j + 32);
      if (l1 > 15) { l1 -= 16; store<u8>(qh + j, load<u8>(qh + j) | <u8>m1); }
      if (l2 > 15) { l2 -= 16; store<u8>(qh + j, load<u8>(qh + j) | <u8>m2); }
      store<u8>(ql + (n >> 1) + j, <u8>(l1 | (l2 << 4)));
    }
  }
}

export function quant_q4_k(b0: i32, b1: i32, tid: i32, out: usize, x: usize, scratch: usize): void {
  const s = scratch + <usize>tid * KQ_SCRATCH;
  for (let i = b0; i < b1; i++) {
    scaleMinBlock(s, x + (<usize>i << 10), out + <usize>i * 144, 15, -1, 20);
    packQ4(s + LV, out + <usize>i * 144);
  }
}

export function quant_q5_k(b0: i32, b1: i32, tid: i32, out: usize, x: usize, scratch: usize): void {
  const s = scratch + <usize>tid * KQ_SCRATCH;
  for (let i = b0; i < b1; i++) {
    scaleMinBlock(s, x + (<usize>i << 10), out + <usize>i * 176, 31, -0.5, 15);
    packQ5(s + LV, out + <usize>i * 176);
  }
}

// ---- q6_K: one signed scale per 16-element sub-block (make_qx_quants, rmse_type 1) ----------------------------------

/**
 * Levels of one candidate iscale for four 16-element sub-blocks (one per lane) as f32 rows at `lv`, and their weighted
 * sums (weights x^2) per lane into SUMS: l = clamp(nearest_int(iscale * v), -nmax, nmax - 1) in f32 equals
 * the reference's double (exact subtraction inside the clamp range; NaN stays NaN as through Math.min/max).
 */
function symmetricSums4(s: usize, iscale: v128, nmax: i32, lv: usize): void {
  const r = f32x4.splat(ROUNDER);
  const lo = f32x4.splat(<f32>-nmax), hi = f32x4.splat(<f32>(nmax - 1));
  let lx = f32x4.splat(0), l2 = f32x4.splat(0);
  for (let i = 0; i < 16; i++) {
    const v = row(s + TXS, i);
    const t = f32x4.sub(f32x4.add(f32x4.mul(iscale, v), r), r);
    // NaN-propagating min/max take ~7 instructions each on x86; the pseudo-min/max one, with NaN lanes put back.
    const l = sel(t, f32x4.pmax(lo, f32x4.pmin(hi, t)), f32x4.ne(t, t));
    v128.store(lv + (<usize>i << 4), l);
    const w = f32x4.mul(v, v);
    lx = f32x4.add(lx, f32x4.mul(f32x4.mul(w, v), l));
    l2 = f32x4.add(l2, f32x4.mul(f32x4.mul(w, l), l));
  }
  v128.store(s + SUMS, lx);
  v128.store(s + SUMS + 16, l2);
}

/** make_qx_quants (rmse_type 1) for sub-blocks ib0..ib0+3 of 16 values: scales to SCL[ib0..], levels + nmax to L. */
function fitSymmetricFour(s: usize, x: usize, ib0: i32, nmax: i32): void {
  const zero = f32x4.splat(0);
  let mx = zero, amax = zero;
  transposeFour(s, x + (<usize>ib0 << 6), 16);
  for (let i = 0; i < 16; i++) {
    const v = row(s + TXS, i);
    const ax = f32x4.abs(v), m = f32x4.gt(ax, amax);
    amax = sel(ax, amax, m);
    mx = sel(v, mx, m);
  }
  const active = v128.not(f32x4.lt(amax, f32x4.splat(GROUP_MAX_EPS))); // tiny sub-blocks: scale 0, levels 0
  const fmax = f32x4.splat(<f32>nmax);
  symmetricSums4(s, f32x4.div(f32x4.neg(fmax), mx), nmax, s + TLB);
  let lx = row(s + SUMS, 0), l2 = row(s + SUMS, 1);
  let scale = sel(f32x4.div(lx, l2), zero, v128.and(f32x4.ne(l2, zero), f32x4.eq(l2, l2)));
  let best = f32x4.mul(scale, lx);
  for (let is = -9; is <= 9; is++) {
    if (is == 0) continue;
    symmetricSums4(s, f32x4.div(f32x4.neg(f32x4.add(fmax, f32x4.splat(RDELTA * <f32>is))), mx), nmax, s + TLF);
    lx = row(s + SUMS, 0);
    l2 = row(s + SUMS, 1);
    const better = v128.and(active, v128.and(f32x4.gt(l2, zero), f32x4.gt(f32x4.mul(lx, lx), f32x4.mul(best, l2))));
    if (!v128.any_true(better)) continue;
    const newScale = f32x4.div(lx, l2);
    scale = sel(newScale, scale, better);
    best = sel(f32x4.mul(newScale, lx), best, better);
    for (let i = 0; i < 16; i++) v128.store(s + TLB + (<usize>i << 4), sel(row(s + TLF, i), row(s + TLB, i), better));
  }
  v128.store(s + SCL + (<usize>ib0 << 2), sel(scale, zero, active));
  const L = s + LV + (<usize>ib0 << 4);
  for (let i = 0; i < 16; i++) {
    const q = sel(i32x4.trunc_sat_f32x4_s(f32x4.add(row(s + TLB, i), fmax)), zero, active);
    store<i8>(L + i, <i8>i32x4.extract_lane(q, 0));
    store<i8>(L + 16 + i, <i8>i32x4.extract_lane(q, 1));
    store<i8>(L + 32 + i, <i8>i32x4.extract_lane(q, 2));
    store<i8>(L + 48 + i, <i8>i32x4.extract_lane(q, 3));
  }
}

function packQ6(L: usize, b: usize): void {
  for (let j = 0; j < QK_K; j += 128) {
    const ql = b + (j >> 1), qh = b + 128 + (j >> 2);
    for (let l = 0; l < 32; l++) {
      const q1 = <i32>load<i8>(L + j + l), q2 = <i32>load<i8>(L + j + l + 32);
      const q3 = <i32>load<i8>(L + j + l + 64), q4 = <i32>load<i8>(L + j + l + 96);
      store<u8>(ql + l, <u8>((q1 & 0xf) | ((q3 & 0xf) << 4)));
      store<u8>(ql + l + 32, <u8>((q2 & 0xf) | ((q4 & 0xf) << 4)));
      store<u8>(qh + l, <u8>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)));
    }
  }
}

function q6Block(s: usize, x: usize, b: usize): void {
  const L = s + LV;
  let maxScale: f32 = 0, maxAbs: f32 = 0;
  for (let ib = 0; ib < 16; ib += 4) fitSymmetricFour(s, x, ib, 32);
  for (let ib = 0; ib < 16; ib++) {
    const sc = ld(s + SCL, ib);
    if (abs<f32>(sc) > maxAbs) { maxAbs = abs<f32>(sc); maxScale = sc; }
  }
  if (maxAbs < GROUP_MAX_EPS) {
    memory.fill(b, 0, 210);
    return;
  }
  const iscale: f32 = <f32>-128 / maxScale;
  const d = putF16(b + 208, <f32>1 / iscale);
  const r = f32x4.splat(ROUNDER), lo = f32x4.splat(-32), hi = f32x4.splat(31), off = f32x4.splat(32);
  for (let ib = 0; ib < 16; ib++) store<i8>(b + 192 + ib, <i8>toInt32(min<f64>(127, nearestInt(iscale * ld(s + SCL, ib)))));
  for (let j = 0; j < 16; j++) {
    const dj = d * <f32>load<i8>(b + 192 + j);
    if (dj == 0 || dj != dj) continue; // `if (!dj)`: keep the fitted levels
    const xj = x + (<usize>j << 6);
    const vdj = f32x4.splat(dj);
    for (let k: usize = 0; k < 64; k += 16) {
      const t = f32x4.sub(f32x4.add(f32x4.div(v128.load(xj + k), vdj), r), r);
      // The float clamp keeps NaN, which the + 32 and trunc_sat turn into 0 as the reference's Int8Array store does.
      storeBytes(L + (j << 4) + (k >> 2), i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.max(lo, f32x4.min(hi, t)), off)));
    }
  }
  packQ6(L, b);
}

export function quant_q6_k(b0: i32, b1: i32, tid: i32, out: usize, x: usize, scratch: usize): void {
  const s = scratch + <usize>tid * KQ_SCRATCH;
  for (let i = b0; i < b1; i++) q6Block(s, x + (<usize>i << 10), out + <usize>i * 210);
}

// ---- q8_0: ggml's quantize_row_q8_0_ref, eight 32-value blocks per 256-value unit ---------------------------------

/**
 * One block of 32 as src/core/tensor/q8_0.ts does it: d = max|x| / 127 (f32), stored as f16; the divisor is 1/d of
 * the unrounded d (0 when d is 0 or NaN); q = round half away from zero of x * (1/d), in double as JS's Math.round
 * (f32 would round 0.49999997 + 0.5 up to 1); NaN and infinities store as 0, as `& 0xff` does in JS.
 */
// @ts-ignore: decorator
@inline function q8Block(out: usize, x: usize): void {
  let m = f32x4.splat(0);
  for (let j = 0; j < 32; j += 4) m = f32x4.max(m, f32x4.abs(v128.load(x + (<usize>j << 2))));
  // f32x4.max propagates NaN as the scalar max() does; the lanes' order does not matter for a max.
  const amax: f32 = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  const d: f32 = amax / 127;
  const id: f32 = d != 0 && d == d ? <f32>1 / d : 0;
  const h = toF16Scalar(reinterpret<u32>(d));
  store<u8>(out, <u8>(h & 0xff));
  store<u8>(out, <u8>(h >> 8), 1);
  const ids = f32x4.splat(id);
  for (let j = 0; j < 32; j += 16) {
    const p = x + (<usize>j << 2);
    const a = q8Round(f32x4.mul(v128.load(p), ids)), b = q8Round(f32x4.mul(v128.load(p, 16), ids));
    const c = q8Round(f32x4.mul(v128.load(p, 32), ids)), e = q8Round(f32x4.mul(v128.load(p, 48), ids));
    // |q| <= 127 here, so the saturating narrows keep every value (as `& 0xff` does in JS).
    v128.store(out + 2 + <usize>j, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, e)));
  }
}

/**
 * Four values v = x * (1/d) to i32, rounding half away from zero as the reference does in double (floor(|v| + 0.5)
 * with v's sign): here trunc(|v|) + (frac >= 0.5), the same integer in f32 since |v| - trunc(|v|) is exact below 2^23
 * (a plain f32 |v| + 0.5 would round 0.49999997 up to 1); NaN and infinities to 0 (JS's `& 0xff`).
 */
// @ts-ignore: decorator
@inline function q8Round(v: v128): v128 {
  const a = f32x4.abs(v);
  const t = f32x4.trunc(a);
  const r = f32x4.add(t, v128.and(f32x4.ge(f32x4.sub(a, t), f32x4.splat(0.5)), f32x4.splat(1)));
  const q = i32x4.trunc_sat_f32x4_s(v128.or(r, v128.and(v, i32x4.splat(0x80000000))));
  // v - v is 0 for finite v, NaN otherwise.
  return v128.and(q, f32x4.eq(f32x4.sub(v, v), f32x4.splat(0)));
}

export function quant_q8_0(b0: i32, b1: i32, tid: i32, out: usize, x: usize, scratch: usize): void {
  for (let i = b0; i < b1; i++) {
    for (let k = 0; k < 8; k++) q8Block(out + <usize>i * 272 + <usize>k * 34, x + (<usize>i << 10) + (<usize>k << 7));
  }
}
