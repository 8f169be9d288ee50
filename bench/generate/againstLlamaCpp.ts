// Our engine beside llama.cpp on the same GGUF files, in one run (issue 17's table). Not a test.
//
// The synthetic model (bench/generate/syntheticModel.ts) is exported to GGUF by our CLI (`gguf --type T`, byte-identical
// to convert_hf_to_gguf.py + llama-quantize per the goldens), then both engines read those files:
//   - llama.cpp: llama-bench (-p prefill -n decode -t threads -r reps), built natively from the release bundled in the
//     npm package node-llama-cpp by scripts/dev/llamaCpp.mjs into a cache folder outside the repository;
//   - ours: the engine's own load of a .gguf (Q4_0/Q4_K tensors as q4, other quantized types as q8_0), prefill of a
//     `prefill`-token prompt, decode of `decode` tokens, each the median of `reps` runs in one child process per file, plus the time to
//     first token of a fresh `prefill`-token prompt on a loaded model (the preview's path without the worker hop) and,
//     with --lora, decode with an r=16 all-linear LoRA applied on the fly.
// Run (after npm run build):
//   npx tsx bench/generate/generate.bench.ts --against llama.cpp [--shape tinyllama|7b] [--types f16,q8_0,q4_0,q4_k_m]
//     [--threads 2] [--prefill 256] [--decode 64] [--reps 3] [--dir /tmp/lwb-bench]

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ggufFolderFs } from '../../src/core/gguf/ggufFolder';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { NodeFs } from '../../src/node/nodeFs';
import { arg, makeLoraAdapter, makeModel, SHAPES } from './syntheticModel';

const repo = path.resolve(__dirname, '..', '..');

interface Ours {
  type: string;
  loadS: number;
  prefillTps: number;
  decodeTps: number;
  ttftMs: number;
  loraDecodeTps: number | null;
  /** Median over alternating pairs of (decode time with the adapter) / (without). */
  loraTimeRatio: number | null;
}

interface Theirs {
  prefillTps: number;
  decodeTps: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const promptIds = (n: number, salt: number): number[] => Array.from({ length: n }, (_, i) => 100 + ((i * 7919 + salt * 104729) % 30000));

/** One GGUF file in this process: load as the engine does, then prefill, decode, TTFT and (optionally) LoRA decode. */
async function oursChild(file: string, threads: number, prefill: number, decode: number, reps: number, loraDir: string | null): Promise<Ours> {
  const nodeFs = new NodeFs();
  const view = await ggufFolderFs(nodeFs, file);
  const backend = await createWasmBackend({ threads });
  const t0 = performance.now();
  const lm = await loadModel(view, file, backend, { quantize: view.loadAsQ8 ? 'q8_0' : null, blocks: view, contextLength: Math.max(512, prefill + decode + 8) });
  const loadS = (performance.now() - t0) / 1000;
  const sampler = new SamplerChain([], greedy());
  const run = (ids: number[], n: number) => generate(lm.model, lm.tokenizer, ids, { maxNewTokens: n, sampler, eosIds: [], reusePromptCache: false });
  await run(promptIds(16, 0), 4); // warm-up: first touches of every weight page and kernel compilation
  const pre: number[] = [];
  const ttft: number[] = [];
  const dec: number[] = [];
  for (let r = 0; r < reps; r++) {
    const out = await run(promptIds(prefill, r + 1), 1);
    pre.push(out.timings.prefillTokensPerSecond);
    ttft.push(out.timings.firstTokenMs);
    dec.push((await run(promptIds(1, r), decode + 1)).timings.decodeTokensPerSecond);
  }
  let loraDecodeTps: number | null = null;
  let loraTimeRatio: number | null = null;
  if (loraDir) {
    const adapter = await loadAdapter(view, backend, loraDir, lm.model.weights.tensors);
    // Adapter on and off in alternation, so both sides of each pair see the same machine (this VM drifts by 30%).
    const ld: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < Math.max(reps, 5); r++) {
      await lm.model.setAdapters([]);
      const off = (await run(promptIds(1, r), decode + 1)).timings.decodeTokensPerSecond;
      await lm.model.setAdapters([{ adapter, scale: 1 }]);
      const on = (await run(promptIds(1, r), decode + 1)).timings.decodeTokensPerSecond;
      ld.push(on);
      ratios.push(off / on);
    }
    loraDecodeTps = median(ld);
    loraTimeRatio = median(ratios);
  }
  backend.dispose();
  return { type: path.basename(file, '.gguf').replace(/^model-/, ''), loadS, prefillTps: median(pre), decodeTps: median(dec), ttftMs: median(ttft), loraDecodeTps, loraTimeRatio };
}

