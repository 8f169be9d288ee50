import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseStatusOf, diagnoseAdapter, diagnosisToJson, type Diagnosis } from '../../src/core/basemodel/diagnose';
import { editsForBase, editsForFix } from '../../src/core/basemodel/fixEdits';
import { BaseModelCache } from '../../src/core/basemodel/inspect';
import { findRunAdapters, runFolderOf } from '../../src/core/basemodel/relink';
import { applyTextEdits } from '../../src/core/peft/edit';
import { parseAdapterConfig } from '../../src/core/peft/parse';
import { runCliCaptured } from './cliHarness';
import { addToHfCache, makeAdapter, makeBase, sentencePieceModel, tempDir, testFs, TINY, writeSafetensors } from '../fixtures/diagnose/build';

const COMMIT = 'c0ffee'.padEnd(40, '0');

function codes(d: Diagnosis): string[] {
  return d.problems.map((p) => `${p.code}:${p.severity}`);
}

function has(d: Diagnosis, code: string, severity?: string): boolean {
  return d.problems.some((p) => p.code === code && (!severity || p.severity === severity));
}

/** Text under a problem's range. */
function under(d: Diagnosis, code: string): string {
  const p = d.problems.find((x) => x.code === code);
  assert.ok(p, `no ${code} in ${codes(d).join(', ')}`);
  return d.parsed.text.slice(p.range.offset, p.range.offset + p.range.length);
}

