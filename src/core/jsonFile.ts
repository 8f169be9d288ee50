// Reading small JSON config files (config.json, adapter_config.json, generation_config.json) as objects, with errors
// that name the file: not found, too large, not JSON, or not an object.

import { CoreError } from './errors';
import type { FsPort } from './ports';
import { tr } from './text';

/** Config files are small; a larger one is corrupt or not what it claims to be. */
export const MAX_JSON_CONFIG_BYTES = 16 * 1024 * 1024;

/** Parse a JSON object file. A missing file is null, or a CoreError('not-found') when `required`. */
export async function readJsonObject(fs: FsPort, path: string, required: true): Promise<Record<string, unknown>>;
export async function readJsonObject(fs: FsPort, path: string, required: boolean): Promise<Record<string, unknown> | null>;
export async function readJsonObject(fs: FsPort, path: string, required: boolean): Promise<Record<string, unknown> | null> {
  const st = await fs.stat(path);
  if (st?.kind !== 'file') {
    if (required) throw new CoreError('not-found', tr`${path}: not found.`, path);
    return null;
  }
  let v: unknown;
  try {
    v = JSON.parse(await fs.readText(path, MAX_JSON_CONFIG_BYTES));
  } catch (e) {
    if (e instanceof CoreError) throw e;
    throw new CoreError('bad-format', tr`${path}: not valid JSON (${(e as Error).message}).`, path);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CoreError('bad-format', tr`${path}: expected a JSON object.`, path);
  return v as Record<string, unknown>;
}