/** llama-bench's JSON: one record for the prompt test, one for the generation test. */
function theirs(bench: string, file: string, threads: number, prefill: number, decode: number, reps: number): Theirs {
  const out = execFileSync(bench, ['-m', file, '-p', String(prefill), '-n', String(decode), '-t', String(threads), '-r', String(reps), '-o', 'json'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 });
  const rows = JSON.parse(out) as Array<{ n_prompt: number; n_gen: number; avg_ts: number }>;
  const pp = rows.find((r) => r.n_prompt > 0 && r.n_gen === 0);
  const tg = rows.find((r) => r.n_gen > 0 && r.n_prompt === 0);
  if (!pp || !tg) throw new Error(`llama-bench printed no pp/tg rows for ${file}`);
  return { prefillTps: pp.avg_ts, decodeTps: tg.avg_ts };
}

function exportGguf(model: string, type: string, file: string): void {
  if (fs.existsSync(file)) return;
  const cli = path.join(repo, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build first');
  execFileSync(process.execPath, [cli, 'gguf', model, '--out', file, '--type', type], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function llamaBenchPath(): Promise<string> {
  const mod = (await import(path.join(repo, 'scripts', 'dev', 'llamaCpp.mjs'))) as { buildNative(): { bench: string }; releaseName(): string };
  const { bench } = mod.buildNative();
  console.error(`llama.cpp: ${mod.releaseName()}, ${bench}`);
  return bench;
}

const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

function printTable(shapeName: string, threads: number, prefill: number, decode: number, rows: Array<{ ours: Ours; theirs: Theirs }>): void {
  console.log(`\n${shapeName}, ${threads} threads, prefill ${prefill} tokens, decode ${decode} tokens; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`);
  console.log('| file | prefill ours | llama.cpp | ratio | decode ours | llama.cpp | ratio | TTFT ours (ms) | LoRA r=16 decode | time vs no LoRA (paired) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { ours: o, theirs: t } of rows) {
    const lora = o.loraDecodeTps === null || o.loraTimeRatio === null ? '- | -' : `${o.loraDecodeTps.toFixed(2)} | ${o.loraTimeRatio.toFixed(3)}x`;
    console.log(`| ${o.type} | ${o.prefillTps.toFixed(1)} | ${t.prefillTps.toFixed(1)} | ${ratio(o.prefillTps, t.prefillTps)} | `
      + `${o.decodeTps.toFixed(2)} | ${t.decodeTps.toFixed(2)} | ${ratio(o.decodeTps, t.decodeTps)} | ${o.ttftMs.toFixed(0)} | ${lora} |`);
  }
}

export async function againstLlamaCpp(): Promise<void> {
  const shapeName = arg('shape', 'tinyllama');
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}`);
  const root = arg('dir', path.join(os.tmpdir(), 'lwb-bench'));
  const model = path.join(root, `${shapeName}-f16`);
  const threads = Number(arg('threads', '2'));
  const prefill = Number(arg('prefill', '256'));
  const decode = Number(arg('decode', '64'));
  const reps = Number(arg('reps', '3'));
  const lora = !process.argv.includes('--no-lora');
  if (process.argv.includes('--child')) {
    const r = await oursChild(arg('file', ''), threads, prefill, decode, reps, lora ? path.join(model, 'lora-r16') : null);
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const bench = await llamaBenchPath();
  makeModel(model, shape);
  if (lora) makeLoraAdapter(path.join(model, 'lora-r16'), shape, 16);
  const rows: Array<{ ours: Ours; theirs: Theirs }> = [];
  for (const type of arg('types', 'f16,q8_0,q4_0,q4_k_m').split(',')) {
    const file = path.join(root, `${shapeName}-gguf`, `model-${type}.gguf`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    exportGguf(model, type, file);
    const t = theirs(bench, file, threads, prefill, decode, reps);
    const child = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'generate.bench.ts'), '--against', 'llama.cpp',
      '--child', '--file', file, '--shape', shapeName, '--threads', String(threads), '--prefill', String(prefill), '--decode', String(decode),
      '--reps', String(reps), '--dir', root, ...(lora && (type === 'f16' || type === 'q8_0') ? [] : ['--no-lora'])], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) {
      console.error(`${type}: our run failed:\n${child.stderr}`);
      continue;
    }
    const o = JSON.parse(line.slice(7)) as Ours;
    console.error(JSON.stringify({ ours: o, theirs: t }));
    rows.push({ ours: o, theirs: t });
  }
  printTable(shapeName, threads, prefill, decode, rows);
}
