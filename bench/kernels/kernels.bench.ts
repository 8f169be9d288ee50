// Kernel benchmarks (not tests): GB/s of weights streamed by matvec per dtype on 1 and 2 threads beside the machine's
// streaming-read bandwidth measured in the same run (a WASM read probe on the same threads), GFLOP/s of prefill matmul
// and the LoRA merge delta beside native OpenBLAS through numpy when python3 + numpy are installed.
// Run: npx tsx bench/kernels/kernels.bench.ts [--quick]. Medians of repeated runs; the machine may be shared.

import { spawnSync } from 'node:child_process';
import type { Backend, BTensor, WeightDType } from '../../src/core/backend';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import type { WasmBackend } from '../../src/kernels/wasm/wasmBackend';
import { encodeFromF32 } from '../../src/core/tensor/dtype';

const quick = process.argv.includes('--quick');
const REPS = quick ? 5 : 11;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void, reps = REPS): number {
  fn(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(ts);
}

function fill(be: Backend, t: BTensor, dtype: WeightDType, count: number, seed: number): void {
  // Cheap deterministic data, written in slabs so memory use stays low.
  const slab = 1 << 20;
  const v = new Float32Array(slab);
  for (let off = 0; off < count; off += slab) {
    const n = Math.min(slab, count - off);
    for (let i = 0; i < n; i++) v[i] = Math.sin(seed + off + i) * 0.05;
    const part = v.subarray(0, n);
    const bytes = dtype === 'f32' ? new Uint8Array(part.buffer, 0, n * 4) : dtype === 'q8_0' ? quantizeQ8_0(part) : encodeFromF32(part, dtype === 'f16' ? 'F16' : 'BF16');
    be.write(t, bytes, dtype === 'f32' ? off * 4 : dtype === 'q8_0' ? (off / 32) * 34 : off * 2);
  }
}

const BYTES_PER: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q4: 24 / 32 };

function nativeBaseline(threads: number): Record<string, number> | null {
  const py = `
import time, numpy as np
def med(f, r=${REPS}):
    f(); ts=[]
    for _ in range(r):
        t=time.perf_counter(); f(); ts.append(time.perf_counter()-t)
    ts.sort(); return ts[len(ts)//2]
R=C=4096
Ws=[np.random.rand(R,C).astype(np.float32) for _ in range(4)]
x=np.random.rand(C).astype(np.float32)
i=[0]
def mv():
    i[0]=(i[0]+1)%4; Ws[i[0]]@x
t=med(mv); print('sgemv_gbs', R*C*4/t/1e9)
X=np.random.rand(64,C).astype(np.float32)
t=med(lambda: X@Ws[0].T); print('sgemm_gflops', 2*64*R*C/t/1e9)
B=np.random.rand(R,16).astype(np.float32); A=np.random.rand(16,C).astype(np.float32)
def delta():
    Ws[1].__iadd__(0.5*(B@A))
t=med(delta); print('delta_gflops', 2*R*C*16/t/1e9)
`;
  const r = spawnSync('python3', ['-c', py], { env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) }, encoding: 'utf8' });
  if (r.status !== 0) return null;
  const out: Record<string, number> = {};
  for (const line of r.stdout.trim().split('\n')) {
    const [k, v] = line.split(' ');
    out[k!] = Number(v);
  }
  return out;
}

