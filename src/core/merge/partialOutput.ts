// Temporary output folders that a killed process never leaves behind for good: a job (merge, export) writes into a
// hidden sibling `.<name>.partial-<random>` and renames it into place. An owner record (pid, host, start time, tool
// version, final path), created exclusively as `.<name>.partial.lock` before the folder exists, is both the lock that
// refuses a second job to the same output and the proof, after a kill, that the folder's owner is gone.
// Use: `const p = await PartialOutput.begin(io, out, {job, toolVersion})`, write under `p.dir`, then `p.publish()` (a
// folder output) or `p.publishFile(name)` (one file), or `p.abandon()` on any failure.

import { CoreError } from '../errors';
import type { FsPort, HostProcess, WritableFsPort } from '../ports';
import { basename, dirname, joinPath } from '../paths';
import { tr } from '../text';

/** `.<name>.partial-<random>`: a temporary output folder (the random part keeps a killed job's folder apart). */
const PARTIAL_DIR = /^\.(.+)\.partial-[0-9a-z]+$/;
/** `.<name>.partial.lock`: the owner record of the job writing `<name>`. */
const LOCK_FILE = /^\.(.+)\.partial\.lock$/;
/** Copy of the owner record inside the folder, so a leftover still says whose it was if its lock is gone. */
export const OWNER_FILE = '.lora-workbench-owner.json';
/**
 * Owners that cannot be checked (another host, or no process probe) count as gone after this long: a merge of a 7B
 * model takes minutes, so a day-old record on a shared mount is a dead job, not a slow one.
 */
export const STALE_AFTER_MS = 24 * 60 * 60 * 1000;
/** An unreadable lock (killed between creating it and writing its few bytes) is stale once this old. */
const UNREADABLE_LOCK_GRACE_MS = 60 * 1000;
const MAX_RECORD_BYTES = 64 * 1024;

export interface OwnerRecord {
  readonly tool: 'lora-workbench';
  /** What the job writes: 'merge', 'gguf'... */
  readonly job: string;
  readonly toolVersion: string;
  readonly pid: number;
  readonly host: string;
  /**
   * The worker thread that writes (worker_threads' threadId, 0 on a main thread); absent in older records. A worker
   * can die while its process lives: its pid stays alive, and this id is what lets the engine client reclaim its folders.
   */
  readonly threadId?: number;
  /** ISO time the job started. */
  readonly startedAt: string;
  /** The final output path. */
  readonly out: string;
  /** Name of the temporary folder (a sibling of `out`). */
  readonly partial: string;
}

/** alive: its process runs (never removed automatically); gone: removable; unknown: cannot tell yet (kept). */
export type OwnerState = 'alive' | 'gone' | 'unknown';

export interface Leftover {
  /** Absolute path of the temporary folder. */
  readonly path: string;
  /** Total size of the files in it. */
  readonly bytes: number;
  readonly owner: OwnerRecord | null;
  readonly state: OwnerState;
}

/** The output a temporary folder name belongs to, or null when the name is not one. */
export function partialTarget(name: string): string | null {
  return PARTIAL_DIR.exec(name)?.[1] ?? null;
}

export function lockPathFor(out: string): string {
  return joinPath(dirname(out), `.${basename(out)}.partial.lock`);
}

function parseRecord(bytes: Uint8Array): OwnerRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  const r = v as Partial<Record<keyof OwnerRecord, unknown>> | null;
  if (typeof r !== 'object' || r === null || r.tool !== 'lora-workbench') return null;
  if (!Number.isSafeInteger(r.pid) || (r.pid as number) < 0) return null;
  for (const k of ['job', 'toolVersion', 'host', 'startedAt', 'out', 'partial'] as const) if (typeof r[k] !== 'string') return null;
  if (r.threadId !== undefined && (!Number.isSafeInteger(r.threadId) || (r.threadId as number) < 0)) return null;
  // The record is read from disk: its folder name must be a sibling's, never a path elsewhere to remove.
  if (partialTarget(r.partial as string) === null || /[/\\]/.test(r.partial as string)) return null;
  return r as OwnerRecord;
}

