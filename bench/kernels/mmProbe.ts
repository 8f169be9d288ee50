// Prefill matmul GFLOP/s per dtype and thread count on a TinyLlama-sized weight (5632x2048, n = 256 rows of x),
// beside the WASM f32 multiply-add peak of the same threads (fma_peak: independent accumulators, no memory traffic):
// the roofline a 128-bit SIMD GEMM can reach; the q8_0 GEMM (i16 dot products) beside dot_peak, its own instruction's
// peak (8 multiply-adds per i32x4.dot_i16x8_s). Run: npx tsx bench/kernels/mmProbe.ts [--n 256] [--threads 1,2]
import type { BTensor, WeightDType } from '../../src/core/backend';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { encodeFromF32 } from '../../src/core/tensor/dtype';
import { createWasmBackend } from '../../src/kernels/createBackend.node';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const n = Number(arg('n', '256'));
  const rows = Number(arg('rows', '5632')), cols = Number(arg('cols', '2048'));
  const dtypes = arg('dtypes', 'f32,f16,q8_0').split(',') as WeightDType[];
  for (const threads of arg('threads', '1,2').split(',').map(Number)) {
    const be = await createWasmBackend({ threads });
    const peak = be.fmaPeakGflops();
    const dotPeak = be.dotPeakGops();
    console.log(`threads ${threads}: ${be.info.detail} f32 multiply-add peak ${peak.toFixed(1)} GFLOP/s, i16 dot-product peak ${dotPeak.toFixed(1)} GOP/s`);
    const vals = new Float32Array(rows * cols);
    for (let i = 0; i < vals.length; i++) vals[i] = Math.sin(i * 0.37) * 0.05;
    const xv = new Float32Array(n * cols);
    for (let i = 0; i < xv.length; i++) xv[i] = Math.cos(i * 0.11);
    const x = be.alloc('f32', [n, cols]);
    be.write(x, new Uint8Array(xv.buffer));
    const y = be.alloc('f32', [n, rows]);
    for (const dtype of dtypes) {
      const w: BTensor = be.alloc(dtype, [rows, cols], 'w', 'zero', 'weight');
      const bytes = dtype === 'f32' ? new Uint8Array(vals.buffer) : dtype === 'q8_0' ? quantizeQ8_0(vals) : encodeFromF32(vals, dtype === 'f16' ? 'F16' : 'BF16');
      be.write(w, bytes);
      be.matmul(y, w, x, n);
      const ts: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = process.hrtime.bigint();
        be.matmul(y, w, x, n);
        ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      const gf = (2 * n * rows * cols) / median(ts) / 1e9;
      const roof = dtype === 'q8_0' ? dotPeak : peak;
      console.log(`  matmul ${dtype} [${rows}x${cols}] n=${n}: ${gf.toFixed(1)} GFLOP/s = ${(gf / roof * 100).toFixed(0)}% of the ${dtype === 'q8_0' ? 'dot-product' : 'f32 multiply-add'} peak`);
      be.free(w);
    }
    be.dispose();
  }
}
void main();
