// Where hub ids live on disk: the Hugging Face hub cache (models--org--name/{blobs,refs,snapshots}) and the ModelScope
// cache (org/name with '.' mangled to '___'). Locations follow the env vars the libraries read.
// Reference: huggingface_hub src/huggingface_hub/constants.py + file_download.py; modelscope hub/file_download.py.

import { joinPath } from '../paths';
import type { FsPort, HostEnv } from '../ports';
import { isCommitHash } from './classify';

export interface CacheRoot {
  readonly path: string;
  /** Which variable (or default) named it, for messages: "HF_HUB_CACHE", "~/.cache/huggingface/hub"... */
  readonly source: string;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim().replace(/\/+$/, '') || '/' : undefined;
}

function expand(p: string, env: HostEnv): string {
  return p === '~' ? env.home : p.replace(/^~(?=\/)/, env.home);
}

/**
 * HF hub cache folders in the order huggingface_hub and transformers consult them: HF_HUB_CACHE, then the legacy
 * HUGGINGFACE_HUB_CACHE, then $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub, and finally the
 * legacy TRANSFORMERS_CACHE. The first is the one loading uses; the rest are searched so a model sitting in an older
 * location is still found (and reported as such).
 */
export function hfCacheRoots(env: HostEnv): CacheRoot[] {
  const v = env.vars;
  const out: CacheRoot[] = [];
  const push = (p: string | undefined, source: string): void => {
    if (!p) return;
    const path = expand(p, env);
    if (!out.some((r) => r.path === path)) out.push({ path, source });
  };
  push(nonEmpty(v.HF_HUB_CACHE), 'HF_HUB_CACHE');
  push(nonEmpty(v.HUGGINGFACE_HUB_CACHE), 'HUGGINGFACE_HUB_CACHE');
  const hfHome = nonEmpty(v.HF_HOME);
  if (hfHome) push(joinPath(expand(hfHome, env), 'hub'), 'HF_HOME');
  const xdg = nonEmpty(v.XDG_CACHE_HOME);
  if (xdg) push(joinPath(expand(xdg, env), 'huggingface/hub'), 'XDG_CACHE_HOME');
  if (env.home) push(joinPath(env.home, '.cache/huggingface/hub'), '~/.cache/huggingface/hub');
  push(nonEmpty(v.TRANSFORMERS_CACHE), 'TRANSFORMERS_CACHE');
  return out;
}

/** ModelScope cache roots: MODELSCOPE_CACHE, else ~/.cache/modelscope/hub. */
export function modelscopeCacheRoots(env: HostEnv): CacheRoot[] {
  const out: CacheRoot[] = [];
  const m = nonEmpty(env.vars.MODELSCOPE_CACHE);
  if (m) out.push({ path: expand(m, env), source: 'MODELSCOPE_CACHE' });
  if (env.home) {
    const def = joinPath(env.home, '.cache/modelscope/hub');
    if (!out.some((r) => r.path === def)) out.push({ path: def, source: '~/.cache/modelscope/hub' });
  }
  return out;
}

/** huggingface_hub's folder name for a model repo. */
export function hfRepoFolderName(hubId: string): string {
  return `models--${hubId.replace(/\//g, '--')}`;
}

/** HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: hub ids must then be served from the cache. */
export function isHubOffline(env: HostEnv): boolean {
  const on = (x: string | undefined): boolean => x !== undefined && ['1', 'true', 'yes', 'on'].includes(x.trim().toLowerCase());
  return on(env.vars.HF_HUB_OFFLINE) || on(env.vars.TRANSFORMERS_OFFLINE);
}

/** Stat that never throws: permission errors and symlink loops come back as a message. */
export async function safeStat(fs: FsPort, path: string): Promise<{ kind: 'file' | 'dir' | 'other' | null; error?: string }> {
  try {
    const s = await fs.stat(path);
    return { kind: s ? s.kind : null };
  } catch (e) {
    return { kind: null, error: (e as Error).message };
  }
}

async function safeReadDir(fs: FsPort, path: string): Promise<Array<{ name: string; kind: string }>> {
  try {
    return await fs.readDir(path);
  } catch {
    return [];
  }
}

export interface HfCacheHit {
  readonly root: CacheRoot;
  readonly repoDir: string;
  readonly hubId: string;
  /** The snapshot folder the revision selects, or null when that snapshot is absent. */
  readonly snapshotDir: string | null;
  /** The commit the revision resolves to (refs/<revision> or the revision itself), or null. */
  readonly commit: string | null;
  /** The revision asked for ('main' when none). */
  readonly revision: string;
  /** Branch/tag names under refs/ (e.g. ['main', 'refs/pr/1']). */
  readonly refs: readonly string[];
  readonly snapshots: readonly string[];
  /** Why the selected snapshot is unusable (symlink loop, permission denied), when it is. */
  readonly error?: string;
}

