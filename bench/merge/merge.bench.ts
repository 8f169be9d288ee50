// Merge benchmark (issue 5): a generated LLaMA-shaped base (TinyLlama-1.1B shape by default; --shape llama7b for the
// 13.5 GB LLaMA-2-7B shape) and an adapter (r on all linear layers + resized embed_tokens/lm_head), merged by the CLI
// against `cp -r` of the same base in the same run (target <= 1.25x) and a torch full-load merge (PEFT-style), with peak
// RSS from /usr/bin/time and the LoRA delta kernel's GFLOP/s. Usage:
//   npx tsx bench/merge/merge.bench.ts [--shape tinyllama|llama7b] [--dtype bf16|f16] [--r 16] [--reps 3] [--no-torch]
//   [--prepare: only generate the base and adapter (slow for llama7b), time nothing]
// Needs `npm run build` first (it times dist/cli.js, the shipped CLI).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeInto } from '../../src/core/merge/convert';
import { planShards, buildShardIndex, tensorBytes, type OutTensorSpec } from '../../src/core/safetensors/writer';
import type { FloatDType } from '../../src/core/tensor/dtype';
import { createBackend } from '../../src/kernels/createBackend.node';

const { values } = parseArgs({ options: {
  shape: { type: 'string', default: 'tinyllama' }, dtype: { type: 'string', default: 'bf16' }, r: { type: 'string', default: '16' },
  reps: { type: 'string', default: '3' }, 'no-torch': { type: 'boolean' }, prepare: { type: 'boolean' },
  settle: { type: 'string', default: '0' },
} });
/**
 * --settle S: wait S seconds after the sync before each contender. On VMs with free page reporting (Firecracker here:
 * page_reporting_order=11), memory freed by deleting the previous output goes back to the host about 2 s later, and
 * writing into page cache then costs a host fault per page (~0.55 GB/s instead of ~7 GB/s). A contender that starts
 * at once and ends within 2 s (cp) reuses the freed pages; a longer one (the merge) does not. Settling gives every
 * contender the same state.
 */
const settleSeconds = Number(values.settle);
const SHAPES = {
  tinyllama: { hidden: 2048, inter: 5632, layers: 22, kv: 256, vocab: 32000 },
  llama7b: { hidden: 4096, inter: 11008, layers: 32, kv: 4096, vocab: 32000 },
} as const;
const shape = SHAPES[values.shape as keyof typeof SHAPES];
if (!shape) throw new Error(`unknown shape ${values.shape}`);
const dtype: FloatDType = values.dtype === 'f16' ? 'F16' : 'BF16';
const r = Number(values.r);
const reps = Number(values.reps);
const TMP = path.resolve(__dirname, '../.tmp/merge');
const baseDir = path.join(TMP, `base-${values.shape}-${values.dtype}`);
const adapterDir = path.join(TMP, `adapter-${values.shape}-r${r}`);
const NEW_VOCAB = shape.vocab + 128;

let seed = 0x9e3779b9;
function fillRandom(f: Float32Array, scale: number): void {
  for (let i = 0; i < f.length; i++) {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    f[i] = ((seed >>> 0) / 4294967296 - 0.5) * scale;
  }
}

function linears(): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  const { hidden: h, inter, kv, layers } = shape;
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    out.push([`${p}self_attn.q_proj`, h, h], [`${p}self_attn.k_proj`, kv, h], [`${p}self_attn.v_proj`, kv, h], [`${p}self_attn.o_proj`, h, h],
      [`${p}mlp.gate_proj`, inter, h], [`${p}mlp.up_proj`, inter, h], [`${p}mlp.down_proj`, h, inter]);
  }
  return out;
}

function writeSafetensors(folder: string, tensors: OutTensorSpec[], shardSize: number, gen: (t: OutTensorSpec) => Uint8Array): void {
  fs.mkdirSync(folder, { recursive: true });
  const shards = planShards(tensors, shardSize, { format: 'pt' });
  for (const s of shards) {
    const fd = fs.openSync(path.join(folder, shards.length === 1 && shardSize > 1e12 ? 'adapter_model.safetensors' : s.file), 'w');
    fs.writeSync(fd, s.header);
    for (const t of s.tensors) fs.writeSync(fd, gen(t));
    fs.closeSync(fd);
  }
  if (!(shards.length === 1 && shardSize > 1e12)) fs.writeFileSync(path.join(folder, 'model.safetensors.index.json'), buildShardIndex(shards));
}

function randomTensor(t: OutTensorSpec, scale: number): Uint8Array {
  const n = tensorBytes(t) / (t.dtype === 'F32' ? 4 : 2);
  const f = new Float32Array(n);
  fillRandom(f, scale);
  if (t.dtype === 'F32') return new Uint8Array(f.buffer);
  const out = new Uint8Array(n * 2);
  encodeInto(f, n, t.dtype as FloatDType, out);
  return out;
}

