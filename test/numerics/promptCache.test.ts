// The prompt cache (LlamaModel.reusablePrefix, used by generate): a prompt that starts with tokens whose K/V are
// already in the cache runs only the rest, and gives the same logits and tokens, bit for bit, as a fresh model on the
// whole prompt, on the WASM backend (its matmul and q8_0 matmul rows do not depend on the rows beside them) and the
// reference; adapters changing, single-token steps and a rewritten prefix end the reuse where they must.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Backend } from '../../src/core/backend';
import { generate, type GenerateOutput } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel, type LoadedModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const FIX = path.join(__dirname, '..', 'fixtures');
const nodeFs = new NodeFs();
const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';

const run = (lm: LoadedModel, ids: readonly number[], reuse = true): Promise<GenerateOutput> =>
  generate(lm.model, lm.tokenizer, ids, { maxNewTokens: 6, sampler: new SamplerChain([], greedy()), eosIds: [], reusePromptCache: reuse });

const same = (a: GenerateOutput, b: GenerateOutput, what: string): void => {
  assert.deepEqual(a.ids, b.ids, `${what}: tokens`);
  assert.deepEqual(a.logitsLast, b.logitsLast, `${what}: top logits, bit for bit`);
};

const cases: Array<[string, () => Promise<Backend>, 'q8_0' | null]> = [
  ['reference', async () => new ReferenceBackend(), null],
  ['WASM f32, 2 threads', () => createWasmBackend({ threads: 2 }), null],
  ['WASM q8_0, 1 thread', () => createWasmBackend({ threads: 1 }), 'q8_0'],
];

for (const [name, makeBackend, quantize] of cases) {
  describe(`numerics: prompt cache on ${name}`, function () {
    this.timeout(120000);
    // prefillBatch 8: reused prefixes end inside chunks and the rest is split differently from a fresh run.
    const load = async (): Promise<LoadedModel> => loadModel(nodeFs, path.join(FIX, 'stories260K'), await makeBackend(), { quantize, prefillBatch: 8 });

    it('the same prompt again, a longer one, a changed one: same as a fresh model, with the cached tokens skipped', async () => {
      const lm = await load(), fresh = await load();
      try {
        const ids = lm.tokenizer.encode(STORY).ids;
        const first = await run(lm, ids);
        assert.equal(first.timings.cachedTokens, 0);
        const again = await run(lm, ids);
        assert.equal(again.timings.cachedTokens, ids.length - 2, 'all but the last two prompt tokens come from the cache');
        same(again, first, 'rerun');
        // A longer prompt: its first ids.length tokens are cached (the generated ones were single steps: not reused).
        const longer = [...ids, ...lm.tokenizer.encode(' The sun was shining.').ids];
        const grown = await run(lm, longer);
        assert.equal(grown.timings.cachedTokens, ids.length);
        same(grown, await run(fresh, longer, false), 'longer prompt');
        // A prompt that differs at token 5 reuses 5.
        const changed = [...longer];
        changed[5] = (changed[5]! + 1) % lm.model.vocabSize;
        const edited = await run(lm, changed);
        assert.equal(edited.timings.cachedTokens, 5);
        same(edited, await run(fresh, changed, false), 'changed prompt');
      } finally {
        lm.model.dispose();
        fresh.model.dispose();
      }
    });

    it('changing the adapters empties the cache', async () => {
      const lm = await load();
      try {
        const ids = lm.tokenizer.encode(STORY).ids;
        const plain = await run(lm, ids);
        const adapter = await loadAdapter(nodeFs, lm.model.backend, path.join(FIX, 'gguf', 'stories-lora'), lm.model.weights.tensors);
        await lm.model.setAdapters([{ adapter, scale: 1 }]);
        const withAdapter = await run(lm, ids);
        assert.equal(withAdapter.timings.cachedTokens, 0);
        assert.notDeepEqual(withAdapter.logitsLast, plain.logitsLast, 'the adapter changes the output');
        assert.equal((await run(lm, ids)).timings.cachedTokens, ids.length - 2, 'reused again under the same adapter');
        await lm.model.setAdapters([]);
        const back = await run(lm, ids);
        assert.equal(back.timings.cachedTokens, 0);
        same(back, plain, 'without the adapter again');
      } finally {
        lm.model.dispose();
      }
    });
  });
}