describe('basemodel diagnose', () => {
  let ws: string;
  let home: string;
  beforeEach(() => {
    ws = tempDir('diag-ws-');
    home = tempDir('diag-home-');
  });

  it('accepts a compatible absolute base with no problems and compatible=true', async () => {
    const base = makeBase(path.join(ws, 'models/tiny'), TINY, { shards: 2 });
    const a = makeAdapter(path.join(ws, 'runs/r1/checkpoint-5'), { base, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
    const d = await diagnoseAdapter(testFs(home), a, { workspaceFolders: [ws] });
    assert.deepEqual(codes(d), []);
    assert.equal(d.compatible, true);
    assert.equal(d.compat?.matched, d.compat?.total);
    assert.equal(d.compat?.total, 2 * 7 * 2);
    assert.equal(baseStatusOf(d), 'ok');
    assert.equal(d.base.info?.weights?.files.length, 2);
  });

  it('base-model-null on null and empty values, on the value', async () => {
    const a = makeAdapter(path.join(ws, 'a'), { base: null });
    const d = await diagnoseAdapter(testFs(home), a);
    assert.ok(has(d, 'base-model-null', 'error'));
    assert.equal(under(d, 'base-model-null'), 'null');
    assert.equal(d.base.kind, 'null');
    const e = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'b'), { base: '' }));
    assert.ok(has(e, 'base-model-null', 'error'));
  });

  it('base-model-foreign-path for a Colab path, base-model-missing for a local one, with ranked candidates', async () => {
    makeBase(path.join(ws, 'models/stories'));
    makeBase(path.join(ws, 'models/other'), { ...TINY, hidden: 32, intermediate: 64 }); // maps, but shapes differ
    const a = makeAdapter(path.join(ws, 'runs/r1/checkpoint-5'), { base: '/content/drive/MyDrive/stories' });
    const d = await diagnoseAdapter(testFs(home), a, { workspaceFolders: [ws] });
    assert.ok(has(d, 'base-model-foreign-path', 'error'), codes(d).join());
    assert.equal(under(d, 'base-model-foreign-path'), '"/content/drive/MyDrive/stories"');
    assert.match(d.problems[0]!.message, /Colab/);
    assert.deepEqual(d.base.candidates.map((c) => c.path), [path.join(ws, 'models/stories')]);
    const fixes = d.problems.find((p) => p.code === 'base-model-foreign-path')!.fixes;
    assert.deepEqual(fixes.map((f) => f.kind), ['use-candidate', 'use-candidate', 'choose-base', 'relink-run']);
    // The workspace-relative form (unambiguous here) first, then the absolute path: each fix carries what it writes.
    assert.deepEqual(fixes.slice(0, 2).map((f) => (f.kind === 'use-candidate' ? f.path : '')), ['models/stories', path.join(ws, 'models/stories')]);
    assert.equal(d.compatible, false);
    const json = diagnosisToJson(d);
    assert.deepEqual(Object.keys(json), ['config', 'format', 'base', 'compatible', 'problems']);
    assert.deepEqual(Object.keys(json.base), ['raw', 'kind', 'resolved', 'candidates']);
    assert.deepEqual([json.base.kind, json.base.resolved, json.problems[0]!.line, json.problems[0]!.column], ['absolute', null, 4, 30]);

    const m = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'x'), { base: path.join(home, 'gone') }));
    assert.ok(has(m, 'base-model-missing', 'error'));
  });

  it('base-model-relative (information) when a relative base names one model, found from the workspace folder', async () => {
    makeBase(path.join(ws, 'models/tiny'));
    const a = makeAdapter(path.join(ws, 'runs/r1/checkpoint-5'), { base: 'models/tiny' });
    const d = await diagnoseAdapter(testFs(home), a, { workspaceFolders: [ws] });
    assert.deepEqual(codes(d), ['base-model-relative:info']);
    assert.equal(baseStatusOf(d), 'ok');
    assert.match(d.problems[0]!.message, /relative to the workspace folder .*working directory/);
    assert.equal(d.base.resolved, path.join(ws, 'models/tiny'));
    assert.deepEqual(d.problems[0]!.fixes, [{ kind: 'make-absolute', value: path.join(ws, 'models/tiny') }]);
  });

  it('offers no relative "Use" fix when the relative form would itself be ambiguous', async () => {
    makeBase(path.join(ws, 'models/stories'));
    makeBase(path.join(ws, 'runs/r1/models/stories'), { ...TINY, hidden: 32, intermediate: 64 }); // same name, other shapes
    const a = makeAdapter(path.join(ws, 'runs/r1/checkpoint-5'), { base: '/content/drive/MyDrive/stories' });
    const d = await diagnoseAdapter(testFs(home), a, { workspaceFolders: [ws] });
    const uses = d.problems.flatMap((p) => p.fixes).filter((f) => f.kind === 'use-candidate').map((f) => (f.kind === 'use-candidate' ? f.path : ''));
    assert.deepEqual(uses, [path.join(ws, 'models/stories')]);
  });

  it('base-model-relative-ambiguous names where it resolves and why', async () => {
    makeBase(path.join(ws, 'models/tiny'));
    // A second model of the same relative name beside the run: the working directory decides which one loads.
    makeBase(path.join(ws, 'runs/r1/models/tiny'));
    const a = makeAdapter(path.join(ws, 'runs/r1/checkpoint-5'), { base: 'models/tiny' });
    const d = await diagnoseAdapter(testFs(home), a, { workspaceFolders: [ws] });
    assert.deepEqual(codes(d), ['base-model-relative-ambiguous:warning']);
    assert.match(d.problems[0]!.message, /working directory/);
    assert.match(d.problems[0]!.message, /Different working directories give different models/);
    assert.equal(d.base.kind, 'relative');
    assert.equal(d.base.resolved, path.join(ws, 'models/tiny'));
    assert.equal(d.compatible, true);
    assert.deepEqual(d.problems[0]!.fixes, [{ kind: 'make-absolute', value: path.join(ws, 'models/tiny') }]);
  });

  it('base-model-home-path: ~ is not expanded by transformers', async () => {
    makeBase(path.join(home, 'models/tiny'));
    const d = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'a'), { base: '~/models/tiny' }));
    assert.ok(has(d, 'base-model-home-path', 'error'));
    assert.equal(d.compat?.compatible, true);
  });

  it('hub ids: cached (ok), not cached (warning; error when offline), bogus revision, cache path rewrite', async () => {
    const root = path.join(home, '.cache/huggingface/hub');
    const snap = addToHfCache(root, 'org/tiny', COMMIT, (dir) => makeBase(dir));
    const f = testFs(home);
    const ok = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'a'), { base: 'org/tiny' }));
    assert.deepEqual(codes(ok), []);
    assert.equal(ok.base.resolved, snap);
    assert.equal(ok.compatible, true);

    const nc = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'b'), { base: 'org/absent' }));
    assert.deepEqual(codes(nc), ['base-model-not-cached:warning']);
    assert.equal(nc.compatible, null);
    assert.equal(nc.base.candidates[0]?.path, snap);
    const off = await diagnoseAdapter(testFs(home, { HF_HUB_OFFLINE: '1' }), makeAdapter(path.join(ws, 'b'), { base: 'org/absent' }));
    assert.ok(has(off, 'base-model-not-cached', 'error'));

    const rev = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'c'), { base: 'org/tiny', extra: { revision: 'unsloth' } }));
    assert.ok(has(rev, 'revision-suspicious', 'warning'));
    assert.equal(under(rev, 'revision-suspicious'), '"unsloth"');
    assert.deepEqual(rev.problems.find((p) => p.code === 'revision-suspicious')!.fixes, [{ kind: 'remove-revision' }]);
    const rev2 = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'c2'), { base: 'org/tiny', extra: { revision: 'dev-branch' } }));
    assert.ok(has(rev2, 'revision-suspicious'));
    assert.ok(has(rev2, 'base-model-not-cached'));

    const cp = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'd'), { base: snap }));
    assert.deepEqual(codes(cp), ['base-model-cache-path:info']);
    assert.deepEqual(cp.problems[0]!.fixes, [{ kind: 'rewrite-hub-id', hubId: 'org/tiny', revision: COMMIT }]);
  });

  it('base-model-incomplete: no config.json, no weights, a Git LFS pointer', async () => {
    const f = testFs(home);
    const b1 = path.join(ws, 'b1');
    makeBase(b1);
    fs.rmSync(path.join(b1, 'config.json'));
    assert.ok(has(await diagnoseAdapter(f, makeAdapter(path.join(ws, 'a1'), { base: b1 })), 'base-model-incomplete', 'error'));
    const b2 = path.join(ws, 'b2');
    makeBase(b2);
    fs.rmSync(path.join(b2, 'model.safetensors'));
    const d2 = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'a2'), { base: b2 }));
    assert.ok(has(d2, 'base-model-incomplete', 'error'));
    assert.equal(d2.compatible, false);
    const b3 = path.join(ws, 'b3');
    makeBase(b3);
    fs.writeFileSync(path.join(b3, 'model.safetensors'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n');
    const d3 = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'a3'), { base: b3 }));
    assert.match(d3.problems.find((p) => p.code === 'base-model-incomplete')!.message, /Git LFS pointer/);
  });

  it('adapter-base-shape-mismatch against a different model size, adapter-base-missing-module against another architecture', async () => {
    const f = testFs(home);
    const big = makeBase(path.join(ws, 'big'), { ...TINY, hidden: 128, intermediate: 256 });
    const d = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'a'), { base: big }));
    assert.ok(has(d, 'adapter-base-shape-mismatch', 'error'));
    assert.equal(under(d, 'adapter-base-shape-mismatch'), JSON.stringify(big));
    assert.equal(d.compatible, false);
    const gpt = path.join(ws, 'gpt');
    fs.mkdirSync(gpt);
    fs.writeFileSync(path.join(gpt, 'config.json'), JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_layer: 2, vocab_size: 512 }));
    writeSafetensors(path.join(gpt, 'model.safetensors'), [['h.0.attn.c_attn.weight', [64, 192]], ['wte.weight', [512, 64]]]);
    const g = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'b'), { base: gpt }));
    assert.ok(has(g, 'adapter-base-missing-module', 'error'));
    assert.ok(has(g, 'target-module-not-found', 'error'));
    assert.equal(under(g, 'target-module-not-found'), '[\n    "q_proj",\n    "v_proj"\n  ]');
  });

  it('rank-mismatch when tensors disagree with r or rank_pattern', async () => {
    const base = makeBase(path.join(ws, 'base'));
    const d = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'a'), { base, r: 16, tensorRank: 8 }));
    assert.ok(has(d, 'rank-mismatch', 'error'));
    assert.equal(under(d, 'rank-mismatch'), '16');
    const ok = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'b'), { base, r: 16, tensorRank: 8, extra: { rank_pattern: { q_proj: 8, v_proj: 8 } } }));
    assert.ok(!has(ok, 'rank-mismatch'), codes(ok).join());
  });

  it('fan-in-fan-out-mismatch for fan_in_fan_out=true on a Linear model', async () => {
    const base = makeBase(path.join(ws, 'base'));
    const d = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'a'), { base, fanInFanOut: true, targets: ['q_proj', 'k_proj', 'gate_proj'] }));
    assert.ok(has(d, 'fan-in-fan-out-mismatch', 'warning'));
    assert.equal(under(d, 'fan-in-fan-out-mismatch'), 'true');
  });

  it('vocab-mismatch: no saved embeddings, but a tokenizer bigger than the base (new tokens untrained)', async () => {
    const base = makeBase(path.join(ws, 'base')); // vocab 512
    const b = makeAdapter(path.join(ws, 'b'), { base });
    fs.writeFileSync(path.join(b, 'tokenizer.model'), sentencePieceModel(600));
    const d = await diagnoseAdapter(testFs(home), b);
    assert.deepEqual(codes(d), ['vocab-mismatch:error']);
    assert.match(d.problems[0]!.message, /600 tokens but the base has 512 embedding rows and the adapter saves no embed_tokens\/lm_head/);
    assert.equal(d.compatible, false);
  });

  it('a saved embedding of the base\'s own size with a matching tokenizer is plain modules_to_save: no vocab finding', async () => {
    const base = makeBase(path.join(ws, 'base'));
    const a = makeAdapter(path.join(ws, 'a'), { base, savedVocab: 512 });
    fs.writeFileSync(path.join(a, 'tokenizer.model'), sentencePieceModel(512));
    const d = await diagnoseAdapter(testFs(home), a);
    assert.deepEqual(codes(d), []);
    assert.equal(d.compatible, true);
  });

  it('resized vocabulary after a tie: the saved lm_head of a tied base maps to the embeddings', async () => {
    const base = makeBase(path.join(ws, 'tied'), TINY, { tied: true });
    const a = makeAdapter(path.join(ws, 'a'), { base, savedVocab: 600 });
    fs.writeFileSync(path.join(a, 'tokenizer.model'), sentencePieceModel(600));
    const d = await diagnoseAdapter(testFs(home), a);
    assert.deepEqual(codes(d), ['vocab-resized:info']);
    assert.equal(d.compatible, true);
  });
  it('layers-out-of-range, base-model-quantized, layer-replication', async () => {
    const q = makeBase(path.join(ws, 'q'), TINY, { config: { quantization_config: { quant_method: 'bitsandbytes', load_in_4bit: true } } });
    const d = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'a'), { base: q, extra: { layers_to_transform: [0, 5], layer_replication: [[0, 2]] } }));
    assert.ok(has(d, 'layers-out-of-range', 'error'));
    assert.equal(under(d, 'layers-out-of-range'), '[\n    0,\n    5\n  ]');
    assert.ok(has(d, 'base-model-quantized', 'warning'));
    assert.ok(has(d, 'layer-replication', 'info'));
  });

  it('--base overrides the recorded value', async () => {
    const base = makeBase(path.join(ws, 'base'));
    const d = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'a'), { base: '/kaggle/input/llama' }), { base });
    assert.deepEqual(codes(d), []);
    assert.equal(d.base.resolved, base);
    assert.equal(d.base.kind, 'absolute');
    assert.equal(d.compatible, true);
  });

  it('bad input: malformed JSON, binary, huge config, missing and unreadable adapter weights', async () => {
    const base = makeBase(path.join(ws, 'base'));
    const a = makeAdapter(path.join(ws, 'a'), { base, configText: `{\n  "peft_type": "LORA"\n  "base_model_name_or_path": "${base}",\n  "r": 8,\n  "target_modules": ["q_proj", "v_proj"]\n` });
    const d = await diagnoseAdapter(testFs(home), a);
    assert.ok(has(d, 'json-syntax', 'error'));
    assert.equal(d.base.resolved, base);
    assert.equal(d.compatible, true, 'what parsed is still diagnosed');
    const bin = path.join(ws, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'adapter_config.json'), Buffer.from([0, 1, 2, 3, 0xff, 0xfe]));
    assert.deepEqual(codes(await diagnoseAdapter(testFs(home), bin)), ['not-peft-config:error']);
    const huge = path.join(ws, 'huge');
    fs.mkdirSync(huge);
    fs.writeFileSync(path.join(huge, 'adapter_config.json'), '');
    fs.truncateSync(path.join(huge, 'adapter_config.json'), 64 * 1024 * 1024);
    await assert.rejects(diagnoseAdapter(testFs(home), huge), /too large/);
    const nw = makeAdapter(path.join(ws, 'nw'), { base });
    fs.rmSync(path.join(nw, 'adapter_model.safetensors'));
    const dn = await diagnoseAdapter(testFs(home), nw);
    assert.deepEqual(codes(dn), ['adapter-weights-missing:warning']);
    fs.writeFileSync(path.join(nw, 'adapter_model.safetensors'), Buffer.alloc(40));
    assert.ok(has(await diagnoseAdapter(testFs(home), nw), 'adapter-weights-unreadable', 'error'));
    await assert.rejects(diagnoseAdapter(testFs(home), path.join(ws, 'nope')), /not found/);
  });

  it('re-diagnoses when the base folder changes (cache invalidation)', async () => {
    const cache = new BaseModelCache();
    const base = makeBase(path.join(ws, 'base'));
    const a = makeAdapter(path.join(ws, 'a'), { base });
    assert.equal((await diagnoseAdapter(testFs(home), a, { cache })).compatible, true);
    makeBase(base, { ...TINY, hidden: 128, intermediate: 256 }); // replaced in place
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(base, 'model.safetensors'), later, later);
    assert.equal((await diagnoseAdapter(testFs(home), a, { cache })).compatible, false);
    fs.rmSync(base, { recursive: true });
    assert.ok(has(await diagnoseAdapter(testFs(home), a, { cache }), 'base-model-missing', 'error'));
  });
});

