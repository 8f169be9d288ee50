// Our GGUF export equals llama.cpp's own output byte for byte: the goldens (test/fixtures/gguf/goldens.json, made by
// scripts/dev/golden_gguf.mjs from convert_hf_to_gguf.py and llama-quantize) give each file's sha256, metadata and tensor
// table. stories260K is converted as a full model; stories-dora is merged into it in the same pass and compared with
// llama.cpp's conversion of the merged safetensors. Per-key and per-tensor comparisons make a failure readable.

import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planLoraAdapterGguf } from '../../src/core/gguf/adapterExport';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import type { ExportType } from '../../src/core/gguf/format';
import { readGguf } from '../../src/core/gguf/reader';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import type { Backend } from '../../src/core/backend';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { writeDeepSparse, writeTinyChat, writeTinyLlama } from './ggufTinyModel';

interface GoldenKv { key: string; type: string; value?: unknown; count?: number; sha256?: string }
interface GoldenTensor { name: string; ne: number[]; type: string; offset: number; sha256: string }
interface GoldenFile { size: number; sha256: string; kvs: GoldenKv[]; tensors: GoldenTensor[] }

const fixtures = path.join(__dirname, '../fixtures');
const goldens = JSON.parse(fs.readFileSync(path.join(fixtures, 'gguf/goldens.json'), 'utf8')) as {
  cases: Record<string, Record<string, GoldenFile>>;
  /** "name=TYPE ..." in file order, for models whose data does not matter. */
  typeTables: Record<string, Record<string, string>>;
};
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** The goldens keep 64 bits of sha256 per tensor; the whole file has its full digest. */
const sha16 = (b: Uint8Array): string => sha(b).slice(0, 16);
const nodeFs = new NodeFs();

/** Our file described like the goldens (arrays by item count and the sha256 of their encoded items). */
async function describeFile(file: string): Promise<GoldenFile> {
  const buf = fs.readFileSync(file);
  const g = await readGguf(await nodeFs.open(file));
  const kvs = g.kvs.map((kv): GoldenKv => {
    const v = kv.value;
    if (v.type !== 'array') return { key: kv.key, type: v.type, value: typeof v.value === 'bigint' ? String(v.value) : v.value };
    return { key: kv.key, type: `array:${v.itemType}`, count: v.values.length };
  });
  const tensors = g.tensors.map((t) => ({ name: t.name, ne: [...t.ne], type: t.type.name, offset: t.begin - g.dataStart, sha256: sha16(buf.subarray(t.begin, t.begin + t.size)) }));
  return { size: buf.length, sha256: sha(buf), kvs, tensors };
}

function compare(ours: GoldenFile, golden: GoldenFile): void {
  assert.deepEqual(ours.kvs.map((k) => k.key), golden.kvs.map((k) => k.key), 'metadata keys and their order');
  for (const [i, g] of golden.kvs.entries()) {
    const o = ours.kvs[i]!;
    assert.equal(o.type, g.type, `${g.key}: value type`);
    if (g.count !== undefined) assert.equal(o.count, g.count, `${g.key}: array length`);
    else assert.deepEqual(o.value, g.value, `${g.key}: value`);
  }
  assert.deepEqual(ours.tensors.map(({ name, ne, type, offset }) => ({ name, ne, type, offset })), golden.tensors.map(({ name, ne, type, offset }) => ({ name, ne, type, offset })), 'tensor table');
  for (const [i, g] of golden.tensors.entries()) assert.equal(ours.tensors[i]!.sha256, g.sha256, `${g.name} (${g.type}): data`);
  assert.equal(ours.size, golden.size, 'file size');
  assert.equal(ours.sha256, golden.sha256, 'whole file (array contents of the metadata included)');
}

