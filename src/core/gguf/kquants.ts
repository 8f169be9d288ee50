// Reference quantizers for ggml's 256-element "K" super-blocks, from their block layouts and the semantics of ggml's
// quantize_row_q{4,5,6}_K_ref (no importance matrix, as llama-quantize runs without one): per 32- (q4_K/q5_K) or 16-
// element (q6_K) sub-block a scale (and min) found by a small weighted least-squares search, the sub-block scales
// quantized to 6 (q4_K/q5_K) or 8 bits (q6_K) against one binary16 super-scale. Every step in binary32, in C's order.
//   q4_K: { f16 d, dmin; u8 scales[12]; u8 qs[128] }            x = d*sc*q - dmin*m, q in 0..15
//   q5_K: { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } q in 0..31, 5th bits in qh
//   q6_K: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }       x = d*sc*(q - 32), q in 0..63

import { toF16Bits } from './quants';
import { f16ToF32 } from '../tensor/dtype';

const QK_K = 256;
const fr = Math.fround;
const GROUP_MAX_EPS = fr(1e-15);
const RDELTA = fr(0.1);

/** ggml's nearest_int: round half to even through the 1.5 * 2^23 trick, in binary32. */
function nearestInt(x: number): number {
  return fr(x + 12582912) - 12582912;
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

function putF16(out: Uint8Array, at: number, x: number): number {
  const h = toF16Bits(x);
  out[at] = h & 0xff;
  out[at + 1] = h >>> 8;
  return f16ToF32(h);
}

interface ScaleMin { scale: number; min: number }

// Scratch for one 32-element sub-block (the quantizers run one block at a time; no allocation per block).
const XS = new Float32Array(32);
const XM = new Float32Array(32);

/** Levels round(iscale * (x - min)) clamped to 0..nmax into `into`, with ggml's nearest_int (1.5 * 2^23 trick). */
function levels(iscale: number, nmax: number, into: Uint8Array, at: number): void {
  for (let i = 0; i < 32; i++) {
    const l = fr(fr(iscale * XM[i]!) + 12582912) - 12582912;
    into[at + i] = l < 0 ? 0 : l > nmax ? nmax : l;
  }
}

function shiftBy(min: number): void {
  for (let i = 0; i < 32; i++) XM[i] = fr(XS[i]! - min);
}

/** Weighted squared error of scale*L + min against the sub-block. */
function fitError(scale: number, min: number, w: Float32Array, L: Uint8Array, at: number): number {
  let err = 0;
  for (let i = 0; i < 32; i++) {
    const diff = fr(fr(fr(scale * L[at + i]!) + min) - XS[i]!);
    err = fr(err + fr(w[i]! * fr(diff * diff)));
  }
  return err;
}

/** Weighted fit of x ~ scale*L + min over L in 0..nmax, searching nstep+1 candidate scales (make_qkx2_quants). */
function fitScaleMin(x: Float32Array, o: number, w: Float32Array, nmax: number, L: Uint8Array, lo: number, rmin: number, nstep: number, aux: Uint8Array): ScaleMin {
  XS.set(x.subarray(o, o + 32));
  let min = XS[0]!;
  let max = XS[0]!;
  let sumW = w[0]!;
  let sumX = fr(sumW * XS[0]!);
  for (let i = 1; i < 32; i++) {
    const v = XS[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = fr(sumW + w[i]!);
    sumX = fr(sumX + fr(w[i]! * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + 32);
    return { scale: 0, min: -min };
  }
  shiftBy(min);
  const iscale0 = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale0);
  levels(iscale0, nmax, L, lo);
  let bestError = fitError(scale, min, w, L, lo);
  for (let is = 0; is <= nstep; is++) {
    // `min` moves to the best fit so far, and later candidates are scaled over the moved range (as in ggml).
    levels(fr(fr(fr(rmin + fr(RDELTA * is)) + nmax) / fr(max - min)), nmax, aux, 0);
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < 32; i++) {
      const l = aux[i]!;
      const wl = fr(w[i]! * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * XS[i]!));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (!(D > 0)) continue;
    let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
    let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = fr(sumXL / sumL2);
    }
    const err = fitError(thisScale, thisMin, w, aux, 0);
    if (err < bestError) {
      for (let i = 0; i < 32; i++) L[lo + i] = aux[i]!;
      bestError = err;
      scale = thisScale;
      if (thisMin !== min) shiftBy(thisMin);
      min = thisMin;
    }
  }
  return { scale, min: -min };
}