describe('the vocabulary judgement (issue 13): a resized vocabulary the adapter carries is compatible', () => {
  interface Case {
    readonly name: string;
    readonly spec: { savedVocab: number; savedHeadRows?: number; savedHidden?: number };
    readonly tokenizer: number | null;
    readonly code: string;
    readonly severity: 'error' | 'info';
    readonly message: RegExp;
    readonly compatible: boolean;
  }
  const cases: Case[] = [
    {
      name: 'resized and consistent (rows agree with each other and the tokenizer, hidden size matches)',
      spec: { savedVocab: 600 }, tokenizer: 600, code: 'vocab-resized', severity: 'info', compatible: true,
      message: /^The vocabulary is resized: 512 -> 600 \(model\.embed_tokens and lm_head saved in full, 600 tokens .*tokenizer\.model\)\. Loading resizes the base's embeddings to 600 and uses the adapter's tokenizer; merging replaces the base's embeddings with the saved ones, writes vocab_size=600 to config\.json and copies the adapter's tokenizer\.$/,
    },
    {
      name: 'resized, tokenizer smaller than the saved rows (rows padded): still fine',
      spec: { savedVocab: 640 }, tokenizer: 600, code: 'vocab-resized', severity: 'info', compatible: true, message: /512 -> 640/,
    },
    {
      name: 'the tokenizer needs more rows than saved',
      spec: { savedVocab: 600 }, tokenizer: 640, code: 'vocab-mismatch', severity: 'error', compatible: false,
      message: /tokenizer \(.*tokenizer\.model\) has 640 tokens but its saved model\.embed_tokens and lm_head have 600 rows: ids >= 600 index out of range/,
    },
    {
      name: 'the saved rows disagree with each other',
      spec: { savedVocab: 600, savedHeadRows: 599 }, tokenizer: 600, code: 'vocab-mismatch', severity: 'error', compatible: false,
      message: /saved model\.embed_tokens has 600 rows but the saved lm_head has 599: one vocabulary cannot have both sizes/,
    },
    {
      name: 'the vocabulary was resized but no tokenizer is shipped',
      spec: { savedVocab: 600 }, tokenizer: null, code: 'vocab-mismatch', severity: 'error', compatible: false,
      message: /saves model\.embed_tokens and lm_head with 600 rows but the base has 512, and no tokenizer is saved with the adapter/,
    },
    {
      name: 'the hidden size differs from the base',
      spec: { savedVocab: 600, savedHidden: 32 }, tokenizer: 600, code: 'vocab-mismatch', severity: 'error', compatible: false,
      message: /saves model\.embed_tokens as \[600, 32\] but the base's hidden size is 64/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.code} (${c.severity}), compatible ${c.compatible}, diagnose exits ${c.compatible ? 0 : 1}`, async () => {
      const ws = tempDir('diag-vocab-');
      const base = makeBase(path.join(ws, 'base'));
      const a = makeAdapter(path.join(ws, 'a'), { base, ...c.spec });
      if (c.tokenizer !== null) fs.writeFileSync(path.join(a, 'tokenizer.model'), sentencePieceModel(c.tokenizer));
      const d = await diagnoseAdapter(testFs(tempDir('diag-vocab-home-')), a);
      assert.deepEqual(codes(d), [`${c.code}:${c.severity}`]);
      assert.match(d.problems[0]!.message, c.message);
      assert.equal(under(d, c.code), '[\n    "embed_tokens",\n    "lm_head"\n  ]');
      assert.equal(d.compatible, c.compatible);
      assert.deepEqual(d.incompatibilities.map((p) => p.code), c.compatible ? [] : ['vocab-mismatch']);
      assert.equal(baseStatusOf(d), c.compatible ? 'ok' : 'error');
      const out = await cliRun(['diagnose', a, '--json'], ws);
      assert.equal(out.code, c.compatible ? 0 : 1, out.err);
      const j = JSON.parse(out.out) as { compatible: boolean; problems: Array<{ code: string; severity: string; message: string }> };
      assert.equal(j.compatible, c.compatible);
      assert.deepEqual(j.problems.map((p) => [p.code, p.severity]), [[c.code, c.severity]]);
      assert.match(j.problems[0]!.message, c.message);
    });
  }
});

