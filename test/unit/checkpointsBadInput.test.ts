// Bad input for the checkpoint scan, built at test time in a temp folder: symlink loops, unreadable folders, huge and
// non-UTF-8 files, dangling links. Each must become a finding, never a throw or a hang. Plus glob semantics, the zip
// trailer check and the `scan` CLI contract (JSON shape, exit codes).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/main';
import { CoreError } from '../../src/core/errors';
import { globToRegExp, GlobSet } from '../../src/core/checkpoints/glob';
import { scanCheckpoints } from '../../src/core/checkpoints/scan';
import { metricsAt, parseTrainerState } from '../../src/core/checkpoints/trainerState';
import { checkZipTrailer } from '../../src/core/checkpoints/weightsHealth';
import type { DirEntry } from '../../src/core/ports';
import { absolutePath, NodeFs } from '../../src/node/nodeFs';

const FIXTURES = absolutePath(path.join(__dirname, '..', 'fixtures', 'checkpoints', 'tree'));

function tmpTree(): string {
  return absolutePath(fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lw-scan-'))));
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

/** NodeFs whose readDir fails with permission denied for chosen folders (the tests may run as root, where chmod 000 still reads). */
class DenyingFs extends NodeFs {
  constructor(private readonly denied: Set<string>) {
    super();
  }
  override async readDir(p: string): Promise<DirEntry[]> {
    if (this.denied.has(p)) throw new CoreError('io', `${p}: permission denied while trying to list the folder.`, p);
    return super.readDir(p);
  }
}

async function cli(args: string[], cwd = process.cwd()): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  const code = await runCli(args, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), cwd, interactive: false });
  return { code, out, err };
}

