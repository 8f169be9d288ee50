// Kill harness for the GGUF export (issue 18), as test/unit/mergeKill.test.ts does for the merge: the real CLI
// (dist/cli.js gguf) converting the hidden-size-256 test model to q4_k_m is SIGKILLed at 50 points from start-up to
// publish. After each kill: the .gguf is absent or byte-identical to an uncut export, the inputs are byte-identical,
// every leftover names the dead process, and a run that took the output's lock removed the runs before it. A last uncut
// run leaves the folder holding the file alone; a second export to a file one is writing is refused at start.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertFreshBuild } from '../support/freshBuild';
import { checkAfterKill, hashTree, killAt, leftState, runKillable, type Kill } from '../support/killHarness';
import { writeTinyLlama } from './ggufTinyModel';

const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const KILLS = 50;
const START_KILLS = 8;
const OUT = 'm.gguf';

function runExport(model: string, out: string, kill?: Kill, env: Record<string, string> = {}) {
  return runKillable([CLI, 'gguf', model, '--out', out, '--type', 'q4_k_m'], out, kill, env);
}

describe('gguf export: killed at 50 points (SIGKILL of the CLI)', function () {
  this.timeout(240_000);
  let tmp: string;
  let model: string;
  let parent: string;
  let reference: Map<string, string>;
  let inputs: Map<string, string>;
  let lockAtMs = Infinity;
  let exportMs = Infinity;

  before(async () => {
    assertFreshBuild(CLI);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-kill-'));
    model = path.join(tmp, 'tinyllama256');
    fs.mkdirSync(model);
    writeTinyLlama(model);
    parent = path.join(tmp, 'outs');
    fs.mkdirSync(parent);
    inputs = hashTree(model);
    for (let i = 0; i < 2; i++) {
      const r = await runExport(model, path.join(parent, OUT));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.lockAtMs !== null && r.outAtMs !== null, 'the lock and the output were seen');
      lockAtMs = Math.min(lockAtMs, r.lockAtMs);
      exportMs = Math.min(exportMs, r.outAtMs - r.lockAtMs);
      reference = hashTree(path.join(parent, OUT));
      fs.rmSync(path.join(parent, OUT));
    }
  });
  after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

  it('never a half-written file, inputs untouched, leftovers reclaimed by the next run', async () => {
    const seen = { before: 0, partial: 0, published: 0 };
    for (let i = 0; i < KILLS; i++) {
      const kill = killAt(i, KILLS, START_KILLS, lockAtMs, exportMs);
      const before = await leftState(parent, OUT);
      const r = await runExport(model, path.join(parent, OUT), kill);
      if (r.lockAtMs !== null && r.outAtMs !== null) exportMs = Math.min(exportMs, r.outAtMs - r.lockAtMs);
      const after = await leftState(parent, OUT);
      seen[checkAfterKill(i, r, before, after, (ok, msg) => assert.ok(ok, msg))]++;
      if (after.out) assert.deepEqual(hashTree(path.join(parent, OUT)), reference, `kill ${i} ${kill.afterMs} ms after the ${kill.from}: the file differs from an uncut export`);
      fs.rmSync(path.join(parent, OUT), { force: true });
      assert.deepEqual(hashTree(model), inputs, `kill ${i}: inputs changed`);
    }
    assert.ok(seen.partial >= 25, `only ${seen.partial} of ${KILLS} kills landed while the file was being written (${JSON.stringify(seen)})`);
    const last = await runExport(model, path.join(parent, OUT));
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(fs.readdirSync(parent), [OUT], 'the last run reclaimed every leftover and released its lock');
    assert.deepEqual(hashTree(path.join(parent, OUT)), reference);
    console.log(`      kills: ${JSON.stringify(seen)}; uncut: lock after ${lockAtMs.toFixed(0)} ms, export ${exportMs.toFixed(0)} ms`);
  });

  it('a second export to the same file while the first runs is refused at start, naming the first', async () => {
    const out = path.join(parent, 'twice.gguf');
    const first = runExport(model, out, undefined, { LORA_WORKBENCH_TEST_MERGE_DELAY_MS: '40' });
    const lock = path.join(parent, '.twice.gguf.partial.lock');
    const t0 = Date.now();
    while (!fs.existsSync(lock) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
    const second = await runExport(model, out);
    const a = await first;
    assert.equal(a.code, 0, a.stderr);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`another GGUF export is writing this output \\(pid ${a.pid} on `));
    assert.deepEqual(hashTree(out), new Map([['twice.gguf', reference.get(OUT)!]]), 'the first export finished intact');
    assert.deepEqual(fs.readdirSync(parent).filter((n) => n.includes('twice')), ['twice.gguf']);
  });
});
