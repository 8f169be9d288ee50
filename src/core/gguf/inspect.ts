// What scan shows of a GGUF file, from its header only: architecture, model or adapter, llama.cpp file type, size,
// parameter count, tensor count; a truncated or malformed file becomes a health finding instead of an error.

import type { Health } from '../checkpoints/model';
import { CoreError } from '../errors';
import type { FsPort } from '../ports';
import { FILE_TYPE } from './format';
import { plainValue, readGguf } from './reader';

export interface GgufInfo {
  readonly path: string;
  readonly architecture: string | null;
  /** general.type: 'model' (the default) or 'adapter'. */
  readonly kind: string;
  readonly name: string | null;
  /** The file type's llama.cpp name (q4_k_m, f16...) or "file_type N" for others; null when not recorded. */
  readonly fileType: string | null;
  readonly sizeBytes: number;
  readonly params: number | null;
  readonly tensors: number | null;
  readonly health: readonly Health[];
}

const FILE_TYPE_NAMES = new Map<number, string>(Object.entries(FILE_TYPE).map(([k, v]) => [v, k]));

export async function inspectGguf(fs: FsPort, path: string): Promise<GgufInfo> {
  const size = (await fs.stat(path))?.size ?? 0;
  try {
    const src = await fs.open(path);
    let g;
    try {
      g = await readGguf(src);
    } finally {
      await src.close();
    }
    const str = (k: string): string | null => {
      const v = g.meta.get(k);
      return v?.type === 'string' ? v.value : null;
    };
    const ft = g.meta.get('general.file_type');
    const ftNum = ft ? Number(plainValue(ft)) : null;
    return {
      path, architecture: str('general.architecture'), kind: str('general.type') ?? 'model', name: str('general.name'),
      fileType: ftNum === null ? null : FILE_TYPE_NAMES.get(ftNum) ?? `file_type ${ftNum}`, sizeBytes: size,
      params: g.tensors.reduce((s, t) => s + t.ne.reduce((a, b) => a * b, 1), 0), tensors: g.tensors.length, health: [],
    };
  } catch (e) {
    if (!(e instanceof CoreError)) throw e;
    const health: Health = { code: /truncated|past the end/.test(e.message) ? 'truncated' : 'malformed', severity: 'error', message: e.message, text: e.text, file: path };
    return { path, architecture: null, kind: 'model', name: null, fileType: null, sizeBytes: size, params: null, tensors: null, health: [health] };
  }
}
