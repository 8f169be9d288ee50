// Resolve base_model_name_or_path to a folder on this machine, the way transformers would and the ways a user meant:
// absolute paths as written; relative paths against the process CWD (what PEFT uses) - which we cannot know, so we try
// the workspace folders, the run's likely working directories and the adapter folder and say so; hub ids in the HF
// cache (honouring revision and refs/), the ModelScope cache and the user's model folders.
// Reference: DOMAIN.md §5; transformers modeling_utils (isdir(name) first), huggingface_hub file_download.

import { basename, dirname, isInside, joinPath, normalizePath } from '../paths';
import type { FsPort } from '../ports';
import { findInHfCache, hfCacheRoots, modelscopeCacheRoots, modelscopeFolders, safeStat, type HfCacheHit } from './caches';
import { classifyBase, expandHome, type BaseClassification, type BaseKind } from './classify';

/** How the resolved folder was found. */
export type ResolvedVia = 'path' | 'home' | 'workspace' | 'run-cwd' | 'adapter-folder' | 'hf-cache' | 'modelscope-cache' | 'search-path' | 'override';

export interface RelativeHit {
  /** The folder the relative value was resolved against. */
  readonly against: string;
  readonly role: 'workspace' | 'run-cwd' | 'adapter-folder';
  readonly path: string;
}

export interface BaseResolution {
  readonly classification: BaseClassification;
  /** Final kind: a hub-id-shaped value that exists as a relative folder becomes 'relative'. */
  readonly kind: BaseKind;
  readonly resolved: string | null;
  readonly via: ResolvedVia | null;
  /** For relative values: every base folder it names, by what it was resolved against. */
  readonly relativeHits: readonly RelativeHit[];
  /** For hub ids / cache paths: what the HF cache holds for the repo (first cache with the repo folder). */
  readonly hfCache: HfCacheHit | null;
  /** Path errors met while resolving (permission denied, symlink loop). */
  readonly errors: readonly string[];
  /**
   * For an unresolved hub-id-shaped value like "models/llama": folders where its parent ("models") exists, i.e. where
   * it was most likely meant as a relative path whose model has gone.
   */
  readonly relativeParents?: readonly string[];
}

export interface ResolveOptions {
  /** Folder holding adapter_config.json. */
  readonly adapterDir: string;
  readonly workspaceFolders?: readonly string[];
  /** loraWorkbench.modelSearchPaths: folders holding models by name (org/name, name, or the HF cache layout). */
  readonly searchPaths?: readonly string[];
  readonly revision?: string | null;
}

/** Folders a training script was likely started from: the adapter's ancestors up to the workspace root (at most 4). */
export function likelyWorkingDirs(adapterDir: string, workspaceFolders: readonly string[]): string[] {
  const out: string[] = [];
  let d = dirname(adapterDir);
  for (let i = 0; i < 4 && d !== '/' && d !== '.'; i++) {
    out.push(d);
    if (workspaceFolders.some((w) => normalizePath(w) === d)) break;
    d = dirname(d);
  }
  return out;
}

async function isDir(fs: FsPort, p: string, errors: string[]): Promise<boolean> {
  const s = await safeStat(fs, p);
  if (s.error) errors.push(s.error);
  return s.kind === 'dir';
}

