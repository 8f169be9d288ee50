// Evaluation data and masking rules: the record kinds training tools write, which tokens each format scores (the
// response and EOS for instruction data, the assistant turns and their end-of-turn token for chat, every token for
// text), truncation, the bootstrap summary, and the result cache's invalidation when a data or checkpoint file changes.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EvalCache, evalCacheKey } from '../../src/core/eval/cache';
import { bestIndex } from '../../src/core/eval/candidates';
import { parseEvalData } from '../../src/core/eval/dataset';
import { summarizeLosses } from '../../src/core/eval/loss';
import { tokenizeExample, type TokenizedExample } from '../../src/core/eval/tokenize';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import type { Tokenizer } from '../../src/core/tokenizer/tokenizer';
import { GenerationEngine } from '../../src/engine/generate';
import type { JobContext } from '../../src/engine/handlers';
import type { EvalParams } from '../../src/engine/protocol';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { sha256File } from '../../src/node/hashFile';
import { NodeFs } from '../../src/node/nodeFs';
import { runCliCaptured } from './cliHarness';

const ROOT = path.join(__dirname, '..', '..');
const DEMO = path.join(ROOT, 'demo');
const STORIES = path.join(DEMO, 'models', 'stories260K');
const nodeFs = new NodeFs();

/** The scored ids of an example, decoded with special tokens kept. */
function scored(tok: Tokenizer, t: TokenizedExample): string {
  return tok.decode(t.ids.filter((_, i) => t.target[i] === 1), { skipSpecialTokens: false });
}

function job(): JobContext {
  return { id: 1, signal: new AbortController().signal, progress: () => undefined, token: () => undefined, log: () => undefined };
}

describe('eval data: record kinds', () => {
  it('reads Alpaca (input on a new line), OpenAI messages, ShareGPT conversations and text records', () => {
    const jsonl = [
      JSON.stringify({ instruction: 'Translate', input: 'cat', output: 'chat' }),
      JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }),
      JSON.stringify({ conversations: [{ from: 'human', value: 'hi' }, { from: 'gpt', value: 'yo' }] }),
      '',
      JSON.stringify({ text: 'Once upon a time.' }),
    ].join('\n');
    const ex = parseEvalData('/d/x.jsonl', jsonl);
    assert.deepEqual(ex[0], { kind: 'instruction', line: 1, prompt: 'Translate\ncat', response: 'chat' });
    assert.deepEqual(ex[1], { kind: 'chat', line: 2, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] });
    assert.deepEqual(ex[2], { kind: 'chat', line: 3, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] });
    assert.deepEqual(ex[3], { kind: 'text', line: 5, text: 'Once upon a time.' });
  });

  it('reads a JSON array of records (alpaca_data.json), numbering records from 1', () => {
    const ex = parseEvalData('/d/alpaca_data.json', JSON.stringify([{ instruction: 'a', input: '', output: 'b' }, { text: 'c' }], null, 2));
    assert.deepEqual(ex, [{ kind: 'instruction', line: 1, prompt: 'a', response: 'b' }, { kind: 'text', line: 2, text: 'c' }]);
    assert.throws(() => parseEvalData('/d/a.json', '[1]'), /\/d\/a\.json:1: expected a JSON object/);
    assert.throws(() => parseEvalData('/d/a.json', '[{'), /\/d\/a\.json: not valid JSON/);
  });

  it('splits a plain text file into paragraphs; errors name the file and line', () => {
    assert.deepEqual(parseEvalData('/d/s.txt', 'One.\nTwo.\n\n\nThree.\n').map((e) => e.kind === 'text' && [e.line, e.text]), [[1, 'One.\nTwo.'], [5, 'Three.']]);
    assert.throws(() => parseEvalData('/d/x.jsonl', '{"text": "a"}\n{bad'), /\/d\/x\.jsonl:2: not valid JSON/);
    assert.throws(() => parseEvalData('/d/x.jsonl', '{"prompt": "a"}'), /\/d\/x\.jsonl:1: expected "instruction" \+ "output"/);
    assert.throws(() => parseEvalData('/d/x.jsonl', '{"messages": [{"role": "user"}]}'), /turn 1 needs "role" and "content"/);
    assert.throws(() => parseEvalData('/d/e.txt', '\n\n'), /holds no examples/);
  });
});