async function readRecord(fs: FsPort, file: string): Promise<OwnerRecord | null> {
  try {
    return parseRecord(await fs.readFile(file, MAX_RECORD_BYTES));
  } catch {
    return null; // missing, too large or unreadable: no owner can be named
  }
}

/** Judge an owner record against this host; `ageRef` is when the record (or, without one, the folder) last changed. */
export function ownerState(owner: OwnerRecord | null, ageRefMs: number, proc: HostProcess | undefined, now: number): OwnerState {
  if (owner && proc && owner.host === proc.host && owner.pid > 0) return owner.pid !== proc.pid && !proc.isAlive(owner.pid) ? 'gone' : 'alive';
  const since = owner ? Date.parse(owner.startedAt) : ageRefMs;
  return Number.isFinite(since) && now - since > STALE_AFTER_MS ? 'gone' : 'unknown';
}

/** Bytes and newest mtime of the files under `dir` (a temporary output is flat; two levels are looked at). */
async function folderUsage(fs: FsPort, dir: string, depth = 2): Promise<{ bytes: number; newest: number }> {
  let bytes = 0;
  let newest = (await fs.stat(dir).catch(() => null))?.mtimeMs ?? 0;
  const entries = await fs.readDir(dir).catch(() => []);
  for (const e of entries) {
    const p = joinPath(dir, e.name);
    if (e.kind === 'dir' && depth > 0) {
      const sub = await folderUsage(fs, p, depth - 1);
      bytes += sub.bytes;
      newest = Math.max(newest, sub.newest);
    } else if (e.kind === 'file') {
      const st = await fs.stat(p).catch(() => null);
      bytes += st?.size ?? 0;
      newest = Math.max(newest, st?.mtimeMs ?? 0);
    }
  }
  return { bytes, newest };
}

/** Describe the temporary folder `name` in `parent`: size, owner (its own record, else the lock naming it), state. */
export async function inspectLeftover(fs: FsPort, parent: string, name: string, now = Date.now()): Promise<Leftover> {
  const path = joinPath(parent, name);
  const target = partialTarget(name) ?? name;
  let owner = await readRecord(fs, joinPath(path, OWNER_FILE));
  if (!owner) {
    const lock = await readRecord(fs, joinPath(parent, `.${target}.partial.lock`));
    if (lock?.partial === name) owner = lock;
  }
  const usage = await folderUsage(fs, path);
  return { path, bytes: usage.bytes, owner, state: ownerState(owner, usage.newest, fs.env.process, now) };
}

/** Every temporary output folder directly in `parent`. */
export async function findLeftovers(fs: FsPort, parent: string, now = Date.now()): Promise<Leftover[]> {
  const entries = await fs.readDir(parent).catch(() => []);
  const out: Leftover[] = [];
  for (const e of entries) if (e.kind === 'dir' && partialTarget(e.name) !== null) out.push(await inspectLeftover(fs, parent, e.name, now));
  return out;
}

/** State of the lock file `file`: its record judged, an unreadable one by its age. */
async function lockState(fs: FsPort, file: string, now: number): Promise<{ owner: OwnerRecord | null; state: OwnerState } | null> {
  const st = await fs.stat(file).catch(() => null);
  if (!st) return null;
  const owner = await readRecord(fs, file);
  if (owner) return { owner, state: ownerState(owner, st.mtimeMs, fs.env.process, now) };
  return { owner, state: now - st.mtimeMs > UNREADABLE_LOCK_GRACE_MS ? 'gone' : 'unknown' };
}

/**
 * Remove the leftovers in `parent` whose owner is gone (folders first, then their locks, so a folder is never left
 * without the record that names it). Returns the folders removed.
 */
