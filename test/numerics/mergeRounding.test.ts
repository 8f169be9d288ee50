// The merge's bulk f32 -> f16/bf16 rounding against the scalar reference (tensor/dtype.ts) and against float64 maths:
// ties to even, subnormals, overflow to inf (reported as non-finite), NaN; and the in-place widen/narrow round trip.

import { strict as assert } from 'node:assert';
import { decodeInPlace, decodeInto, encodeInto } from '../../src/core/merge/convert';
import { applyLoraBias } from '../../src/core/merge/compute';
import { f32ToBf16, f32ToF16, f16ToF32, bf16ToF32 } from '../../src/core/tensor/dtype';

function enc(values: number[], dtype: 'F16' | 'BF16'): { bits: number[]; bad: number } {
  const f = Float32Array.from(values);
  const out = new Uint8Array(values.length * 2);
  const bad = encodeInto(f, values.length, dtype, out);
  return { bits: [...new Uint16Array(out.buffer)], bad };
}

describe('merge rounding (f32 -> f16/bf16, round to nearest even)', () => {
  it('f16 ties, subnormals, overflow', () => {
    const cases: Array<[number, number]> = [
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002],
      [2 ** -24, 0x0001], [2 ** -14 - 2 ** -25, 0x0400], [65519, 0x7bff], [-0, 0x8000], [-(1 + 2 ** -11), 0xbc00],
    ];
    const { bits, bad } = enc(cases.map((c) => c[0]), 'F16');
    assert.deepEqual(bits, cases.map((c) => c[1]));
    assert.equal(bad, -1);
    assert.equal(enc([1, 65520], 'F16').bad, 1, 'rounding up to inf is reported');
    assert.equal(enc([NaN], 'F16').bad, 0);
  });
  it('bf16 ties, subnormals, overflow', () => {
    const cases: Array<[number, number]> = [
      [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [2 ** -134, 0x0000], [3 * 2 ** -134, 0x0002], [2 ** -133, 0x0001], [-(1 + 2 ** -8), 0xbf80],
    ];
    const { bits, bad } = enc(cases.map((c) => c[0]), 'BF16');
    assert.deepEqual(bits, cases.map((c) => c[1]));
    assert.equal(bad, -1);
    const big = 3.3961775e38; // rounds past the largest finite bf16 (0x7f7f)
    assert.equal(enc([big], 'BF16').bits[0], 0x7f80);
    assert.equal(enc([big], 'BF16').bad, 0);
  });
  it('bulk encode equals the scalar reference on 200k random and special f32 values', () => {
    const n = 200_000;
    const bits = new Uint32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; bits[i] = s ^ (i << 7); }
    const f = new Float32Array(bits.buffer);
    for (const dtype of ['F16', 'BF16'] as const) {
      const out = new Uint16Array(n);
      encodeInto(f, n, dtype, new Uint8Array(out.buffer));
      for (let i = 0; i < n; i++) {
        const ref = dtype === 'F16' ? f32ToF16(f[i]!) : f32ToBf16(f[i]!);
        if (Number.isNaN(f[i]!)) { assert.ok(Number.isNaN(dtype === 'F16' ? f16ToF32(out[i]!) : bf16ToF32(out[i]!))); continue; }
        if (out[i] !== ref) assert.fail(`${dtype} ${f[i]}: ${out[i]} != ${ref}`);
      }
    }
  });
  it('widening in place then narrowing in place round-trips every f16 and bf16 value', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const n = 65536;
      const buf = new Uint8Array(n * 4);
      const src = new Uint16Array(buf.buffer, 0, n);
      for (let i = 0; i < n; i++) src[i] = i;
      const f = decodeInPlace(buf, dtype, n);
      const ref = new Float32Array(n);
      const raw = new Uint16Array(n);
      for (let i = 0; i < n; i++) raw[i] = i;
      decodeInto(new Uint8Array(raw.buffer), dtype, ref, n);
      for (let i = 0; i < n; i++) if (!Object.is(f[i], ref[i]) && !(Number.isNaN(f[i]!) && Number.isNaN(ref[i]!))) assert.fail(`${dtype} ${i}`);
      encodeInto(f, n, dtype, buf);
      const back = new Uint16Array(buf.buffer, 0, n);
      for (let i = 0; i < n; i++) {
        const isNaN = dtype === 'F16' ? (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0 : (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
        if (!isNaN && back[i] !== i) assert.fail(`${dtype} ${i} -> ${back[i]}`);
      }
    }
  });
  it('lora_bias: f32 product then f32 sum, matching float64 maths rounded per step', () => {
    const bias = Float32Array.from([0.1, -2.5, 1e-8]);
    const lb = Float32Array.from([0.3, 0.7, -1e-8]);
    const expected = [...bias].map((b, i) => Math.fround(b + Math.fround(lb[i]! * Math.fround(16 / Math.sqrt(8)))));
    applyLoraBias(bias, lb, 16 / Math.sqrt(8));
    assert.deepEqual([...bias], expected);
  });
});
