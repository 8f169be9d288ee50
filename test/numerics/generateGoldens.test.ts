// The engine's LlamaForCausalLM against the project's torch reference (scripts/dev/golden_llama.py, fp32 compute):
// stories260K, a generated GQA model in f16 and in bf16 (sharded; head_dim override, q/k/v/o biases, llama3 RoPE),
// an MQA f32 model (tied embeddings, mlp biases, dynamic NTK past max_position_embeddings), and stories260K with
// adapters applied unmerged (rank/alpha patterns, embedding + lm_head LoRA with rsLoRA, two adapters with scales,
// modules_to_save with a resized vocabulary and the adapter's own tokenizer). Logits within 1e-4, greedy identical.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../../src/core/backend';
import { generate } from '../../src/core/model/generate';
import { loadAdapter, type LoadedAdapter } from '../../src/core/model/llama/adapters';
import { loadModel, type LoadedModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { f32, maxAbsDiff } from './goldenHelpers';

const FIX = path.join(__dirname, '..', 'fixtures');
const GEN = path.join(FIX, 'generate');

interface Case {
  name: string;
  model: string;
  text?: string;
  adapters?: Array<{ path: string; scale: number }>;
  promptIds: number[];
  greedy: number[];
  lastLogits: string;
  finalLogits: string;
  allLogits?: string;
}


const modelFolder = (name: string): string => (name === 'stories260K' ? path.join(FIX, 'stories260K') : path.join(GEN, name));
const goldens = JSON.parse(fs.readFileSync(path.join(GEN, 'goldens.json'), 'utf8')) as { cases: Case[] };
const nodeFs = new NodeFs();

describe('numerics: generation vs torch reference goldens', function () {
  this.timeout(120000);
  const loaded = new Map<string, LoadedModel>();
  const adapters = new Map<string, LoadedAdapter>();
  const model = async (name: string): Promise<LoadedModel> => {
    let m = loaded.get(name);
    if (!m) {
      m = await loadModel(nodeFs, modelFolder(name), new ReferenceBackend());
      loaded.set(name, m);
    }
    return m;
  };

  for (const c of goldens.cases) {
    it(`${c.name}: logits within 1e-4, greedy tokens identical`, async () => {
      const lm = await model(c.model);
      const bindings = [];
      for (const a of c.adapters ?? []) {
        let la = adapters.get(a.path);
        if (!la) {
          la = await loadAdapter(nodeFs, lm.model.backend, path.join(GEN, a.path), lm.model.weights.tensors);
          adapters.set(a.path, la);
        }
        bindings.push({ adapter: la, scale: a.scale });
      }
      await lm.model.setAdapters(bindings);
      const tokenizer = bindings.some((b) => b.adapter.tokenizerFolder)
        ? await loadTokenizer(nodeFs, bindings.find((b) => b.adapter.tokenizerFolder)!.adapter.tokenizerFolder!)
        : lm.tokenizer;
      if (c.text !== undefined) assert.deepEqual(tokenizer.encode(c.text).ids, c.promptIds);

      if (c.allLogits) {
        const all = await lm.model.forward(c.promptIds, 0, { allLogits: true });
        const d = maxAbsDiff(all, f32(c.allLogits));
        assert.ok(d < 1e-4, `all prompt logits differ by ${d}`);
      }
      let final: Float32Array | null = null;
      const sampler = new SamplerChain([{ name: 'spy', process: (l) => { final = Float32Array.from(l); } }], greedy());
      const out = await generate(lm.model, tokenizer, c.promptIds, { maxNewTokens: c.greedy.length, sampler, eosIds: [] });
      assert.deepEqual(out.ids, c.greedy);
      const last = f32(c.lastLogits);
      assert.equal(lm.model.vocabSize, last.length);
      assert.deepEqual(out.logitsLast.map(([id]) => id), Array.from(last.keys()).sort((a, b) => last[b]! - last[a]!).slice(0, 10));
      const dFinal = maxAbsDiff(final!, f32(c.finalLogits));
      assert.ok(dFinal < 1e-4, `final-step logits differ by ${dFinal}`);
    });
  }

  it('stories260K greedy continues "Once upon a time" as llama2.c does', async () => {
    const lm = await model('stories260K');
    await lm.model.setAdapters([]);
    const out = await generate(lm.model, lm.tokenizer, lm.tokenizer.encode('Once upon a time').ids,
      { maxNewTokens: 30, sampler: new SamplerChain([], greedy()), eosIds: lm.generation.eosIds });
    assert.ok(out.text.startsWith(', there was a little girl named Lily. She loved to play outside in the park.'), out.text);
  });

  it('switching adapters and scales never reloads the base weights', async () => {
    const lm = await loadModel(nodeFs, modelFolder('stories260K'), countingBackend());
    const backend = lm.model.backend as Backend & { allocatedBytes: number };
    const a = await loadAdapter(nodeFs, lm.model.backend, path.join(GEN, 'adapter-patterns'), lm.model.weights.tensors);
    const before = backend.allocatedBytes;
    const prompt = lm.tokenizer.encode('Once upon a time').ids;
    const run = async (): Promise<number[]> => [...(await generate(lm.model, lm.tokenizer, prompt,
      { maxNewTokens: 6, sampler: new SamplerChain([], greedy()), eosIds: [] })).ids];
    const base = await run();
    await lm.model.setAdapters([{ adapter: a, scale: 1 }]);
    const full = await run();
    await lm.model.setAdapters([{ adapter: a, scale: 0 }]);
    assert.deepEqual(await run(), base, 'scale 0 detaches the adapter');
    await lm.model.setAdapters([{ adapter: a, scale: 1 }]);
    assert.deepEqual(await run(), full);
    assert.notDeepEqual(full, base);
    // Only scratch buffers may have been allocated since: far less than the 1.2 MB of base weights.
    assert.ok(backend.allocatedBytes - before < 200_000, `allocated ${backend.allocatedBytes - before} bytes while switching`);
  });

  it('q8_0 on load stays close to the f32 model', async () => {
    const lm = await loadModel(nodeFs, modelFolder('stories260K'), new ReferenceBackend(), { quantize: 'q8_0' });
    const c = goldens.cases.find((x) => x.name === 'stories260K')!;
    const logits = await lm.model.forward(c.promptIds, 0);
    const ref = f32(c.lastLogits);
    const d = maxAbsDiff(logits, ref);
    assert.ok(d < 0.25, `q8_0 last logits differ by ${d}`);
    assert.equal(lm.model.weightDType, 'q8_0');
  });
});

/** A reference backend that counts bytes allocated. */
function countingBackend(): Backend & { allocatedBytes: number } {
  const inner = new ReferenceBackend();
  const b = Object.create(inner) as ReferenceBackend & { allocatedBytes: number };
  b.allocatedBytes = 0;
  b.alloc = (dtype, shape, label) => {
    const t = inner.alloc(dtype, shape, label);
    b.allocatedBytes += (inner.hostView(t)?.byteLength ?? 0);
    return t;
  };
  return b;
}
