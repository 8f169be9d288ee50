import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findInHfCache, hfCacheRoots } from '../../src/core/basemodel/caches';
import { classifyBase } from '../../src/core/basemodel/classify';
import { resolveBaseModel } from '../../src/core/basemodel/resolve';
import { countSentencePieces, readTokenizerSize } from '../../src/core/basemodel/tokenizerSize';
import type { HostEnv } from '../../src/core/ports';
import { addToHfCache, addToModelscopeCache, makeBase, sentencePieceModel, tempDir, testFs } from '../fixtures/diagnose/build';

const LINUX: HostEnv = { platform: 'linux', home: '/home/me', cwd: '/home/me', vars: {} };
const COMMIT = 'a'.repeat(40);
const COMMIT2 = 'b'.repeat(40);

describe('basemodel classify', () => {
  const kind = (v: unknown, env: HostEnv = LINUX) => classifyBase(v, env);
  it('recognises every kind', () => {
    assert.equal(kind('/models/llama').kind, 'absolute');
    assert.equal(kind('D:\\models\\llama').kind, 'windows');
    assert.equal(kind('\\\\nas\\models\\llama').kind, 'windows');
    assert.equal(kind('./llama').kind, 'relative');
    assert.equal(kind('../models/llama').kind, 'relative');
    assert.equal(kind('~/models/llama').kind, 'home');
    assert.equal(kind('meta-llama/Llama-2-7b-hf').kind, 'hub-id');
    assert.equal(kind('gpt2').kind, 'hub-id');
    assert.equal(kind(null).kind, 'null');
    assert.equal(kind('').kind, 'null');
    assert.equal(kind(42).kind, 'null');
    const snap = kind(`/root/.cache/huggingface/hub/models--meta-llama--Llama-2-7b-hf/snapshots/${COMMIT}`);
    assert.deepEqual([snap.kind, snap.hubId, snap.snapshot], ['hf-cache-snapshot', 'meta-llama/Llama-2-7b-hf', COMMIT]);
    const ms = kind('/root/.cache/modelscope/hub/models/qwen/Qwen2___5-7B-Instruct');
    assert.deepEqual([ms.kind, ms.hubId], ['modelscope-cache', 'qwen/Qwen2.5-7B-Instruct']);
    assert.equal(kind('/mnt/cache/modelscope/hub/ZhipuAI/chatglm3-6b').hubId, 'ZhipuAI/chatglm3-6b');
  });
  it('recognises paths from other machines', () => {
    assert.equal(kind('/content/drive/MyDrive/llama').origin, 'colab');
    assert.equal(kind('/kaggle/input/llama-2/pytorch/7b/1').origin, 'kaggle');
    assert.equal(kind('/root/autodl-tmp/models/Llama-2-7b').origin, 'autodl');
    assert.equal(kind('/home/alice/models/llama').origin, 'other-home');
    assert.equal(kind('/home/me/models/llama').origin, undefined);
    assert.equal(kind('D:\\models\\llama').origin, 'windows');
    assert.equal(kind('D:\\models\\llama', { ...LINUX, platform: 'win32' }).origin, undefined);
    assert.equal(kind('/data/models/llama', { ...LINUX, platform: 'win32' }).origin, 'posix');
  });
});

describe('basemodel caches', () => {
  it('orders HF cache roots like huggingface_hub, legacy variables last', () => {
    const roots = hfCacheRoots({ ...LINUX, vars: { HF_HUB_CACHE: '/a', HF_HOME: '/b', XDG_CACHE_HOME: '/c', TRANSFORMERS_CACHE: '/d', HUGGINGFACE_HUB_CACHE: '/e' } });
    assert.deepEqual(roots.map((r) => r.path), ['/a', '/e', '/b/hub', '/c/huggingface/hub', '/home/me/.cache/huggingface/hub', '/d']);
    assert.deepEqual(hfCacheRoots(LINUX).map((r) => r.path), ['/home/me/.cache/huggingface/hub']);
    assert.deepEqual(hfCacheRoots({ ...LINUX, vars: { HF_HOME: '~/hf' } }).map((r) => r.path)[0], '/home/me/hf/hub');
  });
  it('finds a repo at main, at a branch from refs/, and at a commit; not at an unknown revision', async () => {
    const home = tempDir();
    const root = path.join(home, '.cache/huggingface/hub');
    addToHfCache(root, 'org/tiny', COMMIT, (d) => makeBase(d), { main: COMMIT, 'refs/pr/1': COMMIT });
    addToHfCache(root, 'org/tiny', COMMIT2, (d) => makeBase(d), { v2: COMMIT2 });
    const f = testFs(home);
    const r = { path: root, source: 'test' };
    assert.equal((await findInHfCache(f, r, 'org/tiny', null))?.snapshotDir, path.join(root, 'models--org--tiny/snapshots', COMMIT));
    assert.equal((await findInHfCache(f, r, 'org/tiny', 'v2'))?.commit, COMMIT2);
    assert.equal((await findInHfCache(f, r, 'org/tiny', 'refs/pr/1'))?.commit, COMMIT);
    assert.equal((await findInHfCache(f, r, 'org/tiny', COMMIT2))?.snapshotDir?.endsWith(COMMIT2), true);
    const bad = await findInHfCache(f, r, 'org/tiny', 'unsloth');
    assert.equal(bad?.snapshotDir, null);
    assert.deepEqual(bad?.refs, ['main', 'refs/pr/1', 'v2']);
    assert.equal(await findInHfCache(f, r, 'org/other', null), null);
  });
});

