// The engine on a GGUF file (read through its model-folder view, core/gguf/ggufFolder): the same tokenizer ids and the
// same greedy tokens and logits, bit for bit, as on the safetensors it came from, with that checkpoint's weights
// rounded as the GGUF stores them (f16, or a quantize/dequantize round trip per row for q8_0 and q4_0, which the
// loader dequantizes to f32; q/k rows are un-permuted back).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planLoraAdapterGguf } from '../../src/core/gguf/adapterExport';
import { decodeTensor, encodeTensor } from '../../src/core/gguf/encode';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import type { ExportType } from '../../src/core/gguf/format';
import { ggufFolderFs } from '../../src/core/gguf/ggufFolder';
import { generate } from '../../src/core/model/generate';
import { loadModel, type LoadedModel } from '../../src/core/model/loadModel';
import { readSafetensorsHeader } from '../../src/core/safetensors/header';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const stories = path.join(__dirname, '../fixtures/stories260K');
const nodeFs = new NodeFs();
const PROMPT = 'Once upon a time';

/** stories260K with every tensor rounded to the type the GGUF export stores it in (looked up by checkpoint name). */
async function roundedCopy(dir: string, typeOf: ReadonlyMap<string, string>): Promise<void> {
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(stories)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(stories, f), path.join(dir, f));
  const file = path.join(stories, 'model.safetensors');
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
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-engine-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const type of ['f32', 'f16', 'q8_0', 'q4_0'] as const satisfies readonly ExportType[]) {
    it(`stories260K as ${type}`, async () => {
      const file = path.join(tmp, `stories-${type}.gguf`);
      const plan = await planGgufExport(nodeFs, { modelPath: stories, type }, readTorchBinTensors);
      await runGgufExport(plan, file, nodeFs, null, {});
      const rounded = path.join(tmp, `rounded-${type}`);
      await roundedCopy(rounded, new Map(plan.tensors.map((t) => [t.hfName, t.type])));
      const expected = await greedyRun(await loadModel(nodeFs, rounded, new ReferenceBackend()));
      const view = await ggufFolderFs(nodeFs, file);
      const got = await greedyRun(await loadModel(view, file, new ReferenceBackend()));
      assert.deepEqual(got.promptIds, expected.promptIds, 'tokenizer from the GGUF metadata');
      assert.deepEqual(got.ids, expected.ids, 'greedy tokens');
      assert.deepEqual(got.logits, expected.logits, 'top-10 logits of the prompt, bit for bit');
    });
  }

  it('refuses a LoRA adapter GGUF as a model', async () => {
    const file = path.join(tmp, 'adapter.gguf');
    await runGgufExport(await planLoraAdapterGguf(nodeFs, path.join(__dirname, '../fixtures/gguf/stories-lora'), stories, 'f16', readTorchBinTensors), file, nodeFs, null, {});
    await assert.rejects(ggufFolderFs(nodeFs, file), /a LoRA adapter, not a model/);
  });
});
