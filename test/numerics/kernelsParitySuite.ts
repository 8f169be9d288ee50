// Parity suite shared by every fast backend: each op x dtype at odd and edge sizes against the reference backend,
// tolerance by dtype (atol + rtol*|ref| per element, scaled by the summed magnitude for reductions; NMSE per tensor).

import * as assert from 'node:assert/strict';
import type { Backend, BTensor, OpName, WeightDType } from '../../src/core/backend';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { encodeInto } from '../../src/core/merge/convert';
import { floatDType } from '../../src/core/tensor/dtype';
import { Xxh32 } from '../../src/core/merge/xxh32';
import { TOL, encode, expectClose, randArray, rng, skipBecause, type Tol } from './kernelsHelpers';

export interface ParityOptions {
  /** Ops the backend is expected to run itself (supports() true); others are still checked through its fallback. */
  readonly fastOps?: readonly OpName[];
  /** Sizes scale for slow backends (e.g. WebGPU on SwiftShader). */
  readonly small?: boolean;
  /**
   * loraMerge and loraDelta run the same kernel arithmetic (bit-identical). Not so under tiny memory caps, where an op
   * whose scratch does not fit falls back to the reference arithmetic.
   */
  readonly mergeMatchesDelta?: boolean;
}

const ALL: readonly WeightDType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4'];
/** Block formats: rows of whole 32-value blocks only. */
const blocky = (d: WeightDType): boolean => d === 'q8_0' || d === 'q4';

