// Temporary output folders and their owner records (issue 18): the lock refuses a second job to the same output,
// leftovers of dead owners are removed by the next job in the folder, live ones never, and scan reports them.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanCheckpoints } from '../../src/core/checkpoints/scan';
import { CoreError } from '../../src/core/errors';
import { OWNER_FILE, PartialOutput, STALE_AFTER_MS, deleteLeftover, findLeftovers, lockPathFor, reclaimDeadThreadLeftovers, removeStaleLeftovers, type OwnerRecord } from '../../src/core/merge/partialOutput';
import { NodeFs } from '../../src/node/nodeFs';
import { tempDirPerTest } from '../support/tempDir';
import { runCliCaptured } from './cliHarness';

const io = new NodeFs();
const host = os.hostname();

/** The pid of a process that has exited (and been reaped), so it is not alive on this host. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** A leftover as a killed job leaves it: the folder with some bytes, its owner record and the lock naming it. */
function plantLeftover(parent: string, out: string, owner: Partial<OwnerRecord>, opts: { lock?: boolean; record?: boolean } = {}): string {
  const partial = `.${out}.partial-${Math.random().toString(36).slice(2, 10)}`;
  const record: OwnerRecord = {
    tool: 'lora-workbench', job: 'merge', toolVersion: 't', pid: deadPid(), host, startedAt: new Date().toISOString(),
    out: path.join(parent, out), partial, ...owner,
  };
  const dir = path.join(parent, partial);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'model-00001-of-00001.safetensors'), Buffer.alloc(3000));
  if (opts.record ?? true) fs.writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify(record));
  if (opts.lock ?? true) fs.writeFileSync(path.join(parent, `.${out}.partial.lock`), JSON.stringify(record));
  return dir;
}

async function rejectsCode(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof CoreError && e.code === code && re.test(e.message));
}

