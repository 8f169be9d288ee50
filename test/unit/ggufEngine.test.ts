// The engine on a GGUF file (read through its model-folder view, core/gguf/ggufFolder): the same tokenizer ids and the
// same greedy tokens and logits, bit for bit, as on the safetensors it came from, with that checkpoint's weights
// rounded as the GGUF stores them (f16, or a quantize/dequantize round trip per row for q8_0 and q4_0, which the
// folder view dequantizes to f32, as ggml's dequantize_row_* do; q/k rows are un-permuted back). The engine then loads
// quantized files as q8_0 (loadAsQ8), their Q4_0 / Q4_K tensors as q4 where the backend has q4 kernels.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planLoraAdapterGguf } from '../../src/core/gguf/adapterExport';
import { decodeTensor, encodeTensor } from '../../src/core/gguf/encode';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import type { ExportType } from '../../src/core/gguf/format';
import { ggufFolderFs } from '../../src/core/gguf/ggufFolder';
import { readGguf } from '../../src/core/gguf/reader';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel, type LoadedModel } from '../../src/core/model/loadModel';
import { readSafetensorsHeader } from '../../src/core/safetensors/header';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { TensorLoader } from '../../src/core/model/tensorLoader';
import type { OpName, WeightDType } from '../../src/core/backend';
import { NodeFs } from '../../src/node/nodeFs';
import { writeTinyLlama } from './ggufTinyModel';

const stories = path.join(__dirname, '../fixtures/stories260K');
const nodeFs = new NodeFs();
const PROMPT = 'Once upon a time';

/** A copy of an f32 model with every tensor rounded to the type the GGUF export stores it in (by checkpoint name). */
async function roundedCopy(model: string, dir: string, typeOf: ReadonlyMap<string, string>): Promise<void> {
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(model)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(model, f), path.join(dir, f));
  // GGUF stores rms_norm_eps as binary32 (llama.cpp computes with that value).
  const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { rms_norm_eps: number };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, rms_norm_eps: Math.fround(cfg.rms_norm_eps) }));
  const file = path.join(model, 'model.safetensors');
  const raw = fs.readFileSync(file);
  const src = await nodeFs.open(file);
  const header = await readSafetensorsHeader(src);
  await src.close();
  const out = Buffer.from(raw);
  for (const t of header.tensors) {
    const values = new Float32Array(raw.buffer.slice(raw.byteOffset + t.begin, raw.byteOffset + t.end));
    const type = typeOf.get(t.name)!;
    const round = decodeTensor(encodeTensor(values, type as never), type, values.length, file);
    Buffer.from(round.buffer).copy(out, t.begin);
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors'), out);
}

async function greedyRun(lm: LoadedModel): Promise<{ promptIds: readonly number[]; ids: readonly number[]; logits: Array<[number, number]> }> {
  const promptIds = lm.tokenizer.encode(PROMPT).ids;
  const out = await generate(lm.model, lm.tokenizer, promptIds, { maxNewTokens: 24, sampler: new SamplerChain([], greedy()), eosIds: [] });
  return { promptIds, ids: out.ids, logits: out.logitsLast };
}

