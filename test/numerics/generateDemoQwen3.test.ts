// The Qwen3 demo (demo/models/qwen3-tiny + demo/runs/qwen3-lora, from scripts/dev/make_demo_qwen3.py) through the
// engine handlers behind `lora-workbench generate --format chat`: Qwen3's real chat_template rendered by the engine
// (@huggingface/jinja) and tokenized by its tokenizer.json path give the torch script's prompt ids; greedy tokens and
// text equal the goldens (base and the LoRA applied on the fly), top-10 prompt logits within 1e-4, on both backends.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../../src/core/backend';
import { GenerationEngine } from '../../src/engine/generate';
import type { JobContext } from '../../src/engine/handlers';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import type { DemoGoldenCase } from './demoGoldenCase';

const ROOT = path.join(__dirname, '..', '..');
const GOLDENS = path.join(ROOT, 'test', 'fixtures', 'demo-qwen3-goldens.json');

type Case = DemoGoldenCase;
interface Goldens { model: string; prompt: string; prompt_text: string; max_new_tokens: number; cases: Case[] }

const ctx: JobContext = { id: 1, signal: new AbortController().signal, progress: () => undefined, token: () => undefined, log: () => undefined };
const g = JSON.parse(fs.readFileSync(GOLDENS, 'utf8')) as Goldens;

for (const backendName of ['reference', 'wasm'] as const) {
  describe(`numerics: the Qwen3 demo (chat template, tied embeddings, q/k norms) on the ${backendName} backend`, function () {
    this.timeout(120000);
    let backend: Backend;
    let engine: GenerationEngine;
    let modelId = '';

    before(async () => {
      backend = backendName === 'wasm' ? await createWasmBackend({ threads: 1 }) : new ReferenceBackend();
      engine = new GenerationEngine(new NodeFs(), async () => backend);
      modelId = (await engine.load({ modelPath: path.join(ROOT, g.model), backend: backendName }, ctx)).modelId;
    });
    after(() => engine.dispose());

    it('the goldens tell two stories: the base a kite story, the LoRA a boat story', () => {
      assert.match(g.cases[0]!.text, /Mia/);
      assert.match(g.cases.at(-1)!.text, /Sam .*boat|boat.*Sam/s);
    });

    for (const c of g.cases) {
      it(`${c.name}: chat prompt ids, greedy tokens and text identical, prompt logits within 1e-4`, async () => {
        const adapters = c.adapter ? [{ path: path.join(ROOT, c.adapter), scale: 1 }] : [];
        const r = await engine.generate({ modelId, adapters, prompt: { text: g.prompt, format: 'chat' }, maxNewTokens: g.max_new_tokens, temperature: 0 }, ctx);
        assert.deepEqual(r.promptIds, c.prompt_ids, 'the engine renders Qwen3\'s template and tokenizes it as the script does');
        const imEnd = c.new_token_ids.at(-1);
        const ended = r.stopReason === 'eos';
        assert.deepEqual(ended ? [...r.ids, imEnd] : r.ids, c.new_token_ids);
        assert.equal(r.text, c.text);
        for (const [i, e] of c.prompt_last_logits_top10.entries()) {
          assert.equal(r.logitsLast[i]![0], e.id);
          assert.ok(Math.abs(r.logitsLast[i]![1] - e.logit) < 1e-4, `${c.name} prompt logit ${e.id}: ${r.logitsLast[i]![1]} vs ${e.logit}`);
        }
      });
    }
  });
}
