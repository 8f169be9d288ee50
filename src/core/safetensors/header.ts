// safetensors header parsing and validation, reading only the header bytes (never tensor data).
// Format: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[b,e]}, __metadata__?}, then data.

import { CoreError } from '../errors';
import type { ByteSource } from '../ports';
import { DTYPE_BYTES, isDType, numel, type DType } from '../tensor/dtype';
import { tr } from '../text';

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute byte offsets in the file (header size already added). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  readonly fileSize: number;
  /** Bytes before the data section: 8 + header length. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** In file order of data offsets. */
  readonly tensors: readonly TensorInfo[];
  readonly byName: ReadonlyMap<string, TensorInfo>;
}

/** Largest header we accept: real headers are far smaller; this keeps a corrupt length from allocating gigabytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const LFS_PREFIX = 'version https://git-lfs';

/** Read and validate the header of a safetensors file. Throws CoreError('bad-format') naming the file. */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const path = src.path;
  if (src.size < 8) {
    throw new CoreError('bad-format', tr`${path}: ${src.size} bytes is too small for a safetensors file (truncated).`, path);
  }
  const lenBytes = new Uint8Array(8);
  await readFully(src, 0, lenBytes);
  if (new TextDecoder().decode(lenBytes).startsWith('version ')) {
    const head = new Uint8Array(Math.min(src.size, 64));
    await readFully(src, 0, head);
    if (new TextDecoder().decode(head).startsWith(LFS_PREFIX)) {
      throw new CoreError('bad-format', tr`${path}: this is a Git LFS pointer, not the weights (run 'git lfs pull').`, path);
    }
  }
  const dv = new DataView(lenBytes.buffer);
  const headerLen = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (headerLen > MAX_HEADER_BYTES) {
    throw new CoreError('bad-format', tr`${path}: header length ${headerLen} is implausible (corrupt or not safetensors).`, path);
  }
  if (8 + headerLen > src.size) {
    throw new CoreError('bad-format', tr`${path}: header length ${headerLen} runs past the end of the file (${src.size} bytes): truncated.`, path);
  }
  const headerBytes = new Uint8Array(headerLen);
  await readFully(src, 8, headerBytes);
  return parseSafetensorsHeader(path, headerBytes, src.size);
}

/** Parse header JSON bytes; `fileSize` checks offsets against the file. */
export function parseSafetensorsHeader(path: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  let json: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    json = JSON.parse(text);
  } catch (e) {
    throw new CoreError('bad-format', tr`${path}: the safetensors header is not valid UTF-8 JSON (${(e as Error).message}).`, path);
  }
  // JSON.parse keeps the last of two equal keys silently; a file naming a tensor twice is ambiguous, so refuse it.
  const dup = findDuplicateTopLevelKey(text);
  if (dup !== null) throw new CoreError('bad-format', tr`${path}: the safetensors header names tensor '${dup}' twice.`, path);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CoreError('bad-format', tr`${path}: the safetensors header is not a JSON object.`, path);
  }
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw && typeof raw === 'object') {
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
      }
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== 'object' || typeof t.dtype !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) {
      throw new CoreError('bad-format', tr`${path}: tensor '${name}' has no valid dtype/shape/data_offsets.`, path);
    }
    if (!isDType(t.dtype)) throw new CoreError('bad-format', tr`${path}: tensor '${name}' has unknown dtype '${t.dtype}'.`, path);
    const shape = t.shape as unknown[];
    if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new CoreError('bad-format', tr`${path}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}.`, path);
    }
    const [b, e] = t.data_offsets as unknown[];
    if (t.data_offsets.length !== 2 || !Number.isSafeInteger(b) || !Number.isSafeInteger(e) || (b as number) < 0 || (e as number) < (b as number)) {
      throw new CoreError('bad-format', tr`${path}: tensor '${name}' has invalid data_offsets ${JSON.stringify(t.data_offsets)}.`, path);
    }
    const expected = numel(shape as number[]) * DTYPE_BYTES[t.dtype];
    if ((e as number) - (b as number) !== expected) {
      throw new CoreError('bad-format', tr`${path}: tensor '${name}' (${t.dtype} ${JSON.stringify(shape)}) needs ${expected} bytes but its offsets span ${(e as number) - (b as number)}.`, path);
    }
    if ((e as number) > dataSize) {
      throw new CoreError('bad-format', tr`${path}: tensor '${name}' ends at byte ${e} of a ${dataSize}-byte data section: the file is truncated.`, path);
    }
    tensors.push({ name, dtype: t.dtype, shape: shape as number[], begin: dataStart + (b as number), end: dataStart + (e as number) });
  }
  tensors.sort((x, y) => x.begin - y.begin || x.end - y.end);
  for (let i = 1; i < tensors.length; i++) {
    const prev = tensors[i - 1]!;
    const cur = tensors[i]!;
    if (cur.begin < prev.end) {
      throw new CoreError('bad-format', tr`${path}: tensors '${prev.name}' and '${cur.name}' overlap in the data section.`, path);
    }
  }
  const byName = new Map(tensors.map((t) => [t.name, t] as const));
  return { path, fileSize, dataStart, metadata, tensors, byName };
}

/** Read exactly into.length bytes at offset, or throw a truncation error. */
export async function readFully(src: ByteSource, offset: number, into: Uint8Array): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const n = await src.read(offset + done, into.subarray(done));
    if (n <= 0) throw new CoreError('bad-format', tr`${src.path}: unexpected end of file at byte ${offset + done} (truncated).`, src.path);
    done += n;
  }
}

/**
 * The first key that occurs twice at the top level of a JSON object text (already known to be valid JSON), or null.
 * A linear scan that tracks nesting and strings; keys are decoded with JSON.parse so escapes compare correctly.
 */
export function findDuplicateTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      expectKey = depth === 1 && c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}