/** Registers the parity tests; `get` returns the backend created in the caller's before() hook. */
export function defineParity(get: () => Backend, options: ParityOptions = {}): void {
  const oracle = new ReferenceBackend();
  /** `use: 'weight'` for the operands only matmul, loraApply and embed read: the backend may lay them out its own way. */
  const both = (dtype: WeightDType, shape: number[], values: Float32Array, use?: 'weight'): [BTensor, BTensor] => {
    const bytes = encode(values, dtype);
    const a = get().alloc(dtype, shape, '', 'zero', use);
    get().write(a, bytes);
    const b = oracle.alloc(dtype, shape);
    oracle.write(b, bytes);
    return [a, b];
  };
  const zeros = (shape: number[]): [BTensor, BTensor] => [get().alloc('f32', shape), oracle.alloc('f32', shape)];
  const check = async (pair: [BTensor, BTensor], tol: Tol, label: string, scale?: ArrayLike<number>) => {
    expectClose(await get().read(pair[0]), await oracle.read(pair[1]), tol, label, scale);
  };
  const abs = (v: Float32Array) => v.map(Math.abs);

  const mmShapes: Array<[number, number, number]> = options.small
    ? [[1, 32, 1], [7, 96, 1], [33, 160, 1], [5, 64, 3], [17, 288, 5], [9, 64, 8]]
    : [[1, 32, 1], [7, 96, 1], [33, 160, 1], [130, 1056, 1], [5, 64, 3], [17, 288, 5], [9, 512, 8], [67, 544, 13], [300, 1024, 1], [19, 608, 1], [10, 800, 6]];
  for (const dtype of ALL) {
    const shapes = blocky(dtype) ? mmShapes : [...mmShapes, [3, 37, 1], [5, 3, 2], [11, 45, 6]] as Array<[number, number, number]>;
    for (const [rows, cols, n] of shapes) {
      it(`matmul ${dtype} rows=${rows} cols=${cols} n=${n}`, async function () {
        if (!get().supports('matmul', dtype)) skipBecause(this, `${get().info.name} has no ${dtype} matmul`);
        const wv = randArray(rows * cols, rows * 7 + cols, 0.5);
        const xv = randArray(n * cols, cols * 3 + n);
        const w = both(dtype, [rows, cols], wv, 'weight');
        const x = both('f32', [n, cols], xv);
        const out = zeros([n, rows]);
        get().matmul(out[0], w[0], x[0], n);
        oracle.matmul(out[1], w[1], x[1], n);
        // Per-element atol scales with sum |w||x|, what the dot product actually summed.
        const wa = both(dtype, [rows, cols], abs(wv));
        const xa = both('f32', [n, cols], abs(xv));
        const mag = oracle.alloc('f32', [n, rows]);
        oracle.matmul(mag, wa[1], xa[1], n);
        await check(out, TOL[dtype], `matmul ${dtype}`, await oracle.read(mag));
      });
    }
  }

  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    for (const [rows, cols, r, n] of [[33, 70, 8, 1], [64, 96, 16, 3], [5, 7, 1, 2], [40, 600, 8, 2], [130, 64, 6, 1], [4099, 96, 64, 1], [7, 40, 3, 1]]) {
      it(`loraApply ${dtype} rows=${rows} cols=${cols} r=${r} n=${n}`, async () => {
        const a = both(dtype, [r!, cols!], randArray(r! * cols!, 11, 0.3), 'weight');
        const b = both(dtype, [rows!, r!], randArray(rows! * r!, 12, 0.3), 'weight');
        const x = both('f32', [n!, cols!], randArray(n! * cols!, 13));
        const out = both('f32', [n!, rows!], randArray(n! * rows!, 14));
        const tmp = zeros([n!, r!]);
        get().loraApply(out[0], a[0], b[0], x[0], n!, 0.75, tmp[0]);
        oracle.loraApply(out[1], a[1], b[1], x[1], n!, 0.75, tmp[1]);
        await check(out, { atol: 1e-5, rtol: 1e-4, nmse: 1e-10 }, 'loraApply');
      });
    }
  }

  for (const [rows, cols, r] of options.small ? [[7, 9, 3], [33, 70, 8]] : [[7, 9, 3], [37, 83, 5], [256, 1030, 16], [64, 4096, 64]]) {
    it(`loraDelta f32 rows=${rows} cols=${cols} r=${r}`, async () => {
      const w = both('f32', [rows!, cols!], randArray(rows! * cols!, 21));
      const b = both('f32', [rows!, r!], randArray(rows! * r!, 22, 0.1));
      const a = both('f32', [r!, cols!], randArray(r! * cols!, 23, 0.1));
      get().loraDelta(w[0], b[0], a[0], 2.5);
      oracle.loraDelta(w[1], b[1], a[1], 2.5);
      await check(w, { atol: 2e-6, rtol: 1e-6, nmse: 1e-12 }, 'loraDelta');
    });
  }

  // loraMerge (the merge's fused widen + delta + round): exact by construction, so compared bit for bit.
  const FLOATS = ['f32', 'f16', 'bf16'] as const;
  const rawOf = (be: Backend, t: BTensor): Uint8Array => be.hostView(t)!.slice();
  /** Rounding edge cases: bf16 and f16 ties (both parities), f16 subnormals and underflow, signed zeros, near-overflow. */
  const edgeValues = (): Float32Array => {
    const bits = [0x3f808000, 0x3f818000, 0xbf808000, 0x3f801000, 0x3f803000, 0x3f800fff, 0x33800000, 0x33c00000, 0x33000000,
      0x38800000, 0x387fe000, 0x387ff000, 0x00000001, 0x80000000, 0x00000000, 0x477fe000, 0x477fefff, 0x7f7f7fff, 0xc77fe000];
    const v = new Float32Array(new Uint32Array(bits).buffer);
    const out = new Float32Array(5 * 41);
    out.set(randArray(out.length, 77, 4));
    for (let i = 0; i < out.length; i += 7) out[i] = v[(i / 7) % v.length]!;
    return out;
  };
  for (const wd of FLOATS) {
    for (const od of FLOATS) {
      it(`loraMerge conversion ${wd} -> ${od} (no delta) is bit-exact, edge values included`, function () {
        const be = get();
        if (!be.loraMerge) skipBecause(this, `${be.info.name} has no loraMerge (it keeps tensors off the host, so it cannot merge); the wasm and reference suites run this`);
        let values = edgeValues();
        // Values that overflow the output (f16 past 65520, bf16 past its max) are the non-finite test's business.
        const f16 = wd === 'f16' || od === 'f16', bf16 = wd === 'bf16' || od === 'bf16';
        values = values.map((x) => (f16 && Math.abs(x) >= 65504) || (bf16 && Math.abs(x) > 3.38e38) ? 0.5 : x);
        const w = both(wd, [5, 41], values);
        const out: [BTensor, BTensor] = [be.alloc(od, [5, 41]), oracle.alloc(od, [5, 41])];
        assert.equal(be.loraMerge!(out[0], w[0], null, null, 0), -1);
        assert.equal(oracle.loraMerge(out[1], w[1], null, null, 0), -1);
        assert.deepEqual(rawOf(be, out[0]), rawOf(oracle, out[1]), `${wd} -> ${od}`);
      });
    }
  }
  for (const [rows, cols, r] of options.small ? [[7, 9, 3]] : [[7, 9, 3], [37, 83, 5], [64, 1030, 16]]) {
    for (const [wd, od] of [['bf16', 'bf16'], ['f16', 'f16'], ['f32', 'f32'], ['f16', 'bf16'], ['bf16', 'f32']] as const) {
      it(`loraMerge ${wd} -> ${od} rows=${rows} cols=${cols} r=${r}: identical to widen + loraDelta + round, close to the reference`, async function () {
        const be = get();
        if (!be.loraMerge) skipBecause(this, `${be.info.name} has no loraMerge (it keeps tensors off the host, so it cannot merge); the wasm and reference suites run this`);
        const wv = randArray(rows! * cols!, 41, 0.5);
        const w = both(wd, [rows!, cols!], wv);
        const b = both('f32', [rows!, r!], randArray(rows! * r!, 42, 0.1));
        const a = both('f32', [r!, cols!], randArray(r! * cols!, 43, 0.1));
        const out = be.alloc(od, [rows!, cols!]);
        assert.equal(be.loraMerge!(out, w[0], b[0], a[0], 1.5), -1);
        // The unfused path on the same backend: decoded weights, loraDelta, then the host's rounding.
        const wide = be.alloc('f32', [rows!, cols!]);
        be.write(wide, encode(await be.read(w[0]), 'f32'));
        be.loraDelta(wide, b[0], a[0], 1.5);
        const want = new Uint8Array(rows! * cols! * (od === 'f32' ? 4 : 2));
        assert.equal(encodeInto(await be.read(wide), rows! * cols!, floatDType(od), want), -1);
        if (options.mergeMatchesDelta !== false) assert.deepEqual(rawOf(be, out), want, 'fused vs unfused');
        const outRef = oracle.alloc(od, [rows!, cols!]);
        oracle.loraMerge(outRef, w[1], b[1], a[1], 1.5);
        // The reference sums in f64: a value landing near a rounding boundary may round the other way (1 ulp of od).
        const ulp = { f32: { atol: 2e-6, rtol: 1e-6, nmse: 1e-12 }, f16: { atol: 1e-7, rtol: 2 ** -10, nmse: 1e-7 }, bf16: { atol: 1e-7, rtol: 2 ** -7, nmse: 1e-5 } }[od];
        expectClose(await be.read(out), await oracle.read(outRef), ulp, 'loraMerge vs reference');
      });
    }
  }
  for (const od of FLOATS) {
    it(`loraMerge into ${od} reports the first non-finite output (overflow, inf, NaN), in the SIMD body and the tail`, function () {
      const be = get();
      if (!be.loraMerge) skipBecause(this, `${be.info.name} has no loraMerge (it keeps tensors off the host, so it cannot merge); the wasm and reference suites run this`);
      const [rows, cols] = [9, 37];
      for (const [at, value] of [[3 * cols + 5, od === 'f16' ? 70000 : Infinity], [8 * cols + 36, NaN], [2 * cols + 33, -Infinity]] as const) {
        const v = randArray(rows * cols, 51, 1);
        v[at] = value;
        v[at + 2 < rows * cols ? at + 2 : at] = value; // a later bad value must not hide the first
        const w = both('f32', [rows, cols], v);
        const out = be.alloc(od, [rows, cols]);
        assert.equal(be.loraMerge!(out, w[0], null, null, 0), at, `${od} ${value}`);
        const b = both('f32', [rows, 2], randArray(rows * 2, 52, 0.1));
        const a = both('f32', [2, cols], randArray(2 * cols, 53, 0.1));
        assert.equal(be.loraMerge!(out, w[0], b[0], a[0], 1), at, `${od} ${value} with a delta`);
      }
    });
  }
  it('XXH32 known answers (seed 0)', () => {
    for (const [text, want] of [['', '02cc5d05'], ['a', '550d7456'], ['abc', '32d153ff']] as const) {
      const h = new Xxh32();
      h.update(new TextEncoder().encode(text));
      assert.equal(h.digestHex(), want, JSON.stringify(text));
    }
  });
  it('xxh32Stripes over backend memory gives the JS hash', function () {
    const be = get();
    if (!be.xxh32Stripes) skipBecause(this, `${be.info.name} has no xxh32Stripes; the wasm suites run this`);
    for (const bytes of [16, 1000, 1 << 20]) {
      const t = be.alloc('f32', [Math.ceil(bytes / 4)]);
      const view = be.hostView(t)!.subarray(0, bytes);
      const r = rng(bytes);
      for (let i = 0; i < bytes; i++) view[i] = (r() * 256) | 0;
      const plain = new Xxh32();
      const fast: Xxh32 = new Xxh32(0, be.xxh32Stripes.bind(be));
      // Uneven pieces: the 16-byte carry between updates must line up with the accelerated stripes.
      for (let off = 0, k = 1; off < bytes; k++) {
        const piece = view.subarray(off, Math.min(bytes, off + k * 37));
        plain.update(piece);
        fast.update(piece);
        off += piece.length;
      }
      assert.equal(fast.digestHex(), plain.digestHex(), `${bytes} bytes`);
      be.free(t);
    }
  });

  for (const wd of ['f32', 'bf16'] as const) {
    it(`rmsnorm (weight ${wd}), in place and out of place, d odd`, async () => {
      const x = both('f32', [3, 67], randArray(201, 31, 3));
      const wt = both(wd, [67], randArray(67, 32));
      const out = zeros([3, 67]);
      get().rmsnorm(out[0], x[0], wt[0], 3, 1e-5);
      oracle.rmsnorm(out[1], x[1], wt[1], 3, 1e-5);
      await check(out, TOL.act, 'rmsnorm');
      get().rmsnorm(x[0], x[0], wt[0], 3, 1e-6);
      oracle.rmsnorm(x[1], x[1], wt[1], 3, 1e-6);
      await check(x, TOL.act, 'rmsnorm in place');
    });
  }

  for (const [n, heads, hd, pos0] of [[3, 4, 10, 5], [1, 2, 64, 4000], [5, 3, 128, 0]]) {
    it(`rope n=${n} heads=${heads} headDim=${hd} pos0=${pos0}`, async () => {
      const x = both('f32', [n!, heads! * hd!], randArray(n! * heads! * hd!, 41));
      const inv = new Float32Array(hd! / 2).map((_, i) => Math.fround(1 / 10000 ** ((2 * i) / hd!)));
      const f = both('f32', [hd! / 2], inv);
      get().rope(x[0], n!, heads!, hd!, pos0!, f[0], 1);
      oracle.rope(x[1], n!, heads!, hd!, pos0!, f[1], 1);
      await check(x, { atol: 2e-6, rtol: 1e-5, nmse: 1e-11 }, 'rope');
    });
  }

  it('rope, partial rotary (Phi-3 partial_rotary_factor): the dims past rotaryDim pass through', async () => {
    const [n, heads, hd, rot] = [3, 2, 24, 16];
    const x = both('f32', [n, heads * hd], randArray(n * heads * hd, 42));
    const inv = new Float32Array(rot / 2).map((_, i) => Math.fround(1 / 10000 ** ((2 * i) / rot)));
    const f = both('f32', [rot / 2], inv);
    const before = randArray(n * heads * hd, 42);
    get().rope(x[0], n, heads, hd, 7, f[0], 1.25);
    oracle.rope(x[1], n, heads, hd, 7, f[1], 1.25);
    await check(x, { atol: 2e-6, rtol: 1e-5, nmse: 1e-11 }, 'rope partial');
    const after = await oracle.read(x[1]);
    for (let i = 0; i < n * heads; i++) {
      for (let j = rot; j < hd; j++) assert.equal(after[i * hd + j], before[i * hd + j], 'pass-through dims are untouched');
    }
  });

  it('softmax rows of odd width, large logits', async () => {
    const x = both('f32', [3, 33], randArray(99, 51, 30));
    get().softmax(x[0], 3);
    oracle.softmax(x[1], 3);
    await check(x, { atol: 1e-7, rtol: 1e-5, nmse: 1e-11 }, 'softmax');
  });

  it('swiglu over [-100, 100] and beyond (vector exp, clamped tails), threaded rows, odd width', async () => {
    const rows = 16, cols = 1031; // 16.5 K elements: enough work to be split over the threads
    const gv = new Float32Array(rows * cols);
    for (let i = 0; i < gv.length; i++) gv[i] = i % 7 === 0 ? (i % 3 - 1) * 150 : -100 + (200 * i) / gv.length;
    const g = both('f32', [rows, cols], gv);
    const u = both('f32', [rows, cols], randArray(rows * cols, 64));
    const out = zeros([rows, cols]);
    get().swiglu(out[0], g[0], u[0], rows);
    oracle.swiglu(out[1], g[1], u[1], rows);
    await check(out, { atol: 1e-6, rtol: 1e-5, nmse: 1e-11 }, 'swiglu wide');
  });

  it('swiglu, add (aliased), mulRows, addBias', async () => {
    const g = both('f32', [3, 41], randArray(123, 61, 6));
    const u = both('f32', [3, 41], randArray(123, 62));
    const out = zeros([3, 41]);
    get().swiglu(out[0], g[0], u[0], 3);
    oracle.swiglu(out[1], g[1], u[1], 3);
    await check(out, { atol: 1e-6, rtol: 1e-5, nmse: 1e-11 }, 'swiglu');
    get().geglu(out[0], g[0], u[0], 3);
    oracle.geglu(out[1], g[1], u[1], 3);
    await check(out, { atol: 1e-6, rtol: 1e-5, nmse: 1e-11 }, 'geglu');
    get().add(out[0], out[0], u[0], 123);
    oracle.add(out[1], out[1], u[1], 123);
    await check(out, TOL.act, 'add');
    const v = both('f32', [41], randArray(41, 63));
    get().mulRows(out[0], v[0], 3);
    oracle.mulRows(out[1], v[1], 3);
    await check(out, TOL.act, 'mulRows');
    get().addBias(out[0], v[0], 2);
    oracle.addBias(out[1], v[1], 2);
    await check(out, TOL.act, 'addBias');
  });

  for (const [n, pos0, nh, nkv, hd] of [[1, 0, 4, 2, 8], [1, 9, 4, 1, 12], [4, 7, 4, 4, 8], [6, 0, 8, 2, 64], [1, 200, 8, 2, 64]]) {
    it(`attention n=${n} pos0=${pos0} heads=${nh} kvHeads=${nkv} headDim=${hd}`, async () => {
      const maxSeq = pos0! + n! + 3;
      const q = both('f32', [n!, nh! * hd!], randArray(n! * nh! * hd!, 71, 2));
      const k = both('f32', [maxSeq, nkv! * hd!], randArray(maxSeq * nkv! * hd!, 72, 2));
      const v = both('f32', [maxSeq, nkv! * hd!], randArray(maxSeq * nkv! * hd!, 73));
      const out = zeros([n!, nh! * hd!]);
      get().attention(out[0], q[0], k[0], v[0], n!, pos0!, nh!, nkv!, hd!);
      oracle.attention(out[1], q[1], k[1], v[1], n!, pos0!, nh!, nkv!, hd!);
      await check(out, { atol: 1e-6, rtol: 1e-4, nmse: 1e-10 }, 'attention');
    });
  }

  // Gemma: query_pre_attn_scalar scale, logit soft-capping, sliding windows shorter and longer than the sequence.
  for (const [n, pos0, window, softcap] of [[6, 0, 4, 0], [1, 20, 8, 50], [5, 9, 3, 0.5], [3, 2, 100, 0]]) {
    it(`attention n=${n} pos0=${pos0} window=${window} softcap=${softcap}, scale 0.3`, async () => {
      const [nh, nkv, hd] = [4, 2, 16];
      const maxSeq = pos0! + n!;
      const q = both('f32', [n!, nh * hd], randArray(n! * nh * hd, 74, 2));
      const k = both('f32', [maxSeq, nkv * hd], randArray(maxSeq * nkv * hd, 75, 2));
      const v = both('f32', [maxSeq, nkv * hd], randArray(maxSeq * nkv * hd, 76));
      const out = zeros([n!, nh * hd]);
      const options = { scale: 0.3, window: window!, ...(softcap ? { softcap: softcap! } : {}) };
      get().attention(out[0], q[0], k[0], v[0], n!, pos0!, nh, nkv, hd, options);
      oracle.attention(out[1], q[1], k[1], v[1], n!, pos0!, nh, nkv, hd, options);
      await check(out, { atol: 1e-6, rtol: 1e-4, nmse: 1e-10 }, 'attention');
    });
  }

  it('copyRows', async () => {
    const src = both('f32', [5, 12], randArray(60, 81));
    const dst = zeros([9, 12]);
    get().copyRows(dst[0], 3, src[0], 1, 4);
    oracle.copyRows(dst[1], 3, src[1], 1, 4);
    await check(dst, { atol: 0, rtol: 0, nmse: 0 }, 'copyRows');
  });

  for (const [dtype, cols] of ALL.flatMap((d) => (blocky(d) ? [96, 608] : [45, 600]).map((c) => [d, c] as const))) {
    it(`embed ${dtype} cols=${cols} and argmax`, async function () {
      if (!get().supports('embed', dtype)) skipBecause(this, `${get().info.name} has no ${dtype} embed`);
      const table = both(dtype, [11, cols], randArray(11 * cols, 91), 'weight');
      const out = zeros([4, cols]);
      const ids = new Int32Array([3, 0, 10, 3]);
      get().embed(out[0], table[0], ids);
      oracle.embed(out[1], table[1], ids);
      await check(out, { atol: 0, rtol: 1e-7, nmse: 1e-14 }, 'embed');
      assert.equal(await get().argmax(out[0], 4 * cols), await oracle.argmax(out[1], 4 * cols));
    });
  }

  for (const src of ['f32', 'f16', 'bf16'] as const) {
    it(`writeQuantized (quantize-on-load) from ${src}, in two parts`, async () => {
      // 608 columns: three column panels where a backend lays weights out in panels of 256; the halves split a row.
      const rows = 6, cols = 608;
      const v = randArray(rows * cols, 95, 2);
      const bytes = encode(v, src);
      const half = (rows * cols) / 2;
      const bpv = src === 'f32' ? 4 : 2;
      const pair = [get().alloc('q8_0', [rows, cols], '', 'zero', 'weight'), oracle.alloc('q8_0', [rows, cols])] as [BTensor, BTensor];
      for (const [be, t] of [[get(), pair[0]], [oracle, pair[1]]] as const) {
        assert.ok(be.writeQuantized, 'writeQuantized missing');
        be.writeQuantized(t, bytes.subarray(0, half * bpv), src, 0);
        be.writeQuantized(t, bytes.subarray(half * bpv), src, half);
      }
      // Both within one quantization step of each other (scales may differ by the f16 rounding of d).
      await check(pair, { atol: 2 / 127 + 1e-6, rtol: 0, nmse: 1e-4 }, 'writeQuantized');
    });
  }

  if (options.fastOps) {
    it('supports() reports the fast ops', () => {
      for (const op of options.fastOps!) assert.ok(get().supports(op, 'f32'), op);
    });
  }
}
