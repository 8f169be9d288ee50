// What the checkpoint scan needs from a safetensors header (tensor count, parameter count, dtypes, zero-size tensors,
// lora_A ranks). A scan reads ~12,000 headers of ~35 KB: this is JSON.parse plus one lean validation loop (no
// TensorInfo objects, no sort unless needed, duplicate names detected by counting instead of re-tokenising), about half
// the CPU of the full parse. Any header that fails a check goes to safetensors/header.ts, the reference parser, so the
// verdict and the error messages stay exactly the reference's.

import { parseSafetensorsHeader } from '../safetensors/header';
import { DTYPE_BYTES, isDType, numel } from '../tensor/dtype';

export interface HeaderSummary {
  readonly tensorCount: number;
  /** Sum of elements over all tensors. */
  readonly params: number;
  /** dtype -> elements. */
  readonly dtypeElems: ReadonlyMap<string, number>;
  readonly zeroSized: number;
  readonly firstZeroSized: { readonly name: string; readonly shape: readonly number[] } | null;
  /** [name, shape[0]] of 2-D `*.lora_A[.<adapter>].weight` tensors: the first tensor of each distinct rank. */
  readonly loraARanks: ReadonlyArray<readonly [string, number]>;
}

const LORA_A = /\.lora_A(\.[^.]+)?\.weight$/;

class Fallback extends Error {}

function summaryFromTensors(tensors: ReadonlyArray<{ name: string; dtype: string; shape: readonly number[] }>): HeaderSummary {
  const dtypeElems = new Map<string, number>();
  let params = 0;
  let zeroSized = 0;
  let firstZeroSized: HeaderSummary['firstZeroSized'] = null;
  const loraARanks: Array<[string, number]> = [];
  for (const t of tensors) {
    const n = numel(t.shape);
    params += n;
    dtypeElems.set(t.dtype, (dtypeElems.get(t.dtype) ?? 0) + n);
    if (t.shape.some((d) => d === 0)) {
      zeroSized++;
      firstZeroSized ??= { name: t.name, shape: t.shape };
    }
    if (t.shape.length === 2 && LORA_A.test(t.name) && !loraARanks.some((x) => x[1] === t.shape[0])) loraARanks.push([t.name, t.shape[0]!]);
  }
  return { tensorCount: tensors.length, params, dtypeElems, zeroSized, firstZeroSized, loraARanks };
}

/**
 * Summarise a header. `headerBytes` is the JSON (without the 8-byte length); `fileSize` checks offsets against the
 * file. Throws the reference parser's CoreError('bad-format') for an invalid header.
 */
export function summarizeSafetensorsHeader(path: string, headerBytes: Uint8Array, fileSize: number): HeaderSummary {
  const dataSize = fileSize - 8 - headerBytes.length;
  // Byte-identical to a header already summarised (the other checkpoints of a run): same text, same verdict. Comparing
  // the raw bytes costs a fraction of a UTF-8 decode (and leaves no 35 KB string per file for the GC).
  const hash = hashBytes(headerBytes);
  const hit = memoLookup(headerBytes, hash, dataSize);
  if (hit) return hit;
  let text: string | null = null;
  try {
    text = decoder.decode(headerBytes);
    const summary = scan(text, dataSize);
    memoStore(headerBytes, hash, dataSize, summary);
    return summary;
  } catch (e) {
    // Not UTF-8 (decode threw, text still null) or a failed check: the reference parser gives the verdict.
    if (!(e instanceof Fallback) && text !== null) throw e;
    return summaryFromTensors(parseSafetensorsHeader(path, headerBytes, fileSize).tensors);
  }
}

/**
 * Checkpoints of one run share a byte-identical header (same modules, shapes and offsets), so a run of N checkpoints
 * parses it once. Keyed by the header bytes (a private copy; found by a hash of them, then compared word by word);
 * bounded, oldest evicted first, most recent checked first. Only headers that passed every check are stored.
 */
const MEMO_ENTRIES = 128;
interface MemoEntry {
  readonly bytes: Uint8Array;
  readonly hash: number;
  readonly dataSize: number;
  readonly summary: HeaderSummary;
}
const memo: MemoEntry[] = [];

function memoLookup(bytes: Uint8Array, hash: number, dataSize: number): HeaderSummary | null {
  for (let i = memo.length - 1; i >= 0; i--) {
    const m = memo[i]!;
    if (m.hash === hash && m.dataSize === dataSize && sameBytes(m.bytes, bytes)) {
      if (i !== memo.length - 1) {
        memo.splice(i, 1);
        memo.push(m);
      }
      return m.summary;
    }
  }
  return null;
}

