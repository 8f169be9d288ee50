// engine/fidelity driven on the engine's handlers: the f32 stories260K against itself (100%, KL 0), against its q4_0
// GGUF export loaded as the engine loads it (q8_0 in memory), the reference's adapters applied, and bad input refused.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { GenerationEngine } from '../../src/engine/generate';
import type { JobContext } from '../../src/engine/handlers';
import type { GenerateResult } from '../../src/engine/protocol';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const STORIES = path.join(__dirname, '../fixtures/stories260K');
const LORA = path.join(__dirname, '../fixtures/gguf/stories-lora');

const ctx: JobContext = { id: 1, signal: new AbortController().signal, progress: () => undefined, token: () => undefined, log: () => undefined };

describe('engine/fidelity', function () {
  this.timeout(120000);
  const nodeFs = new NodeFs();
  const engine = new GenerationEngine(nodeFs, async () => new ReferenceBackend());
  let tmp: string;
  let f32 = '', q4 = '';
  let run: GenerateResult;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fidelity-engine-'));
    const file = path.join(tmp, 'stories260K-q4_0.gguf');
    await runGgufExport(await planGgufExport(nodeFs, { modelPath: STORIES, type: 'q4_0' }, readTorchBinTensors), file, nodeFs, null, { toolVersion: 'test' });
    f32 = (await engine.load({ modelPath: STORIES, backend: 'reference' }, ctx)).modelId;
    q4 = (await engine.load({ modelPath: file, backend: 'reference' }, ctx)).modelId;
    run = await engine.generate({ modelId: f32, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 24, temperature: 0, stopAtEos: false }, ctx);
  });
  after(async () => {
    await engine.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the model against itself: every greedy token agrees, KL exactly 0', async () => {
    const r = await engine.fidelity({ modelId: f32, referenceModelId: f32, promptIds: run.promptIds, ids: run.ids }, ctx);
    assert.deepEqual(r, { positions: 24, agreed: 24, agreement: 1, meanKl: 0, maxKl: 0, firstDivergence: null, truncated: false });
  });

  it('the q4_0 export against the f32 model: a positive KL over every generated position', async () => {
    const r = await engine.fidelity({ modelId: q4, referenceModelId: f32, promptIds: run.promptIds, ids: run.ids }, ctx);
    assert.equal(r.positions, 24);
    assert.ok(r.meanKl! > 0 && r.meanKl! <= r.maxKl!, `mean KL ${r.meanKl}, max ${r.maxKl}`);
    assert.ok(r.agreement! > 0 && r.agreement! <= 1);
    assert.equal(r.firstDivergence === null, r.agreed === r.positions);
    // A generation between two comparisons does not change them (each request sets its own adapters and cache).
    await engine.generate({ modelId: q4, adapters: [], prompt: { text: 'The dog' }, maxNewTokens: 5 }, ctx);
    assert.deepEqual(await engine.fidelity({ modelId: q4, referenceModelId: f32, promptIds: run.promptIds, ids: run.ids }, ctx), r);
  });

  it("applies the reference's adapters: the adapter column against the plain model is no longer identical", async () => {
    const adapters = [{ path: LORA, scale: 1 }];
    const withAdapter = await engine.generate({ modelId: f32, adapters, prompt: { text: 'Once upon a time' }, maxNewTokens: 16, temperature: 0, stopAtEos: false }, ctx);
    const r = await engine.fidelity({ modelId: f32, referenceModelId: f32, referenceAdapters: adapters, promptIds: withAdapter.promptIds, ids: withAdapter.ids }, ctx);
    assert.equal(r.positions, 16);
    assert.ok(r.meanKl! > 0);
  });

  it('refuses ids outside the vocabulary and an empty prompt', async () => {
    await assert.rejects(engine.fidelity({ modelId: q4, referenceModelId: f32, promptIds: [1, 99999], ids: [] }, ctx), /promptIds must be integers/);
    await assert.rejects(engine.fidelity({ modelId: q4, referenceModelId: f32, promptIds: [], ids: [3] }, ctx), /needs the prompt ids/);
    await assert.rejects(engine.fidelity({ modelId: 'nope', referenceModelId: f32, promptIds: [1], ids: [] }, ctx), /No loaded model/);
  });
});
