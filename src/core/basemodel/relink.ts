// "Relink all adapters of this run": find the run folder an adapter belongs to (the folder holding checkpoint-N
// sub-folders or trainer_state.json) and every adapter_config.json in it that records the same base value, so a
// shared-storage move can be fixed in one edit across checkpoints.

import { basename, dirname, joinPath } from '../paths';
import type { FsPort } from '../ports';

async function list(fs: FsPort, dir: string): Promise<Array<{ name: string; kind: string }>> {
  try {
    return await fs.readDir(dir);
  } catch {
    return [];
  }
}

/** The run folder of an adapter: the nearest ancestor (itself included, 3 levels up) with checkpoint-N children. */
export async function runFolderOf(fs: FsPort, adapterDir: string): Promise<string> {
  let d = adapterDir;
  for (let i = 0; i < 4 && d !== '/' && d !== '.'; i++) {
    const entries = await list(fs, d);
    if (entries.some((e) => /^checkpoint-\d+$/.test(e.name) && e.kind !== 'file')) return d;
    d = dirname(d);
  }
  return /^checkpoint-\d+$/.test(basename(adapterDir)) ? dirname(adapterDir) : adapterDir;
}

/** adapter_config.json files under the run folder (depth <= 3) whose base_model_name_or_path equals `raw`. */
export async function findRunAdapters(fs: FsPort, adapterDir: string, raw: string | null): Promise<string[]> {
  const root = await runFolderOf(fs, adapterDir);
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await list(fs, dir);
    if (entries.some((e) => e.name === 'adapter_config.json' && e.kind !== 'dir')) {
      const file = joinPath(dir, 'adapter_config.json');
      try {
        const v = (JSON.parse(await fs.readText(file, 4 * 1024 * 1024)) as { base_model_name_or_path?: unknown }).base_model_name_or_path;
        if ((v ?? null) === raw) out.push(file);
      } catch {
        // a malformed sibling is left alone: the bulk edit only touches configs it understands
      }
    }
    if (depth >= 3) return;
    for (const e of entries) {
      if (e.kind === 'dir' && !e.name.startsWith('.') && !/^global_step\d+$/.test(e.name) && e.name !== 'node_modules') await walk(joinPath(dir, e.name), depth + 1);
    }
  };
  await walk(root, 0);
  return out.sort();
}