describe('checkpoint scan: bad input', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpTree();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('follows symlinked folders once and survives symlink loops', async () => {
    copyDir(`${FIXTURES}/hf-run`, `${dir}/run`);
    fs.symlinkSync(dir, `${dir}/run/loop-to-root`); // a cycle back to the root
    fs.symlinkSync(`${dir}/run`, `${dir}/alias`); // a second name for the run
    fs.symlinkSync(`${dir}/self`, `${dir}/self`); // a link to itself (ELOOP)
    const r = await scanCheckpoints(new NodeFs(), [dir]);
    assert.equal(r.runs.length, 1);
    assert.equal(r.runs[0]!.checkpoints.length, 4);
    assert.ok(r.problems.some((p) => p.code === 'symlink-loop' && p.file === `${dir}/run/loop-to-root`));
    assert.ok(r.problems.some((p) => p.code === 'symlink-loop' && p.file === `${dir}/self`));
  });

  it('turns an unreadable folder into a warning and scans the rest', async () => {
    copyDir(`${FIXTURES}/hf-run`, `${dir}/ok`);
    copyDir(`${FIXTURES}/hf-run`, `${dir}/locked`);
    const r = await scanCheckpoints(new DenyingFs(new Set([`${dir}/locked`])), [dir]);
    assert.deepEqual(r.runs.map((x) => x.name), ['ok']);
    const p = r.problems.find((x) => x.code === 'unreadable');
    assert.equal(p?.file, `${dir}/locked`);
    assert.equal(p?.severity, 'warning');
    assert.match(p!.message, /permission denied/);
  });

  it('does not read a huge trainer_state.json or adapter_config.json (sparse files), and says so', async () => {
    copyDir(`${FIXTURES}/hf-run/checkpoint-100`, `${dir}/run/checkpoint-100`);
    fs.writeFileSync(`${dir}/run/trainer_state.json`, '');
    fs.truncateSync(`${dir}/run/trainer_state.json`, 300 * 1024 * 1024);
    fs.mkdirSync(`${dir}/big-adapter`);
    fs.writeFileSync(`${dir}/big-adapter/adapter_config.json`, '');
    fs.truncateSync(`${dir}/big-adapter/adapter_config.json`, 64 * 1024 * 1024);
    const t0 = Date.now();
    const r = await scanCheckpoints(new NodeFs(), [dir]);
    assert.ok(Date.now() - t0 < 5000);
    const run = r.runs.find((x) => x.name === 'run')!;
    assert.ok(run.health.some((h) => h.code === 'too-large' && h.file === `${dir}/run/trainer_state.json`));
    // The checkpoint's own (small) state still provides metrics.
    assert.equal(run.checkpoints[0]!.metrics.evalLoss, 1.6);
    const big = r.adapters.find((a) => a.path === `${dir}/big-adapter`)!;
    assert.deepEqual(big.health.map((h) => h.code), ['too-large', 'missing-weights']);
  });

  it('reports a safetensors header that claims gigabytes without allocating them', async () => {
    fs.mkdirSync(`${dir}/a`);
    fs.copyFileSync(`${FIXTURES}/hf-run/adapter_config.json`, `${dir}/a/adapter_config.json`);
    const b = Buffer.alloc(64);
    b.writeBigUInt64LE(2n ** 40n);
    fs.writeFileSync(`${dir}/a/adapter_model.safetensors`, b);
    const r = await scanCheckpoints(new NodeFs(), [dir]);
    assert.deepEqual(r.adapters[0]!.health.map((h) => h.code), ['truncated']);
  });

  it('reads headers larger than the first read (>64 KB) and agrees with the reference parser', async () => {
    fs.mkdirSync(`${dir}/big`);
    fs.copyFileSync(`${FIXTURES}/hf-run/adapter_config.json`, `${dir}/big/adapter_config.json`);
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (let l = 0; l < 600; l++) {
      for (const [ab, shape] of [['lora_A', [4, 64]], ['lora_B', [64, 4]]] as const) {
        header[`base_model.model.model.layers.${l}.self_attn.q_proj.${ab}.weight`] = { dtype: 'F16', shape, data_offsets: [off, off + 512] };
        off += 512;
      }
    }
    const h = Buffer.from(JSON.stringify(header));
    assert.ok(h.length > 64 * 1024);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    fs.writeFileSync(`${dir}/big/adapter_model.safetensors`, Buffer.concat([len, h, Buffer.alloc(off)]));
    const r = await scanCheckpoints(new NodeFs(), [dir]);
    const a = r.adapters[0]!;
    assert.deepEqual(a.health, []);
    assert.equal(a.tensorCount, 1200);
    assert.equal(a.params, 1200 * 256);
    assert.equal(a.dtype, 'F16');
  });

  it('reports non-UTF-8 and non-object trainer_state.json, and a dangling weights link', async () => {
    copyDir(`${FIXTURES}/hf-run/checkpoint-100`, `${dir}/r1/checkpoint-100`);
    fs.writeFileSync(`${dir}/r1/checkpoint-100/trainer_state.json`, Buffer.from([0xff, 0xfe, 0x7b, 0x00]));
    copyDir(`${FIXTURES}/hf-run/checkpoint-100`, `${dir}/r2/checkpoint-100`);
    fs.writeFileSync(`${dir}/r2/checkpoint-100/trainer_state.json`, '[1, 2]');
    fs.rmSync(`${dir}/r2/checkpoint-100/adapter_model.safetensors`);
    fs.symlinkSync(`${dir}/nowhere.safetensors`, `${dir}/r2/checkpoint-100/adapter_model.safetensors`);
    const r = await scanCheckpoints(new NodeFs(), [dir]);
    const r1 = r.runs.find((x) => x.name === 'r1')!;
    assert.match(r1.health[0]!.message, /not UTF-8/);
    const r2 = r.runs.find((x) => x.name === 'r2')!;
    assert.match(r2.health[0]!.message, /not a JSON object/);
    assert.deepEqual(r2.checkpoints[0]!.health.map((h) => h.code), ['missing-weights']);
  });

  it('shows an empty checkpoint folder (being written) as a warning, not a crash', async () => {
    copyDir(`${FIXTURES}/hf-run`, `${dir}/run`);
    fs.mkdirSync(`${dir}/run/checkpoint-1100`);
    const r = await scanCheckpoints(new NodeFs(), [dir]);
    const c = r.runs[0]!.checkpoints.find((x) => x.name === 'checkpoint-1100')!;
    assert.deepEqual(c.health.map((h) => h.code), ['missing-adapter']);
    assert.deepEqual(r.runs[0]!.checkpoints.map((x) => x.step), [100, 200, 1000, 1000, 1100]);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(scanCheckpoints(new NodeFs(), [FIXTURES], { signal: ac.signal }), /Cancelled/);
  });
});

