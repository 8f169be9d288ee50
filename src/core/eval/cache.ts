// Cache of evaluation results keyed by what decides them: the adapter files' content hashes (and scales), the base
// model's files (size + mtime: hashing gigabytes per run would cost more than the evaluation), the data file's content
// hash, and the settings. A re-run after one new checkpoint evaluates only that one. The file is JSON, rewritten
// atomically (temp file + rename); a missing or broken cache is an empty one.

import { readJsonObject } from '../jsonFile';
import { basename, dirname, joinPath } from '../paths';
import type { FsPort, WritableFsPort } from '../ports';
import type { LossSummary } from './loss';

/** Content hash of a file (hex); the Node side gives SHA-256. */
export type HashFile = (path: string) => Promise<string>;

export interface CachedResult {
  readonly summary: LossSummary;
  readonly truncated: number;
  readonly skipped: number;
  readonly ms: number;
  /** ISO time of the evaluation. */
  readonly at: string;
}

export const EVAL_CACHE_VERSION = 1;
/** Oldest entries go first beyond this many, so the file stays small. */
const MAX_ENTRIES = 500;

/** Where the CLI and the extension keep a run's evaluation cache: <folder>/.lora-workbench/eval-cache.json. */
export function defaultEvalCachePath(folder: string): string {
  return joinPath(folder, '.lora-workbench', 'eval-cache.json');
}

const ADAPTER_FILES = ['adapter_config.json', 'adapter_model.safetensors', 'adapter_model.bin', 'tokenizer.model', 'tokenizer.json', 'tokenizer_config.json'];

/** Content hashes of the files that decide an adapter's outputs (config, weights, a shipped tokenizer). */
export async function adapterFingerprint(fs: FsPort, folder: string, hash: HashFile): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of ADAPTER_FILES) {
    const p = joinPath(folder, name);
    if ((await fs.stat(p))?.kind === 'file') out[name] = await hash(p);
  }
  return out;
}

/** Size and mtime of every file in the base folder (weights, config, tokenizer): a change of any re-evaluates. */
export async function baseFingerprint(fs: FsPort, folder: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of (await fs.readDir(folder)).sort((a, b) => a.name.localeCompare(b.name))) {
    const st = e.kind === 'dir' ? null : await fs.stat(joinPath(folder, e.name));
    if (st?.kind === 'file') out[e.name] = `${st.size}:${Math.round(st.mtimeMs)}`;
  }
  return out;
}

/** The cache key: a canonical JSON of everything the result depends on. */
export function evalCacheKey(parts: {
  readonly base: Readonly<Record<string, string>>;
  readonly adapters: ReadonlyArray<{ readonly files: Readonly<Record<string, string>>; readonly scale: number }>;
  readonly data: string;
  readonly settings: Readonly<Record<string, string | number | boolean | null>>;
}): string {
  return JSON.stringify([parts.base, parts.adapters, parts.data, Object.entries(parts.settings).sort(([a], [b]) => a.localeCompare(b))]);
}

export class EvalCache {
  private constructor(private readonly path: string, private readonly entries: Map<string, CachedResult>) {}

  /** Read the cache at `path`; a missing, unreadable or other-version file gives an empty cache. */
  static async open(fs: FsPort, path: string): Promise<EvalCache> {
    const json = await readJsonObject(fs, path, false).catch(() => null);
    const entries = new Map<string, CachedResult>();
    if (json?.version === EVAL_CACHE_VERSION && json.entries && typeof json.entries === 'object') {
      for (const [k, v] of Object.entries(json.entries as Record<string, CachedResult>)) entries.set(k, v);
    }
    return new EvalCache(path, entries);
  }

  get(key: string): CachedResult | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: CachedResult): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Write the file (its folder created), through a temp file renamed over the old one. */
  async save(fs: WritableFsPort): Promise<void> {
    const folder = dirname(this.path);
    await fs.mkdir(folder);
    const tmp = joinPath(folder, `.${basename(this.path)}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
    await fs.writeFile(tmp, JSON.stringify({ version: EVAL_CACHE_VERSION, entries: Object.fromEntries(this.entries) }) + '\n');
    await fs.rename(tmp, this.path);
  }
}
