// The reference backend checked against independent float64 formulas, plus q8_0 quantization and RoPE frequencies
// (transformers modeling_rope_utils) — the oracle itself has to be right before anything is compared with it.

import * as assert from 'node:assert/strict';
import type { WeightDType } from '../../src/core/backend';
import { decodeToF32, f16ToF32 } from '../../src/core/tensor/dtype';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { computeInvFreq } from '../../src/core/tensor/rope';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { encode, expectClose, randArray } from './kernelsHelpers';

function decoded(values: Float32Array, dtype: WeightDType): Float32Array {
  const bytes = encode(values, dtype);
  if (dtype === 'f32') return values;
  if (dtype === 'f16') return decodeToF32(bytes, 'F16', values.length);
  if (dtype === 'bf16') return decodeToF32(bytes, 'BF16', values.length);
  const out = new Float32Array(values.length);
  if (dtype === 'q4') {
    // s * q - m per 32 values, from the 24-byte host blocks (core/tensor/q4.ts), read here field by field.
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    for (let b = 0; b < values.length / 32; b++) {
      const s = dv.getFloat32(b * 24, true), m = dv.getFloat32(b * 24 + 4, true);
      for (let j = 0; j < 32; j++) out[b * 32 + j] = Math.fround(Math.fround(s * ((bytes[b * 24 + 8 + (j % 16)]! >> (j < 16 ? 0 : 4)) & 15)) - m);
    }
    return out;
  }
  for (let b = 0; b < values.length / 32; b++) {
    const d = f16ToF32(bytes[b * 34]! | (bytes[b * 34 + 1]! << 8));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * ((bytes[b * 34 + 2 + j]! << 24) >> 24);
  }
  return out;
}

const exact = { atol: 1e-6, rtol: 1e-6, nmse: 1e-12 };

describe('numerics: reference backend', () => {
  const be = new ReferenceBackend();
  const put = (dtype: WeightDType, shape: number[], values: Float32Array) => {
    const t = be.alloc(dtype, shape);
    be.write(t, encode(values, dtype));
    return t;
  };

  for (const dtype of ['f32', 'f16', 'bf16', 'q8_0', 'q4'] as const) {
    it(`matmul ${dtype} equals a float64 dot of the decoded weights`, async () => {
      const rows = 5, cols = 64, n = 3;
      const wv = randArray(rows * cols, 1);
      const xv = randArray(n * cols, 2);
      const out = be.alloc('f32', [n, rows]);
      be.matmul(out, put(dtype, [rows, cols], wv), put('f32', [n, cols], xv), n);
      const wd = decoded(wv, dtype);
      const want = new Float32Array(n * rows);
      for (let i = 0; i < n; i++) for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += wd[r * cols + k]! * xv[i * cols + k]!;
        want[i * rows + r] = s;
      }
      expectClose(await be.read(out), want, exact, `matmul ${dtype}`);
    });
  }

  it('loraDelta adds scale * B @ A in place', async () => {
    const rows = 7, cols = 9, r = 3, s = 0.5;
    const w0 = randArray(rows * cols, 3), bv = randArray(rows * r, 4), av = randArray(r * cols, 5);
    const w = put('f32', [rows, cols], w0);
    be.loraDelta(w, put('f32', [rows, r], bv), put('f32', [r, cols], av), s);
    const want = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += bv[i * r + k]! * av[k * cols + j]!;
      want[i * cols + j] = w0[i * cols + j]! + s * d;
    }
    expectClose(await be.read(w), want, exact, 'loraDelta');
  });

  it('rope rotates (x_j, x_{j+half}) pairs by pos * invFreq (HF rotate_half)', async () => {
    const x = put('f32', [1, 4], new Float32Array([1, 2, 3, 4]));
    be.rope(x, 1, 1, 4, 1, put('f32', [2], new Float32Array([1, 0.01])), 1);
    const c0 = Math.cos(1), s0 = Math.sin(1), c1 = Math.cos(Math.fround(0.01)), s1 = Math.sin(Math.fround(0.01));
    expectClose(await be.read(x), [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1], exact, 'rope');
  });

  it('attention: one key returns its value; GQA maps query heads to kv heads', async () => {
    // 4 query heads, 2 kv heads, headDim 2, one position: output of head h is v of kv head floor(h/2).
    const q = put('f32', [1, 8], randArray(8, 6));
    const k = put('f32', [4, 4], randArray(16, 7));
    const vv = new Float32Array(16);
    vv.set([10, 11, 20, 21]);
    const v = put('f32', [4, 4], vv);
    const out = be.alloc('f32', [1, 8]);
    be.attention(out, q, k, v, 1, 0, 4, 2, 2);
    expectClose(await be.read(out), [10, 11, 10, 11, 20, 21, 20, 21], exact, 'attention');
  });

  it('softmax rows sum to one; argmax takes the first maximum', async () => {
    const x = put('f32', [2, 5], new Float32Array([1, 2, 3, 3, 0, -1e30, 0, 0, 0, 0]));
    be.softmax(x, 2);
    const y = await be.read(x);
    assert.ok(Math.abs(y.slice(0, 5).reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.equal(await be.argmax(x, 5), 2);
  });

  it('q8_0 quantizes like ggml quantize_row_q8_0_ref', () => {
    const v = new Float32Array(32);
    v[0] = 127; v[1] = -63.5; v[2] = 0.49; v[3] = 1.5;
    const q = quantizeQ8_0(v);
    assert.equal(f16ToF32(q[0]! | (q[1]! << 8)), 1);
    assert.deepEqual([...new Int8Array(q.buffer, 2, 4)], [127, -64, 0, 2]);
  });
});