const cliRun = (args: string[], cwd: string): ReturnType<typeof runCliCaptured> => runCliCaptured(args, { cwd });

describe('lora-workbench diagnose (CLI)', () => {
  const cli = cliRun;
  it('exits 0 / 1 / 2 and prints the issue\'s JSON shape', async () => {
    const ws = tempDir('diag-cli-');
    const base = makeBase(path.join(ws, 'base'));
    makeAdapter(path.join(ws, 'good'), { base });
    makeAdapter(path.join(ws, 'bad'), { base: '/content/base' });
    const good = await cli(['diagnose', 'good', '--json'], ws);
    assert.equal(good.code, 0, good.err);
    const j = JSON.parse(good.out) as { config: string; base: { resolved: string }; compatible: boolean };
    assert.equal(j.config, path.join(ws, 'good/adapter_config.json'));
    assert.equal(j.base.resolved, base);
    assert.equal(j.compatible, true);
    const bad = await cli(['diagnose', path.join(ws, 'bad/adapter_config.json'), '--json'], ws);
    assert.equal(bad.code, 1);
    assert.equal((JSON.parse(bad.out) as { problems: Array<{ code: string }> }).problems[0]!.code, 'base-model-foreign-path');
    const fixed = await cli(['diagnose', 'bad', '--base', 'base'], ws);
    assert.equal(fixed.code, 0, fixed.out + fixed.err);
    assert.match(fixed.out, /compatible: yes/);
    assert.equal((await cli(['diagnose'], ws)).code, 2);
    assert.equal((await cli(['diagnose', 'missing-folder'], ws)).code, 2);
    assert.equal((await cli(['diagnose', 'bad', '--base', 'nope'], ws)).code, 2);
  });
});

