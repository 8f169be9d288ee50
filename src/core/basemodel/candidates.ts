// Find base models an adapter could use instead of a broken reference: model folders in the workspace and the user's
// model folders, HF cache snapshots and ModelScope models - ranked by how many adapter tensors map onto them (headers
// only), then by name similarity to what was recorded. Bounded walks; symlink loops are cut by realpath.

import { basename, joinPath, normalizePath } from '../paths';
import type { FsPort } from '../ports';
import type { BinHeaderReader } from '../safetensors/modelWeights';
import { hfCacheRoots, listHfCachedModels, listModelscopeModels, modelscopeCacheRoots } from './caches';
import type { CandidateSource } from '../peft/problems';
import { checkCompatibility, type CompatInput, type CompatReport } from './compat';
import { BaseModelCache } from './inspect';

export interface Candidate {
  readonly path: string;
  readonly source: CandidateSource;
  /** For cache entries: the hub id (and commit) it stands for. */
  readonly hubId?: string;
  readonly commit?: string | null;
  readonly isMain?: boolean;
  readonly architecture: string | null;
  readonly report: CompatReport;
}

const WEIGHT_FILES = ['model.safetensors.index.json', 'model.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model.bin'];
const SKIP_DIRS = new Set(['node_modules', '__pycache__', 'wandb', 'logs', 'runs', 'global_step', 'blobs']);

/** Model folders (config.json + weights, no adapter_config.json) under `root`, breadth-first, bounded. */
export async function findModelFolders(fs: FsPort, root: string, maxDepth = 4, maxDirs = 2000): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  let queue: string[] = [normalizePath(root)];
  let visited = 0;
  for (let depth = 0; depth <= maxDepth && queue.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of queue) {
      if (visited++ >= maxDirs) return out;
      let real = dir;
      try {
        real = await fs.realpath(dir);
      } catch {
        continue; // dangling link, loop or no permission: skip quietly
      }
      if (seen.has(real)) continue;
      seen.add(real);
      let entries: Array<{ name: string; kind: string }>;
      try {
        entries = await fs.readDir(dir);
      } catch {
        continue;
      }
      const names = new Set(entries.map((e) => e.name));
      if (names.has('config.json') && !names.has('adapter_config.json') && WEIGHT_FILES.some((f) => names.has(f))) {
        out.push(dir);
        continue; // a model folder does not nest other models
      }
      for (const e of entries) {
        if (e.name.startsWith('.') || SKIP_DIRS.has(e.name) || /^global_step\d+$/.test(e.name)) continue;
        if (e.kind === 'dir') next.push(joinPath(dir, e.name));
        else if (e.kind === 'symlink') {
          try {
            if ((await fs.stat(joinPath(dir, e.name)))?.kind === 'dir') next.push(joinPath(dir, e.name));
          } catch {
            // loop or permission error on the link target
          }
        }
      }
    }
    queue = next;
  }
  return out;
}

export interface CandidateSearch {
  readonly workspaceFolders: readonly string[];
  readonly searchPaths: readonly string[];
  /** The recorded value, for name-similarity ranking. */
  readonly raw: string | null;
  /** Folders not to propose (the current, broken base). */
  readonly exclude?: readonly string[];
  readonly cache: BaseModelCache;
  readonly binReader?: BinHeaderReader;
  /** At most this many folders are inspected (headers read). */
  readonly maxInspected?: number;
}

function nameScore(raw: string | null, path: string, hubId?: string): number {
  if (!raw) return 0;
  const want = basename(raw.replace(/\\/g, '/').replace(/\/+$/, '')).toLowerCase().replace(/___/g, '.');
  const names = [basename(path).toLowerCase(), (hubId ?? '').toLowerCase().split('/').pop() ?? ''];
  if (names.includes(want)) return 2;
  return names.some((n) => n && (n.includes(want) || want.includes(n))) ? 1 : 0;
}

/** Candidates whose tensors the adapter maps onto, best first. Only candidates with mapped > 0 are returned. */
export async function findCandidates(fs: FsPort, input: Omit<CompatInput, 'base'>, search: CandidateSearch): Promise<Candidate[]> {
  const found: Array<{ path: string; source: CandidateSource; hubId?: string; commit?: string | null; isMain?: boolean }> = [];
  const add = (f: (typeof found)[number]): void => {
    if (!found.some((x) => x.path === f.path) && !(search.exclude ?? []).includes(f.path)) found.push(f);
  };
  for (const w of search.workspaceFolders) for (const p of await findModelFolders(fs, w)) add({ path: p, source: 'workspace' });
  for (const s of search.searchPaths) for (const p of await findModelFolders(fs, s, 3)) add({ path: p, source: 'search-path' });
  for (const m of await listHfCachedModels(fs, hfCacheRoots(fs.env))) add({ path: m.path, source: 'hf-cache', hubId: m.hubId, commit: m.commit, isMain: m.isMain });
  for (const m of await listModelscopeModels(fs, modelscopeCacheRoots(fs.env))) add({ path: m.path, source: 'modelscope-cache', hubId: m.hubId });
  // Inspect the most likely by name first, so the cap drops the unlikely ones.
  found.sort((a, b) => nameScore(search.raw, b.path, b.hubId) - nameScore(search.raw, a.path, a.hubId));
  const out: Array<Candidate & { score: number }> = [];
  for (const f of found.slice(0, search.maxInspected ?? 40)) {
    const info = await search.cache.get(fs, f.path, search.binReader);
    if (!info.weights) continue;
    const report = checkCompatibility({ ...input, base: info });
    if (report.mapped === 0) continue;
    out.push({ ...f, architecture: info.architecture, report, score: nameScore(search.raw, f.path, f.hubId) });
  }
  out.sort((a, b) =>
    Number(b.report.compatible) - Number(a.report.compatible) || b.report.matched - a.report.matched || b.score - a.score ||
    Number(b.isMain ?? false) - Number(a.isMain ?? false) || a.path.localeCompare(b.path));
  return out.map(({ score: _s, ...c }) => c);
}
