// Kill harness (issue 18): the real CLI (dist/cli.js) merging a synthetic 32 MiB pair is SIGKILLed at 50 points
// spread from start-up to publish. After each kill: the output is absent or byte-identical to an uncut merge, the
// inputs are byte-identical, every leftover names the dead process, and a run that got as far as taking the lock has
// removed the leftovers of the runs before it. A last uncut run leaves the folder holding the output alone. And a
// second merge to an output that one is writing is refused at start.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspectLeftover, partialTarget } from '../../src/core/merge/partialOutput';
import { NodeFs } from '../../src/node/nodeFs';
import { assertFreshBuild } from '../support/freshBuild';
import { writeSyntheticPair, type SyntheticPair } from '../support/syntheticPair';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const KILLS = 50;
const START_KILLS = 8;

function hashTree(dir: string, skip = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of fs.readdirSync(dir).sort()) {
    if (!skip.has(name)) out.set(name, createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex'));
  }
  return out;
}

function manifestWithoutTime(dir: string): unknown {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'merge_manifest.json'), 'utf8')) as Record<string, unknown>;
  delete m.createdAt;
  return m;
}

interface Run {
  readonly pid: number;
  readonly code: number | null;
  readonly stderr: string;
  /** When this run's lock and its published output appeared, from its start (null: never seen). */
  readonly lockAtMs: number | null;
  readonly outAtMs: number | null;
}

/** The pid in the lock of output `m` (null: none, or one killed before its bytes were written). */
function lockPidOf(parent: string): number | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(parent, '.m.partial.lock'), 'utf8')) as { pid?: number }).pid ?? null;
  } catch {
    return null;
  }
}

/**
 * Run the CLI merge into `<parent>/m`, watching for its lock; with `kill`, SIGKILL it `afterMs` after its start or
 * after its lock appeared (so kills land in the merge itself whatever the start-up costs on a loaded machine).
 */
function runMerge(pair: SyntheticPair, parent: string, kill?: { afterMs: number; from: 'start' | 'lock' }, env: Record<string, string> = {}, out = path.join(parent, 'm')): Promise<Run> {
  const args = [CLI, 'merge', pair.adapter, '--base', pair.base, '--out', out, '--shard-size', '2MB', '--threads', '1'];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let lockAtMs: number | null = null;
  let outAtMs: number | null = null;
  let timer: NodeJS.Timeout | null = kill?.from === 'start' ? setTimeout(() => child.kill('SIGKILL'), kill.afterMs) : null;
  const watch = setInterval(() => {
    if (outAtMs === null && fs.existsSync(out)) outAtMs = performance.now() - t0;
    if (lockAtMs !== null || lockPidOf(parent) !== child.pid) return;
    lockAtMs = performance.now() - t0;
    if (kill?.from === 'lock') timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
  }, 3);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(watch);
      if (timer) clearTimeout(timer);
      resolve({ pid: child.pid!, code, stderr, lockAtMs, outAtMs });
    });
  });
}

/** What a kill left: the output folder, temporary folders (with their owner pid) and the lock. */
async function leftState(parent: string): Promise<{ out: boolean; partials: Array<{ name: string; pid: number | null; state: string }>; lockPid: number | null }> {
  const names = fs.readdirSync(parent);
  const io = new NodeFs();
  const partials = [];
  for (const n of names.filter((x) => partialTarget(x) !== null)) {
    const l = await inspectLeftover(io, parent, n);
    partials.push({ name: n, pid: l.owner?.pid ?? null, state: l.state });
  }
  const lockPid = lockPidOf(parent);
  return { out: names.includes('m'), partials, lockPid };
}

