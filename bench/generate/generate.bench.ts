// Generation benchmark (not a test): a generated LLaMA-shaped model (TinyLlama-1.1B shape by default; weights are
// random, speed does not depend on them) in f16 and quantized to q8_0 on load, prefill and decode tokens/s on 1 and 2
// threads of the WASM backend, decode beside its memory-bandwidth bound (bytes of weights read per token / the
// streaming-read bandwidth measured by the backend's read probe in the same process), and resident memory.
// Each configuration runs in its own child process so RSS is its own.
// Run: npx tsx bench/generate/generate.bench.ts [--shape tinyllama|7b] [--decode 32] [--prefill 64] [--threads 1,2]
//      [--dtypes f16,q8_0] [--dir /tmp/lwb-bench]. The model folder is written once and reused.
//      With --against llama.cpp: our engine beside llama.cpp on the same GGUF files (see againstLlamaCpp.ts).

import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate } from '../../src/core/model/generate';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { NodeFs } from '../../src/node/nodeFs';
import { againstLlamaCpp } from './againstLlamaCpp';
import { arg, makeModel, SHAPES } from './syntheticModel';

interface ChildResult {
  dtype: string;
  threads: number;
  loadS: number;
  prefillTps: number;
  decodeTps: number;
  bytesPerToken: number;
  bandwidthGBs: number;
  rssAfterLoadMB: number;
  rssPeakMB: number;
  weightsMB: number;
  kvMB: number;
  baselineRssMB: number;
}

async function child(dir: string, dtype: string, threads: number, prefill: number, decode: number, context: number): Promise<ChildResult> {
  const baseline = process.memoryUsage().rss;
  const backend = await createWasmBackend({ threads });
  const t0 = performance.now();
  const lm = await loadModel(new NodeFs(), dir, backend, { quantize: dtype === 'q8_0' ? 'q8_0' : null, contextLength: context, prefillBatch: prefill });
  const loadS = (performance.now() - t0) / 1000;
  const rssAfterLoad = process.memoryUsage().rss;
  const c = lm.config;
  // Weights read per decoded token: every linear weight plus lm_head, in the stored format; one embedding row.
  let bytesPerToken = 0;
  for (const [name, t] of lm.model.weights.tensors) {
    if (name === 'model.embed_tokens.weight' || name.endsWith('norm.weight')) continue;
    const count = t.shape.reduce((a, b) => a * b, 1);
    bytesPerToken += dtype === 'q8_0' ? (count / 32) * 34 : t.end - t.begin;
  }
  const ids = Array.from({ length: prefill }, (_, i) => 100 + ((i * 7919) % 30000));
  const out = await generate(lm.model, lm.tokenizer, ids, { maxNewTokens: decode + 1, sampler: new SamplerChain([], greedy()), eosIds: [] });
  const rssAfterRun = process.memoryUsage().rss;
  // The read probe allocates its own 256 MiB buffer: measured after the engine's resident memory was recorded.
  const bw = (backend as unknown as { measureReadBandwidth(bytes: number, reps: number): number }).measureReadBandwidth(256 << 20, 5);
  const kvBytes = 2 * c.numLayers * context * c.numKvHeads * c.headDim * 4;
  const res: ChildResult = {
    dtype, threads, loadS,
    prefillTps: out.timings.prefillTokensPerSecond,
    decodeTps: out.timings.decodeTokensPerSecond,
    bytesPerToken, bandwidthGBs: bw,
    rssAfterLoadMB: rssAfterLoad / 2 ** 20,
    rssPeakMB: Math.max(rssAfterLoad, rssAfterRun) / 2 ** 20,
    weightsMB: lm.model.weightBytes / 2 ** 20 * (dtype === 'q8_0' ? 34 / 64 : 1),
    kvMB: kvBytes / 2 ** 20,
    baselineRssMB: baseline / 2 ** 20,
  };
  backend.dispose();
  return res;
}

async function main(): Promise<void> {
  if (arg('against', '') === 'llama.cpp') return againstLlamaCpp();
  const shapeName = arg('shape', 'tinyllama');
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}`);
  const dir = path.join(arg('dir', path.join(os.tmpdir(), 'lwb-bench')), `${shapeName}-f16`);
  const prefill = Number(arg('prefill', '64'));
  const decode = Number(arg('decode', '32'));
  const context = Number(arg('context', '512'));
  if (process.argv.includes('--child')) {
    const r = await child(dir, arg('dtype', 'f16'), Number(arg('threads', '1')), prefill, decode, context);
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const t0 = Date.now();
  makeModel(dir, shape);
  console.error(`model ${dir} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const rows: ChildResult[] = [];
  for (const dtype of arg('dtypes', 'f16,q8_0').split(',')) {
    for (const threads of arg('threads', '1,2').split(',').map(Number)) {
      const r = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), __filename, '--child', '--shape', shapeName,
        '--dtype', dtype, '--threads', String(threads), '--prefill', String(prefill), '--decode', String(decode),
        '--context', String(context), '--dir', path.dirname(dir)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) {
        console.error(`${dtype} x${threads} failed:\n${r.stderr}`);
        continue;
      }
      const res = JSON.parse(line.slice(7)) as ChildResult;
      rows.push(res);
      console.error(JSON.stringify(res));
    }
  }
  console.log(`| shape | weights | threads | load s | prefill tok/s | decode tok/s | GB/token | read bw GB/s | bound tok/s | decode/bound | RSS MB (weights + KV + rest) |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const bound = (r.bandwidthGBs * 1e9) / r.bytesPerToken;
    console.log(`| ${shapeName} | ${r.dtype} | ${r.threads} | ${r.loadS.toFixed(1)} | ${r.prefillTps.toFixed(1)} | ${r.decodeTps.toFixed(2)} | `
      + `${(r.bytesPerToken / 1e9).toFixed(3)} | ${r.bandwidthGBs.toFixed(1)} | ${bound.toFixed(2)} | ${((100 * r.decodeTps) / bound).toFixed(0)}% | `
      + `${r.rssPeakMB.toFixed(0)} (${r.weightsMB.toFixed(0)} + ${r.kvMB.toFixed(0)} + ${(r.rssPeakMB - r.weightsMB - r.kvMB).toFixed(0)}, of which Node+tsx at start ${r.baselineRssMB.toFixed(0)}) |`);
  }
}

void main();