/** Resolve a raw base value. Never throws; I/O problems are collected in `errors`. */
export async function resolveBaseModel(fs: FsPort, raw: unknown, opts: ResolveOptions): Promise<BaseResolution> {
  const c = classifyBase(raw, fs.env);
  const errors: string[] = [];
  const ws = (opts.workspaceFolders ?? []).map(normalizePath);
  const done = (kind: BaseKind, resolved: string | null, via: ResolvedVia | null, relativeHits: RelativeHit[] = [], hfCache: HfCacheHit | null = null): BaseResolution =>
    ({ classification: c, kind, resolved, via, relativeHits, hfCache, errors });
  if (c.kind === 'null' || c.raw === null) return done('null', null, null);
  const value = c.raw.trim();

  if (c.kind === 'absolute' || c.kind === 'windows' || c.kind === 'hf-cache-snapshot' || c.kind === 'modelscope-cache' || c.kind === 'home') {
    const p = c.kind === 'home' ? expandHome(value, fs.env) : value;
    if (p.startsWith('/') && (await isDir(fs, normalizePath(p), errors))) {
      return done(c.kind, normalizePath(p), c.kind === 'home' ? 'home' : 'path');
    }
  }
  if (c.kind === 'hf-cache-snapshot' && c.hubId) {
    // A snapshot path from another machine: the same repo + commit may sit in this machine's cache.
    const hit = await firstHfHit(fs, c.hubId, c.snapshot ?? null, errors);
    if (hit?.snapshotDir) {
      const p = c.snapshotSubpath ? joinPath(hit.snapshotDir, c.snapshotSubpath) : hit.snapshotDir;
      if (await isDir(fs, p, errors)) return done(c.kind, p, 'hf-cache', [], hit);
    }
    return done(c.kind, null, null, [], hit);
  }
  if (c.kind === 'modelscope-cache' && c.hubId) {
    const p = await findInModelscope(fs, c.hubId, errors);
    return done(c.kind, p, p ? 'modelscope-cache' : null);
  }
  if (c.kind === 'relative' || c.kind === 'hub-id') {
    const hits: RelativeHit[] = [];
    const seen = new Set<string>();
    const tryAgainst = async (against: string, role: RelativeHit['role']): Promise<void> => {
      const p = joinPath(against, value);
      if (seen.has(p + '|' + role)) return;
      seen.add(p + '|' + role);
      if (await isDir(fs, p, errors)) hits.push({ against, role, path: p });
    };
    for (const w of ws) await tryAgainst(w, 'workspace');
    for (const d of likelyWorkingDirs(opts.adapterDir, ws)) if (!ws.includes(d)) await tryAgainst(d, 'run-cwd');
    await tryAgainst(opts.adapterDir, 'adapter-folder');
    if (hits.length > 0) return done('relative', hits[0]!.path, hits[0]!.role, hits);
    if (c.kind === 'relative') {
      const viaSearch = await findInSearchPaths(fs, value, opts.searchPaths ?? [], errors);
      return done('relative', viaSearch, viaSearch ? 'search-path' : null);
    }
  }
  if (c.kind === 'hub-id' && c.hubId) {
    const hit = await firstHfHit(fs, c.hubId, opts.revision ?? null, errors);
    if (hit?.snapshotDir) return done('hub-id', hit.snapshotDir, 'hf-cache', [], hit);
    const ms = await findInModelscope(fs, c.hubId, errors);
    if (ms) return done('hub-id', ms, 'modelscope-cache', [], hit);
    const sp = await findInSearchPaths(fs, c.hubId, opts.searchPaths ?? [], errors);
    const out = done('hub-id', sp, sp ? 'search-path' : null, [], hit);
    if (sp || hit || !value.includes('/')) return out;
    const parentRel = value.slice(0, value.lastIndexOf('/'));
    const parents: string[] = [];
    for (const against of [...ws, ...likelyWorkingDirs(opts.adapterDir, ws), opts.adapterDir]) {
      const p = joinPath(against, parentRel);
      if (!parents.includes(p) && (await isDir(fs, p, errors))) parents.push(p);
    }
    return { ...out, relativeParents: parents };
  }
  // Unresolved absolute / Windows / home path: a model folder of the same name in the user's model folders.
  const sp = await findInSearchPaths(fs, basename(value.replace(/\\/g, '/').replace(/\/+$/, '')), opts.searchPaths ?? [], errors);
  return done(c.kind, sp, sp ? 'search-path' : null);
}

async function firstHfHit(fs: FsPort, hubId: string, revision: string | null, errors: string[]): Promise<HfCacheHit | null> {
  let first: HfCacheHit | null = null;
  for (const root of hfCacheRoots(fs.env)) {
    const hit = await findInHfCache(fs, root, hubId, revision);
    if (hit?.error) errors.push(hit.error);
    if (hit?.snapshotDir) return hit;
    first ??= hit;
  }
  return first;
}

async function findInModelscope(fs: FsPort, hubId: string, errors: string[]): Promise<string | null> {
  for (const root of modelscopeCacheRoots(fs.env)) {
    for (const p of modelscopeFolders(root, hubId)) if (await isDir(fs, p, errors)) return p;
  }
  return null;
}

/** A model named `name` ("org/name" or "name") inside a search path: <sp>/org/name, <sp>/name, <sp>/models--org--name. */
async function findInSearchPaths(fs: FsPort, name: string, searchPaths: readonly string[], errors: string[]): Promise<string | null> {
  if (!name) return null;
  const short = name.includes('/') ? name.slice(name.lastIndexOf('/') + 1) : name;
  for (const spRaw of searchPaths) {
    const sp = normalizePath(expandHome(spRaw, fs.env));
    for (const rel of [...new Set([name, short])]) {
      const p = joinPath(sp, rel);
      if (isInside(p, sp) && (await isDir(fs, p, errors))) return p;
    }
    if (name.includes('/')) {
      const hit = await findInHfCache(fs, { path: sp, source: 'loraWorkbench.modelSearchPaths' }, name, null);
      if (hit?.snapshotDir) return hit.snapshotDir;
    }
  }
  return null;
}