describe('relink run / fix edits', () => {
  it('finds every adapter of the run that records the same base, and edits each minimally', async () => {
    const ws = tempDir('diag-relink-');
    const run = path.join(ws, 'runs/r1');
    makeAdapter(path.join(run, 'checkpoint-10'), { base: '/content/base' });
    makeAdapter(path.join(run, 'checkpoint-20'), { base: '/content/base' });
    makeAdapter(path.join(run, 'checkpoint-30/sft_lora_model'), { base: '/content/base' });
    makeAdapter(run, { base: '/content/base' });
    makeAdapter(path.join(run, 'checkpoint-40'), { base: 'other/base' });
    const f = testFs(ws);
    assert.equal(await runFolderOf(f, path.join(run, 'checkpoint-30/sft_lora_model')), run);
    const found = await findRunAdapters(f, path.join(run, 'checkpoint-10'), '/content/base');
    assert.deepEqual(found.map((p) => path.relative(run, p)), ['adapter_config.json', 'checkpoint-10/adapter_config.json', 'checkpoint-20/adapter_config.json', 'checkpoint-30/sft_lora_model/adapter_config.json']);
    const text = fs.readFileSync(found[0]!, 'utf8');
    const parsed = parseAdapterConfig(text);
    assert.equal(applyTextEdits(text, editsForBase(parsed, '/models/base')), text.replace('"/content/base"', '"/models/base"'));
    assert.equal(editsForFix(parsed, { kind: 'choose-base' }), null);
    const rev = parseAdapterConfig(text.replace('"revision": null', '"revision": "unsloth"'));
    assert.equal(applyTextEdits(rev.text, editsForFix(rev, { kind: 'remove-revision' })!), text);
  });
});

