// Kill harness (issue 18): the real CLI (dist/cli.js) merging a synthetic 32 MiB pair is SIGKILLed at 50 points
// spread from start-up to publish. After each kill: the output is absent or byte-identical to an uncut merge, the
// inputs are byte-identical, every leftover names the dead process, and a run that got as far as taking the lock has
// removed the leftovers of the runs before it. A last uncut run leaves the folder holding the output alone. And a
// second merge to an output that one is writing is refused at start.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertFreshBuild } from '../support/freshBuild';
import { checkAfterKill, hashTree, killAt, leftState, runKillable, type Kill } from '../support/killHarness';
import { writeSyntheticPair, type SyntheticPair } from '../support/syntheticPair';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const KILLS = 50;
const START_KILLS = 8;

function manifestWithoutTime(dir: string): unknown {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'merge_manifest.json'), 'utf8')) as Record<string, unknown>;
  delete m.createdAt;
  return m;
}

/** The CLI merge into `<parent>/m` (or `out`), optionally killed. */
function runMerge(pair: SyntheticPair, parent: string, kill?: Kill, env: Record<string, string> = {}, out = path.join(parent, 'm')) {
  return runKillable([CLI, 'merge', pair.adapter, '--base', pair.base, '--out', out, '--shard-size', '2MB', '--threads', '1'], out, kill, env);
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
      const kill = killAt(i, KILLS, START_KILLS, lockAtMs, mergeMs);
      const delay = `${kill.afterMs} ms after the ${kill.from}`;
      const before = await leftState(parent, 'm');
      const r = await runMerge(pair, parent, kill);
      // A run that published before its kill shows the merge is faster now than calibrated: aim the rest earlier.
      if (r.lockAtMs !== null && r.outAtMs !== null) mergeMs = Math.min(mergeMs, r.outAtMs - r.lockAtMs);
      const after = await leftState(parent, 'm');
      const got = checkAfterKill(i, r, before, after, (ok, msg) => assert.ok(ok, msg));
      seen[got]++;
      if (after.out) {
        assert.deepEqual(hashTree(path.join(parent, 'm'), new Set(['merge_manifest.json'])), reference, `kill ${i} ${delay}: the output differs from an uncut merge`);
        assert.deepEqual(manifestWithoutTime(path.join(parent, 'm')), referenceManifest, `kill ${i}: manifest`);
      }
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
