// The engine handlers behind `lora-workbench generate --adapter` (engine/load + engine/generate, the same params the
// CLI sends) against the torch goldens of the Chinese-LLaMA-Alpaca-2-style demo run (test/fixtures/demo-cla2-goldens.json,
// from scripts/dev/make_demo_cla2.py): a resized vocabulary (512 -> 667) carried by the adapter's modules_to_save and
// merged tokenizer. Same prompt ids, same greedy tokens (EOS ends both), top-10 prompt logits within 1e-4.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GenerationEngine } from '../../src/engine/generate';
import type { JobContext } from '../../src/engine/handlers';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import type { DemoGoldenCase } from './demoGoldenCase';

const ROOT = path.join(__dirname, '..', '..');
const GOLDENS = path.join(ROOT, 'test', 'fixtures', 'demo-cla2-goldens.json');
const EOS = 2;

type Case = DemoGoldenCase;

const ctx: JobContext = { id: 1, signal: new AbortController().signal, progress: () => undefined, token: () => undefined, log: () => undefined };

describe('numerics: engine vs the Chinese-LLaMA-Alpaca-2 demo goldens (resized vocabulary, unmerged)', function () {
  this.timeout(120000);
  const g = JSON.parse(fs.readFileSync(GOLDENS, 'utf8')) as { model: string; prompt: string; max_new_tokens: number; vocab_size: number; cases: Case[] };
  const engine = new GenerationEngine(new NodeFs(), async () => new ReferenceBackend());
  let modelId = '';

  before(async () => {
    modelId = (await engine.load({ modelPath: path.join(ROOT, g.model), backend: 'reference' }, ctx)).modelId;
  });
  after(() => engine.dispose());

  it('the goldens are the seed\'s story: the base writes no Chinese, the adapters do', () => {
    const chinese = (s: string): number => [...s.slice(g.prompt.length)].filter((ch) => ch >= '\u4e00' && ch <= '\u9fff').length;
    assert.equal(chinese(g.cases[0]!.text), 0);
    for (const c of g.cases.slice(1)) assert.ok(chinese(c.text) >= 20, c.text);
    assert.ok(g.cases.slice(1).every((c) => c.new_token_ids.some((id) => id >= 512)), 'the adapters use the added pieces');
  });

  for (const c of JSON.parse(fs.readFileSync(GOLDENS, 'utf8')).cases as Case[]) {
    it(`${c.name}: prompt ids, greedy tokens and text identical, prompt logits within 1e-4`, async () => {
      const adapters = c.adapter ? [{ path: path.join(ROOT, c.adapter), scale: 1 }] : [];
      if (c.adapter) {
        const tok = await engine.tokenize({ modelId, adapterPath: path.join(ROOT, c.adapter), text: g.prompt }, ctx);
        assert.deepEqual(tok.ids, c.prompt_ids, 'the adapter\'s merged tokenizer encodes the prompt as sentencepiece does');
      }
      const r = await engine.generate({ modelId, adapters, prompt: { text: g.prompt }, maxNewTokens: g.max_new_tokens, temperature: 0 }, ctx);
      assert.deepEqual(r.promptIds, c.prompt_ids);
      const ended = c.new_token_ids.at(-1) === EOS;
      assert.deepEqual(r.ids, ended ? c.new_token_ids.slice(0, -1) : c.new_token_ids);
      assert.equal(r.stopReason, ended ? 'eos' : 'max-tokens');
      assert.equal(g.prompt + r.text, c.text);
      for (const [i, e] of c.prompt_last_logits_top10.entries()) {
        assert.equal(r.logitsLast[i]![0], e.id);
        assert.ok(Math.abs(r.logitsLast[i]![1] - e.logit) < 1e-4, `${c.name} prompt logit ${e.id}: ${r.logitsLast[i]![1]} vs ${e.logit}`);
      }
    });
  }
});
