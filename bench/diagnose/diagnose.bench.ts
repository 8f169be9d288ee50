// Base-model diagnosis benchmark (not a test): diagnoseAdapter against a generated LLaMA-7B-shaped base (2 safetensors
// shards, 291 tensors, F16, data sections are sparse holes - only headers are ever read) with an all-linear r=16 adapter
// (448 LoRA tensors), beside the named baseline "headers only": reading the base's index + shard headers and the
// adapter's header, which any header-based check must do. Run: npx tsx bench/diagnose/diagnose.bench.ts [--quick]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagnoseAdapter } from '../../src/core/basemodel/diagnose';
import { BaseModelCache } from '../../src/core/basemodel/inspect';
import { readSafetensorsHeader } from '../../src/core/safetensors/header';
import { readModelWeights } from '../../src/core/safetensors/modelWeights';
import { makeAdapter, makeBase, testFs, type LlamaShape } from '../../test/fixtures/diagnose/build';

const quick = process.argv.includes('--quick');
const REPS = quick ? 7 : 21;
const LLAMA_7B: LlamaShape = { layers: 32, hidden: 4096, intermediate: 11008, vocab: 32000, heads: 32, kvHeads: 32 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Interleaved rounds (A, B, C, A, B, C, ...) so load changes on a shared machine hit every variant alike. */
async function timeAll(fns: Record<string, () => Promise<unknown>>): Promise<Record<string, number>> {
  const names = Object.keys(fns);
  for (const n of names) {
    await fns[n]!(); // warm-up: OS page cache and JIT
    await fns[n]!();
  }
  const ts: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < REPS; i++) {
    for (const n of names) {
      const t0 = process.hrtime.bigint();
      await fns[n]!();
      ts[n]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(ts[n]!)]));
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '../.tmp/diagnose');
  fs.rmSync(root, { recursive: true, force: true });
  const ws = path.join(root, 'ws');
  const base = makeBase(path.join(ws, 'models/llama-2-7b'), LLAMA_7B, { shards: 2 });
  const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  const good = makeAdapter(path.join(ws, 'runs/r/checkpoint-1000'), { base, r: 16, targets, shape: LLAMA_7B });
  const broken = makeAdapter(path.join(ws, 'runs/colab/checkpoint-1000'), { base: '/content/drive/MyDrive/llama-2-7b', r: 16, targets, shape: LLAMA_7B });
  const f = testFs(path.join(root, 'home'));
  const apparent = fs.readdirSync(base).filter((n) => n.endsWith('.safetensors')).reduce((s, n) => s + fs.statSync(path.join(base, n)).size, 0);

  const shared = new BaseModelCache();
  const t = await timeAll({
    headersOnly: async () => {
      await readModelWeights(f, base);
      const src = await f.open(path.join(good, 'adapter_model.safetensors'));
      try {
        await readSafetensorsHeader(src);
      } finally {
        await src.close();
      }
    },
    diagFresh: () => diagnoseAdapter(f, good, { workspaceFolders: [ws], cache: new BaseModelCache() }),
    diagCached: () => diagnoseAdapter(f, good, { workspaceFolders: [ws], cache: shared }),
    brokenFresh: () => diagnoseAdapter(f, broken, { workspaceFolders: [ws], cache: new BaseModelCache() }),
  });
  const { headersOnly, diagFresh, diagCached, brokenFresh } = t as Record<'headersOnly' | 'diagFresh' | 'diagCached' | 'brokenFresh', number>;
  const check = await diagnoseAdapter(f, good, { workspaceFolders: [ws] });
  const checkBroken = await diagnoseAdapter(f, broken, { workspaceFolders: [ws] });
  if (check.compatible !== true || check.compat?.matched !== 448) throw new Error(`unexpected diagnosis: ${JSON.stringify(check.problems)}`);
  if (checkBroken.base.candidates[0]?.path !== base) throw new Error('the broken adapter should find the base as a candidate');

  const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;
  console.log(`base: LLaMA-7B shape, 2 shards, ${check.base.info?.weights?.tensors.size} tensors, ${(apparent / 2 ** 30).toFixed(1)} GiB apparent (sparse); adapter: ${check.compat.total} tensors`);
  console.log(`median of ${REPS} interleaved warm runs (OS cache warm):`);
  console.log(`  baseline  headers only (base index + 2 shard headers + adapter header)  ${fmt(headersOnly)}`);
  console.log(`  diagnose  fresh header cache (CLI-like)                                 ${fmt(diagFresh)}   ratio ${(diagFresh / headersOnly).toFixed(2)}x`);
  console.log(`  diagnose  shared header cache (editor re-diagnosis)                     ${fmt(diagCached)}   ratio ${(diagCached / headersOnly).toFixed(2)}x`);
  console.log(`  diagnose  broken Colab path + candidate search in the workspace         ${fmt(brokenFresh)}   ratio ${(brokenFresh / headersOnly).toFixed(2)}x`);
  console.log(`target: diagnose < 50 ms warm: ${diagFresh < 50 ? 'met' : 'NOT met'}`);
  fs.rmSync(root, { recursive: true, force: true });
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