describe('GGUF export equals llama.cpp (goldens from convert_hf_to_gguf.py + llama-quantize)', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-golden-'));
    fs.mkdirSync(path.join(tmp, 'tinyllama256'));
    writeTinyLlama(path.join(tmp, 'tinyllama256'));
    fs.mkdirSync(path.join(tmp, 'tinychat'));
    writeTinyChat(path.join(tmp, 'tinychat'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const forms: Array<[string, () => string, string | undefined]> = [
    ['stories260K', () => path.join(fixtures, 'stories260K'), undefined],
    ['stories-dora-merged', () => path.join(fixtures, 'stories260K'), path.join(fixtures, 'gguf/stories-dora')],
    ['tinyllama256', () => path.join(tmp, 'tinyllama256'), undefined],
    ['tinychat', () => path.join(tmp, 'tinychat'), undefined],
    ['stories-resized-merged', () => path.join(fixtures, 'stories260K'), path.join(fixtures, 'gguf/stories-resized')],
  ];
  for (const [name, model, adapterPath] of forms) {
    for (const type of Object.keys(goldens.cases[name]!)) {
      it(`${name} as ${type}${adapterPath ? ' (merged in the same pass)' : ''}`, async () => {
        const modelPath = model();
        const out = path.join(tmp, `${name}-${type}.gguf`);
        const plan = await planGgufExport(nodeFs, { modelPath, adapterPath, type: type as ExportType }, readTorchBinTensors);
        await runGgufExport(plan, out, nodeFs, adapterPath ? new ReferenceBackend() : null, { toolVersion: 'test' });
        compare(await describeFile(out), goldens.cases[name]![type]!);
      });
    }
  }

  describe('the K-quant and q8_0 types through the WASM backend (threaded quantizers, 2 threads)', function () {
    this.timeout(120000);
    let wasm: Backend;
    let kquantCalls = 0;
    /** Of those, straight from the merged or stored tensor in the backend (quantizeGgmlTensor). */
    let tensorCalls = 0;
    before(async () => {
      const { buildWasm } = await import('../../scripts/build-wasm.mjs');
      await buildWasm({ quiet: true });
      wasm = await createWasmBackend({ threads: 2 });
      const quantize = wasm.quantizeGgml!.bind(wasm);
      wasm.quantizeGgml = (t, v) => { kquantCalls++; return quantize(t, v); };
      const fromTensor = wasm.quantizeGgmlTensor!.bind(wasm);
      wasm.quantizeGgmlTensor = (t, x, rows) => { kquantCalls++; tensorCalls++; return fromTensor(t, x, rows); };
    });
    after(() => wasm?.dispose());
    for (const [name, model, adapterPath] of forms) {
      for (const type of Object.keys(goldens.cases[name]!).filter((t) => /_k|q8_0/.test(t))) {
        it(`${name} as ${type}${adapterPath ? ' (merged in the same pass)' : ''}`, async () => {
          const out = path.join(tmp, `${name}-${type}-wasm.gguf`);
          const plan = await planGgufExport(nodeFs, { modelPath: model(), adapterPath, type: type as ExportType }, readTorchBinTensors);
          const before = kquantCalls;
          await runGgufExport(plan, out, nodeFs, wasm, { toolVersion: 'test' });
          compare(await describeFile(out), goldens.cases[name]![type]!);
          // Rows that are not multiples of 256 (the K-quants' fallbacks, and q8_0 tensors of such sizes) stay in JS.
          const viaBackend = plan.tensors.filter((t) => ['Q4_K', 'Q5_K', 'Q6_K', 'Q8_0'].includes(t.type) && t.shape.reduce((a, b) => a * b, 1) % 256 === 0).length;
          assert.equal(kquantCalls - before, viaBackend, 'every K-quant and q8_0 tensor went through the backend');
        });
      }
    }
    it('quantized some tensors there (the models above have K-quant tensors), merged ones and q/k rows straight from backend memory', () => {
      assert.ok(kquantCalls > 0);
      assert.ok(tensorCalls > 0);
    });
  });

  it('an 80-layer GQA model ("70B" to llama-quantize): the per-layer type mix and order of each quantized type', async () => {
    const deep = path.join(tmp, 'deep80');
    fs.mkdirSync(deep);
    writeDeepSparse(deep);
    for (const [type, table] of Object.entries(goldens.typeTables.deep80!)) {
      const plan = await planGgufExport(nodeFs, { modelPath: deep, type: type as ExportType }, readTorchBinTensors);
      assert.deepEqual(plan.tensors.map((t) => `${t.name}=${t.type}`), table.split(' '), type);
    }
  });

  for (const type of ['f16', 'f32'] as const) {
    it(`stories-lora as a llama.cpp LoRA adapter (${type}, as convert_lora_to_gguf.py writes it)`, async () => {
      const out = path.join(tmp, `stories-lora-${type}.gguf`);
      const plan = await planLoraAdapterGguf(nodeFs, path.join(fixtures, 'gguf/stories-lora'), path.join(fixtures, 'stories260K'), type, readTorchBinTensors);
      await runGgufExport(plan, out, nodeFs, null, { toolVersion: 'test' });
      compare(await describeFile(out), goldens.cases['stories-lora-adapter']![type]!);
    });
  }
});
