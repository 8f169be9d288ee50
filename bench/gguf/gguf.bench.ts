// GGUF export benchmark (not a test): a TinyLlama-shaped f16 base + an r=16 all-linear LoRA adapter to q4_k_m and
// q8_0, each in one pass of `lora-workbench gguf <adapter> --base <model>`, beside what a user does today with
// llama.cpp: convert_hf_to_gguf.py --outtype f16 of the merged model, then llama-quantize (native build, 2 threads),
// wall time and peak RSS of each step measured by /usr/bin/time in the same run. The PEFT merge that llama.cpp's path
// also needs is not counted for it (it needs the whole model in RAM and a Python with transformers + peft, not here);
// our merge is inside our time. With --check, our full-model form on the same merged f16 folder
// (`lora-workbench gguf <merged> --type T`) is compared byte for byte with llama.cpp's file.
// The memory bound of the issue: peak RSS <= 2 x the largest fp32 tensor + 256 MB.
// Run (after npm run build; needs /usr/bin/python3 with torch, numpy, sentencepiece):
//   npx tsx bench/gguf/gguf.bench.ts [--shape tinyllama|tiny] [--types q4_k_m,q8_0] [--dir /tmp/lwb-bench] [--check]

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, makeLoraAdapter, makeModel, SHAPES, type Shape } from '../generate/syntheticModel';

const repo = path.resolve(__dirname, '..', '..');
const cli = path.join(repo, 'dist', 'cli.js');

interface Measured {
  seconds: number;
  peakRssMB: number;
}

/** Wall time and peak RSS of one command, from GNU time's own report (so a child's memory counts too). */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measured {
  const report = path.join(os.tmpdir(), `lwb-time-${process.pid}.txt`);
  execFileSync('/usr/bin/time', ['-f', '%e %M', '-o', report, cmd, ...args], { stdio: 'ignore', env });
  const [seconds, kb] = fs.readFileSync(report, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(report, { force: true });
  return { seconds: seconds!, peakRssMB: kb! / 1024 };
}

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The largest weight of the shape in f32: the memory bound's unit. */
function largestF32MB(s: Shape): number {
  return (Math.max(s.vocab * s.hidden, s.intermediate * s.hidden) * 4) / 2 ** 20;
}

async function llamaTools(): Promise<{ quantize: string; convert: (model: string, out: string) => string[]; env: NodeJS.ProcessEnv; release: string }> {
  const mod = (await import(path.join(repo, 'scripts', 'dev', 'llamaCpp.mjs'))) as {
    buildNative(): { quantize: string }; converterEnv(): NodeJS.ProcessEnv; llamaDir: string; python: string; releaseName(): string;
  };
  const { quantize } = mod.buildNative();
  const script = path.join(mod.llamaDir, 'convert_hf_to_gguf.py');
  return { quantize, convert: (model, out) => [mod.python, script, model, '--outtype', 'f16', '--outfile', out], env: mod.converterEnv(), release: mod.releaseName() };
}

/** Our full-model export of the same merged folder, byte for byte against llama.cpp's file. */
function identical(merged: string, type: string, theirs: string, work: string): string {
  const file = path.join(work, `ours-merged-${type}.gguf`);
  execFileSync(process.execPath, [cli, 'gguf', merged, '--out', file, '--type', type], { stdio: ['ignore', 'ignore', 'inherit'] });
  const same = sha256(file) === sha256(theirs);
  fs.rmSync(file, { force: true });
  return same ? 'yes' : 'NO';
}

async function main(): Promise<void> {
  const shapeName = arg('shape', 'tinyllama');
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}`);
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build first');
  const root = arg('dir', path.join(os.tmpdir(), 'lwb-bench'));
  const model = path.join(root, `${shapeName}-f16`);
  const adapter = path.join(root, `${shapeName}-lora-r16`);
  makeModel(model, shape);
  makeLoraAdapter(adapter, shape, 16);
  const tools = await llamaTools();
  const work = fs.mkdtempSync(path.join(root, 'gguf-bench-'));
  try {
    // llama.cpp's path starts from the merged model (f16 safetensors), made here by our exact merge (not timed).
    const merged = path.join(work, 'merged');
    execFileSync(process.execPath, [cli, 'merge', adapter, '--base', model, '--out', merged, '--dtype', 'float16'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const f16 = path.join(work, 'theirs-f16.gguf');
    const [py, ...pyArgs] = tools.convert(merged, f16);
    const convert = timed(py!, pyArgs, tools.env);
    const bound = 2 * largestF32MB(shape) + 256;
    console.log(`\n${shapeName} + LoRA r=16 (all linear), ${tools.release}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the start; memory bound ${bound.toFixed(0)} MB`);
    console.log('| type | ours s | ours peak RSS MB | convert_hf_to_gguf f16 s / MB | llama-quantize s / MB | theirs total s | ratio (ours / theirs) | within memory bound | identical |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---|---|');
    for (const type of arg('types', 'q4_k_m,q8_0').split(',')) {
      const ours = path.join(work, `ours-${type}.gguf`);
      const o = timed(process.execPath, [cli, 'gguf', adapter, '--base', model, '--out', ours, '--type', type]);
      const theirs = path.join(work, `theirs-${type}.gguf`);
      const q = timed(tools.quantize, [f16, theirs, type, '2']);
      const total = convert.seconds + q.seconds;
      const same = process.argv.includes('--check') ? identical(merged, type, theirs, work) : '-';
      console.log(`| ${type} | ${o.seconds.toFixed(1)} | ${o.peakRssMB.toFixed(0)} | ${convert.seconds.toFixed(1)} / ${convert.peakRssMB.toFixed(0)} | `
        + `${q.seconds.toFixed(1)} / ${q.peakRssMB.toFixed(0)} | ${total.toFixed(1)} | ${(o.seconds / total).toFixed(2)}x | ${o.peakRssMB <= bound ? 'yes' : 'NO'} | ${same} |`);
      fs.rmSync(ours, { force: true });
      fs.rmSync(theirs, { force: true });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

void main();
