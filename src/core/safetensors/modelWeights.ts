// Locate and index a model folder's weights from headers only: model.safetensors, sharded safetensors with
// model.safetensors.index.json, or (through a pluggable reader) pytorch_model*.bin. Never reads tensor data.

import { CoreError } from '../errors';
import type { FsPort } from '../ports';
import { isInside, joinPath, normalizePath } from '../paths';
import { readSafetensorsHeader, type SafetensorsHeader, type TensorInfo } from './header';
import { tr } from '../text';

export type WeightsLayout = 'safetensors' | 'safetensors-sharded' | 'bin' | 'bin-sharded';

export interface WeightTensor extends TensorInfo {
  /** Absolute path of the file holding it. */
  readonly file: string;
}

export interface ModelWeights {
  readonly folder: string;
  readonly layout: WeightsLayout;
  readonly files: readonly string[];
  readonly tensors: ReadonlyMap<string, WeightTensor>;
  /** Sum of tensor bytes. */
  readonly totalBytes: number;
}

/** Reads tensor headers of a torch .bin (zip + pickle) without executing it; provided by torchpickle/ when present. */
export type BinHeaderReader = (fs: FsPort, file: string) => Promise<readonly TensorInfo[]>;

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
export const BIN_INDEX = 'pytorch_model.bin.index.json';

/** Which weight layout a folder holds, or null (no weights). Cheap: stats only. */
export async function detectWeightsLayout(fs: FsPort, folder: string): Promise<{ layout: WeightsLayout; entry: string } | null> {
  const candidates: Array<[string, WeightsLayout]> = [
    [SAFETENSORS_INDEX, 'safetensors-sharded'],
    ['model.safetensors', 'safetensors'],
    [BIN_INDEX, 'bin-sharded'],
    ['pytorch_model.bin', 'bin'],
  ];
  for (const [name, layout] of candidates) {
    const st = await fs.stat(joinPath(folder, name));
    if (st?.kind === 'file') return { layout, entry: joinPath(folder, name) };
  }
  return null;
}

/** Parse a sharded index and return shard file -> tensor names, validating the paths it names. */
export async function readShardIndex(fs: FsPort, indexPath: string): Promise<{ weightMap: Map<string, string>; totalSize: number | null }> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readText(indexPath, 64 * 1024 * 1024));
  } catch (e) {
    if (e instanceof CoreError) throw e;
    throw new CoreError('bad-format', tr`${indexPath}: not valid JSON (${(e as Error).message}).`, indexPath);
  }
  const wm = (json as { weight_map?: unknown })?.weight_map;
  if (!wm || typeof wm !== 'object' || Array.isArray(wm)) {
    throw new CoreError('bad-format', tr`${indexPath}: has no "weight_map" object.`, indexPath);
  }
  const folder = indexPath.slice(0, indexPath.lastIndexOf('/'));
  const weightMap = new Map<string, string>();
  for (const [tensor, file] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof file !== 'string' || file.length === 0) {
      throw new CoreError('bad-format', tr`${indexPath}: weight_map entry '${tensor}' is not a file name.`, indexPath);
    }
    const resolved = normalizePath(joinPath(folder, file));
    if (file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file) || file.includes('\\') || !isInside(resolved, folder)) {
      throw new CoreError('bad-format', tr`${indexPath}: weight_map entry '${tensor}' points outside the model folder ('${file}').`, indexPath);
    }
    weightMap.set(tensor, resolved);
  }
  const total = (json as { metadata?: { total_size?: unknown } }).metadata?.total_size;
  return { weightMap, totalSize: typeof total === 'number' ? total : null };
}

async function headerOf(fs: FsPort, file: string): Promise<SafetensorsHeader> {
  const src = await fs.open(file);
  try {
    return await readSafetensorsHeader(src);
  } finally {
    await src.close();
  }
}

/** Index every tensor of a model folder by name, from headers only. */
export async function readModelWeights(fs: FsPort, folder: string, binReader?: BinHeaderReader): Promise<ModelWeights> {
  const found = await detectWeightsLayout(fs, folder);
  if (!found) {
    throw new CoreError('not-found', tr`${folder}: no model weights (model.safetensors, ${SAFETENSORS_INDEX}, pytorch_model.bin or ${BIN_INDEX}).`, folder);
  }
  const tensors = new Map<string, WeightTensor>();
  let files: string[];
  const add = (file: string, infos: readonly TensorInfo[], only?: ReadonlySet<string>): void => {
    for (const t of infos) {
      if (only && !only.has(t.name)) continue;
      if (tensors.has(t.name)) throw new CoreError('bad-format', tr`${file}: tensor '${t.name}' also appears in ${tensors.get(t.name)!.file}.`, file);
      tensors.set(t.name, { ...t, file });
    }
  };
  const readInfos = async (file: string): Promise<readonly TensorInfo[]> => {
    if (found.layout.startsWith('safetensors')) return (await headerOf(fs, file)).tensors;
    if (!binReader) throw new CoreError('unsupported', tr`${file}: reading PyTorch .bin weights is not available here.`, file);
    return binReader(fs, file);
  };
  if (found.layout === 'safetensors' || found.layout === 'bin') {
    files = [found.entry];
    add(found.entry, await readInfos(found.entry));
  } else {
    const { weightMap } = await readShardIndex(fs, found.entry);
    files = [...new Set(weightMap.values())].sort();
    for (const file of files) {
      const wanted = new Set([...weightMap].filter(([, f]) => f === file).map(([t]) => t));
      const infos = await readInfos(file);
      add(file, infos, wanted);
    }
    for (const [name, file] of weightMap) {
      if (!tensors.has(name)) throw new CoreError('bad-format', tr`${found.entry}: '${name}' is mapped to ${file}, which does not contain it.`, found.entry);
    }
  }
  let totalBytes = 0;
  for (const t of tensors.values()) totalBytes += t.end - t.begin;
  return { folder, layout: found.layout, files, tensors, totalBytes };
}