describe('merge: killed at 50 points (SIGKILL of the CLI)', function () {
  this.timeout(180_000);
  let tmp: string;
  let pair: SyntheticPair;
  let parent: string;
  let reference: Map<string, string>;
  let referenceManifest: unknown;
  let inputs: Map<string, string>;
  /** Start-up until the lock (plan included), and lock until the output is published, of an uncut run. */
  let lockAtMs = Infinity;
  let mergeMs = Infinity;

  before(async () => {
    assertFreshBuild(CLI);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-kill-'));
    pair = writeSyntheticPair(tmp, { tensors: 32, n: 512 });
    parent = path.join(tmp, 'outs');
    fs.mkdirSync(parent);
    inputs = new Map([...hashTree(pair.base), ...hashTree(pair.adapter)].map(([k, v], i) => [`${i}:${k}`, v]));
    // Two uncut runs: the first pays for cold caches, so the faster one times the kills.
    for (let i = 0; i < 2; i++) {
      const r = await runMerge(pair, parent);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.lockAtMs !== null && r.outAtMs !== null, 'the lock and the output were seen');
      lockAtMs = Math.min(lockAtMs, r.lockAtMs);
      mergeMs = Math.min(mergeMs, r.outAtMs - r.lockAtMs);
      reference = hashTree(path.join(parent, 'm'), new Set(['merge_manifest.json']));
      referenceManifest = manifestWithoutTime(path.join(parent, 'm'));
      fs.rmSync(path.join(parent, 'm'), { recursive: true });
    }
  });
  after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); }); // tmp is unset when the build check failed

  it('never a half-written output, inputs untouched, leftovers reclaimed by the next run', async () => {
    const seen = { before: 0, partial: 0, published: 0 };
    for (let i = 0; i < KILLS; i++) {
      // START_KILLS during start-up and around the lock's creation, the rest from the lock to past the uncut end.
      const kill = i < START_KILLS
        ? { afterMs: Math.round(lockAtMs * (0.3 + (0.9 * i) / START_KILLS)), from: 'start' as const }
        : { afterMs: Math.round((mergeMs * 1.1 * (i - START_KILLS)) / (KILLS - START_KILLS)), from: 'lock' as const };
      const delay = `${kill.afterMs} ms after the ${kill.from}`;
      const before = await leftState(parent);
      const r = await runMerge(pair, parent, kill);
      // A run that published before its kill shows the merge is faster now than calibrated: aim the rest earlier.
      if (r.lockAtMs !== null && r.outAtMs !== null) mergeMs = Math.min(mergeMs, r.outAtMs - r.lockAtMs);
      const after = await leftState(parent);
      const mine = after.partials.filter((p) => p.pid === r.pid);
      if (after.out) {
        assert.deepEqual(hashTree(path.join(parent, 'm'), new Set(['merge_manifest.json'])), reference, `kill ${i} ${delay}: the output differs from an uncut merge`);
        assert.deepEqual(manifestWithoutTime(path.join(parent, 'm')), referenceManifest, `kill ${i}: manifest`);
        seen.published++;
      } else if (mine.length > 0 || after.lockPid === r.pid) seen.partial++;
      else seen.before++;
      for (const p of after.partials) {
        assert.notEqual(p.pid, null, `kill ${i}: ${p.name} has no owner record`);
        assert.equal(p.state, 'gone', `kill ${i}: ${p.name} is not recognised as a dead owner's`);
      }
      // A run that took the lock first removed the leftovers of the runs before it.
      const tookLock = mine.length > 0 || after.lockPid === r.pid || (after.out && !before.out);
      if (tookLock) assert.deepEqual(after.partials.filter((p) => p.pid !== r.pid), [], `kill ${i}: earlier leftovers survived a run that took the lock`);
      assert.ok(r.code === null || r.code === 0, `kill ${i}: the merge failed by itself (${r.code}): ${r.stderr}`);
      fs.rmSync(path.join(parent, 'm'), { recursive: true, force: true }); // as a user would, to merge again
      assert.deepEqual([...hashTree(pair.base), ...hashTree(pair.adapter)].map(([k, v], j) => [`${j}:${k}`, v]), [...inputs], `kill ${i}: inputs changed`);
    }
    // The kills must really have landed mid-merge, not only before it started or after it finished.
    assert.ok(seen.partial >= 25, `only ${seen.partial} of ${KILLS} kills landed while the output was being written (${JSON.stringify(seen)})`);
    const last = await runMerge(pair, parent);
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(fs.readdirSync(parent), ['m'], 'the last run reclaimed every leftover and released its lock');
    assert.deepEqual(hashTree(path.join(parent, 'm'), new Set(['merge_manifest.json'])), reference);
    console.log(`      kills: ${JSON.stringify(seen)}; uncut: lock after ${lockAtMs.toFixed(0)} ms, merge ${mergeMs.toFixed(0)} ms`);
  });

  it('a second merge to the same output while the first runs is refused at start, naming the first', async () => {
    const out = path.join(parent, 'twice');
    // 40 ms after each tensor (the e2e runner's hook) holds the first merge open for over a second.
    const first = runMerge(pair, parent, undefined, { LORA_WORKBENCH_TEST_MERGE_DELAY_MS: '40' }, out);
    const lock = path.join(parent, '.twice.partial.lock');
    const t0 = Date.now();
    while (!fs.existsSync(lock) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
    const second = await runMerge(pair, parent, undefined, {}, out);
    const a = await first;
    assert.equal(a.code, 0, a.stderr);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`another merge is writing this output \\(pid ${a.pid} on `));
    assert.deepEqual(hashTree(out, new Set(['merge_manifest.json'])), reference, 'the first merge finished intact');
    assert.deepEqual(fs.readdirSync(parent).filter((n) => n.includes('twice')), ['twice']);
    fs.rmSync(out, { recursive: true });
  });
});
