// The engine worker's generation handlers (engine/load, generate, tokenize, unload) driven directly with a job
// context: streaming token messages, cancel within one token, adapters by path with scales, the adapter's tokenizer,
// and the CLI's tokenize command and argument parsing.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAdapterArg, parsePromptIds } from '../../src/cli/commands/generate';
import { runCli } from '../../src/cli/main';
import { CoreError } from '../../src/core/errors';
import { GenerationEngine } from '../../src/engine/generate';
import type { JobContext } from '../../src/engine/handlers';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const FIX = path.join(__dirname, '..', 'fixtures');
const STORIES = path.join(FIX, 'stories260K');
const GEN = path.join(FIX, 'generate');

interface Recorded {
  ctx: JobContext;
  controller: AbortController;
  tokens: Array<{ tokenId: number; text: string; stream?: string }>;
  progress: Array<{ phase: string; done: number; total: number }>;
}

function job(onToken?: (n: number, c: AbortController) => void): Recorded {
  const controller = new AbortController();
  const r: Recorded = {
    controller,
    tokens: [],
    progress: [],
    ctx: {
      id: 1,
      signal: controller.signal,
      progress: (phase, done, total) => r.progress.push({ phase, done, total }),
      token: (tokenId, text, stream) => {
        r.tokens.push({ tokenId, text, stream });
        onToken?.(r.tokens.length, controller);
      },
      log: () => undefined,
    },
  };
  return r;
}

describe('engine: load / generate / tokenize / unload', function () {
  this.timeout(60000);
  const engine = new GenerationEngine(new NodeFs(), async () => new ReferenceBackend());
  let modelId = '';

  after(() => engine.dispose());

  it('loads with progress, and loading the same folder again returns the same model', async () => {
    const j = job();
    const r = await engine.load({ modelPath: STORIES, backend: 'reference' }, j.ctx);
    modelId = r.modelId;
    assert.equal(r.architecture, 'LlamaForCausalLM');
    assert.deepEqual([r.vocabSize, r.numLayers, r.hiddenSize, r.dtype], [512, 5, 64, 'f32']);
    assert.deepEqual(r.eosIds, [2]);
    assert.ok(j.progress.length > 0 && j.progress.at(-1)!.done === j.progress.at(-1)!.total);
    assert.equal((await engine.load({ modelPath: STORIES, backend: 'reference' }, job().ctx)).modelId, modelId);
  });

  it('streams token messages whose texts add up to the result text', async () => {
    const j = job();
    const r = await engine.generate({ modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 20, stream: 'col-1' }, j.ctx);
    assert.deepEqual(r.promptIds, [1, 403, 407, 261, 378]);
    assert.equal(r.ids.length, 20);
    assert.deepEqual(j.tokens.map((t) => t.tokenId), r.ids);
    assert.equal(j.tokens.map((t) => t.text).join(''), r.text);
    assert.ok(r.text.startsWith(', there was a little girl named Lily.'));
    assert.ok(j.tokens.every((t) => t.stream === 'col-1'));
    assert.equal(r.stopReason, 'max-tokens');
    assert.equal(r.logitsLast.length, 10);
  });

  it('uses --prompt-ids verbatim (no BOS added)', async () => {
    const r = await engine.generate({ modelId, adapters: [], prompt: { ids: [403, 407, 261, 378] }, maxNewTokens: 3 }, job().ctx);
    assert.deepEqual(r.promptIds, [403, 407, 261, 378]);
  });

  it('cancel stops within one token', async () => {
    const j = job((n, c) => {
      if (n === 3) c.abort();
    });
    const r = await engine.generate({ modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 50 }, j.ctx);
    assert.equal(r.stopReason, 'cancelled');
    assert.equal(r.ids.length, 3);
  });

  it('stops at a stop string and cuts the text before it', async () => {
    const j = job();
    const r = await engine.generate({ modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 40, stopStrings: ['Lily'] }, j.ctx);
    assert.equal(r.stopReason, 'stop-string');
    assert.equal(r.text, ', there was a little girl named ');
    assert.equal(j.tokens.map((t) => t.text).join(''), r.text);
  });

  it('stops at EOS (generation_config eos_token_id list) unless told not to', async () => {
    // stories260K never emits </s>; a copy whose generation_config also ends on '.' (id 426) exercises the rule.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-eos-'));
    for (const f of fs.readdirSync(STORIES)) fs.copyFileSync(path.join(STORIES, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: [2, 426] }));
    const id = (await engine.load({ modelPath: dir }, job().ctx)).modelId;
    const r = await engine.generate({ modelId: id, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 40 }, job().ctx);
    assert.equal(r.stopReason, 'eos');
    assert.equal(r.text, ', there was a little girl named Lily');
    const all = await engine.generate({ modelId: id, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: r.ids.length + 3, stopAtEos: false }, job().ctx);
    assert.equal(all.ids[r.ids.length], 426);
    await engine.unload({ modelId: id });
    fs.rmSync(dir, { recursive: true });
  });

  it('same seed, same sampled output', async () => {
    const p = { modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 15, temperature: 1, topK: 40, topP: 0.95, seed: 1234 };
    const a = await engine.generate(p, job().ctx);
    const b = await engine.generate(p, job().ctx);
    const c = await engine.generate({ ...p, seed: 99 }, job().ctx);
    assert.deepEqual(a.ids, b.ids);
    assert.notDeepEqual(a.ids, c.ids);
  });

  it('applies adapters by path and scale, switches back to the base, and uses an adapter\'s own tokenizer', async () => {
    const base = await engine.generate({ modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 8 }, job().ctx);
    const withA = await engine.generate({ modelId, adapters: [{ path: path.join(GEN, 'adapter-patterns'), scale: 1 }], prompt: { text: 'Once upon a time' }, maxNewTokens: 8 }, job().ctx);
    const off = await engine.generate({ modelId, adapters: [{ path: path.join(GEN, 'adapter-patterns'), scale: 0 }], prompt: { text: 'Once upon a time' }, maxNewTokens: 8 }, job().ctx);
    assert.notDeepEqual(withA.ids, base.ids);
    assert.deepEqual(off.ids, base.ids);
    const vocab = { path: path.join(GEN, 'adapter-vocab'), scale: 1 };
    const t = await engine.tokenize({ modelId, adapterPath: vocab.path, text: '<|user|>Once upon a time<|end|>' }, job().ctx);
    assert.deepEqual(t.ids, [1, 512, 403, 407, 261, 378, 514]);
    assert.deepEqual(t.pieces.slice(0, 3), ['<s>', '<|user|>', '▁Once']);
    const r = await engine.generate({ modelId, adapters: [vocab], prompt: { text: '<|user|>Once upon a time<|end|>' }, maxNewTokens: 4, stopAtEos: false }, job().ctx);
    assert.deepEqual(r.promptIds, t.ids);
    assert.ok(r.ids.some((id) => id >= 512), 'the resized lm_head produces added-token ids');
  });

  it('renders the Alpaca-2 template', async () => {
    const t = await engine.tokenize({ modelId, text: 'Hi', format: 'alpaca2', system: 'Be brief.' }, job().ctx);
    const raw = await engine.tokenize({ modelId, text: '[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]' }, job().ctx);
    assert.deepEqual(t.ids, raw.ids);
    await assert.rejects(engine.tokenize({ modelId, text: 'Hi', format: 'chat' }, job().ctx), /no chat_template/);
  });

  it('refuses unsupported architectures clearly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-arch-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }));
    await assert.rejects(engine.load({ modelPath: dir }, job().ctx), (e: unknown) => e instanceof CoreError && e.code === 'unsupported' && /GPT2LMHeadModel/.test(e.message));
    fs.rmSync(dir, { recursive: true });
  });

  it('unloads', async () => {
    assert.deepEqual(await engine.unload({ modelId }), { unloaded: true });
    await assert.rejects(engine.generate({ modelId, adapters: [], prompt: { ids: [1] } }, job().ctx), /No loaded model/);
  });
});

