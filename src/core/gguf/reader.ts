// GGUF reader: header, typed metadata and tensor infos from a ByteSource, validated against the file (truncation,
// implausible counts, unknown value or tensor types, offsets past the end), for tests, scan and the engine's loader.
// Layout per the GGUF specification (versions 2 and 3: 64-bit counts and lengths).

import { CoreError } from '../errors';
import type { ByteSource } from '../ports';
import { readFully } from '../safetensors/header';
import { tr } from '../text';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE, alignUp, ggmlTypeById, tensorBytesOf,
  type GgmlTypeInfo, type GgufKv, type GgufScalarType, type GgufValue,
} from './format';

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order (ne[0] innermost). */
  readonly ne: readonly number[];
  readonly type: GgmlTypeInfo;
  /** Absolute byte offset in the file and byte length. */
  readonly begin: number;
  readonly size: number;
}

export interface GgufFile {
  readonly path: string;
  readonly fileSize: number;
  readonly version: number;
  readonly kvs: readonly GgufKv[];
  readonly meta: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataStart: number;
}

const TYPE_NAMES = new Map<number, GgufScalarType | 'array'>(Object.entries(GGUF_VALUE).map(([k, v]) => [v, k as GgufScalarType | 'array']));
const SCALAR_BYTES: Readonly<Record<Exclude<GgufScalarType, 'string'>, number>> = {
  u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8,
};
const WINDOW = 1 << 20;
const MAX_DIMS = 4;

/** Sequential reads over a ByteSource through a window, with errors that name the file and the byte. */
class Cursor {
  pos = 0;
  private win = new Uint8Array(0);
  private winStart = 0;
  private dv = new DataView(this.win.buffer);
  private static readonly dec = new TextDecoder('utf-8', { fatal: true });

  constructor(readonly src: ByteSource) {}

  fail(what: string): CoreError {
    return new CoreError('bad-format', tr`${this.src.path}: not a valid GGUF file: ${what} (at byte ${this.pos}).`, this.src.path);
  }

  private async need(n: number): Promise<number> {
    if (this.pos + n > this.src.size) throw new CoreError('bad-format', tr`${this.src.path}: the GGUF header is truncated (needs byte ${this.pos + n} of a ${this.src.size}-byte file).`, this.src.path);
    if (this.pos < this.winStart || this.pos + n > this.winStart + this.win.length) {
      this.win = new Uint8Array(Math.min(Math.max(n, WINDOW), this.src.size - this.pos));
      this.winStart = this.pos;
      await readFully(this.src, this.pos, this.win);
      this.dv = new DataView(this.win.buffer);
    }
    const at = this.pos - this.winStart;
    this.pos += n;
    return at;
  }

  async u32(): Promise<number> {
    const at = await this.need(4); // before reading this.dv: need() may move the window
    return this.dv.getUint32(at, true);
  }

  /** u64 as a number; larger than 2^53 cannot be a valid size or count in any file we can read. */
  async u64(what: string): Promise<number> {
    const at = await this.need(8);
    const v = this.dv.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`${what} ${v} is implausible`);
    return Number(v);
  }

  async string(what: string): Promise<string> {
    const n = await this.u64(`${what} length`);
    if (this.pos + n > this.src.size) throw this.fail(`${what} length ${n} runs past the end of the file`);
    const at = await this.need(n);
    try {
      return Cursor.dec.decode(this.win.subarray(at, at + n));
    } catch {
      throw this.fail(`${what} is not valid UTF-8`);
    }
  }

  async scalar(type: GgufScalarType, what: string): Promise<number | bigint | boolean | string> {
    if (type === 'string') return this.string(what);
    const at = await this.need(SCALAR_BYTES[type]);
    const dv = this.dv;
    switch (type) {
      case 'u8': return dv.getUint8(at);
      case 'i8': return dv.getInt8(at);
      case 'u16': return dv.getUint16(at, true);
      case 'i16': return dv.getInt16(at, true);
      case 'u32': return dv.getUint32(at, true);
      case 'i32': return dv.getInt32(at, true);
      case 'f32': return dv.getFloat32(at, true);
      case 'f64': return dv.getFloat64(at, true);
      case 'u64': return dv.getBigUint64(at, true);
      case 'i64': return dv.getBigInt64(at, true);
      case 'bool': {
        const b = dv.getUint8(at);
        if (b > 1) throw this.fail(`${what}: bool value ${b}`);
        return b === 1;
      }
    }
  }
}

async function readType(c: Cursor, what: string): Promise<GgufScalarType | 'array'> {
  const id = await c.u32();
  const t = TYPE_NAMES.get(id);
  if (!t) throw c.fail(`${what} has unknown value type ${id}`);
  return t;
}

