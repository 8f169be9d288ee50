// Fidelity of a model against a reference (core/model/fidelity): KL and greedy agreement on hand-computed rows, and on
// real GGUF exports of stories260K (q8_0 closer to the f32 model than q4_0; the f32 model against itself exactly 0).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import type { ExportType } from '../../src/core/gguf/format';
import { ggufFolderFs } from '../../src/core/gguf/ggufFolder';
import { compareLogits, klDivergence, logSoftmax, nextTokenLogits, type Fidelity } from '../../src/core/model/fidelity';
import { generate } from '../../src/core/model/generate';
import { loadModel, type LoadedModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const L = (...v: number[]): Float32Array => Float32Array.from(v);
const close = (a: number, b: number, tol = 1e-7): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('fidelity math (KL of next-token distributions, greedy agreement)', () => {
  it('log softmax in float64 of a two-way row', () => {
    const ls = logSoftmax(L(0, Math.log(3)), 0, 2);
    close(Math.exp(ls[0]!), 0.25);
    close(Math.exp(ls[1]!), 0.75);
  });

  it('KL(p || q) of p = (1/4, 3/4), q = (1/2, 1/2) is 1/4 ln(1/2) + 3/4 ln(3/2)', () => {
    const kl = klDivergence(logSoftmax(L(0, Math.log(3)), 0, 2), logSoftmax(L(5, 5), 0, 2));
    close(kl, 0.25 * Math.log(0.5) + 0.75 * Math.log(1.5));
  });

  it('a distribution against itself is exactly 0, and a zero-probability term adds nothing', () => {
    const ls = logSoftmax(L(1.5, -2, 0.25, 7), 0, 4);
    assert.equal(klDivergence(ls, ls), 0);
    assert.equal(klDivergence(Float64Array.of(0, -Infinity), Float64Array.of(Math.log(0.5), Math.log(0.5))), Math.log(2));
  });

  it('compares row by row: agreement, mean KL and the first divergence', () => {
    // Row 0: identical; row 1: KL as above, argmax 1 vs 0 (a tie goes to the lower id); row 2: argmax 0 vs 1.
    const ref = L(1, 4, 0, Math.log(3), 2, 0);
    const model = L(1, 4, 5, 5, 0, 1);
    const f = compareLogits(ref, model, 2);
    const kl0 = 0.25 * Math.log(0.5) + 0.75 * Math.log(1.5);
    const p = [Math.exp(2) / (Math.exp(2) + 1), 1 / (Math.exp(2) + 1)], q = [1 / (1 + Math.E), Math.E / (1 + Math.E)];
    const kl1 = p[0]! * Math.log(p[0]! / q[0]!) + p[1]! * Math.log(p[1]! / q[1]!);
    assert.equal(f.positions, 3);
    assert.equal(f.agreed, 1);
    close(f.agreement!, 1 / 3);
    close(f.meanKl!, (kl0 + kl1) / 3);
    close(f.maxKl!, kl1);
    assert.equal(f.firstDivergence, 1);
  });

  it('nothing to compare: nulls; mismatched runs are refused', () => {
    assert.deepEqual(compareLogits(new Float32Array(0), new Float32Array(0), 4), { positions: 0, agreed: 0, agreement: null, meanKl: null, maxKl: null, firstDivergence: null });
    assert.throws(() => compareLogits(L(1, 2), L(1, 2, 3, 4), 2), /same positions/);
  });
});

describe('fidelity of real GGUF exports of stories260K against the f32 model', () => {
  const stories = path.join(__dirname, '../fixtures/stories260K');
  const nodeFs = new NodeFs();
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fidelity-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Export stories260K as `type` and load it as the engine does (quantized files as q8_0). */
  const exported = async (type: ExportType): Promise<LoadedModel> => {
    const file = path.join(tmp, `stories260K-${type}.gguf`);
    await runGgufExport(await planGgufExport(nodeFs, { modelPath: stories, type }, readTorchBinTensors), file, nodeFs, null, { toolVersion: 'test' });
    const view = await ggufFolderFs(nodeFs, file);
    return loadModel(view, file, new ReferenceBackend(), { quantize: view.loadAsQ8 ? 'q8_0' : null });
  };

  it('q8_0 is closer than q4_0; the f32 model against itself agrees everywhere with KL exactly 0', async () => {
    const f32 = await loadModel(nodeFs, stories, new ReferenceBackend());
    const promptIds = f32.tokenizer.encode('Once upon a time').ids;
    const run = await generate(f32.model, f32.tokenizer, promptIds, { maxNewTokens: 32, sampler: new SamplerChain([], greedy()), eosIds: [] });
    const ids = [...promptIds, ...run.ids];
    const reference = await nextTokenLogits(f32.model, ids, promptIds.length);
    const versus = async (lm: LoadedModel): Promise<Fidelity> => compareLogits(reference, await nextTokenLogits(lm.model, ids, promptIds.length), f32.model.vocabSize);

    const self = await versus(f32);
    assert.deepEqual(self, { positions: 32, agreed: 32, agreement: 1, meanKl: 0, maxKl: 0, firstDivergence: null });
    const q8 = await versus(await exported('q8_0'));
    const q4 = await versus(await exported('q4_0'));
    assert.ok(q8.meanKl! > 0, 'q8_0 weights are not the f32 ones');
    assert.ok(q8.meanKl! < q4.meanKl!, `mean KL q8_0 ${q8.meanKl} < q4_0 ${q4.meanKl}`);
    assert.ok(q8.agreement! >= q4.agreement!, `agreement q8_0 ${q8.agreement} >= q4_0 ${q4.agreement}`);
    assert.ok(q8.agreement! >= 0.9, `q8_0 agrees on ${q8.agreement}`);
  });
});