/**
 * The q4_K/q5_K super-block shared part: sub-block fits, 6-bit scales and mins packed into 12 bytes at `sc`, the two
 * binary16 super-scales at `at`, and the final levels L (0..nmax) recomputed against the quantized scales.
 */
const W = new Float32Array(32);
const AUX = new Uint8Array(32);
const SCALES = new Float32Array(8);
const MINS = new Float32Array(8);

function quantizeScaleMinBlock(x: Float32Array, o: number, out: Uint8Array, at: number, sc: number, nmax: number, rmin: number, nstep: number, L: Uint8Array): void {
  const w = W, aux = AUX, scales = SCALES, mins = MINS;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[o + 32 * j + l]! * x[o + 32 * j + l]!));
    const avX = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) w[l] = fr(avX + Math.abs(x[o + 32 * j + l]!));
    const f = fitScaleMin(x, o + 32 * j, w, nmax, L, 32 * j, rmin, nstep, aux);
    scales[j] = f.scale;
    mins[j] = f.min;
    if (f.scale > maxScale) maxScale = f.scale;
    if (f.min > maxMin) maxMin = f.min;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(fr(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      out[sc + j] = ls;
      out[sc + j + 4] = lm;
    } else {
      out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      out[sc + j - 4]! |= (ls >> 4) << 6;
      out[sc + j]! |= (lm >> 4) << 6;
    }
  }
  const d = putF16(out, at, fr(maxScale / 63));
  const dmin = putF16(out, at + 2, fr(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMinK4(j, out, sc);
    const dj = fr(d * s);
    if (!dj) continue;
    const dm = fr(dmin * m);
    for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = clamp(nearestInt(fr(fr(x[o + 32 * j + ii]! + dm) / dj)), 0, nmax);
  }
}

/** Sub-block j's 6-bit scale and min from the 12 packed bytes at `sc` (get_scale_min_k4). */
export function scaleMinK4(j: number, q: Uint8Array, sc: number): [number, number] {
  if (j < 4) return [q[sc + j]! & 63, q[sc + j + 4]! & 63];
  return [(q[sc + j + 4]! & 0xf) | ((q[sc + j - 4]! >> 6) << 4), (q[sc + j + 4]! >> 4) | ((q[sc + j]! >> 6) << 4)];
}

export function quantizeQ4_K(x: Float32Array, out: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < x.length / QK_K; i++) {
    const b = i * 144;
    quantizeScaleMinBlock(x, i * QK_K, out, b, b + 4, 15, -1, 20, L);
    for (let j = 0; j < QK_K; j += 64) {
      for (let l = 0; l < 32; l++) out[b + 16 + j / 2 + l] = L[j + l]! | (L[j + l + 32]! << 4);
    }
  }
}

export function quantizeQ5_K(x: Float32Array, out: Uint8Array): void {
  const L = new Uint8Array(QK_K);
  for (let i = 0; i < x.length / QK_K; i++) {
    const b = i * 176;
    quantizeScaleMinBlock(x, i * QK_K, out, b, b + 4, 31, -0.5, 15, L);
    const qh = b + 16;
    const ql = b + 48;
    out.fill(0, qh, qh + 32);
    for (let n = 0, m1 = 1, m2 = 2; n < QK_K; n += 64, m1 <<= 2, m2 <<= 2) {
      for (let j = 0; j < 32; j++) {
        let l1 = L[n + j]!;
        let l2 = L[n + j + 32]!;
        if (l1 > 15) { l1 -= 16; out[qh + j]! |= m1; }
        if (l2 > 15) { l2 -= 16; out[qh + j]! |= m2; }
        out[ql + n / 2 + j] = l1 | (l2 << 4);
      }
    }
  }
}