async function readValue(c: Cursor, key: string): Promise<GgufValue> {
  const type = await readType(c, `'${key}'`);
  if (type !== 'array') return { type, value: await c.scalar(type, `'${key}'`) } as GgufValue;
  const itemType = await readType(c, `array '${key}'`);
  if (itemType === 'array') throw c.fail(`'${key}' is an array of arrays, which this reader does not support`);
  const n = await c.u64(`array '${key}' length`);
  const minBytes = itemType === 'string' ? 8 : SCALAR_BYTES[itemType];
  if (c.pos + n * minBytes > c.src.size) throw c.fail(`array '${key}' of ${n} items runs past the end of the file`);
  const values: (number | bigint | boolean | string)[] = new Array<number | bigint | boolean | string>(n);
  for (let i = 0; i < n; i++) values[i] = await c.scalar(itemType, `'${key}'[${i}]`);
  return { type: 'array', itemType, values };
}

async function readTensorInfo(c: Cursor): Promise<{ name: string; ne: number[]; type: GgmlTypeInfo; offset: number }> {
  const name = await c.string('tensor name');
  const nDims = await c.u32();
  if (nDims < 1 || nDims > MAX_DIMS) throw c.fail(`tensor '${name}' has ${nDims} dimensions`);
  const ne: number[] = [];
  for (let d = 0; d < nDims; d++) {
    const v = await c.u64(`tensor '${name}' dimension`);
    if (v < 1) throw c.fail(`tensor '${name}' has an empty dimension`);
    ne.push(v);
  }
  const typeId = await c.u32();
  const type = ggmlTypeById(typeId);
  if (!type) throw c.fail(`tensor '${name}' has unknown ggml type ${typeId}`);
  if (ne[0]! % type.blockSize !== 0) throw c.fail(`tensor '${name}': row length ${ne[0]} is not a multiple of ${type.name}'s block size ${type.blockSize}`);
  const offset = await c.u64(`tensor '${name}' offset`);
  return { name, ne, type, offset };
}

/** Read and validate a GGUF file's header. Throws CoreError('bad-format') naming the file. */
export async function readGguf(src: ByteSource): Promise<GgufFile> {
  const c = new Cursor(src);
  if (src.size < 24) throw new CoreError('bad-format', tr`${src.path}: ${src.size} bytes is too small for a GGUF file (truncated).`, src.path);
  if ((await c.u32()) !== GGUF_MAGIC) throw new CoreError('bad-format', tr`${src.path}: not a GGUF file (no 'GGUF' magic).`, src.path);
  const version = await c.u32();
  if (version !== 2 && version !== 3) throw new CoreError('unsupported', tr`${src.path}: GGUF version ${version} is not supported (versions 2 and 3 are).`, src.path);
  const nTensors = await c.u64('tensor count');
  const nKv = await c.u64('metadata count');
  // Every KV takes at least 8 (key length) + 4 (type) + 1 bytes, every tensor info at least 8 + 4 + 8 + 4 + 8.
  if (nKv * 13 + nTensors * 32 > src.size) throw c.fail(`${nKv} metadata entries and ${nTensors} tensors cannot fit in ${src.size} bytes (truncated or corrupt)`);
  const kvs: GgufKv[] = [];
  const meta = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = await c.string('metadata key');
    if (meta.has(key)) throw c.fail(`metadata key '${key}' appears twice`);
    const value = await readValue(c, key);
    kvs.push({ key, value });
    meta.set(key, value);
  }
  const al = meta.get('general.alignment');
  const alignment = al?.type === 'u32' ? al.value : GGUF_DEFAULT_ALIGNMENT;
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw c.fail(`general.alignment ${alignment} is not a power of two`);
  const raw: Awaited<ReturnType<typeof readTensorInfo>>[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const t = await readTensorInfo(c);
    if (names.has(t.name)) throw c.fail(`tensor '${t.name}' appears twice`);
    names.add(t.name);
    raw.push(t);
  }
  const dataStart = alignUp(c.pos, alignment);
  const tensors = raw.map((t): GgufTensorInfo => {
    const n = t.ne.reduce((a, b) => a * b, 1);
    const size = tensorBytesOf(t.type, n);
    if (t.offset % alignment !== 0) throw c.fail(`tensor '${t.name}' offset ${t.offset} is not aligned to ${alignment}`);
    const begin = dataStart + t.offset;
    if (begin + size > src.size) {
      throw new CoreError('bad-format', tr`${src.path}: tensor '${t.name}' (${size} bytes at ${begin}) runs past the end of the file (${src.size} bytes): truncated.`, src.path);
    }
    return { name: t.name, ne: t.ne, type: t.type, begin, size };
  });
  return { path: src.path, fileSize: src.size, version, kvs, meta, tensors, alignment, dataStart };
}

/** A metadata value as plain JS (arrays as arrays), for tests, scan and the loader. */
export function plainValue(v: GgufValue): unknown {
  return v.type === 'array' ? v.values : v.value;
}