function memoStore(bytes: Uint8Array, hash: number, dataSize: number, summary: HeaderSummary): void {
  // The evicted entry's buffer is reused when it is large enough: no fresh 35 KB allocation per new header.
  const old = memo.length >= MEMO_ENTRIES ? memo.shift()! : null;
  const copy = old && old.bytes.buffer.byteLength >= bytes.length ? new Uint8Array(old.bytes.buffer, 0, bytes.length) : new Uint8Array(bytes.length + 1024);
  copy.set(bytes);
  memo.push({ bytes: copy.subarray(0, bytes.length), hash, dataSize, summary });
}

/**
 * 32-bit FNV-1a style hash of the length and a sample of the contents (the first 256 bytes, then every 16th word, then
 * the tail): only a filter in front of sameBytes(), which decides.
 */
function hashBytes(a: Uint8Array): number {
  const n = a.length;
  const words = n >>> 2;
  let h = 0x811c9dc5 ^ n;
  if (a.byteOffset % 4 === 0) {
    const w = new Int32Array(a.buffer, a.byteOffset, words);
    for (let k = 0; k < words; k += k < 64 ? 1 : 16) h = Math.imul(h ^ w[k]!, 0x01000193);
  } else {
    // The same little-endian words assembled byte by byte, so a copy at another offset hashes the same.
    for (let k = 0; k < words; k += k < 64 ? 1 : 16) {
      const i = k * 4;
      h = Math.imul(h ^ (a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24)), 0x01000193);
    }
  }
  for (let i = Math.max(0, n - 16); i < n; i++) h = Math.imul(h ^ a[i]!, 0x01000193);
  return h;
}

/** Equal contents; 4 bytes at a time when both views are 4-byte aligned (they are for the scan's pooled buffers). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const words = n >>> 2;
    const wa = new Int32Array(a.buffer, a.byteOffset, words);
    const wb = new Int32Array(b.buffer, b.byteOffset, words);
    for (let k = 0; k < words; k++) if (wa[k] !== wb[k]) return false;
    i = words * 4;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Count non-overlapping occurrences of `needle` (native indexOf). */
function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

function scan(text: string, dataSize: number): HeaderSummary {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Fallback();
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Fallback();
  const obj = json as Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown }>;
  const begins: number[] = [];
  const ends: number[] = [];
  const dtypeElems = new Map<string, number>();
  const ranks = new Map<number, string>();
  let params = 0;
  let zeroSized = 0;
  let firstZeroSized: HeaderSummary['firstZeroSized'] = null;
  for (const name in obj) {
    if (name === '__metadata__') continue;
    const t = obj[name]!;
    if (typeof t !== 'object' || t === null) throw new Fallback();
    const { dtype, shape, data_offsets: off } = t;
    if (typeof dtype !== 'string' || !isDType(dtype) || !Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) throw new Fallback();
    let elems = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Fallback();
      elems *= d;
    }
    const bg = off[0];
    const en = off[1];
    if (!Number.isSafeInteger(bg) || !Number.isSafeInteger(en) || bg < 0 || en < bg || en - bg !== elems * DTYPE_BYTES[dtype] || en > dataSize) throw new Fallback();
    begins.push(bg);
    ends.push(en);
    params += elems;
    dtypeElems.set(dtype, (dtypeElems.get(dtype) ?? 0) + elems);
    if (elems === 0) {
      zeroSized++;
      firstZeroSized ??= { name, shape: shape as number[] };
    }
    if (shape.length === 2 && !ranks.has(shape[0]) && LORA_A.test(name)) ranks.set(shape[0], name);
  }
  // JSON.parse keeps the last of duplicate names: one "data_offsets" per entry tells that none was dropped.
  if (occurrences(text, '"data_offsets"') !== begins.length) throw new Fallback();
  // Overlap check in data order (writers emit tensors in order: sort only when they did not).
  let sorted = true;
  for (let k = 1; k < begins.length; k++) if (begins[k]! < begins[k - 1]!) sorted = false;
  const order = begins.map((_, k) => k);
  if (!sorted) order.sort((x, y) => begins[x]! - begins[y]! || ends[x]! - ends[y]!);
  for (let k = 1; k < order.length; k++) if (begins[order[k]!]! < ends[order[k - 1]!]!) throw new Fallback();
  const loraARanks = [...ranks].map(([rank, nm]) => [nm, rank] as const);
  return { tensorCount: begins.length, params, dtypeElems, zeroSized, firstZeroSized, loraARanks };
}
