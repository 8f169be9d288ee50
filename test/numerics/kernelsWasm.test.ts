// WASM backend: parity with the reference for every op x dtype on 1 and N threads and on both builds (plain and
// relaxed SIMD), bit-exact agreement between thread counts, a slowed helper, cancellation, and multi-memory placement.

import * as assert from 'node:assert/strict';
import type { Backend } from '../../src/core/backend';
import { createBackend, createWasmBackend } from '../../src/kernels/createBackend.node';
import type { WasmBackend } from '../../src/kernels/wasm/wasmBackend';
import { encode, randArray } from './kernelsHelpers';
import { defineParity } from './kernelsParitySuite';

async function built(): Promise<void> {
  // Same function `npm run build` runs; a no-op when dist/*.wasm is newer than the kernel sources.
  const { buildWasm } = await import('../../scripts/build-wasm.mjs');
  await buildWasm({ quiet: true });
}

for (const [variant, threads] of [['simd', 1], ['relaxed', 1], ['simd', 2], ['relaxed', 3]] as const) {
  describe(`numerics: wasm ${variant} parity, ${threads} thread(s)`, function () {
    this.timeout(120000);
    let be: Backend;
    before(async () => {
      await built();
      be = await createWasmBackend({ wasmVariant: variant, threads });
    });
    after(() => be?.dispose());
    defineParity(() => be, { fastOps: ['matmul', 'loraDelta', 'rmsnorm', 'rope', 'softmax', 'swiglu', 'attention', 'embed'] });
  });
}

describe('numerics: wasm parity with tensors spread over small memories (cap 3 MiB, 2 threads)', function () {
  // Every new memory opens once the current one is full, so operands of one op often live in different memories and
  // every op's staging path (copy in, run in the weight's memory, copy back) is exercised.
  this.timeout(120000);
  let be: Backend;
  before(async () => {
    await built();
    be = await createWasmBackend({ threads: 2, maxMemoryBytes: 3 << 20 });
  });
  after(() => {
    assert.ok((be as WasmBackend).memoryCount > 3, `only ${(be as WasmBackend).memoryCount} memories used`);
    be?.dispose();
  });
  defineParity(() => be, { mergeMatchesDelta: false });
});

describe('numerics: wasm parity with weights in column panels of 256 (2 threads)', function () {
  // Production panels are 2048 columns wide (PANEL_COLS); narrow ones put every weight of the suite over several
  // panels, the last one narrower, so matvec partial sums, mm's per-panel k-blocks, embed, write, read and q8_0 all
  // see the layout.
  this.timeout(120000);
  let be: Backend;
  before(async () => {
    await built();
    be = await createWasmBackend({ threads: 2, panelCols: 256 });
  });
  after(() => be?.dispose());
  defineParity(() => be);

  it('stores a weight in panels (no host view) and reads back what was written in odd pieces, every dtype', async () => {
    const rows = 7, cols = 600;
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const values = randArray(rows * cols, 3);
      const bytes = encode(values, dtype);
      const w = be.alloc(dtype, [rows, cols], 'w', 'none', 'weight');
      assert.equal(be.hostView(w), null, `${dtype}: a panelled weight has no row-major host view`);
      const es = dtype === 'f32' ? 4 : 2;
      // Pieces that start and end mid-row and mid-panel.
      const cuts = [0, 5, 300, 257 * 3, 1999, rows * cols].map((e) => e * es);
      for (let i = 0; i + 1 < cuts.length; i++) be.write(w, bytes.subarray(cuts[i]!, cuts[i + 1]!), cuts[i]!);
      const plain = be.alloc(dtype, [rows, cols]);
      be.write(plain, bytes);
      assert.notEqual(be.hostView(plain), null);
      assert.deepEqual(await be.read(w), await be.read(plain), `${dtype} round trip`);
      be.free(w);
      be.free(plain);
    }
  });

  it('gives bit-identical matvec and matmul results on 1 and 3 threads with panels', async () => {
    const one = await createWasmBackend({ threads: 1, panelCols: 256 });
    const three = await createWasmBackend({ threads: 3, panelCols: 256 });
    try {
      for (const dtype of ['f32', 'f16', 'bf16', 'q8_0', 'q4'] as const) {
        for (const n of [1, 5]) {
          const run = async (b: Backend) => {
            const w = b.alloc(dtype, [301, 608], 'w', 'none', 'weight');
            b.write(w, encode(randArray(301 * 608, 8), dtype));
            const x = b.alloc('f32', [n, 608]);
            b.write(x, encode(randArray(n * 608, 9), 'f32'));
            const out = b.alloc('f32', [n, 301]);
            b.matmul(out, w, x, n);
            return b.read(out);
          };
          assert.deepEqual(await run(three), await run(one), `${dtype} n=${n}`);
        }
      }
    } finally {
      one.dispose();
      three.dispose();
    }
  });

  it('refuses a panelled weight where an op needs a row-major tensor', () => {
    const w = be.alloc('f32', [4, 600], 'w', 'zero', 'weight');
    const b = be.alloc('f32', [4, 2]);
    const a = be.alloc('f32', [2, 600]);
    assert.throws(() => be.loraDelta(w, b, a, 1), /row-major/);
  });
});

