// GGUF writer: header (magic, version, counts), typed metadata KV, tensor infos with aligned offsets, then each
// tensor's data streamed to a ByteSink and padded to the alignment. Layout per the GGUF specification, version 3.

import type { ByteSink } from '../ports';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE, GGUF_VERSION, alignUp, ggmlType, tensorBytesOf,
  type GgmlType, type GgufKv, type GgufScalarType, type GgufValue,
} from './format';

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml order: ne[0] is the innermost (row length), i.e. the PyTorch shape reversed. */
  readonly ne: readonly number[];
  readonly type: GgmlType;
}

export interface GgufLayout {
  readonly header: Uint8Array;
  readonly alignment: number;
  /** Data offset of each tensor relative to the start of the data section. */
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** Bytes of the whole file. */
  readonly fileSize: number;
}

/** Little-endian byte builder that grows as needed. */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private static readonly enc = new TextEncoder();

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(x: number): void { this.reserve(1); this.view.setUint8(this.length, x); this.length += 1; }
  i8(x: number): void { this.reserve(1); this.view.setInt8(this.length, x); this.length += 1; }
  u16(x: number): void { this.reserve(2); this.view.setUint16(this.length, x, true); this.length += 2; }
  i16(x: number): void { this.reserve(2); this.view.setInt16(this.length, x, true); this.length += 2; }
  u32(x: number): void { this.reserve(4); this.view.setUint32(this.length, x, true); this.length += 4; }
  i32(x: number): void { this.reserve(4); this.view.setInt32(this.length, x, true); this.length += 4; }
  f32(x: number): void { this.reserve(4); this.view.setFloat32(this.length, x, true); this.length += 4; }
  f64(x: number): void { this.reserve(8); this.view.setFloat64(this.length, x, true); this.length += 8; }
  u64(x: number | bigint): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(x), true); this.length += 8; }
  i64(x: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, x, true); this.length += 8; }

  string(s: string): void {
    const b = Bytes.enc.encode(s);
    this.u64(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  zeros(n: number): void { this.reserve(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }

  bytes(): Uint8Array { return this.buf.slice(0, this.length); }
}

function writeScalar(out: Bytes, type: GgufScalarType, v: number | bigint | boolean | string): void {
  switch (type) {
    case 'u8': out.u8(v as number); break;
    case 'i8': out.i8(v as number); break;
    case 'u16': out.u16(v as number); break;
    case 'i16': out.i16(v as number); break;
    case 'u32': out.u32(v as number); break;
    case 'i32': out.i32(v as number); break;
    case 'f32': out.f32(v as number); break;
    case 'f64': out.f64(v as number); break;
    case 'u64': out.u64(v as bigint); break;
    case 'i64': out.i64(v as bigint); break;
    case 'bool': out.u8(v ? 1 : 0); break;
    case 'string': out.string(v as string); break;
  }
}

function writeValue(out: Bytes, v: GgufValue): void {
  out.u32(GGUF_VALUE[v.type]);
  if (v.type !== 'array') {
    writeScalar(out, v.type, v.value);
    return;
  }
  out.u32(GGUF_VALUE[v.itemType]);
  out.u64(v.values.length);
  for (const x of v.values) writeScalar(out, v.itemType, x);
}

/** The alignment a KV list asks for (general.alignment), else the default 32. */
export function alignmentOf(kvs: readonly GgufKv[]): number {
  const a = kvs.find((kv) => kv.key === 'general.alignment')?.value;
  return a && a.type === 'u32' ? a.value : GGUF_DEFAULT_ALIGNMENT;
}

/** Encode the header and compute where every tensor's data goes. */
export function layoutGguf(kvs: readonly GgufKv[], tensors: readonly GgufTensorSpec[]): GgufLayout {
  const alignment = alignmentOf(kvs);
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw new Error(`general.alignment must be a power of two, got ${alignment}`);
  const out = new Bytes();
  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(kvs.length);
  for (const kv of kvs) {
    out.string(kv.key);
    writeValue(out, kv.value);
  }
  const offsets: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const info = ggmlType(t.type);
    const n = t.ne.reduce((a, b) => a * b, 1);
    if (t.ne[0]! % info.blockSize !== 0) throw new Error(`${t.name}: row length ${t.ne[0]} is not a multiple of ${info.name}'s block size ${info.blockSize}`);
    out.string(t.name);
    out.u32(t.ne.length);
    for (const d of t.ne) out.u64(d);
    out.u32(info.id);
    out.u64(offset);
    offsets.push(offset);
    const size = tensorBytesOf(info, n);
    sizes.push(size);
    offset += alignUp(size, alignment);
  }
  out.zeros(alignUp(out.length, alignment) - out.length);
  const header = out.bytes();
  return { header, alignment, offsets, sizes, fileSize: header.length + offset };
}

/**
 * Streams a laid-out GGUF file: the header, then the tensors in layout order, each given in one or more chunks and
 * padded to the alignment. Checks that every tensor gets exactly its size, so a layout and its data cannot drift.
 */
export class GgufStreamWriter {
  private index = 0;
  private inTensor = 0;
  private written = 0;

  constructor(private readonly sink: ByteSink, private readonly layout: GgufLayout) {}

  get bytesWritten(): number { return this.written; }

  async writeHeader(): Promise<void> {
    await this.put(this.layout.header);
  }

  /** Append bytes of the current tensor; the tensor closes (and is padded) once it has all its bytes. */
  async write(data: Uint8Array): Promise<void> {
    const size = this.layout.sizes[this.index];
    if (size === undefined) throw new Error('GGUF writer: more tensor data than the layout holds');
    if (this.inTensor + data.length > size) throw new Error(`GGUF writer: tensor ${this.index} gets more than its ${size} bytes`);
    await this.put(data);
    this.inTensor += data.length;
    if (this.inTensor === size) {
      const pad = alignUp(size, this.layout.alignment) - size;
      if (pad > 0) await this.put(new Uint8Array(pad));
      this.index++;
      this.inTensor = 0;
    }
  }

  async close(): Promise<void> {
    if (this.index !== this.layout.sizes.length) throw new Error(`GGUF writer: ${this.layout.sizes.length - this.index} tensor(s) were not written`);
    await this.sink.close();
  }

  private async put(b: Uint8Array): Promise<void> {
    await this.sink.write(b);
    this.written += b.length;
  }
}
