// Discovery walk for the checkpoint scan: lists folders breadth-first with bounded concurrency, honouring exclude
// globs and a depth limit, following symlinked folders once (loop-safe), and turning unreadable folders into findings.

import { CoreError, throwIfAborted } from '../errors';
import { yieldTurn } from '../eventLoop';
import type { FsPort } from '../ports';
import { partialTarget } from '../merge/partialOutput';
import { DEFAULT_SCAN_EXCLUDE, DEFAULT_SCAN_MAX_DEPTH, GlobSet } from './glob';
import type { Health } from './model';
import { tr, textFields } from '../text';

export interface WalkOptions {
  /** Globs on the path relative to the root; matching folders are not entered. */
  readonly exclude?: readonly string[];
  /** Folders deeper than this (root = 0) are not listed. */
  readonly maxDepth?: number;
  readonly followSymlinks?: boolean;
  /** Folder listings in flight at once. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

/** One listed folder: names only, no stats (the scan stats just the files it needs). */
export interface DirRecord {
  readonly path: string;
  /** Relative to its root, '' for the root itself. */
  readonly rel: string;
  readonly root: string;
  readonly depth: number;
  readonly files: readonly string[];
  readonly dirs: readonly string[];
}

export interface WalkResult {
  readonly dirs: Map<string, DirRecord>;
  readonly problems: Health[];
  readonly fileCount: number;
}

/** DeepSpeed ZeRO state folders hold only optimizer/model-state shards: recorded by name, never entered. */
export const DEEPSPEED_DIR = /^global_step\d+$/;

/**
 * HF Trainer writes a checkpoint into `tmp-checkpoint-N` and renames it to `checkpoint-N` when complete: a folder still
 * being written, so it is never entered (not a run, not a broken adapter); the checkpoint appears once renamed.
 */
export const CHECKPOINT_BEING_WRITTEN = /^tmp-checkpoint-\d+$/;

interface Pending {
  readonly path: string;
  readonly rel: string;
  readonly root: string;
  readonly depth: number;
  /** Symlink-free path used to detect loops. */
  readonly canonical: string;
}

async function mapPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

let lastYield = Date.now();

/**
 * Yield to the event loop when ~12 ms have passed since the last yield: bounds how long a scan holds the extension
 * host's thread without paying for a turn every few items.
 */
export async function yieldSometimes(): Promise<void> {
  const now = Date.now();
  if (now - lastYield < 12) return;
  await new Promise<void>((resolve) => yieldTurn(resolve));
  lastYield = Date.now();
}

/** List every folder under `roots` (absolute, normalised paths) that the options allow. Never throws for I/O. */
export async function walk(fs: FsPort, roots: readonly string[], opts: WalkOptions = {}): Promise<WalkResult> {
  const exclude = new GlobSet(opts.exclude ?? DEFAULT_SCAN_EXCLUDE);
  const maxDepth = opts.maxDepth ?? DEFAULT_SCAN_MAX_DEPTH;
  const follow = opts.followSymlinks ?? true;
  const limit = Math.max(1, opts.concurrency ?? 16);
  const dirs = new Map<string, DirRecord>();
  const problems: Health[] = [];
  const visited = new Set<string>();
  let fileCount = 0;
  let depthCut: string | null = null;
  let depthCutCount = 0;

  let level: Pending[] = [];
  for (const root of roots) {
    let canonical = root;
    try {
      canonical = await fs.realpath(root);
    } catch (e) {
      problems.push({ code: 'unreadable', severity: 'warning', ...textFields(tr`${root}: cannot be opened (${(e as Error).message}).`), file: root });
      continue;
    }
    if (visited.has(canonical)) continue;
    visited.add(canonical);
    level.push({ path: root, rel: '', root, depth: 0, canonical });
  }

  const list = async (p: Pending, next: Pending[]): Promise<void> => {
    throwIfAborted(opts.signal);
    let entries;
    try {
      entries = await fs.readDir(p.path);
    } catch (e) {
      const msg = e instanceof CoreError ? e.message : `${p.path}: cannot list the folder (${(e as Error).message}).`;
      problems.push({ code: 'unreadable', severity: 'warning', ...textFields(tr`${msg} Its contents were not scanned.`), file: p.path });
      return;
    }
    const files: string[] = [];
    const subdirs: string[] = [];
    for (const ent of entries) {
      let kind = ent.kind;
      // p.path is already normalised and names hold no '/': plain concatenation (joinPath re-normalises, 76k times).
      const childPath = p.path === '/' ? `/${ent.name}` : `${p.path}/${ent.name}`;
      let canonical = p.canonical + '/' + ent.name;
      if (kind === 'symlink') {
        let st = null;
        try {
          st = await fs.stat(childPath);
        } catch (e) {
          // ELOOP and friends: a link that can never be resolved.
          problems.push({ code: 'symlink-loop', severity: 'info', ...textFields(tr`${childPath}: symbolic link cannot be followed (${(e as Error).message}); skipped.`), file: childPath });
          continue;
        }
        // A dangling link is kept as a file name, so a missing weights target is reported by the inspection.
        if (st === null || st.kind === 'file') {
          files.push(ent.name);
          continue;
        }
        if (st.kind !== 'dir' || !follow) continue;
        try {
          canonical = await fs.realpath(childPath);
        } catch {
          continue;
        }
        kind = 'dir';
      }
      if (kind === 'file') {
        files.push(ent.name);
        continue;
      }
      if (kind !== 'dir') continue;
      subdirs.push(ent.name);
      // A merge's temporary output (partialOutput.ts) is listed by name, never entered: it is not a model yet.
      if (DEEPSPEED_DIR.test(ent.name) || CHECKPOINT_BEING_WRITTEN.test(ent.name) || partialTarget(ent.name) !== null) continue;
      const rel = p.rel === '' ? ent.name : `${p.rel}/${ent.name}`;
      if (exclude.matches(rel)) continue;
      if (p.depth + 1 > maxDepth) {
        depthCut ??= childPath;
        depthCutCount++;
        continue;
      }
      const child = { path: childPath, rel, root: p.root, depth: p.depth + 1, canonical };
      // Links are resolved after the whole level is listed, so a real folder keeps its own path when both are seen.
      if (ent.kind === 'symlink') links.push(child);
      else if (!visited.has(canonical)) {
        visited.add(canonical);
        next.push(child);
      }
    }
    fileCount += files.length;
    dirs.set(p.path, { path: p.path, rel: p.rel, root: p.root, depth: p.depth, files, dirs: subdirs });
    await yieldSometimes(); // let the extension host run other work between batches
  };

  let links: Pending[] = [];
  while (level.length > 0) {
    const next: Pending[] = [];
    links = [];
    await mapPool(level, limit, (p) => list(p, next));
    for (const l of links) {
      if (visited.has(l.canonical)) {
        problems.push({ code: 'symlink-loop', severity: 'info', ...textFields(tr`${l.path}: links to a folder already scanned (${l.canonical}); not scanned twice.`), file: l.path });
        continue;
      }
      visited.add(l.canonical);
      next.push(l);
    }
    level = next;
  }
  if (depthCut !== null) {
    problems.push({
      code: 'depth-limit',
      severity: 'info',
      ...textFields(tr`${depthCutCount} folder(s) deeper than ${maxDepth} levels were not scanned (first: ${depthCut}); raise loraWorkbench.scan.maxDepth to include them.`),
      file: depthCut,
    });
  }
  return { dirs, problems, fileCount };
}