describe('eval masking rules per format', function () {
  this.timeout(60000);
  let stories: Tokenizer;
  let llama3: Tokenizer;
  before(async () => {
    stories = await loadTokenizer(nodeFs, STORIES);
    llama3 = await loadTokenizer(nodeFs, path.join(ROOT, 'node_modules', '@lenml', 'tokenizer-llama3', 'models'));
  });
  const o = (format: 'raw' | 'alpaca2' | 'chat', contextLength = 512) => ({ format, contextLength, path: '/d/x.jsonl' });
  const alpaca = { kind: 'instruction' as const, line: 1, prompt: 'Once upon a time, there was a cat.', response: 'It was happy.' };

  it('raw: BOS + prompt masked, the response and EOS scored', () => {
    const t = tokenizeExample(stories, alpaca, o('raw'));
    assert.equal(t.ids[0], stories.bosId);
    assert.equal(t.ids.at(-1), stories.eosId);
    assert.equal(scored(stories, t), 'It was happy.</s>');
    assert.equal(t.target.indexOf(1), stories.encode(alpaca.prompt).ids.length, 'the first scored token follows the prompt');
  });

  it('alpaca2: the [INST] <<SYS>> template (as the preview renders it) masked, the response scored', () => {
    const t = tokenizeExample(stories, alpaca, { ...o('alpaca2'), system: 'Be kind.' });
    const prompt = stories.decode(t.ids.filter((_, i) => t.target[i] === 0));
    assert.equal(prompt, '[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nOnce upon a time, there was a cat. [/INST]');
    assert.equal(scored(stories, t), 'It was happy.</s>');
  });

  it('text: every token after the first scored, EOS appended', () => {
    const t = tokenizeExample(stories, { kind: 'text', line: 1, text: 'The sun was hot.' }, o('raw'));
    assert.deepEqual([...t.target], [0, ...new Array(t.ids.length - 1).fill(1)]);
    assert.equal(t.ids.at(-1), stories.eosId);
  });

  it('chat: each assistant turn and its end-of-turn token scored, system and user turns masked', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there' },
      { role: 'user', content: 'Bye' }, { role: 'assistant', content: 'Goodbye' },
    ];
    const t = tokenizeExample(llama3, { kind: 'chat', line: 1, messages }, o('chat'));
    assert.equal(scored(llama3, t), 'Hello there<|eot_id|>Goodbye<|eot_id|>');
    assert.equal(t.ids.filter((id) => id === 128000).length, 1, 'BOS from the template, once');
    const single = tokenizeExample(llama3, alpaca, o('chat'));
    assert.equal(scored(llama3, single), 'It was happy.<|eot_id|>', 'an Alpaca record in the chat format is a one-turn chat');
  });

  for (const [family, end] of [['qwen3', '<|im_end|>'], ['gemma3', '<end_of_turn>']] as const) {
    it(`chat (${family}): the assistant contents and ${end} scored, the template's own turn markup masked`, async () => {
      const tok = await loadTokenizer(nodeFs, path.join(ROOT, 'node_modules', '@lenml', `tokenizer-${family}`, 'models'));
      const messages = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there' }, { role: 'user', content: 'Bye' }, { role: 'assistant', content: 'Goodbye' }];
      const t = tokenizeExample(tok, { kind: 'chat', line: 1, messages }, o('chat'));
      assert.equal(scored(tok, t), `Hello there${end}Goodbye${end}`);
    });
  }

  it('raw / alpaca2 take one-turn conversations only; a model without chat_template refuses chat', () => {
    const two = { kind: 'chat' as const, line: 7, messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }, { role: 'assistant', content: 'd' }] };
    assert.throws(() => tokenizeExample(stories, two, o('raw')), /\/d\/x\.jsonl:7: the raw format takes one user turn.*--format chat/);
    const one = tokenizeExample(stories, { ...two, messages: two.messages.slice(0, 2) }, o('raw'));
    assert.equal(scored(stories, one), 'b</s>');
    assert.throws(() => tokenizeExample(stories, two, o('chat')), /no chat_template/);
  });

  it('cuts examples to the context length and says so', () => {
    const t = tokenizeExample(stories, alpaca, o('raw', 12));
    assert.equal(t.ids.length, 12);
    assert.equal(t.target.length, 12);
    assert.equal(t.truncated, true);
  });
});

describe('eval summary and best pick', () => {
  it('token-weighted mean, perplexity, a deterministic bootstrap interval around it', () => {
    const losses = [{ nll: 10, tokens: 5 }, { nll: 4, tokens: 4 }, { nll: 9, tokens: 3 }, { nll: 0, tokens: 0 }];
    const s = summarizeLosses(losses);
    assert.equal(s.loss, 23 / 12);
    assert.equal(s.perplexity, Math.exp(23 / 12));
    assert.equal(s.examples, 3);
    assert.equal(s.tokens, 12);
    assert.ok(s.lossCi95[0] < s.loss && s.loss < s.lossCi95[1]);
    assert.ok(s.lossCi95[0] >= 1 && s.lossCi95[1] <= 3, 'inside the per-example means 1..3');
    assert.deepEqual(summarizeLosses(losses).lossCi95, s.lossCi95, 'fixed seed');
    assert.throws(() => summarizeLosses([{ nll: 0, tokens: 0 }]), /No example has a token to score/);
  });

  it('best: the lowest loss, the earlier one on a tie', () => {
    assert.equal(bestIndex([{ loss: 2 }, { loss: 1 }, { loss: 1 }, { loss: 3 }]), 1);
    assert.equal(bestIndex([]), -1);
  });
});