async function main(): Promise<void> {
  const { buildWasm } = await import('../../scripts/build-wasm.mjs');
  await buildWasm({ quiet: true });
  const rows = 4096, cols = 4096, copies = 4; // 4 matrices cycled: every dtype's working set exceeds the L3 cache
  console.log(`# kernels bench (${quick ? 'quick' : 'full'}), node ${process.version}, ${REPS} reps, medians`);
  const results: string[] = [];
  for (const threads of [1, 2]) {
    const be = (await createWasmBackend({ threads })) as WasmBackend;
    const bw = be.measureReadBandwidth(256 << 20, REPS);
    console.log(`\n## ${threads} thread(s), ${be.info.detail}\nstreaming-read probe: ${bw.toFixed(1)} GB/s`);
    results.push(`| read bandwidth probe | ${threads} | ${bw.toFixed(1)} GB/s | 1.00 |`);
    const x = be.alloc('f32', [64, cols]);
    fill(be, x, 'f32', 64 * cols, 1);
    const y = be.alloc('f32', [64, rows]);
    for (const dtype of ['f32', 'f16', 'bf16', 'q8_0'] as const) {
      const ws = Array.from({ length: copies }, (_, i) => {
        const t = be.alloc(dtype, [rows, cols], `w${i}`, 'none', 'weight'); // the layout the engine loads weights in
        fill(be, t, dtype, rows * cols, i);
        return t;
      });
      // Probe and kernel alternate in every round and the ratio is taken per round: on a shared, noisy machine both
      // see the same neighbours, so the median ratio is far steadier than either figure alone.
      let k = 0;
      const ratios: number[] = [];
      const speeds: number[] = [];
      for (let round = 0; round < REPS; round++) {
        const probe = be.measureReadBandwidth(128 << 20, 3);
        const t = time(() => {
          k = (k + 1) % copies;
          be.matmul(y, ws[k]!, x, 1);
        }, 8);
        const g = (rows * cols * BYTES_PER[dtype]) / t / 1e9;
        speeds.push(g);
        ratios.push(g / probe);
      }
      const gbs = median(speeds);
      const ratio = median(ratios);
      console.log(`matvec ${dtype.padEnd(5)} ${gbs.toFixed(1)} GB/s, median ratio to the probe ${ratio.toFixed(2)}`);
      results.push(`| matvec ${dtype} 4096x4096 | ${threads} | ${gbs.toFixed(1)} GB/s | ${ratio.toFixed(2)} |`);
      if (dtype === 'f32' || dtype === 'f16') {
        const tm = time(() => be.matmul(y, ws[0]!, x, 64), quick ? 3 : 5);
        const gf = (2 * 64 * rows * cols) / tm / 1e9;
        console.log(`matmul ${dtype} n=64: ${gf.toFixed(1)} GFLOP/s`);
        results.push(`| matmul ${dtype} n=64 4096x4096 | ${threads} | ${gf.toFixed(1)} GFLOP/s | |`);
      }
      for (const w of ws) be.free(w);
    }
    const W = be.alloc('f32', [rows, cols]);
    const B = be.alloc('f32', [rows, 16]);
    const A = be.alloc('f32', [16, cols]);
    fill(be, B, 'f32', rows * 16, 3);
    fill(be, A, 'f32', 16 * cols, 4);
    const td = time(() => be.loraDelta(W, B, A, 0.5), quick ? 3 : 7);
    const gfd = (2 * rows * cols * 16) / td / 1e9;
    console.log(`loraDelta r=16 4096x4096: ${gfd.toFixed(1)} GFLOP/s (${(rows * cols * 8 / td / 1e9).toFixed(1)} GB/s of W read+written)`);
    results.push(`| loraDelta r=16 4096x4096 | ${threads} | ${gfd.toFixed(1)} GFLOP/s | |`);
    be.dispose();
    const nat = nativeBaseline(threads);
    if (nat) {
      console.log(`native OpenBLAS (numpy): sgemv ${nat['sgemv_gbs']!.toFixed(1)} GB/s, sgemm n=64 ${nat['sgemm_gflops']!.toFixed(1)} GFLOP/s, delta ${nat['delta_gflops']!.toFixed(1)} GFLOP/s`);
      // The native sgemv runs in another process after the kernels: its ratio is to this section's first probe.
      results.push(`| native numpy/OpenBLAS sgemv / sgemm n=64 / delta | ${threads} | ${nat['sgemv_gbs']!.toFixed(1)} GB/s / ${nat['sgemm_gflops']!.toFixed(1)} / ${nat['delta_gflops']!.toFixed(1)} GFLOP/s | sgemv ${(nat['sgemv_gbs']! / bw).toFixed(2)} |`);
    } else {
      console.log('native baseline: python3 with numpy not available');
    }
  }
  console.log('\n| what | threads | median | ratio to probe |\n|---|---|---|---|');
  for (const r of results) console.log(r);
}

void main().then(() => process.exit(0));
