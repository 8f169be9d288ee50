#!/usr/bin/env node
// Dev-only: goldens for the GGUF export made by llama.cpp itself. Builds llama.cpp's llama-quantize from the release
// that the npm package node-llama-cpp bundles (llama/gitRelease.bundle), in a cache folder outside the repository,
// runs its convert_hf_to_gguf.py (with a few-line stand-in for transformers' AutoConfig and tqdm) and llama-quantize on
// our tiny models, and commits only a description of each file: size, sha256, metadata (arrays as count + sha256),
// tensor table with per-tensor data sha256. Never commits llama.cpp code or binaries.
//
//   node scripts/dev/golden_gguf.mjs            (needs: npm, git, cmake, a C++ compiler, /usr/bin/python3 with torch,
//                                                numpy, sentencepiece; LLAMA_CACHE overrides the cache folder)

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPortable, converterEnv, convertHf, llamaDir, python, releaseName, run } from './llamaCpp.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(repo, 'test/fixtures/gguf');
const convert = (model, outtype, out) => convertHf(model, outtype, out);

// ---- describing a GGUF file (a self-contained reader: the goldens must not depend on the code they test) ----------

const sha = (b) => createHash('sha256').update(b).digest('hex');
/** Per-tensor and per-array digests: the first 64 bits of sha256 (the whole file keeps the full digest). */
const sha16 = (b) => sha(b).slice(0, 16);
const VALUE = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];
const SIZE = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };
const GGML = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 30: 'BF16' };
const BLOCK = { F32: [1, 4], F16: [1, 2], BF16: [1, 2], Q4_0: [32, 18], Q5_0: [32, 22], Q5_1: [32, 24], Q8_0: [32, 34], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210] };

export function describeGguf(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const u32 = () => { const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = () => { const v = Number(dv.getBigUint64(p, true)); p += 8; return v; };
  const str = () => { const n = u64(); const s = buf.subarray(p, p + n).toString('utf8'); p += n; return s; };
  const scalar = (t) => {
    if (t === 'string') return str();
    const at = p; p += SIZE[t];
    switch (t) {
      case 'u8': return dv.getUint8(at); case 'i8': return dv.getInt8(at); case 'u16': return dv.getUint16(at, true);
      case 'i16': return dv.getInt16(at, true); case 'u32': return dv.getUint32(at, true); case 'i32': return dv.getInt32(at, true);
      case 'f32': return dv.getFloat32(at, true); case 'f64': return dv.getFloat64(at, true); case 'bool': return dv.getUint8(at) === 1;
      default: return String(dv.getBigUint64(at, true));
    }
  };
  if (u32() !== 0x46554747) throw new Error('not GGUF');
  const version = u32();
  const nT = u64();
  const nKv = u64();
  const kvs = [];
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = VALUE[u32()];
    if (type !== 'array') { kvs.push({ key, type, value: scalar(type) }); continue; }
    const item = VALUE[u32()];
    const n = u64();
    const start = p;
    for (let j = 0; j < n; j++) scalar(item);
    kvs.push({ key, type: `array:${item}`, count: n, sha256: sha16(buf.subarray(start, p)) });
  }
  const infos = [];
  for (let i = 0; i < nT; i++) {
    const name = str();
    const nd = u32();
    const ne = Array.from({ length: nd }, () => u64());
    infos.push({ name, ne, type: GGML[u32()] ?? 'unknown', offset: u64() });
  }
  const align = kvs.find((k) => k.key === 'general.alignment')?.value ?? 32;
  const dataStart = Math.ceil(p / align) * align;
  const tensors = infos.map((t) => {
    const [bs, ts] = BLOCK[t.type];
    const size = (t.ne.reduce((a, b) => a * b, 1) / bs) * ts;
    const at = dataStart + t.offset;
    return { ...t, sha256: sha16(buf.subarray(at, at + size)) };
  });
  return { version, size: buf.length, sha256: sha(buf), kvs, tensors };
}

// ---- main ---------------------------------------------------------------------------------------------------------

const TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q5_0', 'q4_k_m', 'q5_k_m', 'q6_k'];

function goldensFor(model, work, quantize) {
  const out = {};
  const f32 = path.join(work, 'f32.gguf');
  convert(model, 'f32', f32);
  for (const t of TYPES) {
    const file = path.join(work, `${t}.gguf`);
    if (t === 'f16' || t === 'bf16') convert(model, t, file);
    else if (t !== 'f32') run(quantize, [f32, file, t, '1'], { stdio: 'ignore' });
    out[t] = describeGguf(fs.readFileSync(t === 'f32' ? f32 : file));
  }
  return out;
}