export async function removeStaleLeftovers(io: WritableFsPort, parent: string, now = Date.now()): Promise<Leftover[]> {
  const removed: Leftover[] = [];
  for (const l of await findLeftovers(io, parent, now)) {
    if (l.state !== 'gone') continue;
    // Best effort: a leftover that cannot be removed (permissions) must not stop the job; it stays listed by scan.
    if (await io.removeTree(l.path).then(() => true, () => false)) removed.push(l);
  }
  for (const e of await io.readDir(parent).catch(() => [])) {
    if (e.kind !== 'file' || !LOCK_FILE.test(e.name)) continue;
    const file = joinPath(parent, e.name);
    const lock = await lockState(io, file, now);
    if (lock?.state !== 'gone') continue;
    if (lock.owner && (await io.stat(joinPath(parent, lock.owner.partial)).catch(() => true))) continue; // its folder is kept: keep its record
    await io.removeTree(file).catch(() => undefined);
  }
  return removed;
}

/** A worker thread that has exited while its process (this one) lives on. */
export interface DeadThread {
  readonly pid: number;
  readonly host: string;
  readonly threadId: number;
}

function ownedByThread(owner: OwnerRecord | null, dead: DeadThread): boolean {
  return owner !== null && owner.host === dead.host && owner.pid === dead.pid && owner.threadId === dead.threadId;
}

/**
 * Remove the leftovers in `parent` written by the worker thread `dead` (and their locks). Its pid is alive, so
 * removeStaleLeftovers keeps them as 'alive'; only the host that saw that thread exit can say they are gone. Records
 * without a thread id (older versions, or another thread) are never matched. Best effort; returns the folders removed.
 */
export async function reclaimDeadThreadLeftovers(io: WritableFsPort, parent: string, dead: DeadThread, now = Date.now()): Promise<Leftover[]> {
  const removed: Leftover[] = [];
  for (const l of await findLeftovers(io, parent, now)) {
    if (ownedByThread(l.owner, dead) && (await io.removeTree(l.path).then(() => true, () => false))) removed.push(l);
  }
  for (const e of await io.readDir(parent).catch(() => [])) {
    if (e.kind !== 'file' || !LOCK_FILE.test(e.name)) continue;
    const file = joinPath(parent, e.name);
    if (ownedByThread(await readRecord(io, file), dead)) await io.removeTree(file).catch(() => undefined);
  }
  return removed;
}

/**
 * Delete one leftover folder (the view's and CLI's Delete action): refused while its owner is alive, since that job
 * is still writing it. Its lock goes too when the lock names it.
 */
export async function deleteLeftover(io: WritableFsPort, path: string, now = Date.now()): Promise<Leftover> {
  const name = basename(path);
  const target = partialTarget(name);
  if (target === null) throw new CoreError('usage', tr`${path}: not a temporary output folder (.<name>.partial-<id>).`, path);
  const parent = dirname(path);
  const l = await inspectLeftover(io, parent, name, now);
  if (l.state === 'alive') throw new CoreError('exists', tr`${path}: still being written by ${l.owner?.job ?? '?'} (pid ${l.owner?.pid ?? '?'} on ${l.owner?.host ?? '?'}); cancel that job instead.`, path);
  await io.removeTree(path);
  const lock = joinPath(parent, `.${target}.partial.lock`);
  if ((await readRecord(io, lock))?.partial === name) await io.removeTree(lock);
  return l;
}

function busy(out: string, owner: OwnerRecord | null): CoreError {
  if (!owner) return new CoreError('exists', tr`${out}: another job is starting to write this output (${lockPathFor(out)} was just created); try again in a minute.`, out);
  return new CoreError('exists', tr`${out}: another ${owner.job} is writing this output (pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}); wait for it to finish or cancel it.`, out);
}