describe('diagnose: foreign kinds and I/O failures', () => {
  it('Windows paths on Linux are foreign; ModelScope cache paths map to the local cache', async () => {
    const ws = tempDir('diag-kinds-');
    const home = tempDir('diag-kinds-home-');
    const f = testFs(home);
    const w = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'w'), { base: 'D:\\models\\Llama-2-7b-hf' }));
    assert.deepEqual([w.base.kind, w.base.origin], ['windows', 'windows']);
    assert.ok(has(w, 'base-model-foreign-path', 'error'));
    assert.match(w.problems[0]!.message, /Windows/);
    const ms = path.join(home, '.cache/modelscope/hub/models/qwen/Tiny___1');
    makeBase(ms);
    const m = await diagnoseAdapter(f, makeAdapter(path.join(ws, 'm'), { base: '/mnt/workspace/.cache/modelscope/hub/models/qwen/Tiny___1' }));
    assert.equal(m.base.kind, 'modelscope-cache');
    assert.equal(m.base.resolved, ms);
    assert.ok(has(m, 'base-model-foreign-path', 'error'));
    assert.equal(m.compatible, false, 'the written value still fails to load');
    assert.deepEqual(m.problems[0]!.fixes[0], { kind: 'make-absolute', value: ms });
  });
  it('permission errors on the base become base-model-unreadable, not a crash', async () => {
    const ws = tempDir('diag-perm-');
    const base = makeBase(path.join(ws, 'base'));
    const inner = testFs(ws);
    const denied = (p: string): boolean => p === base || p.startsWith(base + '/');
    const fsDenied = Object.assign(Object.create(inner) as typeof inner, {
      stat: async (p: string) => {
        if (denied(p)) throw new Error(`${p}: permission denied while trying to stat.`);
        return inner.stat(p);
      },
    });
    const d = await diagnoseAdapter(fsDenied, makeAdapter(path.join(ws, 'a'), { base }));
    assert.ok(has(d, 'base-model-unreadable', 'error'), codes(d).join());
    assert.match(d.problems.find((p) => p.code === 'base-model-unreadable')!.message, /permission denied/);
    assert.equal(d.compatible, false);
  });
});