/** Signed levels for 16 values with the scale that best fits them, weights x^2 (make_qx_quants, rmse_type 1). */
function fitSymmetric(x: Float32Array, o: number, nmax: number, L: Int8Array, lo: number): number {
  const n = 16;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]!);
    if (ax > amax) { amax = ax; max = x[o + i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const sums = (iscale: number, store: boolean): [number, number] => {
    let sumlx = 0, suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[o + i]!;
      const l = clamp(nearestInt(fr(iscale * v)), -nmax, nmax - 1);
      if (store) L[lo + i] = l + nmax;
      const w = fr(v * v);
      sumlx = fr(sumlx + fr(fr(w * v) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    return [sumlx, suml2];
  };
  let [sumlx, suml2] = sums(fr(-nmax / max), true);
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    const iscale = fr(-fr(nmax + fr(RDELTA * is)) / max);
    [sumlx, suml2] = sums(iscale, false);
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      sums(iscale, true);
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

export function quantizeQ6_K(x: Float32Array, out: Uint8Array): void {
  const L = new Int8Array(QK_K);
  const scales = new Float32Array(16);
  const sc = new Int8Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < x.length / QK_K; i++) {
    const o = i * QK_K;
    const b = i * 210;
    let maxScale = 0;
    let maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = fitSymmetric(x, o + 16 * ib, 32, L, 16 * ib);
      if (Math.abs(scales[ib]!) > maxAbs) { maxAbs = Math.abs(scales[ib]!); maxScale = scales[ib]!; }
    }
    if (maxAbs < GROUP_MAX_EPS) {
      out.fill(0, b, b + 210);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    const d = putF16(out, b + 208, fr(1 / iscale));
    for (let ib = 0; ib < 16; ib++) sc[b + 192 + ib] = Math.min(127, nearestInt(fr(iscale * scales[ib]!)));
    for (let j = 0; j < 16; j++) {
      const dj = fr(d * sc[b + 192 + j]!);
      if (!dj) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(fr(x[o + 16 * j + ii]! / dj)), -32, 31) + 32;
    }
    packQ6(L, out, b);
  }
}

function packQ6(L: Int8Array, out: Uint8Array, b: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    const ql = b + j / 2;
    const qh = b + 128 + j / 4;
    for (let l = 0; l < 32; l++) {
      const q1 = L[j + l]!, q2 = L[j + l + 32]!, q3 = L[j + l + 64]!, q4 = L[j + l + 96]!;
      out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
      out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
      out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
    }
  }
}

// ---- dequantization (ggml's dequantize_row_q{4,5,6}_K: the loader widens these to f32) -----------------------------

function getF16(b: Uint8Array, at: number): number {
  return f16ToF32(b[at]! | (b[at + 1]! << 8));
}

/** q4_K and q5_K: value = d*sc*q - dmin*m per 32-element sub-block; `level` gives q for sub-block pair element l. */
function dequantizeScaleMin(b: Uint8Array, out: Float32Array, blockBytes: number, level: (o: number, j: number, l: number, high: boolean) => number): void {
  for (let i = 0; i < out.length / QK_K; i++) {
    const o = i * blockBytes;
    const d = getF16(b, o);
    const dmin = getF16(b, o + 2);
    for (let j = 0; j < QK_K; j += 64) {
      const [s1, m1] = scaleMinK4(j / 32, b, o + 4);
      const [s2, m2] = scaleMinK4(j / 32 + 1, b, o + 4);
      const d1 = fr(d * s1), dm1 = fr(dmin * m1), d2 = fr(d * s2), dm2 = fr(dmin * m2);
      for (let l = 0; l < 32; l++) {
        out[i * QK_K + j + l] = fr(fr(d1 * level(o, j, l, false)) - dm1);
        out[i * QK_K + j + 32 + l] = fr(fr(d2 * level(o, j, l, true)) - dm2);
      }
    }
  }
}

export function dequantizeQ4_K(b: Uint8Array, out: Float32Array): void {
  dequantizeScaleMin(b, out, 144, (o, j, l, high) => {
    const q = b[o + 16 + j / 2 + l]!;
    return high ? q >> 4 : q & 0xf;
  });
}

export function dequantizeQ5_K(b: Uint8Array, out: Float32Array): void {
  dequantizeScaleMin(b, out, 176, (o, j, l, high) => {
    const q = b[o + 48 + j / 2 + l]!;
    const h = b[o + 16 + l]! & (1 << (j / 32 + (high ? 1 : 0)));
    return (high ? q >> 4 : q & 0xf) + (h ? 16 : 0);
  });
}

export function dequantizeQ6_K(b: Uint8Array, out: Float32Array): void {
  const sc = new Int8Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < out.length / QK_K; i++) {
    const o = i * 210;
    const d = getF16(b, o + 208);
    for (let n = 0; n < QK_K; n += 128) {
      const ql = o + n / 2;
      const qh = o + 128 + n / 4;
      const s = o + 192 + n / 16;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = b[qh + l]!;
        const q = [
          ((b[ql + l]! & 0xf) | ((h & 3) << 4)) - 32, ((b[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32,
          ((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32, ((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32,
        ];
        for (let k = 0; k < 4; k++) out[i * QK_K + n + 32 * k + l] = fr(fr(d * sc[s + is + 2 * k]!) * q[k]!);
      }
    }
  }
}
