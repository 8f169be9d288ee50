// Shared parts of the kill harnesses (issue 18): run a CLI job that writes `<parent>/<outName>` through a PartialOutput,
// optionally SIGKILL it a set time after its start or after its lock appeared, and read back what a kill left.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectLeftover, partialTarget } from '../../src/core/merge/partialOutput';
import { NodeFs } from '../../src/node/nodeFs';

export interface KilledRun {
  readonly pid: number;
  readonly code: number | null;
  readonly stderr: string;
  /** When this run's lock and its published output appeared, from its start (null: never seen). */
  readonly lockAtMs: number | null;
  readonly outAtMs: number | null;
}

export interface Kill {
  readonly afterMs: number;
  readonly from: 'start' | 'lock';
}

/** sha256 of every file in `dir` (a folder output) or of `dir` itself (a file output), by name. */
export function hashTree(dir: string, skip = new Set<string>()): Map<string, string> {
  const out = new Map<string, string>();
  if (fs.statSync(dir).isFile()) return new Map([[path.basename(dir), createHash('sha256').update(fs.readFileSync(dir)).digest('hex')]]);
  for (const name of fs.readdirSync(dir).sort()) {
    if (!skip.has(name)) out.set(name, createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex'));
  }
  return out;
}

/** The pid in the lock of output `outName` (null: none, or one killed before its bytes were written). */
export function lockPidOf(parent: string, outName: string): number | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(parent, `.${outName}.partial.lock`), 'utf8')) as { pid?: number }).pid ?? null;
  } catch {
    return null;
  }
}

/** Run `node <args>` writing `out`, watching for its lock; with `kill`, SIGKILL it `afterMs` after its start or lock. */
export function runKillable(args: readonly string[], out: string, kill?: Kill, env: Record<string, string> = {}): Promise<KilledRun> {
  const parent = path.dirname(out);
  const outName = path.basename(out);
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let lockAtMs: number | null = null;
  let outAtMs: number | null = null;
  let timer: NodeJS.Timeout | null = kill?.from === 'start' ? setTimeout(() => child.kill('SIGKILL'), kill.afterMs) : null;
  const watch = setInterval(() => {
    if (outAtMs === null && fs.existsSync(out)) outAtMs = performance.now() - t0;
    if (lockAtMs !== null || lockPidOf(parent, outName) !== child.pid) return;
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

export interface LeftState {
  readonly out: boolean;
  readonly partials: Array<{ name: string; pid: number | null; state: string }>;
  readonly lockPid: number | null;
}

/** What a kill left: the output, temporary folders (with their owner pid and whether it is judged gone) and the lock. */
export async function leftState(parent: string, outName: string): Promise<LeftState> {
  const names = fs.readdirSync(parent);
  const io = new NodeFs();
  const partials = [];
  for (const n of names.filter((x) => partialTarget(x) !== null)) {
    const l = await inspectLeftover(io, parent, n);
    partials.push({ name: n, pid: l.owner?.pid ?? null, state: l.state });
  }
  return { out: names.includes(outName), partials, lockPid: lockPidOf(parent, outName) };
}

/** The kill schedule: `startKills` during start-up up to the lock, the rest from the lock to 110% of an uncut job. */
export function killAt(i: number, kills: number, startKills: number, lockAtMs: number, jobMs: number): Kill {
  return i < startKills
    ? { afterMs: Math.round(lockAtMs * (0.3 + (0.9 * i) / startKills)), from: 'start' }
    : { afterMs: Math.round((jobMs * 1.1 * (i - startKills)) / (kills - startKills)), from: 'lock' };
}

/**
 * The checks after one kill, common to every job: each leftover names a dead owner, and a run that took the lock
 * removed the leftovers of the runs before it. Returns how far the run got: before its lock, mid-write, or published.
 */
export function checkAfterKill(i: number, r: KilledRun, before: LeftState, after: LeftState, assertOk: (ok: boolean, msg: string) => void): 'before' | 'partial' | 'published' {
  const mine = after.partials.filter((p) => p.pid === r.pid);
  for (const p of after.partials) {
    assertOk(p.pid !== null, `kill ${i}: ${p.name} has no owner record`);
    assertOk(p.state === 'gone', `kill ${i}: ${p.name} is not recognised as a dead owner's (${p.state})`);
  }
  const tookLock = mine.length > 0 || after.lockPid === r.pid || (after.out && !before.out);
  if (tookLock) assertOk(after.partials.every((p) => p.pid === r.pid), `kill ${i}: earlier leftovers survived a run that took the lock`);
  assertOk(r.code === null || r.code === 0, `kill ${i}: the job failed by itself (${r.code}): ${r.stderr}`);
  return after.out ? 'published' : mine.length > 0 || after.lockPid === r.pid ? 'partial' : 'before';
}