describe('engine on GGUF files: same greedy tokens as the safetensors they came from', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-engine-'));
    fs.mkdirSync(path.join(tmp, 'tinyllama256'));
    writeTinyLlama(path.join(tmp, 'tinyllama256'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Export `model` as `type` and write its rounded safetensors twin; `tag` keeps the files of each test apart. */
  const exportBoth = async (model: string, type: ExportType, tag: string): Promise<{ file: string; rounded: string }> => {
    const file = path.join(tmp, `${tag}-${type}.gguf`);
    const plan = await planGgufExport(nodeFs, { modelPath: model, type }, readTorchBinTensors);
    await runGgufExport(plan, file, nodeFs, null, { toolVersion: 'test' });
    const rounded = path.join(tmp, `rounded-${tag}-${type}`);
    await roundedCopy(model, rounded, new Map(plan.tensors.map((t) => [t.hfName, t.type])));
    return { file, rounded };
  };

  // The hidden-256 model stores K-quant blocks (q4_K, q5_K, q6_K); stories260K's rows are too short for them.
  const cases: Array<[string, ExportType]> = [
    ...(['f32', 'f16', 'q8_0', 'q4_0'] as const).map((t): [string, ExportType] => ['stories260K', t]),
    ...(['q4_k_m', 'q5_k_m', 'q6_k'] as const).map((t): [string, ExportType] => ['tinyllama256', t]),
  ];
  for (const [name, type] of cases) {
    it(`${name} as ${type}`, async () => {
      const { file, rounded } = await exportBoth(name === 'stories260K' ? stories : path.join(tmp, name), type, name);
      const expected = await greedyRun(await loadModel(nodeFs, rounded, new ReferenceBackend()));
      const view = await ggufFolderFs(nodeFs, file);
      const got = await greedyRun(await loadModel(view, file, new ReferenceBackend()));
      assert.deepEqual(got.promptIds, expected.promptIds, 'tokenizer from the GGUF metadata');
      assert.deepEqual(got.ids, expected.ids, 'greedy tokens');
      assert.deepEqual(got.logits, expected.logits, 'top-10 logits of the prompt, bit for bit');
    });
  }

  it('the virtual model.safetensors reads the same bytes in any split (partial rows, runs across tensors)', async () => {
    const { file } = await exportBoth(stories, 'q4_0', 'splits');
    const view = await ggufFolderFs(nodeFs, file);
    const src = await view.open(`${file}/model.safetensors`);
    const whole = new Uint8Array(src.size);
    await src.read(0, whole);
    let seed = 7;
    const next = (n: number): number => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
    for (let i = 0; i < 200; i++) {
      const at = next(src.size);
      const part = new Uint8Array(Math.min(1 + next(5000), src.size - at));
      await src.read(at, part);
      assert.ok(Buffer.from(part).equals(Buffer.from(whole.subarray(at, at + part.length))), `bytes ${at}+${part.length}`);
    }
    await src.close();
  });

  it('a q8_0 GGUF loaded as q8_0 keeps its stored blocks: the same as the rounded safetensors quantized on load', async () => {
    const { file, rounded } = await exportBoth(stories, 'q8_0', 'stored');
    const view = await ggufFolderFs(nodeFs, file);
    assert.equal(view.storedQ8, true);
    // The claim behind storedQ8: quantizing the dequantized values gives every stored block back.
    const bytes = fs.readFileSync(file);
    const src = await nodeFs.open(file);
    for (const t of (await readGguf(src)).tensors.filter((x) => x.type.name === 'Q8_0')) {
      const raw = new Uint8Array(bytes.subarray(t.begin, t.begin + t.size));
      assert.ok(Buffer.from(quantizeQ8_0(decodeTensor(raw, 'Q8_0', t.size / 34 * 32, file))).equals(raw), `${t.name} requantizes to itself`);
    }
    await src.close();
    const got = await greedyRun(await loadModel(view, file, new ReferenceBackend(), { quantize: 'q8_0' }));
    const expected = await greedyRun(await loadModel(nodeFs, rounded, new ReferenceBackend(), { quantize: 'q8_0' }));
    assert.deepEqual(got.ids, expected.ids);
    assert.deepEqual(got.logits, expected.logits);
    // With the view as a block source the stored blocks load as they are (no f32 pass): the same model.
    let direct = 0;
    const blocks = { blockReader: (t: Parameters<typeof view.blockReader>[0]) => { const r = view.blockReader(t); if (r?.dtype === 'q8_0') direct++; return r; } };
    const fromBlocks = await greedyRun(await loadModel(view, file, new ReferenceBackend(), { quantize: 'q8_0', blocks }));
    assert.ok(direct > 0, 'Q8_0 tensors were read as blocks');
    assert.deepEqual(fromBlocks.ids, expected.ids);
    assert.deepEqual(fromBlocks.logits, expected.logits);
    assert.equal((await ggufFolderFs(nodeFs, path.join(tmp, 'stories260K-q4_0.gguf'))).storedQ8, false, 'q4_0 blocks are not kept');
  });

  it('a PEFT adapter on top of a quantized GGUF base (q4_0): the same tokens as on the rounded safetensors', async () => {
    const { file, rounded } = await exportBoth(stories, 'q4_0', 'adapter-base');
    const adapter = path.join(__dirname, '../fixtures/gguf/stories-dora');
    const run = async (fsPort: typeof nodeFs | Awaited<ReturnType<typeof ggufFolderFs>>, folder: string): Promise<Awaited<ReturnType<typeof greedyRun>>> => {
      const lm = await loadModel(fsPort, folder, new ReferenceBackend());
      await lm.model.setAdapters([{ adapter: await loadAdapter(fsPort, lm.model.backend, adapter, lm.model.weights.tensors), scale: 1 }]);
      return greedyRun(lm);
    };
    const expected = await run(nodeFs, rounded);
    const got = await run(await ggufFolderFs(nodeFs, file), file);
    assert.deepEqual(got.ids, expected.ids);
    assert.deepEqual(got.logits, expected.logits);
    const plain = await greedyRun(await loadModel(await ggufFolderFs(nodeFs, file), file, new ReferenceBackend()));
    assert.notDeepEqual(plain.logits, got.logits, 'the adapter changes the output');
  });

  it('a 4-bit GGUF (q4_k_m) loads as q8_0 as the engine loads it: a quarter of the f32 bytes, logits close to the f32 dequantization', async () => {
    const file = path.join(tmp, 'tinyllama256-q4_k_m.gguf');
    if (!fs.existsSync(file)) await exportBoth(path.join(tmp, 'tinyllama256'), 'q4_k_m', 'tinyllama256');
    const view = await ggufFolderFs(nodeFs, file);
    assert.equal(view.loadAsQ8, true);
    assert.equal(view.storedQ8, false, 'Q4_K / Q6_K blocks are requantized, not kept');
    const f32 = await loadModel(view, file, new ReferenceBackend());
    const q8 = await loadModel(view, file, new ReferenceBackend(), { quantize: 'q8_0' });
    assert.equal(q8.model.weightDType, 'q8_0');
    const ids = f32.tokenizer.encode(PROMPT).ids;
    const a = await f32.model.forward(ids, 0), b = await q8.model.forward(ids, 0);
    let worst = 0, scale = 0;
    for (let i = 0; i < a.length; i++) { worst = Math.max(worst, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(a[i]!)); }
    assert.ok(worst > 0, 'requantized weights are not the f32 ones');
    assert.ok(worst < 0.05 * scale, `q8_0 logits differ by ${worst} (logit scale ${scale})`);
    assert.equal((await ggufFolderFs(nodeFs, path.join(tmp, 'stories260K-f16.gguf'))).loadAsQ8, false, 'float files keep their dtype');
  });

  it('Q4_0 and Q4_K tensors load as q4 with the values the file stores (rows un-permuted as the f32 view has them)', async () => {
    for (const [model, type] of [[stories, 'q4_0'], [path.join(tmp, 'tinyllama256'), 'q4_k_m']] as const) {
      const { file } = await exportBoth(model, type, `q4-values-${type}`);
      const view = await ggufFolderFs(nodeFs, file);
      const src = await view.open(`${file}/model.safetensors`);
      const header = await readSafetensorsHeader(src);
      await src.close();
      const be = new ReferenceBackend();
      const loader = new TensorLoader(view, be, undefined, view);
      let q4 = 0;
      for (const t of header.tensors) {
        const wt = { ...t, file: `${file}/model.safetensors` };
        const bt = await loader.load(wt, t.shape.length === 2 && t.shape[1]! % 32 === 0 ? 'q8_0' : undefined);
        if (bt.dtype !== 'q4') continue;
        q4++;
        const [got, want] = [await be.read(bt), await loader.readF32(wt)];
        // Equal as numbers (ggml's (q - 8) * d gives -0 where s * q - m gives +0).
        const differ = got.findIndex((v, i) => v !== want[i]);
        assert.equal(differ, -1, `${t.name}: q4 value ${differ} is ${got[differ]}, the dequantized one ${want[differ]}`);
      }
      await loader.close();
      const stored = (await readGguf(await nodeFs.open(file))).tensors.filter((t) => t.type.name === 'Q4_0' || t.type.name === 'Q4_K').length;
      assert.ok(q4 > 0 && q4 === stored, `${type}: ${q4} tensors as q4, ${stored} stored as Q4_0/Q4_K`);
    }
  });

  it('a q4_k_m GGUF on the WASM backend runs its Q4_K weights on the q4 kernels: logits within 2% of the reference, the same first tokens', async () => {
    const file = path.join(tmp, 'tinyllama256-q4_k_m.gguf');
    if (!fs.existsSync(file)) await exportBoth(path.join(tmp, 'tinyllama256'), 'q4_k_m', 'tinyllama256');
    const view = await ggufFolderFs(nodeFs, file);
    const wasm = await createWasmBackend({ threads: 2 });
    try {
      const fast = await loadModel(view, file, wasm, { quantize: 'q8_0', blocks: view });
      assert.equal(fast.model.weightDType, 'q4');
      const oracle = await loadModel(view, file, new ReferenceBackend(), { quantize: 'q8_0', blocks: view });
      // The kernels quantize activations to q8_0 (as llama.cpp's q4 x q8 dot products do): close, not bit-equal.
      const ids = oracle.tokenizer.encode(PROMPT).ids;
      const a = await fast.model.forward(ids, 0), b = await oracle.model.forward(ids, 0);
      let worst = 0, scale = 0;
      for (let i = 0; i < a.length; i++) { worst = Math.max(worst, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
      assert.ok(worst < 0.02 * scale, `q4 kernel logits differ by ${worst} (logit scale ${scale})`);
      assert.deepEqual((await greedyRun(fast)).ids.slice(0, 8), (await greedyRun(oracle)).ids.slice(0, 8));
      // A backend without q4 kernels gets q8_0 (requantized) for the same file.
      const noQ4 = new (class extends ReferenceBackend { override supports(op: OpName, dtype?: WeightDType): boolean { return dtype !== 'q4' && super.supports(op, dtype); } })();
      assert.equal((await loadModel(view, file, noQ4, { quantize: 'q8_0', blocks: view })).model.weightDType, 'q8_0');
    } finally {
      wasm.dispose();
    }
  });

  it('refuses a LoRA adapter GGUF as a model', async () => {
    const file = path.join(tmp, 'adapter.gguf');
    await runGgufExport(await planLoraAdapterGguf(nodeFs, path.join(__dirname, '../fixtures/gguf/stories-lora'), stories, 'f16', readTorchBinTensors), file, nodeFs, null, { toolVersion: 'test' });
    await assert.rejects(ggufFolderFs(nodeFs, file), /a LoRA adapter, not a model/);
  });
});