describe('eval cache', function () {
  this.timeout(120000);
  let dir: string;
  const engine = new GenerationEngine(nodeFs, async () => new ReferenceBackend(), { fs: nodeFs, hash: sha256File });
  let modelId = '';
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-evalcache-'));
    for (const c of ['checkpoint-50', 'checkpoint-100']) fs.cpSync(path.join(DEMO, 'runs', 'stories-lora', c), path.join(dir, c), { recursive: true });
    fs.copyFileSync(path.join(DEMO, 'data', 'eval.jsonl'), path.join(dir, 'eval.jsonl'));
    modelId = (await engine.load({ modelPath: STORIES, backend: 'reference' }, job())).modelId;
  });
  after(async () => {
    await engine.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const params = (): EvalParams => ({
    modelId, dataPath: path.join(dir, 'eval.jsonl'), limit: 3, cacheFile: path.join(dir, '.lora-workbench', 'eval-cache.json'),
    candidates: [{ label: 'base', adapters: [] }, ...['checkpoint-50', 'checkpoint-100'].map((c) => ({ label: c, adapters: [{ path: path.join(dir, c), scale: 1 }] }))],
  });
  const cachedFlags = async (): Promise<boolean[]> => (await engine.evaluate(params(), job())).results.map((r) => r.cached);

  it('a re-run takes every result from the cache, with the same numbers', async () => {
    const first = await engine.evaluate(params(), job());
    assert.deepEqual(first.results.map((r) => r.cached), [false, false, false]);
    assert.equal(first.cacheFile, params().cacheFile);
    const again = await engine.evaluate(params(), job());
    assert.deepEqual(again.results.map((r) => r.cached), [true, true, true]);
    assert.deepEqual(again.results.map((r) => r.loss), first.results.map((r) => r.loss));
  });

  it('a changed checkpoint is evaluated again, alone', async () => {
    fs.copyFileSync(path.join(DEMO, 'runs', 'stories-lora', 'checkpoint-200', 'adapter_model.safetensors'), path.join(dir, 'checkpoint-100', 'adapter_model.safetensors'));
    assert.deepEqual(await cachedFlags(), [true, true, false]);
  });

  it('a changed data file or different settings evaluate everything again', async () => {
    fs.appendFileSync(path.join(dir, 'eval.jsonl'), '\n');
    assert.deepEqual(await cachedFlags(), [false, false, false], 'the content hash changed');
    const other = await engine.evaluate({ ...params(), format: 'alpaca2' }, job());
    assert.deepEqual(other.results.map((r) => r.cached), [false, false, false]);
  });

  it('a broken cache file is an empty cache; keys are canonical', async () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{not json');
    assert.equal((await EvalCache.open(nodeFs, file)).get('x'), undefined);
    const k = (settings: Record<string, string>): string => evalCacheKey({ base: {}, adapters: [], data: 'h', settings });
    assert.equal(k({ a: '1', b: '2' }), k({ b: '2', a: '1' }));
  });
});

describe('lora-workbench eval: arguments', () => {
  it('names what is missing', async () => {
    const noData = await runCliCaptured(['eval', path.join(DEMO, 'runs', 'stories-lora'), '--base', STORIES]);
    assert.equal(noData.code, 2);
    assert.match(noData.err, /--data is required/);
    const notAdapter = await runCliCaptured(['eval', DEMO, '--base', STORIES, '--data', path.join(DEMO, 'data', 'eval.jsonl')]);
    assert.equal(notAdapter.code, 2);
    assert.match(notAdapter.err, /neither a training run nor an adapter folder/);
  });
});

describe('engine/eval cancellation', function () {
  this.timeout(60000);
  it('stops between examples when the job is aborted, with the standard cancellation error', async () => {
    const engine = new GenerationEngine(nodeFs, async () => new ReferenceBackend());
    try {
      const { modelId } = await engine.load({ modelPath: STORIES, backend: 'reference' }, job());
      const controller = new AbortController();
      let seen = 0;
      const ctx: JobContext = { ...job(), signal: controller.signal, progress: (_p, done) => { seen = done; if (done === 3) controller.abort(); } };
      await assert.rejects(engine.evaluate({ modelId, dataPath: path.join(DEMO, 'data', 'eval.jsonl'), candidates: [{ label: 'base', adapters: [] }] }, ctx), { code: 'cancelled' });
      assert.equal(seen, 3, 'no example after the abort');
    } finally {
      await engine.dispose();
    }
  });
});