describe('engine: a lost WebGPU device', function () {
  this.timeout(60000);

  it('reloads the model on WASM before the next request, with a warning in the log', async () => {
    // A backend reporting a lost device the way WebGpuBackend does (its deviceLost field); the real loss on SwiftShader
    // is in kernelsWebgpu.test.ts. The reference backend stands in for WASM here, so the tokens must not change.
    const choices: string[] = [];
    let first: (ReferenceBackend & { deviceLost?: string | null }) | null = null;
    const engine = new GenerationEngine(new NodeFs(), async (choice) => {
      choices.push(choice);
      const be = new ReferenceBackend();
      first ??= be;
      return be;
    });
    try {
      const modelId = (await engine.load({ modelPath: STORIES, backend: 'auto' }, job().ctx)).modelId;
      const ask = { modelId, adapters: [], prompt: { ids: [403, 407, 261, 378] }, maxNewTokens: 5 };
      const before = await engine.generate(ask, job().ctx);
      first!.deviceLost = 'device destroyed';
      const warnings: string[] = [];
      const j = job();
      const ctx: JobContext = { ...j.ctx, log: (level, m) => { if (level === 'warn') warnings.push(m); } };
      const after = await engine.generate(ask, ctx);
      assert.deepEqual(choices, ['auto', 'wasm']);
      assert.deepEqual(after.ids, before.ids);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /WebGPU device was lost \(device destroyed\): reloading .* on WASM/);
      await engine.generate(ask, job().ctx);
      assert.deepEqual(choices, ['auto', 'wasm'], 'reloaded once, not on every request');
    } finally {
      await engine.dispose();
    }
  });
});

describe('CLI: tokenize and generate arguments', () => {
  const capture = (): { io: Parameters<typeof runCli>[1]; out: () => string } => {
    let out = '';
    const w = { write: (s: string): boolean => { out += s; return true; } } as unknown as NodeJS.WritableStream;
    return { io: { stdout: w, stderr: w, cwd: process.cwd(), interactive: false }, out: () => out };
  };

  it('tokenize --json prints ids and pieces with BOS', async () => {
    const c = capture();
    assert.equal(await runCli(['tokenize', '--model', STORIES, '--text', 'Once upon a time', '--json'], c.io), 0);
    assert.deepEqual(JSON.parse(c.out()), { ids: [1, 403, 407, 261, 378], pieces: ['<s>', '▁Once', '▁upon', '▁a', '▁time'] });
  });

  it('parses --adapter <folder>=<scale> and --prompt-ids', () => {
    assert.deepEqual(parseAdapterArg('/a/b=0.5', '/'), { path: '/a/b', scale: 0.5 });
    assert.deepEqual(parseAdapterArg('/a/x=y', '/'), { path: '/a/x=y', scale: 1 });
    assert.deepEqual(parseAdapterArg('rel', '/w'), { path: '/w/rel', scale: 1 });
    assert.deepEqual(parsePromptIds('1, 2,3'), [1, 2, 3]);
    assert.throws(() => parsePromptIds('1,x'), /comma-separated/);
  });

  it('generate refuses --prompt together with --prompt-ids', async () => {
    const c = capture();
    assert.equal(await runCli(['generate', '--model', STORIES, '--prompt', 'a', '--prompt-ids', '1'], c.io), 2);
    assert.match(c.out(), /exactly one of --prompt or --prompt-ids/);
  });
});
