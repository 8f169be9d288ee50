// Qwen3, Gemma 2, Gemma 3 (text and the multimodal checkpoint layout) and Phi-3 against the project's torch references
// (scripts/dev/golden_families.py): tiny random models in the exact HF layout, base and with a LoRA applied on the fly,
// prompts three times longer than Gemma's sliding windows, a Phi-3 prompt whose generation crosses longrope's switch.
// Every prompt logit and each decode step within 1e-4, greedy tokens identical, on the reference and WASM backends.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../../src/core/backend';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { LlamaModel } from '../../src/core/model/llama/model';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { f32, maxAbsDiff } from './goldenHelpers';

const FAM = path.join(__dirname, '..', 'fixtures', 'families');

interface Case {
  name: string;
  model: string;
  adapters: Array<{ path: string; scale: number }>;
  promptIds: number[];
  greedy: number[];
  lastLogits: string;
  finalLogits: string;
  allLogits?: string;
}


const cases: Case[] = ['qwen3', 'gemma2', 'gemma3', 'phi3'].flatMap((f) =>
  (JSON.parse(fs.readFileSync(path.join(FAM, `goldens-${f}.json`), 'utf8')) as { cases: Case[] }).cases);
const nodeFs = new NodeFs();

/** Load the case's model and adapters on a fresh backend, run the golden checks, dispose. */
async function checkCase(c: Case, backend: Backend): Promise<void> {
  try {
    const lm = await loadModel(nodeFs, path.join(FAM, c.model), backend);
    const bindings = [];
    for (const a of c.adapters) bindings.push({ adapter: await loadAdapter(nodeFs, backend, path.join(FAM, a.path), lm.model.weights.tensors), scale: a.scale });
    await lm.model.setAdapters(bindings);
    if (c.allLogits) {
      const d = maxAbsDiff(await lm.model.forward(c.promptIds, 0, { allLogits: true }), f32(c.allLogits));
      assert.ok(d < 1e-4, `prompt logits differ by ${d}`);
    }
    const steps: Float32Array[] = [];
    const sampler = new SamplerChain([{ name: 'spy', process: (l) => { steps.push(Float32Array.from(l)); } }], greedy());
    const out = await generate(lm.model, lm.tokenizer, c.promptIds, { maxNewTokens: c.greedy.length, sampler, eosIds: [] });
    assert.deepEqual(out.ids, c.greedy);
    const dFirst = maxAbsDiff(steps[0]!, f32(c.lastLogits));
    const dFinal = maxAbsDiff(steps[steps.length - 1]!, f32(c.finalLogits));
    assert.ok(dFirst < 1e-4 && dFinal < 1e-4, `last prompt logits differ by ${dFirst}, final step by ${dFinal}`);
  } finally {
    backend.dispose();
  }
}

describe('numerics: Qwen3, Gemma 2/3, Phi-3 vs torch references', function () {
  this.timeout(120000);
  before(async () => {
    const { buildWasm } = await import('../../scripts/build-wasm.mjs');
    await buildWasm({ quiet: true });
  });

  for (const c of cases) {
    it(`${c.name}: reference backend`, () => checkCase(c, new ReferenceBackend()));
    it(`${c.name}: wasm backend`, async () => checkCase(c, await createWasmBackend({ threads: c.name.includes('lora') ? 2 : 1 })));
  }

  it('the sliding window changes the result: the Gemma 2 model with full attention would not match', async () => {
    const c = cases.find((x) => x.name === 'gemma2-bf16/long')!;
    const lm = await loadModel(nodeFs, path.join(FAM, c.model), new ReferenceBackend());
    const full = { ...lm.config, variant: { ...lm.config.variant, layerWindows: lm.config.variant.layerWindows.map(() => null) } };
    const m = await LlamaModel.load(nodeFs, new ReferenceBackend(), full, lm.model.weights);
    const d = maxAbsDiff(await m.forward(c.promptIds, 0, { allLogits: true }), f32(c.allLogits!));
    assert.ok(d > 1e-2, `full attention differs from the windowed golden by only ${d}`);
  });
});