describe('checkpoint scan: helpers', () => {
  it('globs: ** spans folders, * stays in a segment, braces and classes', () => {
    assert.ok(globToRegExp('**/node_modules').test('node_modules'));
    assert.ok(globToRegExp('**/node_modules').test('a/b/node_modules'));
    assert.ok(!globToRegExp('**/node_modules').test('a/node_modules_x'));
    assert.ok(globToRegExp('runs/*').test('runs/a'));
    assert.ok(!globToRegExp('runs/*').test('runs/a/b'));
    assert.ok(globToRegExp('runs/**').test('runs/a/b'));
    assert.ok(globToRegExp('{a,b}/c?').test('b/cd'));
    assert.ok(globToRegExp('x[0-9]').test('x7'));
    assert.ok(globToRegExp('**').test(''));
    assert.ok(new GlobSet(['runs']).matchesSelfOrAncestor('runs/a/checkpoint-1'));
    assert.ok(!new GlobSet(['runs']).matchesSelfOrAncestor('other/runs2'));
  });

  it('metrics: loss from the last row at or before the step, eval loss only at the step', () => {
    const s = parseTrainerState({
      global_step: 30,
      log_history: [{ step: 10, loss: 2, learning_rate: 1e-4, epoch: 0.1 }, { step: 20, eval_loss: 1.5 }, { step: 25, loss: 1.8, grad_norm: 0.5 }],
    });
    assert.deepEqual(metricsAt(s, 20), { loss: 2, evalLoss: 1.5, epoch: 0.1, learningRate: 1e-4, gradNorm: null });
    assert.deepEqual(metricsAt(s, 30), { loss: 1.8, evalLoss: null, epoch: null, learningRate: null, gradNorm: 0.5 });
    assert.deepEqual(metricsAt(s, 5).loss, null);
    assert.throws(() => parseTrainerState('x'));
  });

  it('zip trailer: a complete zip passes, a cut one and one with a garbled directory fail', async () => {
    const fsn = new NodeFs();
    const ok = await fsn.open(`${FIXTURES}/chinese-alpaca/sft_lora_model/adapter_model.bin`);
    assert.deepEqual(await checkZipTrailer(ok), { ok: true, entries: 3 });
    await ok.close();
    const dir = tmpTree();
    try {
      const bytes = fs.readFileSync(`${FIXTURES}/chinese-alpaca/sft_lora_model/adapter_model.bin`);
      const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      const bad = Buffer.from(bytes);
      bad.writeUInt32LE(bad.readUInt32LE(eocd + 16) + 5, eocd + 16); // central directory offset off by 5
      fs.writeFileSync(`${dir}/bad.bin`, bad);
      const src = await fsn.open(`${dir}/bad.bin`);
      const r = await checkZipTrailer(src);
      await src.close();
      assert.equal(r.ok, false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lora-workbench scan (CLI)', () => {
  it('--json prints the issue-3 shape with absolute paths, exit 0', async () => {
    const { code, out } = await cli(['scan', 'test/fixtures/checkpoints/tree/hf-run', '--json']);
    assert.equal(code, 0);
    const j = JSON.parse(out);
    assert.deepEqual(Object.keys(j).filter((k) => ['runs', 'adapters', 'models'].includes(k)).sort(), ['adapters', 'models', 'runs']);
    const run = j.runs[0];
    assert.equal(run.path, `${FIXTURES}/hf-run`);
    assert.equal(run.kind, 'hf-trainer');
    const c = run.checkpoints[1];
    for (const k of ['path', 'step', 'best', 'metrics', 'adapter', 'health']) assert.ok(k in c, k);
    for (const k of ['loss', 'evalLoss', 'epoch', 'learningRate']) assert.ok(k in c.metrics, k);
    for (const k of ['path', 'format', 'peftType', 'variant', 'r', 'alpha', 'targetModules', 'modulesToSave', 'baseModel', 'weightsFile', 'weightsBytes', 'params', 'health']) {
      assert.ok(k in c.adapter, k);
    }
    assert.equal(c.best, true);
    assert.ok(c.path.startsWith('/'));
    assert.equal(j.adapters.length, 4);
  });

  it('human-readable output names runs, steps and findings', async () => {
    const { code, out } = await cli(['scan', 'broken-run'], FIXTURES);
    assert.equal(code, 0);
    assert.match(out, /broken-run {2}\[hf-trainer, 14 checkpoint\(s\)\]/);
    assert.match(out, /ERROR \[lfs-pointer\]/);
  });

  it('exits 2 on usage and I/O errors', async () => {
    assert.equal((await cli(['scan'])).code, 2);
    assert.equal((await cli(['scan', '--bogus', '.'])).code, 2);
    assert.equal((await cli(['scan', '.', '--max-depth', '-1'])).code, 2);
    const missing = await cli(['scan', '/definitely/not/here']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no such folder/);
    assert.equal((await cli(['scan', 'test/fixtures/checkpoints/generate.mjs'])).code, 2);
  });
});
