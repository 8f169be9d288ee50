// The generation engine on the WASM backend (what `auto` picks on CPUs) against the torch goldens: stories260K,
// the f16 GQA model and an adapter, on 1 and 2 threads; greedy identical, logits within 1e-4 (different summation
// order and FMA than the reference, still well inside the tolerance at these sizes).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { NodeFs } from '../../src/node/nodeFs';

const FIX = path.join(__dirname, '..', 'fixtures');
const GEN = path.join(FIX, 'generate');
const goldens = JSON.parse(fs.readFileSync(path.join(GEN, 'goldens.json'), 'utf8')) as {
  cases: Array<{ name: string; model: string; adapters?: Array<{ path: string; scale: number }>; promptIds: number[]; greedy: number[]; allLogits?: string; lastLogits: string }>;
};
const f32 = (b64: string): Float32Array => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
};
const nodeFs = new NodeFs();

for (const threads of [1, 2]) {
  describe(`numerics: generation on the WASM backend, ${threads} thread(s)`, function () {
    this.timeout(120000);
    before(async () => {
      // Same function `npm run build` runs; a no-op when dist/*.wasm is newer than the kernel sources.
      const { buildWasm } = await import('../../scripts/build-wasm.mjs');
      await buildWasm({ quiet: true });
    });
    for (const name of ['stories260K', 'gqa-f16', 'stories260K+patterns']) {
      it(`${name}: greedy identical, logits within 1e-4`, async () => {
        const c = goldens.cases.find((x) => x.name === name)!;
        const backend = await createWasmBackend({ threads });
        try {
          const lm = await loadModel(nodeFs, c.model === 'stories260K' ? path.join(FIX, 'stories260K') : path.join(GEN, c.model), backend);
          const bindings = [];
          for (const a of c.adapters ?? []) bindings.push({ adapter: await loadAdapter(nodeFs, backend, path.join(GEN, a.path), lm.model.weights.tensors), scale: a.scale });
          await lm.model.setAdapters(bindings);
          const logits = await lm.model.forward(c.promptIds, 0, { allLogits: c.allLogits !== undefined });
          const ref = c.allLogits ? f32(c.allLogits) : f32(c.lastLogits);
          let d = 0;
          for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(logits[i]! - ref[i]!));
          assert.ok(d < 1e-4, `logits differ by ${d}`);
          const out = await generate(lm.model, lm.tokenizer, c.promptIds, { maxNewTokens: c.greedy.length, sampler: new SamplerChain([], greedy()), eosIds: [] });
          assert.deepEqual(out.ids, c.greedy);
        } finally {
          backend.dispose();
        }
      });
    }
  });
}