describe('basemodel resolve', () => {
  it('resolves hub ids through HF_HOME, XDG_CACHE_HOME, HF_HUB_CACHE and legacy TRANSFORMERS_CACHE', async () => {
    const home = tempDir();
    for (const [vars, root] of [
      [{ HF_HOME: path.join(home, 'hfhome') }, path.join(home, 'hfhome/hub')],
      [{ XDG_CACHE_HOME: path.join(home, 'xdg') }, path.join(home, 'xdg/huggingface/hub')],
      [{ HF_HUB_CACHE: path.join(home, 'hubcache') }, path.join(home, 'hubcache')],
      [{ TRANSFORMERS_CACHE: path.join(home, 'tcache') }, path.join(home, 'tcache')],
    ] as Array<[Record<string, string>, string]>) {
      const snap = addToHfCache(root, 'org/tiny', COMMIT, (d) => makeBase(d));
      const r = await resolveBaseModel(testFs(home, vars), 'org/tiny', { adapterDir: path.join(home, 'adapter') });
      assert.equal(r.resolved, snap, JSON.stringify(vars));
      assert.equal(r.via, 'hf-cache');
      fs.rmSync(root, { recursive: true });
    }
    const none = await resolveBaseModel(testFs(home), 'org/tiny', { adapterDir: path.join(home, 'adapter') });
    assert.equal(none.resolved, null);
  });
  it('honours the revision for hub ids', async () => {
    const home = tempDir();
    const root = path.join(home, '.cache/huggingface/hub');
    addToHfCache(root, 'org/tiny', COMMIT, (d) => makeBase(d));
    const snap2 = addToHfCache(root, 'org/tiny', COMMIT2, (d) => makeBase(d), { v2: COMMIT2 });
    const r = await resolveBaseModel(testFs(home), 'org/tiny', { adapterDir: home, revision: 'v2' });
    assert.equal(r.resolved, snap2);
    const missing = await resolveBaseModel(testFs(home), 'org/tiny', { adapterDir: home, revision: 'c'.repeat(40) });
    assert.equal(missing.resolved, null);
    assert.equal(missing.hfCache?.repoDir, path.join(root, 'models--org--tiny'));
  });
  it('maps a foreign HF cache snapshot path onto the local cache', async () => {
    const home = tempDir();
    const snap = addToHfCache(path.join(home, '.cache/huggingface/hub'), 'org/tiny', COMMIT, (d) => makeBase(d));
    const r = await resolveBaseModel(testFs(home), `/root/.cache/huggingface/hub/models--org--tiny/snapshots/${COMMIT}`, { adapterDir: home });
    assert.deepEqual([r.kind, r.resolved, r.via], ['hf-cache-snapshot', snap, 'hf-cache']);
  });
  it('resolves ModelScope ids and cache paths in both layouts', async () => {
    const home = tempDir();
    const msRoot = path.join(home, '.cache/modelscope/hub');
    const dir = addToModelscopeCache(msRoot, 'qwen/Qwen2.5-0.5B', (d) => makeBase(d));
    const old = addToModelscopeCache(msRoot, 'ZhipuAI/glm.tiny', (d) => makeBase(d), 'old');
    const f = testFs(home);
    assert.equal((await resolveBaseModel(f, 'qwen/Qwen2.5-0.5B', { adapterDir: home })).resolved, dir);
    assert.equal((await resolveBaseModel(f, 'ZhipuAI/glm.tiny', { adapterDir: home })).via, 'modelscope-cache');
    assert.equal((await resolveBaseModel(f, 'ZhipuAI/glm.tiny', { adapterDir: home })).resolved, old);
    const r = await resolveBaseModel(f, '/mnt/workspace/.cache/modelscope/hub/models/qwen/Qwen2___5-0___5B', { adapterDir: home });
    assert.deepEqual([r.kind, r.resolved], ['modelscope-cache', dir]);
    const viaEnv = await resolveBaseModel(testFs(home, { MODELSCOPE_CACHE: msRoot }), 'qwen/Qwen2.5-0.5B', { adapterDir: home });
    assert.equal(viaEnv.resolved, dir);
  });
  it('resolves relative values against the workspace, the run\'s working directory and the adapter folder', async () => {
    const ws = tempDir();
    const run = path.join(ws, 'runs/exp1');
    const adapter = path.join(run, 'checkpoint-10');
    fs.mkdirSync(adapter, { recursive: true });
    makeBase(path.join(ws, 'models/tiny'));
    makeBase(path.join(run, 'models/tiny'));
    const r = await resolveBaseModel(testFs(ws), 'models/tiny', { adapterDir: adapter, workspaceFolders: [ws] });
    assert.equal(r.kind, 'relative');
    assert.deepEqual(r.relativeHits.map((h) => [h.role, h.path]), [['workspace', path.join(ws, 'models/tiny')], ['run-cwd', path.join(run, 'models/tiny')]]);
    makeBase(path.join(adapter, 'base'));
    const r2 = await resolveBaseModel(testFs(ws), './base', { adapterDir: adapter, workspaceFolders: [ws] });
    assert.deepEqual([r2.kind, r2.via], ['relative', 'adapter-folder']);
    const r3 = await resolveBaseModel(testFs(ws), '../../models/tiny', { adapterDir: adapter, workspaceFolders: [ws] });
    assert.equal(r3.resolved, path.join(ws, 'models/tiny'));
  });
  it('finds models by name in loraWorkbench.modelSearchPaths and expands ~ for existing folders', async () => {
    const home = tempDir();
    const models = path.join(home, 'models');
    makeBase(path.join(models, 'Llama-2-7b-hf'));
    const f = testFs(home);
    const foreign = await resolveBaseModel(f, '/content/drive/MyDrive/Llama-2-7b-hf', { adapterDir: home, searchPaths: [models] });
    assert.deepEqual([foreign.resolved, foreign.via], [path.join(models, 'Llama-2-7b-hf'), 'search-path']);
    const hub = await resolveBaseModel(f, 'meta-llama/Llama-2-7b-hf', { adapterDir: home, searchPaths: ['~/models'] });
    assert.equal(hub.resolved, path.join(models, 'Llama-2-7b-hf'));
    const tilde = await resolveBaseModel(f, '~/models/Llama-2-7b-hf', { adapterDir: home });
    assert.deepEqual([tilde.kind, tilde.via], ['home', 'home']);
  });
  it('survives symlink loops and dangling links in the cache', async () => {
    const home = tempDir();
    const root = path.join(home, '.cache/huggingface/hub');
    const repo = path.join(root, 'models--org--loop');
    fs.mkdirSync(path.join(repo, 'snapshots'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs/main'), COMMIT);
    fs.symlinkSync(path.join(repo, 'snapshots', COMMIT), path.join(repo, 'snapshots', COMMIT)); // self loop
    const r = await resolveBaseModel(testFs(home), 'org/loop', { adapterDir: home });
    assert.equal(r.resolved, null);
    assert.ok(r.errors.some((e) => /symbolic links|loop/i.test(e)), r.errors.join());
  });
});

describe('tokenizer size', () => {
  it('counts SentencePiece pieces with a protobuf walk', () => {
    assert.equal(countSentencePieces(sentencePieceModel(300)), 300);
    assert.throws(() => countSentencePieces(sentencePieceModel(3).subarray(0, 7)));
  });
  it('reads tokenizer.json, tokenizer.model and added_tokens.json', async () => {
    const d = tempDir();
    const f = testFs(d);
    assert.equal(await readTokenizerSize(f, d), null);
    fs.writeFileSync(path.join(d, 'tokenizer.model'), sentencePieceModel(600));
    assert.equal((await readTokenizerSize(f, d))?.size, 600);
    fs.writeFileSync(path.join(d, 'added_tokens.json'), JSON.stringify({ '<pad>': 600, '<x>': 601 }));
    assert.equal((await readTokenizerSize(f, d))?.size, 602);
    fs.writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1, c: 2 } }, added_tokens: [{ id: 9, content: '<s>' }] }));
    assert.deepEqual(await readTokenizerSize(f, d), { size: 10, source: path.join(d, 'tokenizer.json') });
  });
});
