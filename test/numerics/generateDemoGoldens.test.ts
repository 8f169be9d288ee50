// The engine against the demo engineer's independent torch goldens (test/fixtures/demo-goldens.json, from
// scripts/dev/make_demo.py): stories260K base and real trained LoRA / rsLoRA / DoRA adapters applied unmerged —
// identical greedy tokens and top-10 logits within 1e-4, all on one loaded base (adapters switched, never reloaded).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel, type LoadedModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const ROOT = path.join(__dirname, '..', '..');
const GOLDENS = path.join(ROOT, 'test', 'fixtures', 'demo-goldens.json');

interface Case {
  name: string;
  adapter: string | null;
  new_token_ids: number[];
  text: string;
  prompt_last_logits_top10: Array<{ id: number; logit: number }>;
  final_step_logits_top10: Array<{ id: number; logit: number }>;
}

// The goldens are committed (scripts/dev/make_demo.py writes them): a missing file fails here instead of skipping.
describe('numerics: engine vs demo goldens (stories260K + trained adapters, unmerged)', () => {
  const g = JSON.parse(fs.readFileSync(GOLDENS, 'utf8')) as { model: string; prompt: string; prompt_ids: number[]; max_new_tokens: number; cases: Case[] };
  const nodeFs = new NodeFs();
  let lm: LoadedModel;

  before(async () => {
    lm = await loadModel(nodeFs, path.join(ROOT, g.model), new ReferenceBackend());
  });

  it('tokenizes the prompt as the goldens do', () => {
    assert.deepEqual(lm.tokenizer.encode(g.prompt).ids, g.prompt_ids);
  });

  for (const c of g.cases) {
    it(`${c.name}: greedy tokens identical, logits within 1e-4`, async () => {
      const adapters = c.adapter ? [{ adapter: await loadAdapter(nodeFs, lm.model.backend, path.join(ROOT, c.adapter), lm.model.weights.tensors), scale: 1 }] : [];
      await lm.model.setAdapters(adapters);
      let lastLogits: Float32Array | null = null;
      // Record the logits of the step that picks the last token through a sampler wrapper.
      const sampler = new SamplerChain([{ name: 'spy', process: (l) => { lastLogits = Float32Array.from(l); } }], greedy());
      const out = await generate(lm.model, lm.tokenizer, g.prompt_ids, { maxNewTokens: g.max_new_tokens, sampler, eosIds: [] });
      assert.deepEqual(out.ids, c.new_token_ids);
      for (const [i, e] of c.prompt_last_logits_top10.entries()) {
        assert.equal(out.logitsLast[i]![0], e.id);
        assert.ok(Math.abs(out.logitsLast[i]![1] - e.logit) < 1e-4, `${c.name} prompt logit ${e.id}: ${out.logitsLast[i]![1]} vs ${e.logit}`);
      }
      for (const e of c.final_step_logits_top10) {
        assert.ok(Math.abs(lastLogits![e.id]! - e.logit) < 1e-4, `${c.name} final-step logit ${e.id}: ${lastLogits![e.id]} vs ${e.logit}`);
      }
      assert.equal(lm.tokenizer.decode([...g.prompt_ids, ...out.ids]), c.text);
    });
  }
});