async function listRefs(fs: FsPort, refsDir: string, prefix = '', depth = 0): Promise<string[]> {
  if (depth > 3) return [];
  const out: string[] = [];
  for (const e of await safeReadDir(fs, refsDir)) {
    if (e.kind === 'file') out.push(prefix + e.name);
    else if (e.kind === 'dir') out.push(...(await listRefs(fs, joinPath(refsDir, e.name), `${prefix}${e.name}/`, depth + 1)));
  }
  return out.sort();
}

/**
 * Look a hub id up in one HF cache root, honouring `revision` (a commit hash, or a branch/tag read from refs/).
 * Returns null when the repo folder is absent.
 */
export async function findInHfCache(fs: FsPort, root: CacheRoot, hubId: string, revision: string | null): Promise<HfCacheHit | null> {
  const repoDir = joinPath(root.path, hfRepoFolderName(hubId));
  if ((await safeStat(fs, repoDir)).kind !== 'dir') return null;
  const rev = revision ?? 'main';
  const refs = await listRefs(fs, joinPath(repoDir, 'refs'));
  const snapshots = (await safeReadDir(fs, joinPath(repoDir, 'snapshots'))).filter((e) => e.kind === 'dir' || e.kind === 'symlink').map((e) => e.name).sort();
  let commit: string | null = null;
  if (isCommitHash(rev)) commit = rev;
  else if (refs.includes(rev)) {
    try {
      commit = (await fs.readText(joinPath(repoDir, 'refs', rev), 1024)).trim() || null;
    } catch {
      commit = null;
    }
  }
  let snapshotDir = commit && snapshots.includes(commit) ? joinPath(repoDir, 'snapshots', commit) : null;
  let error: string | undefined;
  if (snapshotDir) {
    const st = await safeStat(fs, snapshotDir);
    if (st.kind !== 'dir') {
      error = st.error ?? `${snapshotDir} is not a folder.`;
      snapshotDir = null;
    }
  }
  return { root, repoDir, hubId, snapshotDir, commit, revision: rev, refs, snapshots, error };
}

export interface CachedModel {
  readonly path: string;
  readonly hubId: string;
  readonly source: 'hf-cache' | 'modelscope-cache';
  /** HF: the snapshot commit; null for ModelScope. */
  readonly commit: string | null;
  /** HF: true when refs/main points at this snapshot. */
  readonly isMain: boolean;
}

/** Every model snapshot in the HF caches (one per snapshot folder), for candidate search. Bounded by `limit`. */
export async function listHfCachedModels(fs: FsPort, roots: readonly CacheRoot[], limit = 200): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const root of roots) {
    for (const e of await safeReadDir(fs, root.path)) {
      if (!e.name.startsWith('models--') || out.length >= limit) continue;
      const hubId = e.name.slice('models--'.length).replace(/--/, '/');
      const repoDir = joinPath(root.path, e.name);
      let main: string | null = null;
      try {
        main = (await fs.readText(joinPath(repoDir, 'refs/main'), 1024)).trim();
      } catch {
        main = null;
      }
      for (const s of await safeReadDir(fs, joinPath(repoDir, 'snapshots'))) {
        if (s.kind !== 'dir' && s.kind !== 'symlink') continue;
        out.push({ path: joinPath(repoDir, 'snapshots', s.name), hubId, source: 'hf-cache', commit: s.name, isMain: s.name === main });
      }
    }
  }
  return out;
}

/** ModelScope folder candidates for a model id: the newer `models/<org>/<name>` layout and the older `<org>/<name>`. */
export function modelscopeFolders(root: CacheRoot, hubId: string): string[] {
  const [org, name] = hubId.includes('/') ? hubId.split('/', 2) as [string, string] : ['', hubId];
  const mangled = name.replace(/\./g, '___');
  const rel = org ? `${org}/${mangled}` : mangled;
  return [joinPath(root.path, 'models', rel), joinPath(root.path, rel)];
}

/** Every model folder in the ModelScope caches. */
export async function listModelscopeModels(fs: FsPort, roots: readonly CacheRoot[], limit = 200): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const root of roots) {
    for (const base of [joinPath(root.path, 'models'), root.path]) {
      for (const org of await safeReadDir(fs, base)) {
        if (org.kind !== 'dir' || org.name.startsWith('.') || org.name === 'models' || out.length >= limit) continue;
        for (const m of await safeReadDir(fs, joinPath(base, org.name))) {
          if ((m.kind !== 'dir' && m.kind !== 'symlink') || m.name.startsWith('.')) continue;
          const path = joinPath(base, org.name, m.name);
          if ((await safeStat(fs, joinPath(path, 'config.json'))).kind !== 'file') continue;
          out.push({ path, hubId: `${org.name}/${m.name.replace(/___/g, '.')}`, source: 'modelscope-cache', commit: null, isMain: true });
        }
      }
    }
  }
  return out;
}
