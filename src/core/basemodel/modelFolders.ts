// Where a "choose a base model folder" dialog should open: where models are, never the adapter's own folder (accepting
// that default ends in "... has no config.json"). First existing of: the folder holding the models the workspace scan
// found, the user's loraWorkbench.modelSearchPaths, a models/ folder in a workspace folder, the HF cache, the workspace.

import { dirname, joinPath, normalizePath } from '../paths';
import type { FsPort } from '../ports';
import { hfCacheRoots, safeStat } from './caches';

export interface ModelFolderHints {
  /** Full-model folders the workspace scan found (their parent is where models live). */
  readonly knownModels?: readonly string[];
  readonly searchPaths?: readonly string[];
  readonly workspaceFolders?: readonly string[];
}

/** The folder a base-model picker should start in, or null when none of the candidates exists. */
export async function baseDialogStartFolder(fs: FsPort, hints: ModelFolderHints): Promise<string | null> {
  const ws = (hints.workspaceFolders ?? []).map(normalizePath);
  const candidates = [
    ...(hints.knownModels ?? []).map((m) => dirname(normalizePath(m))),
    ...(hints.searchPaths ?? []).filter((p) => p.startsWith('/')).map(normalizePath),
    ...ws.map((w) => joinPath(w, 'models')),
    ...hfCacheRoots(fs.env).map((r) => r.path),
    ...ws,
  ];
  for (const c of candidates) {
    if ((await safeStat(fs, c)).kind === 'dir') return c;
  }
  return null;
}