describe('numerics: wasm threads, memories, cancellation', function () {
  this.timeout(120000);
  before(built);

  async function matmulOn(be: Backend, dtype: 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4', rows: number, cols: number, n: number): Promise<Float32Array> {
    const w = be.alloc(dtype, [rows, cols]);
    be.write(w, encode(randArray(rows * cols, 5), dtype));
    const x = be.alloc('f32', [n, cols]);
    be.write(x, encode(randArray(n * cols, 6), 'f32'));
    const out = be.alloc('f32', [n, rows]);
    be.matmul(out, w, x, n);
    return be.read(out);
  }

  it('gives bit-identical results on 1 and 3 threads, and with one helper slowed down (no deadlock)', async () => {
    const one = await createWasmBackend({ threads: 1 });
    const three = await createWasmBackend({ threads: 3 });
    const slow = await createWasmBackend({ threads: 3, slowHelper: { tid: 2, delayMs: 3 } });
    try {
      for (const dtype of ['f32', 'f16', 'bf16', 'q8_0', 'q4'] as const) {
        for (const n of [1, 7]) {
          const a = await matmulOn(one, dtype, 1000, 256, n);
          assert.deepEqual(await matmulOn(three, dtype, 1000, 256, n), a, `${dtype} n=${n} 3 threads`);
          assert.deepEqual(await matmulOn(slow, dtype, 1000, 256, n), a, `${dtype} n=${n} slowed helper`);
        }
      }
      assert.equal(three.info.threads, 3);
    } finally {
      one.dispose();
      three.dispose();
      slow.dispose();
    }
  });

  it('runs jobs on the calling thread for a while when a helper keeps it waiting (contention guard), same results', async () => {
    const one = await createWasmBackend({ threads: 1 });
    // Big enough (32 MiB, ~1.5 ms on the calling thread alone) that the helper wakes and claims a chunk before the
    // calling thread has taken them all (guided chunks: its first claims are a quarter of the rows and more), then
    // sits on it; the same tensors every call, so only the matvec is timed by the guard.
    const slow = await createWasmBackend({ threads: 2, slowHelper: { tid: 1, delayMs: 20 } });
    try {
      const rows = 32768, cols = 512;
      const wBytes = encode(randArray(rows * cols, 5), 'f16');
      const xBytes = encode(randArray(cols, 6), 'f32');
      const setUp = (be: Backend) => {
        const w = be.alloc('f16', [rows, cols], 'w', 'none', 'weight');
        be.write(w, wBytes);
        const x = be.alloc('f32', [1, cols]);
        be.write(x, xBytes);
        return { w, x, out: be.alloc('f32', [1, rows]) };
      };
      const o = setUp(one);
      one.matmul(o.out, o.w, o.x, 1);
      const a = await one.read(o.out);
      const t = setUp(slow);
      const runner = (slow as unknown as { runner: { inlineJobs: number } }).runner;
      // Up to 40 calls: a helper that sleeps in Atomics.wait can wake late on a busy VM and find no rows left, which
      // resets the guard's streak; the guard must still engage, and every result must stay exact.
      for (let i = 0; i < 40 && runner.inlineJobs < 4; i++) {
        slow.matmul(t.out, t.w, t.x, 1);
        assert.deepEqual(await slow.read(t.out), a, `call ${i}`);
      }
      assert.ok(runner.inlineJobs > 0, 'the guard never switched to the calling thread');
      // The calling thread alone for a while measured in time (50 ms at first), not for a count of jobs: past the
      // window the next job is offered to the helpers again, i.e. not counted inline.
      await new Promise((resolve) => setTimeout(resolve, 120));
      const before = runner.inlineJobs;
      slow.matmul(t.out, t.w, t.x, 1);
      assert.deepEqual(await slow.read(t.out), a, 'after the window');
      assert.equal(runner.inlineJobs, before, 'the job after the window still ran inline');
    } finally {
      one.dispose();
      slow.dispose();
    }
  });

  it('stops a long merge-style loop on abort between ops and stays usable', async () => {
    const be = await createWasmBackend({ threads: 2 });
    try {
      const w = be.alloc('f32', [512, 512]);
      const b = be.alloc('f32', [512, 16]);
      const a = be.alloc('f32', [16, 512]);
      be.write(b, encode(randArray(512 * 16, 1, 0.01), 'f32'));
      be.write(a, encode(randArray(16 * 512, 2, 0.01), 'f32'));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      let done = 0;
      const loop = async (): Promise<void> => {
        for (let i = 0; i < 1_000_000; i++) {
          controller.signal.throwIfAborted();
          be.loraDelta(w, b, a, 1);
          done++;
          if (i % 8 === 7) await new Promise((r) => setImmediate(r)); // let the cancel message in, as the engine does
        }
      };
      await assert.rejects(loop(), (e: Error) => e.name === 'AbortError');
      assert.ok(done > 0 && done < 1_000_000);
      // The pool is idle and consistent: a fresh op still matches the single-thread result exactly.
      const ref = await createWasmBackend({ threads: 1 });
      assert.deepEqual(await matmulOn(be, 'f16', 300, 128, 1), await matmulOn(ref, 'f16', 300, 128, 1));
      ref.dispose();
    } finally {
      be.dispose();
    }
  });

  it('places tensors over several memories under a small cap (never straddling) and stages operands across them', async () => {
    const cap = 4 << 20; // 4 MiB per memory instead of 4 GiB
    const be = (await createWasmBackend({ threads: 2, maxMemoryBytes: cap })) as WasmBackend;
    const oracle = await createBackend({ backend: 'reference' });
    try {
      const layers = 5, rows = 256, cols = 1024; // 1 MiB f32 per weight, 2 per layer
      const ws: Array<[ReturnType<Backend['alloc']>, ReturnType<Backend['alloc']>]> = [];
      const wr: Array<ReturnType<Backend['alloc']>> = [];
      for (let l = 0; l < layers; l++) {
        be.beginGroup!(2 * rows * cols * 4);
        const up = be.alloc('f32', [rows, cols], `l${l}.up`);
        const down = be.alloc('f16', [cols, rows], `l${l}.down`);
        be.write(up, encode(randArray(rows * cols, 100 + l, 0.05), 'f32'));
        be.write(down, encode(randArray(rows * cols, 200 + l, 0.05), 'f16'));
        assert.equal(be.memoryOf(up), be.memoryOf(down), `layer ${l} split across memories`);
        ws.push([up, down]);
        const u = oracle.alloc('f32', [rows, cols]);
        oracle.write(u, encode(randArray(rows * cols, 100 + l, 0.05), 'f32'));
        const d = oracle.alloc('f16', [cols, rows]);
        oracle.write(d, encode(randArray(rows * cols, 200 + l, 0.05), 'f16'));
        wr.push(u, d);
      }
      assert.ok(be.memoryCount >= 3, `expected several memories, got ${be.memoryCount}`);
      // Activations live wherever they land (usually the last memory); every matmul hands them across.
      const x = be.alloc('f32', [1, cols]);
      const h = be.alloc('f32', [1, rows]);
      const xr = oracle.alloc('f32', [1, cols]);
      const hr = oracle.alloc('f32', [1, rows]);
      const xv = encode(randArray(cols, 7), 'f32');
      be.write(x, xv);
      oracle.write(xr, xv);
      for (let l = 0; l < layers; l++) {
        be.matmul(h, ws[l]![0], x, 1);
        be.matmul(x, ws[l]![1], h, 1);
        oracle.matmul(hr, wr[2 * l]!, xr, 1);
        oracle.matmul(xr, wr[2 * l + 1]!, hr, 1);
      }
      const got = await be.read(x);
      const want = await oracle.read(xr);
      for (let i = 0; i < cols; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 + 1e-4 * Math.abs(want[i]!), `x[${i}]`);
      assert.throws(() => be.alloc('f32', [2048, 1024]), /does not fit one WASM memory/);
    } finally {
      be.dispose();
    }
  });

  it('hostView is a live view for f32/f16/bf16 (files read straight into it) and null for repacked q8_0', async () => {
    const be = await createWasmBackend({ threads: 1 });
    try {
      const t = be.alloc('f16', [2, 8]);
      const view = be.hostView(t)!;
      view.set(encode(new Float32Array(16).fill(1.5), 'f16'));
      assert.deepEqual([...await be.read(t)], new Array(16).fill(1.5));
      assert.equal(be.hostView(be.alloc('q8_0', [1, 32])), null);
    } finally {
      be.dispose();
    }
  });

  it('createBackend honours the choice and falls back with a logged reason', async () => {
    const lines: string[] = [];
    const r = await createBackend({ backend: 'reference' });
    assert.equal(r.info.name, 'reference');
    const w = await createBackend({ backend: 'wasm', threads: 2, log: (m) => lines.push(m) });
    assert.equal(w.info.name, 'wasm');
    assert.equal(w.info.threads, 2);
    w.dispose();
  });
});