function randomId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Create the lock with the record; a stale lock (owner gone) is taken over once, a live one refuses the job. */
async function takeLock(io: WritableFsPort, lock: string, record: OwnerRecord, now: number): Promise<void> {
  const body = JSON.stringify(record, null, 2) + '\n';
  for (let attempt = 0; ; attempt++) {
    try {
      await io.writeFile(lock, body);
      return;
    } catch (err) {
      if (!(err instanceof CoreError) || err.code !== 'exists') {
        await io.removeTree(lock).catch(() => undefined); // not 'exists': any file there is our own half-written one
        throw err;
      }
    }
    const held = await lockState(io, lock, now);
    if (held && (held.state !== 'gone' || attempt > 0)) throw busy(record.out, held.owner);
    if (held) {
      if (held.owner) await io.removeTree(joinPath(dirname(lock), held.owner.partial));
      await io.removeTree(lock);
    }
  }
}

/** A temporary sibling of the output, owned by this process until publish() or abandon(). */
export class PartialOutput {
  private constructor(
    private readonly io: WritableFsPort,
    readonly out: string,
    /** The temporary folder to write into. */
    readonly dir: string,
    private readonly lock: string,
  ) {}

  /**
   * Clean the parent's stale leftovers, take the output's lock (refusing when another live job holds it), create the
   * temporary folder and put the owner record in it. Nothing else may be written before this.
   */
  static async begin(io: WritableFsPort, out: string, opts: { job: string; toolVersion: string; now?: number }): Promise<PartialOutput> {
    const now = opts.now ?? Date.now();
    const parent = dirname(out);
    await removeStaleLeftovers(io, parent, now);
    const partial = `.${basename(out)}.partial-${randomId()}`;
    const proc = io.env.process;
    const record: OwnerRecord = {
      tool: 'lora-workbench', job: opts.job, toolVersion: opts.toolVersion, pid: proc?.pid ?? 0, host: proc?.host ?? '',
      ...(proc?.threadId !== undefined ? { threadId: proc.threadId } : {}),
      startedAt: new Date(now).toISOString(), out, partial,
    };
    const lock = lockPathFor(out);
    await takeLock(io, lock, record, now);
    const dir = joinPath(parent, partial);
    const p = new PartialOutput(io, out, dir, lock);
    try {
      await io.mkdir(dir);
      await io.writeFile(joinPath(dir, OWNER_FILE), JSON.stringify(record, null, 2) + '\n');
    } catch (err) {
      await p.abandon();
      throw err;
    }
    return p;
  }

  /** Move the finished folder into place (replacing an empty output folder) and release the lock. */
  async publish(): Promise<void> {
    const { io, out } = this;
    await io.removeTree(joinPath(this.dir, OWNER_FILE));
    if (await io.stat(out)) {
      if ((await io.readDir(out)).length > 0) throw new CoreError('exists', tr`${out}: the output folder was filled while merging.`, out);
      await io.removeTree(out);
    }
    await io.rename(this.dir, out);
    // The output is complete: a lock that cannot be removed now names a dead process soon and is reclaimed then.
    await io.removeTree(this.lock).catch(() => undefined);
  }

  /**
   * For a single-file output (a GGUF export): move `<dir>/<file>` to `out`, which must not exist, then drop the folder
   * and release the lock. A kill after the rename leaves a folder and lock that name a dead process: reclaimed later.
   */
  async publishFile(file: string): Promise<void> {
    const { io, out } = this;
    if (await io.stat(out)) throw new CoreError('exists', tr`${out}: appeared while it was being written.`, out);
    await io.rename(joinPath(this.dir, file), out);
    await io.removeTree(this.dir).catch(() => undefined);
    await io.removeTree(this.lock).catch(() => undefined);
  }

  /** Remove the temporary folder, then the lock (in that order: a kill in between leaves a record naming nothing). */
  async abandon(): Promise<void> {
    await this.io.removeTree(this.dir).catch(() => undefined);
    await this.io.removeTree(this.lock).catch(() => undefined);
  }
}