/** For a model whose data does not matter: llama-quantize's tensor order and types only, as "name=TYPE" lines. */
function typeTables(model, work, quantize) {
  const f32 = path.join(work, 'f32.gguf');
  convert(model, 'f32', f32);
  const out = {};
  for (const t of ['q4_k_m', 'q5_k_m']) {
    const file = path.join(work, `${t}.gguf`);
    run(quantize, [f32, file, t, '1'], { stdio: 'ignore' });
    out[t] = describeGguf(fs.readFileSync(file)).tensors.map((x) => `${x.name}=${x.type}`).join(' ');
  }
  return out;
}

/** convert_lora_to_gguf.py --outtype f16/f32 against the base's config. */
function adapterGoldens(adapter, base, work) {
  const out = {};
  for (const t of ['f16', 'f32']) {
    const file = path.join(work, `${t}.gguf`);
    run(python, [path.join(llamaDir, 'convert_lora_to_gguf.py'), adapter, '--base', base, '--outtype', t, '--outfile', file], {
      env: converterEnv(), stdio: ['ignore', 'ignore', 'ignore'],
    });
    out[t] = describeGguf(fs.readFileSync(file));
  }
  return out;
}

function main() {
  const quantize = buildPortable();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'golden-gguf-'));
  try {
    const adapter = path.join(outDir, 'stories-dora');
    run('npx', ['tsx', path.join(repo, 'test/unit/ggufTinyModel.ts'), '--dora', adapter], { cwd: repo, stdio: 'ignore' });
    const resized = path.join(outDir, 'stories-resized');
    run('npx', ['tsx', path.join(repo, 'test/unit/ggufTinyModel.ts'), '--resized', resized], { cwd: repo, stdio: 'ignore' });
    const mergedResized = path.join(work, 'merged', 'stories-resized');
    fs.mkdirSync(path.dirname(mergedResized), { recursive: true });
    run('node', [path.join(repo, 'dist/cli.js'), 'merge', resized, '--base', path.join(repo, 'test/fixtures/stories260K'), '--out', mergedResized, '--backend', 'reference'], { stdio: 'ignore' });
    const lora = path.join(outDir, 'stories-lora');
    run('npx', ['tsx', path.join(repo, 'test/unit/ggufTinyModel.ts'), '--lora', lora], { cwd: repo, stdio: 'ignore' });
    // The merged model's folder carries the adapter's name: the converter names the model after its folder.
    const merged = path.join(work, 'merged', 'stories-dora');
    fs.mkdirSync(path.dirname(merged), { recursive: true });
    run('node', [path.join(repo, 'dist/cli.js'), 'merge', adapter, '--base', path.join(repo, 'test/fixtures/stories260K'), '--out', merged, '--backend', 'reference'], { stdio: 'ignore' });
    // Hidden size 256: the K-quants and llama-quantize's per-layer mixes apply (generated, not committed).
    const tiny = path.join(work, 'tinyllama256');
    run('npx', ['tsx', path.join(repo, 'test/unit/ggufTinyModel.ts'), tiny], { cwd: repo, stdio: 'ignore' });
    const chat = path.join(work, 'tinychat');
    run('npx', ['tsx', path.join(repo, 'test/unit/ggufTinyModel.ts'), '--chat', chat], { cwd: repo, stdio: 'ignore' });
    const deep = path.join(work, 'deep80');
    run('npx', ['tsx', path.join(repo, 'test/unit/ggufTinyModel.ts'), '--deep', deep], { cwd: repo, stdio: 'ignore' });
    const cases = {
      stories260K: goldensFor(path.join(repo, 'test/fixtures/stories260K'), fs.mkdtempSync(path.join(work, 'a')), quantize),
      'stories-dora-merged': goldensFor(merged, fs.mkdtempSync(path.join(work, 'b')), quantize),
      tinyllama256: goldensFor(tiny, fs.mkdtempSync(path.join(work, 'c')), quantize),
      tinychat: goldensFor(chat, fs.mkdtempSync(path.join(work, 'e')), quantize),
      'stories-resized-merged': goldensFor(mergedResized, fs.mkdtempSync(path.join(work, 'f')), quantize),
      'stories-lora-adapter': adapterGoldens(lora, path.join(repo, 'test/fixtures/stories260K'), fs.mkdtempSync(path.join(work, 'd'))),
    };
    const golden = { typeTables: { deep80: typeTables(deep, fs.mkdtempSync(path.join(work, 'g')), quantize) }, source: `${releaseName()} (convert_hf_to_gguf.py, llama-quantize)`, cases };
    // One metadata key or tensor per line: small, and a regenerated file diffs readably.
    const text = JSON.stringify(golden, null, 1).replace(/\{\n\s*("(?:key|name)"[^{}]*?)\n\s*\}/g, (_, body) => `{${body.replace(/\n\s*/g, ' ')}}`);
    fs.writeFileSync(path.join(outDir, 'goldens.json'), text + '\n');
    console.log(`wrote ${path.join(outDir, 'goldens.json')}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