describe('partial output: owner records and leftovers', () => {
  const dir = tempDirPerTest('partial-');
  let tmp: string;
  beforeEach(() => { tmp = dir(); });

  it('begin writes the lock and the owner record first; publish renames and releases', async () => {
    const out = path.join(tmp, 'merged');
    const p = await PartialOutput.begin(io, out, { job: 'merge', toolVersion: '1.2.3' });
    const rec = JSON.parse(fs.readFileSync(lockPathFor(out), 'utf8')) as OwnerRecord;
    assert.equal(rec.pid, process.pid);
    assert.equal(rec.host, host);
    assert.equal(rec.out, out);
    assert.equal(rec.toolVersion, '1.2.3');
    assert.equal(path.join(tmp, rec.partial), p.dir);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(p.dir, OWNER_FILE), 'utf8')), rec);
    fs.writeFileSync(path.join(p.dir, 'config.json'), '{}');
    await p.publish();
    assert.deepEqual(fs.readdirSync(tmp), ['merged']);
    assert.deepEqual(fs.readdirSync(out), ['config.json'], 'the owner record does not ship in the output');
  });

  it('a single-file output (an export) is published as the file itself', async () => {
    const out = path.join(tmp, 'model.gguf');
    const p = await PartialOutput.begin(io, out, { job: 'gguf', toolVersion: 't' });
    fs.writeFileSync(path.join(p.dir, 'model.gguf'), 'GGUF');
    await p.publishFile('model.gguf');
    assert.deepEqual(fs.readdirSync(tmp), ['model.gguf']);
    assert.equal(fs.readFileSync(out, 'utf8'), 'GGUF');
  });

  it('a second job to the same output is refused at start while the first runs', async () => {
    const out = path.join(tmp, 'merged');
    const first = await PartialOutput.begin(io, out, { job: 'merge', toolVersion: 't' });
    await rejectsCode(PartialOutput.begin(io, out, { job: 'merge', toolVersion: 't' }), 'exists', new RegExp(`another merge is writing this output \\(pid ${process.pid} on `));
    assert.ok(fs.existsSync(first.dir), 'the running job keeps its folder');
    await first.abandon();
    assert.deepEqual(fs.readdirSync(tmp), []);
  });

  it("removes a dead owner's leftover in the same folder, never a live owner's", async () => {
    const dead = plantLeftover(tmp, 'a', {});
    const alive = plantLeftover(tmp, 'b', { pid: process.pid });
    const p = await PartialOutput.begin(io, path.join(tmp, 'c'), { job: 'merge', toolVersion: 't' });
    assert.equal(fs.existsSync(dead), false);
    assert.equal(fs.existsSync(path.join(tmp, '.a.partial.lock')), false, 'its lock goes with it');
    assert.ok(fs.existsSync(alive));
    assert.ok(fs.existsSync(path.join(tmp, '.b.partial.lock')));
    await p.abandon();
  });

  it('takes over the stale lock of a killed job to the same output', async () => {
    const dead = plantLeftover(tmp, 'merged', {});
    const p = await PartialOutput.begin(io, path.join(tmp, 'merged'), { job: 'merge', toolVersion: 't' });
    assert.equal(fs.existsSync(dead), false);
    assert.equal((JSON.parse(fs.readFileSync(path.join(tmp, '.merged.partial.lock'), 'utf8')) as OwnerRecord).pid, process.pid);
    await p.abandon();
  });

  it('another host: kept for a day, then removed', async () => {
    const recent = plantLeftover(tmp, 'a', { host: 'elsewhere', pid: 1 });
    const old = plantLeftover(tmp, 'b', { host: 'elsewhere', pid: 1, startedAt: new Date(Date.now() - STALE_AFTER_MS - 60_000).toISOString() });
    const states = Object.fromEntries((await findLeftovers(io, tmp)).map((l) => [path.basename(l.path), l.state]));
    assert.deepEqual(states, { [path.basename(recent)]: 'unknown', [path.basename(old)]: 'gone' });
    const p = await PartialOutput.begin(io, path.join(tmp, 'c'), { job: 'merge', toolVersion: 't' });
    assert.ok(fs.existsSync(recent));
    assert.equal(fs.existsSync(old), false);
    await p.abandon();
  });

  it('a folder without any owner record (older versions) is removed once a day old', async () => {
    const dir = plantLeftover(tmp, 'a', {}, { lock: false, record: false });
    assert.equal((await findLeftovers(io, tmp))[0]!.state, 'unknown');
    const later = Date.now() + STALE_AFTER_MS + 60_000;
    assert.equal((await findLeftovers(io, tmp, later))[0]!.state, 'gone');
    const p = await PartialOutput.begin(io, path.join(tmp, 'c'), { job: 'merge', toolVersion: 't', now: later });
    assert.equal(fs.existsSync(dir), false);
    await p.abandon();
  });

  it('the owner comes from the lock when the folder lost its own record', async () => {
    plantLeftover(tmp, 'a', {}, { record: false });
    const [l] = await findLeftovers(io, tmp);
    assert.equal(l!.state, 'gone');
    assert.equal(l!.bytes, 3000);
    assert.equal(l!.owner?.out, path.join(tmp, 'a'));
  });

  it('an owner record naming a folder elsewhere is ignored (nothing outside is removed)', async () => {
    const victim = path.join(tmp, 'victim');
    fs.mkdirSync(victim);
    fs.writeFileSync(path.join(tmp, '.a.partial.lock'), JSON.stringify({ tool: 'lora-workbench', job: 'merge', toolVersion: 't', pid: deadPid(), host, startedAt: new Date().toISOString(), out: path.join(tmp, 'a'), partial: '../victim' }));
    fs.utimesSync(path.join(tmp, '.a.partial.lock'), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const p = await PartialOutput.begin(io, path.join(tmp, 'a'), { job: 'merge', toolVersion: 't' });
    assert.ok(fs.existsSync(victim));
    await p.abandon();
    assert.deepEqual(fs.readdirSync(tmp), ['victim']);
  });

  it('deleteLeftover refuses a live owner and removes a dead one with its lock', async () => {
    const alive = plantLeftover(tmp, 'a', { pid: process.pid });
    const dead = plantLeftover(tmp, 'b', {});
    await rejectsCode(deleteLeftover(io, alive), 'exists', /still being written by merge/);
    await rejectsCode(deleteLeftover(io, path.join(tmp, 'plain')), 'usage', /not a temporary output folder/);
    const l = await deleteLeftover(io, dead);
    assert.ok(l.bytes >= 3000);
    assert.deepEqual(fs.readdirSync(tmp).sort(), ['.a.partial.lock', path.basename(alive)].sort());
  });

  it('scan lists leftovers with size and owner and does not report the model inside', async () => {
    const run = path.join(tmp, 'run');
    fs.mkdirSync(run);
    const dir = plantLeftover(run, 'merged', {});
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'] }));
    const result = await scanCheckpoints(io, [tmp]);
    assert.equal(result.models.length, 0);
    assert.equal(result.leftovers.length, 1);
    const [l] = result.leftovers;
    assert.equal(l!.path, dir);
    assert.ok(l!.bytes >= 3000);
    assert.equal(l!.state, 'gone');
    assert.equal(l!.owner?.job, 'merge');
  });

  it('lora-workbench scan prints leftovers with size and owner, and --json has leftovers[]', async () => {
    const dir = plantLeftover(tmp, 'merged', {});
    const text = await runCliCaptured(['scan', tmp]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /Leftover temporary outputs \(\d+(\.\d)? KiB\):/);
    assert.match(text.out, new RegExp(`${path.basename(dir).replace(/\./g, '\\.')}  \\d+(\\.\\d)? KiB  \\(merge of .*merged, pid \\d+ on .*; its process is gone`));
    const json = await runCliCaptured(['scan', tmp, '--json']);
    const parsed = JSON.parse(json.out) as { leftovers: Array<{ path: string; bytes: number; owner: OwnerRecord; state: string }> };
    assert.deepEqual(parsed.leftovers.map((l) => [l.path, l.state, l.owner.job]), [[dir, 'gone', 'merge']]);
    assert.ok(parsed.leftovers[0]!.bytes >= 3000);
  });

  it('records the writing thread, and reclaims the leftovers of a dead worker thread of a live process only', async () => {
    const out = path.join(tmp, 'merged');
    const p = await PartialOutput.begin(io, out, { job: 'merge', toolVersion: 't' });
    assert.equal((JSON.parse(fs.readFileSync(lockPathFor(out), 'utf8')) as OwnerRecord).threadId, 0, 'the main thread is thread 0');
    await p.abandon();
    // This process is alive: its leftovers are 'alive' to every job, whichever thread wrote them.
    const deadWorker = plantLeftover(tmp, 'a', { pid: process.pid, threadId: 7 });
    const otherWorker = plantLeftover(tmp, 'b', { pid: process.pid, threadId: 8 });
    const noThread = plantLeftover(tmp, 'c', { pid: process.pid });
    assert.deepEqual((await findLeftovers(io, tmp)).map((l) => l.state), ['alive', 'alive', 'alive']);
    assert.deepEqual(await removeStaleLeftovers(io, tmp), []);
    const removed = await reclaimDeadThreadLeftovers(io, tmp, { pid: process.pid, host, threadId: 7 });
    assert.deepEqual(removed.map((l) => l.path), [deadWorker]);
    assert.ok(!fs.existsSync(deadWorker) && !fs.existsSync(path.join(tmp, '.a.partial.lock')), 'folder and lock of thread 7 removed');
    assert.ok(fs.existsSync(otherWorker) && fs.existsSync(path.join(tmp, '.b.partial.lock')), 'another thread\'s leftover kept');
    assert.ok(fs.existsSync(noThread) && fs.existsSync(path.join(tmp, '.c.partial.lock')), 'a record without a thread id kept');
    assert.deepEqual(await reclaimDeadThreadLeftovers(io, tmp, { pid: process.pid, host: `${host}-other`, threadId: 8 }), [], 'another host never matches');
  });
});