function generate(): void {
  if (!fs.existsSync(path.join(baseDir, 'model.safetensors.index.json'))) {
    const t0 = Date.now();
    const { hidden: h, layers, vocab } = shape;
    const tensors: OutTensorSpec[] = [{ name: 'model.embed_tokens.weight', dtype, shape: [vocab, h] }];
    for (let i = 0; i < layers; i++) tensors.push({ name: `model.layers.${i}.input_layernorm.weight`, dtype, shape: [h] }, { name: `model.layers.${i}.post_attention_layernorm.weight`, dtype, shape: [h] });
    for (const [m, o, n] of linears()) tensors.push({ name: `${m}.weight`, dtype, shape: [o, n] });
    tensors.push({ name: 'model.norm.weight', dtype, shape: [h] }, { name: 'lm_head.weight', dtype, shape: [vocab, h] });
    writeSafetensors(baseDir, tensors, 2e9, (t) => randomTensor(t, 0.04));
    fs.writeFileSync(path.join(baseDir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: h, intermediate_size: shape.inter, num_hidden_layers: layers, num_attention_heads: 32, num_key_value_heads: (32 * shape.kv) / h, vocab_size: vocab, torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float16', tie_word_embeddings: false }, null, 2));
    console.log(`generated base ${baseDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (!fs.existsSync(path.join(adapterDir, 'adapter_model.safetensors'))) {
    const P = 'base_model.model.';
    const tensors: OutTensorSpec[] = [];
    for (const [m, o, n] of linears()) tensors.push({ name: `${P}${m}.lora_A.weight`, dtype: 'F32', shape: [r, n] }, { name: `${P}${m}.lora_B.weight`, dtype: 'F32', shape: [o, r] });
    tensors.push({ name: `${P}model.embed_tokens.weight`, dtype: 'F32', shape: [NEW_VOCAB, shape.hidden] }, { name: `${P}lm_head.weight`, dtype: 'F32', shape: [NEW_VOCAB, shape.hidden] });
    writeSafetensors(adapterDir, tensors, 1e15, (t) => randomTensor(t, 0.02));
    fs.writeFileSync(path.join(adapterDir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: 2 * r, target_modules: 'all-linear', modules_to_save: ['embed_tokens', 'lm_head'] }, null, 2));
  }
}

function du(p: string): number {
  return Number(execFileSync('du', ['-sb', p]).toString().split('\t')[0]);
}

/**
 * Wall seconds and peak RSS (bytes) of a command, from GNU time. Every contender starts from the same page-cache state:
 * `sync` first, so none is throttled by dirty pages the previous one left behind (writes then run at page-cache speed
 * for all of them; the flush to the disk afterwards is nobody's time).
 */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; rss: number; stdout: string } {
  execFileSync('sync');
  if (settleSeconds > 0) execFileSync('sleep', [String(settleSeconds)]);
  const fmtFile = path.join(TMP, 'time.txt');
  const stdout = execFileSync('/usr/bin/time', ['-f', '%e %M', '-o', fmtFile, cmd, ...args], { maxBuffer: 1 << 26, env }).toString();
  const [e, m] = fs.readFileSync(fmtFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
  return { seconds: e!, rss: m! * 1024, stdout };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function kernelGflops(): Promise<{ name: string; gflops: number }> {
  const backend = await createBackend({ backend: 'wasm' });
  const rows = shape.inter, cols = shape.hidden;
  const w = backend.alloc('f32', [rows, cols]);
  const b = backend.alloc('f32', [rows, r]);
  const a = backend.alloc('f32', [r, cols]);
  backend.loraDelta(w, b, a, 1);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    backend.loraDelta(w, b, a, 1);
    times.push((performance.now() - t0) / 1000);
  }
  const name = backend.info.detail;
  backend.dispose();
  return { name, gflops: (2 * r * rows * cols) / median(times) / 1e9 };
}

async function main(): Promise<void> {
  fs.mkdirSync(TMP, { recursive: true });
  generate();
  if (values.prepare) return;
  const baseBytes = du(baseDir);
  const cli = path.resolve(__dirname, '../../dist/cli.js');
  const flops = linears().reduce((s, [, o, n]) => s + 2 * r * o * n, 0);
  const rows: Record<string, number[]> = { cp: [], dd: [], merge: [], mergeBuffered: [], mergeVerify: [], mergeRss: [], torch: [], torchRss: [] };
  // Warm the page cache once so every contender reads from it.
  execFileSync('cat', [...fs.readdirSync(baseDir).map((f) => path.join(baseDir, f))], { stdio: 'ignore', maxBuffer: 1 << 30 });
  for (let i = 0; i < reps; i++) {
    const cpOut = path.join(TMP, 'cp-out');
    fs.rmSync(cpOut, { recursive: true, force: true });
    rows.cp!.push(timed('cp', ['-r', baseDir, cpOut]).seconds);
    fs.rmSync(cpOut, { recursive: true, force: true });
    // Second baseline: the same bytes read and written through user memory (dd, 8 MiB blocks), as any program that
    // computes its output must. cp -r copies inside the kernel (copy_file_range) and never does; on this VM kind the
    // user <-> kernel copies cost several times more at times (see bench/RESULTS.md, "Session 3").
    fs.mkdirSync(cpOut);
    const files = fs.readdirSync(baseDir);
    rows.dd!.push(timed('sh', ['-c', files.map((f) => `dd if='${path.join(baseDir, f)}' of='${path.join(cpOut, f)}' bs=8M status=none`).join(' && ')]).seconds);
    fs.rmSync(cpOut, { recursive: true, force: true });
    // The shipped default (O_DIRECT shards where the filesystem takes them), the same through the page cache, and
    // the default with verification.
    for (const mode of ['direct', 'buffered', 'verify'] as const) {
      const out = path.join(TMP, 'merge-out');
      fs.rmSync(out, { recursive: true, force: true });
      const env = mode === 'buffered' ? { ...process.env, LORA_WORKBENCH_BUFFERED_WRITES: '1' } : process.env;
      const res = timed(process.execPath, [cli, 'merge', adapterDir, '--base', baseDir, '--out', out, '--json', ...(mode === 'verify' ? [] : ['--no-verify'])], env);
      (mode === 'verify' ? rows.mergeVerify! : mode === 'buffered' ? rows.mergeBuffered! : rows.merge!).push(res.seconds);
      if (mode === 'direct') rows.mergeRss!.push(res.rss);
      fs.rmSync(out, { recursive: true, force: true });
    }
    // The torch full-load merge is minutes per run on this shared 2-core machine: timed in the first repetition only.
    if (!values['no-torch'] && i === 0) {
      const out = path.join(TMP, 'torch-out');
      fs.rmSync(out, { recursive: true, force: true });
      const res = timed('/usr/bin/python3', [path.join(__dirname, 'torch_merge.py'), baseDir, adapterDir, out]);
      rows.torch!.push(res.seconds);
      rows.torchRss!.push(res.rss);
      fs.rmSync(out, { recursive: true, force: true });
    }
    console.log(`rep ${i + 1}: cp ${rows.cp!.at(-1)} s, dd ${rows.dd!.at(-1)} s, merge ${rows.merge!.at(-1)} s (buffered ${rows.mergeBuffered!.at(-1)} s, verify ${rows.mergeVerify!.at(-1)} s), torch ${rows.torch!.at(-1) ?? '-'} s`);
  }
  const k = await kernelGflops();
  const largestF32 = shape.vocab * shape.hidden * 4 * (NEW_VOCAB / shape.vocab);
  const m = median(rows.merge!);
  console.log(`\n## Merge: ${values.shape} ${dtype}, r=${r} all-linear + resized embed/lm_head (${(baseBytes / 1e9).toFixed(2)} GB base), ${reps} reps, medians${settleSeconds ? `, each contender started ${settleSeconds} s after the sync (--settle)` : ''}`);
  console.log(`| contender | wall s | vs cp -r | peak RSS |`);
  console.log(`|---|---|---|---|`);
  console.log(`| cp -r (baseline) | ${median(rows.cp!).toFixed(2)} | 1.00x | - |`);
  console.log(`| dd bs=8M per file (user-space copy) | ${median(rows.dd!).toFixed(2)} | ${(median(rows.dd!) / median(rows.cp!)).toFixed(2)}x | - |`);
  console.log(`| lora-workbench merge --no-verify | ${m.toFixed(2)} | ${(m / median(rows.cp!)).toFixed(2)}x (${(m / median(rows.dd!)).toFixed(2)}x dd) | ${(median(rows.mergeRss!) / 2 ** 20).toFixed(0)} MiB |`);
  const mb = median(rows.mergeBuffered!);
  console.log(`| lora-workbench merge --no-verify, buffered writes | ${mb.toFixed(2)} | ${(mb / median(rows.cp!)).toFixed(2)}x (${(mb / median(rows.dd!)).toFixed(2)}x dd) | - |`);
  console.log(`| lora-workbench merge (verify) | ${median(rows.mergeVerify!).toFixed(2)} | ${(median(rows.mergeVerify!) / median(rows.cp!)).toFixed(2)}x | - |`);
  if (rows.torch!.length) console.log(`| torch full-load merge (PEFT-style) | ${median(rows.torch!).toFixed(2)} | ${(median(rows.torch!) / median(rows.cp!)).toFixed(2)}x | ${(median(rows.torchRss!) / 2 ** 20).toFixed(0)} MiB |`);
  console.log(`\nlargest tensor in f32 (resized lm_head): ${(largestF32 / 2 ** 20).toFixed(0)} MiB; memory target 2x = ${(2 * largestF32 / 2 ** 20).toFixed(0)} MiB + constant`);
  console.log(`delta: ${(flops / 1e9).toFixed(1)} GFLOP in the merge; end-to-end ${(flops / m / 1e9).toFixed(1)} GFLOP/s over the whole merge; kernel alone ${k.gflops.toFixed(1)} GFLOP/s (${k.name}, ${shape.inter}x${shape.hidden}, r=${r})`);
  // Bases are kept in bench/.tmp/merge between runs (generation is slow); delete the folder to reclaim the disk.
}

void main();