describe('diagnose: real PEFT-saved adapters (test/fixtures/merge, written by torch + PEFT)', () => {
  const root = path.join(__dirname, '../fixtures/merge');
  const run = (adapter: string, base: string): Promise<Diagnosis> =>
    diagnoseAdapter(testFs(tempDir('diag-real-')), path.join(root, 'adapters', adapter), { base: path.join(root, 'bases', base), candidates: 'never' });
  for (const a of ['lora', 'bin', 'dora', 'embedding', 'layers', 'rslora_patterns']) {
    it(`${a} fits llama_f32 and the sharded bf16 copy`, async () => {
      for (const b of ['llama_f32', 'llama_bf16_sharded']) {
        const d = await run(a, b);
        assert.deepEqual(codes(d), [], `${a} vs ${b}`);
        assert.equal(d.compatible, true);
        assert.ok(d.compat!.total > 0 && d.compat!.matched === d.compat!.total);
      }
    });
  }
  it('resized_vocab (PEFT saved no tokenizer with it): one vocab-mismatch naming both saved modules', async () => {
    const d = await run('resized_vocab', 'llama_f32');
    assert.deepEqual(codes(d), ['vocab-mismatch:error']);
    assert.match(d.problems[0]!.message, /embed_tokens and lm_head with 40 rows but the base has 32, and no tokenizer is saved/);
  });
  it('conv1d (GPT-2, lora_bias): fits gpt2_f32 with the Conv1D note; fits nothing in a LLaMA', async () => {
    const d = await run('conv1d', 'gpt2_f32');
    assert.deepEqual(codes(d), ['fan-in-fan-out-mismatch:info']);
    assert.equal(d.compatible, true);
    const l = await run('conv1d', 'llama_f32');
    assert.ok(has(l, 'adapter-base-missing-module', 'error') && has(l, 'target-module-not-found', 'error'));
  });
  it('a pickle that would run code is refused, not executed', async () => {
    const d = await run('malicious', 'llama_f32');
    assert.ok(has(d, 'adapter-weights-unreadable', 'error'));
    assert.match(d.problems.find((p) => p.code === 'adapter-weights-unreadable')!.message, /refused/);
  });
});

describe('diagnose: hub-id-shaped relative paths', () => {
  it('"models/x" whose models/ folder exists but x is gone is a missing relative path, not an uncached hub id', async () => {
    const ws = tempDir('diag-rel-');
    const home = tempDir('diag-rel-home-');
    fs.mkdirSync(path.join(ws, 'models/other'), { recursive: true });
    const a = makeAdapter(path.join(ws, 'runs/r/checkpoint-1'), { base: 'models/gone' });
    const d = await diagnoseAdapter(testFs(home), a, { workspaceFolders: [ws] });
    assert.deepEqual(codes(d), ['base-model-missing:error']);
    assert.match(d.problems[0]!.message, /looks like a relative path/);
    const h = await diagnoseAdapter(testFs(home), makeAdapter(path.join(ws, 'runs/r/checkpoint-2'), { base: 'meta-llama/Llama-2-7b-hf' }), { workspaceFolders: [ws] });
    assert.deepEqual(codes(h), ['base-model-not-cached:warning']);
  });
});
