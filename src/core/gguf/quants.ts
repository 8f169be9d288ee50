// Reference quantizers for ggml's 32-element block types (q8_0 lives in tensor/q8_0.ts, shared with quantize-on-load), written from the block layouts and the semantics of ggml's
// deterministic reference quantizers (quantize_row_*_ref): every step in binary32 (Math.fround after each operation,
// as the C code computes in float), scales stored as binary16 rounded to nearest even. Byte-identical output is the
// point: llama.cpp's own files are the goldens (test/unit/ggufGoldens.test.ts).
//   q4_0: { f16 d; u8 qs[16] }             x = d * (q - 8), low nibbles hold elements 0..15, high nibbles 16..31
//   q5_0: { f16 d; u8 qh[4]; u8 qs[16] }   x = d * (q - 16), the 5th bits in qh (bit j for element j)

import { f16ToF32 } from '../tensor/dtype';
import { f32BitsToF16 } from '../merge/convert';

const QK = 32;
const fr = Math.fround;
const bitsBuf = new Float32Array(1);
const bitsInt = new Int32Array(bitsBuf.buffer);

/** binary32 value -> binary16 bits (round to nearest even), as GGML_FP32_TO_FP16. */
export function toF16Bits(x: number): number {
  bitsBuf[0] = x;
  return f32BitsToF16(bitsInt[0]!);
}

function putF16(out: Uint8Array, at: number, x: number): void {
  const h = toF16Bits(x);
  out[at] = h & 0xff;
  out[at + 1] = h >>> 8;
}

function getF16(b: Uint8Array, at: number): number {
  return f16ToF32(b[at]! | (b[at + 1]! << 8));
}

/** The element of largest magnitude in a block (the first one on ties), signed, as the q4_0/q5_0 reference picks it. */
function signedAbsMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

export function quantizeQ4_0(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / QK;
  for (let i = 0; i < nb; i++) {
    const o = i * QK;
    const d = fr(signedAbsMax(x, o, QK) / -8);
    const id = d ? fr(1 / d) : 0;
    const b = i * 18;
    putF16(out, b, d);
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.min(15, Math.trunc(fr(fr(x[o + j]! * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(fr(x[o + QK / 2 + j]! * id) + 8.5)));
      out[b + 2 + j] = q0 | (q1 << 4);
    }
  }
}

export function quantizeQ5_0(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / QK;
  for (let i = 0; i < nb; i++) {
    const o = i * QK;
    const d = fr(signedAbsMax(x, o, QK) / -16);
    const id = d ? fr(1 / d) : 0;
    const b = i * 22;
    putF16(out, b, d);
    pack5(out, b + 2, b + 6, (j) => Math.min(31, Math.trunc(fr(fr(x[o + j]! * id) + 16.5))));
  }
}

/** Store 32 5-bit values: low nibbles as q4_0 does at `qsAt`, the 5th bits as a little-endian u32 at `qhAt`. */
function pack5(out: Uint8Array, qhAt: number, qsAt: number, q: (j: number) => number): void {
  let qh = 0;
  for (let j = 0; j < QK / 2; j++) {
    const q0 = q(j);
    const q1 = q(j + QK / 2);
    out[qsAt + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    qh |= ((q0 & 0x10) >>> 4) << j;
    qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
  }
  out[qhAt] = qh & 0xff;
  out[qhAt + 1] = (qh >>> 8) & 0xff;
  out[qhAt + 2] = (qh >>> 16) & 0xff;
  out[qhAt + 3] = (qh >>> 24) & 0xff;
}

export function quantizeQ5_1(x: Float32Array, out: Uint8Array): void {
  const nb = x.length / QK;
  for (let i = 0; i < nb; i++) {
    const o = i * QK;
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < QK; j++) {
      const v = x[o + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / 31);
    const id = d ? fr(1 / d) : 0;
    const b = i * 24;
    putF16(out, b, d);
    putF16(out, b + 2, min);
    pack5(out, b + 4, b + 8, (j) => Math.trunc(fr(fr(fr(x[o + j]! - min) * id) + 0.5)) & 0xff);
  }
}

export function dequantizeQ8_0(b: Uint8Array, out: Float32Array): void {
  const q = new Int8Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < out.length / QK; i++) {
    const d = getF16(b, i * 34);
    for (let j = 0; j < QK; j++) out[i * QK + j] = fr(q[i * 34 + 2 + j]! * d);
  }
}

export function dequantizeQ4_0(b: Uint8Array, out: Float32Array): void {
  for (let i = 0; i < out.length / QK; i++) {
    const d = getF16(b, i * 18);
    for (let j = 0; j < QK / 2; j++) {
      const v = b[i * 18 + 2 + j]!;
      out[i * QK + j] = fr(((v & 0x0f) - 8) * d);
      out[i * QK + QK / 2 + j] = fr(((v >>> 4) - 8) * d);
    }
  }
}

export function dequantizeQ5_0(b: Uint8Array, out: Float32Array): void {
  for (let i = 0; i < out.length / QK; i++) {
    const o = i * 22;
    const d = getF16(b, o);
    const qh = (b[o + 2]! | (b[o + 3]! << 8) | (b[o + 4]! << 16) | (b[o + 5]! << 24)) >>> 0;
    for (let j = 0; j < QK / 2; j++) {
      const v = b[o + 6 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      out[i * QK + j] = fr((((v & 0x0f) | h0) - 16) * d);
      out[i * QK + QK / 2 + j] = fr((((v >>> 4) | h1) - 16) * d);
    }
  }
}

export function dequantizeQ5_1(b: Uint8Array, out: Float32Array): void {
  for (let i = 0; i < out.length / QK; i++) {
    const o = i * 24;
    const d = getF16(b, o);
    const m = getF16(b, o + 2);
    const qh = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24)) >>> 0;
    for (let j = 0; j < QK / 2; j++) {
      const v = b[o + 8 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      out[i * QK + j] = fr(fr(((v & 0x0f) | h0) * d) + m);
      out[i * QK + QK / 2 + j] = fr(fr(((v >>> 4) | h1) * d) + m);
    }
  }
}