describe('numerics: RoPE inverse frequencies (modeling_rope_utils)', () => {
  it('default: 1 / theta^(2i/d)', () => {
    const { invFreq } = computeInvFreq({ headDim: 128, ropeTheta: 10000 });
    assert.equal(invFreq.length, 64);
    for (const i of [0, 1, 31, 63]) assert.ok(Math.abs(invFreq[i]! - 10000 ** (-(2 * i) / 128)) <= 1e-7 * 10000 ** (-(2 * i) / 128) + 1e-12);
  });
  it('linear divides by factor', () => {
    const a = computeInvFreq({ headDim: 64 }).invFreq;
    const b = computeInvFreq({ headDim: 64, ropeScaling: { type: 'linear', factor: 4 } }).invFreq;
    for (let i = 0; i < a.length; i++) assert.equal(b[i], Math.fround(a[i]! / 4));
  });
  it('dynamic NTK grows the base past max_position_embeddings only', () => {
    const cfg = { headDim: 128, ropeTheta: 10000, maxPositionEmbeddings: 2048, ropeScaling: { rope_type: 'dynamic', factor: 2 } };
    assert.deepEqual(computeInvFreq(cfg, 1000).invFreq, computeInvFreq({ headDim: 128 }).invFreq);
    const base = 10000 * (2 * 4096 / 2048 - 1) ** (128 / 126);
    const got = computeInvFreq(cfg, 4096).invFreq;
    assert.ok(Math.abs(got[10]! - base ** (-20 / 128)) < 1e-6 * base ** (-20 / 128));
  });
  it('llama3: low frequencies / factor, high unchanged, medium smoothed (Llama 3.1 settings)', () => {
    const sc = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const base = computeInvFreq({ headDim: 128, ropeTheta: 500000 }).invFreq;
    const got = computeInvFreq({ headDim: 128, ropeTheta: 500000, ropeScaling: sc }).invFreq;
    let low = 0, high = 0, mid = 0;
    for (let i = 0; i < 64; i++) {
      const wl = 2 * Math.PI / base[i]!;
      if (wl < 8192 / 4) { assert.equal(got[i], base[i]); high++; }
      else if (wl > 8192) { assert.ok(Math.abs(got[i]! - base[i]! / 8) < 1e-6 * base[i]!); low++; }
      else {
        const s = (8192 / wl - 1) / 3;
        const want = (1 - s) * base[i]! / 8 + s * base[i]!;
        assert.ok(Math.abs(got[i]! - want) < 1e-5 * want); mid++;
      }
    }
    assert.ok(low > 0 && high > 0 && mid > 0);
  });
  it('rejects an unknown rope type by name', () => {
    assert.throws(() => computeInvFreq({ headDim: 8, ropeScaling: { type: 'weird' } }), /weird/);
  });
});
