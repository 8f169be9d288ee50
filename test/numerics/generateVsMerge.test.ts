// Adapter applied on the fly vs the same adapter merged by the merge core (src/core/merge, f32 base so the merge
// rounds nothing away): identical greedy tokens and logits within 1e-4. Covers patterns, embedding + lm_head rsLoRA and
// a resized vocabulary with modules_to_save.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const FIX = path.join(__dirname, '..', 'fixtures');
const BASE = path.join(FIX, 'stories260K');
const nodeFs = new NodeFs();

describe('numerics: adapter on the fly vs merged model', function () {
  this.timeout(120000);
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-vsmerge-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const [name, text] of [['adapter-patterns', 'Once upon a time'], ['adapter-embed', 'Once upon a time'], ['adapter-vocab', '<|user|>Once upon a time<|end|>']] as const) {
    it(`${name}: same greedy tokens, logits within 1e-4`, async () => {
      const adapterPath = path.join(FIX, 'generate', name);
      const out = path.join(tmp, name);
      const plan = await planMerge(nodeFs, { baseGiven: BASE, basePath: BASE, adapterGiven: adapterPath, adapterPath }, readTorchBinTensors);
      await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 'test', verify: false });

      const merged = await loadModel(nodeFs, out, new ReferenceBackend());
      const live = await loadModel(nodeFs, BASE, new ReferenceBackend());
      const adapter = await loadAdapter(nodeFs, live.model.backend, adapterPath, live.model.weights.tensors);
      await live.model.setAdapters([{ adapter, scale: 1 }]);
      const tok = adapter.tokenizerFolder ? await loadTokenizer(nodeFs, adapter.tokenizerFolder) : live.tokenizer;
      const prompt = tok.encode(text).ids;
      assert.deepEqual(merged.tokenizer.encode(text).ids, prompt, 'the merged folder carries the adapter tokenizer');

      const run = async (m: typeof live): Promise<{ ids: readonly number[]; logits: Float32Array[] }> => {
        const logits: Float32Array[] = [];
        const sampler = new SamplerChain([{ name: 'spy', process: (l) => { logits.push(Float32Array.from(l)); } }], greedy());
        const r = await generate(m.model, tok, prompt, { maxNewTokens: 16, sampler, eosIds: [] });
        return { ids: r.ids, logits };
      };
      const a = await run(live);
      const b = await run(merged);
      assert.deepEqual(a.ids, b.ids);
      let d = 0;
      a.logits.forEach((l, i) => l.forEach((v, j) => { d = Math.max(d, Math.abs(v - b.logits[i]![j]!)); }));
      assert.ok(d < 1e-4, `logits differ by ${d}`);
    });
  }
});
