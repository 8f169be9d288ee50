// Reads checkpoint tensors (safetensors, by name) into backend tensors through one small reused staging buffer: copied
// into the backend's memory when the stored format is kept, else converted in row chunks (f32 for norms and biases,
// q8_0 when quantizing on load: inside the backend when it offers writeQuantized). A source holding blocks (a GGUF's
// Q8_0 tensors, and its Q4_0 / Q4_K ones as q4 where the backend has q4 kernels: BlockSource) gives them as they are.

import type { Backend, BTensor, WeightDType } from '../backend';
import { CoreError, throwIfAborted } from '../errors';
import type { ByteSource, FsPort } from '../ports';
import { readFully } from '../safetensors/header';
import type { WeightTensor } from '../safetensors/modelWeights';
import { f16Lut, floatStorage, isFloatDType, numel, type DType, type FloatStorage } from '../tensor/dtype';
import type { BlockReader, BlockSource } from '../tensor/blockSource';
import { q4Bytes } from '../tensor/q4';
import { Q8_0_BLOCK, q8_0Bytes, quantizeQ8_0 } from '../tensor/q8_0';

/** Bytes per chunk when a tensor is converted on the way in. */
const CHUNK_BYTES = 8 * 1024 * 1024;
/**
 * Bytes per read when a tensor keeps its format. Reads land in a staging buffer this small (it stays in cache) and are
 * copied into the backend's memory from JS, instead of read(2) straight into that memory: on the project's VMs (shadow
 * paging) the kernel's write and the first user-space access fault each fresh page separately, ~8-15 us each, so a
 * direct read left ~4 s of page faults (TinyLlama f16, 2.1 GB) to the first forward pass: its prefill went from 9 to
 * 25 tok/s in bench/generate (2 threads), load time unchanged. With page tables already populated the extra copy costs
 * ~0.15 s per GB here.
 */
const STAGE_BYTES = 1024 * 1024;


/** Decode little-endian f32/f16/bf16 bytes to f32. */
export function decodeToF32(dtype: DType, bytes: Uint8Array, out?: Float32Array): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case 'F32': {
      const src = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 2);
      if (!out) return src.slice();
      out.set(src);
      return out;
    }
    case 'F16': case 'BF16': {
      const h = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 1);
      const o = out ?? new Float32Array(h.length);
      if (dtype === 'F16') {
        const lut = f16Lut();
        for (let i = 0; i < h.length; i++) o[i] = lut[h[i]!]!;
      } else {
        const u = new Uint32Array(o.buffer, o.byteOffset, h.length);
        for (let i = 0; i < h.length; i++) u[i] = h[i]! << 16;
      }
      return o;
    }
    default:
      throw new CoreError('unsupported', `tensors of dtype ${dtype} cannot be used as weights.`);
  }
}

/** The backend format a stored dtype keeps. */
export function weightDTypeOf(d: DType): FloatStorage | null {
  return isFloatDType(d) ? floatStorage(d) : null;
}

/** Opens each file once and reads tensors by name; counts bytes for progress. */
export class TensorLoader {
  private readonly sources = new Map<string, ByteSource>();
  private staging: Uint8Array | null = null;
  bytesRead = 0;

  /** Tensors loaded from a BlockSource, by format. */
  readonly blockTensors = { q8_0: 0, q4: 0 };

  constructor(private readonly fs: FsPort, private readonly backend: Backend, private readonly signal?: AbortSignal,
    private readonly blocks?: BlockSource) {}

  private async source(file: string): Promise<ByteSource> {
    let s = this.sources.get(file);
    if (!s) {
      s = await this.fs.open(file);
      this.sources.set(file, s);
    }
    return s;
  }

  /** Raw bytes of a tensor (small tensors and host-side math only). */
  async readBytes(t: WeightTensor): Promise<Uint8Array> {
    const buf = new Uint8Array(t.end - t.begin);
    await readFully(await this.source(t.file), t.begin, buf);
    this.bytesRead += buf.length;
    return buf;
  }

  async readF32(t: WeightTensor): Promise<Float32Array> {
    return decodeToF32(t.dtype, await this.readBytes(t));
  }

  /**
   * Load a tensor as `target` (default: its stored format). `shape` overrides the logical shape (e.g. a 1-D vector
   * seen as [1, n]). q8_0 needs the last dimension divisible by 32.
   */
  async load(t: WeightTensor, target?: WeightDType, label = t.name): Promise<BTensor> {
    const stored = weightDTypeOf(t.dtype);
    if (!stored) throw new CoreError('unsupported', `${t.file}: tensor '${t.name}' has dtype ${t.dtype}; only F32, F16 and BF16 weights are supported.`, t.file);
    const blocks = target === 'q8_0' ? this.blocks?.blockReader(t) : null;
    if (blocks && (blocks.dtype === 'q8_0' || this.backend.supports('matmul', 'q4'))) return this.loadBlocks(t, blocks, label);
    const want = target ?? stored;
    const bt = this.backend.alloc(want, t.shape, label, 'none', 'weight');
    const src = await this.source(t.file);
    const total = t.end - t.begin;
    if (want === stored) {
      const view = this.backend.hostView(bt);
      const stage = this.stage(STAGE_BYTES);
      for (let off = 0; off < total; off += STAGE_BYTES) {
        if (off % CHUNK_BYTES === 0) throwIfAborted(this.signal);
        const len = Math.min(STAGE_BYTES, total - off);
        const chunk = stage.subarray(0, len);
        await readFully(src, t.begin + off, chunk);
        if (view) view.set(chunk, off);
        else this.backend.write(bt, chunk, off);
        this.bytesRead += len;
      }
      return bt;
    }
    const cols = t.shape[t.shape.length - 1] ?? 1;
    const rows = numel(t.shape) / cols;
    const inBytesPerRow = (total / Math.max(rows, 1));
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(inBytesPerRow, 1)));
    if (want === 'q8_0' && cols % Q8_0_BLOCK !== 0) {
      throw new CoreError('unsupported', `tensor '${t.name}' has ${cols} columns; q8_0 needs a multiple of 32.`, t.file);
    }
    // Quantize inside the backend (SIMD kernels, no host f32 copy) when it can; else decode and quantize here.
    const inBackend = want === 'q8_0' && this.backend.writeQuantized !== undefined;
    for (let r = 0; r < rows; r += rowsPerChunk) {
      throwIfAborted(this.signal);
      const nr = Math.min(rowsPerChunk, rows - r);
      const buf = this.stage(nr * inBytesPerRow).subarray(0, nr * inBytesPerRow);
      await readFully(src, t.begin + r * inBytesPerRow, buf);
      this.bytesRead += buf.length;
      if (inBackend) {
        this.backend.writeQuantized!(bt, buf, stored, r * cols);
        continue;
      }
      const values = decodeToF32(t.dtype, buf);
      if (want === 'f32') this.backend.write(bt, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), r * cols * 4);
      else if (want === 'q8_0') this.backend.write(bt, quantizeQ8_0(values), q8_0Bytes(r * cols));
      else throw new CoreError('unsupported', `converting ${t.dtype} to ${want} on load is not supported.`, t.file);
    }
    return bt;
  }

  /** A weight its source holds in blocks, as those blocks (the values it stores; q4: two thirds of q8_0's bytes). */
  private async loadBlocks(t: WeightTensor, { dtype, read }: BlockReader, label: string): Promise<BTensor> {
    const cols = t.shape[t.shape.length - 1] ?? 1;
    const rows = numel(t.shape) / cols;
    const rowBytes = dtype === 'q4' ? q4Bytes(cols) : q8_0Bytes(cols);
    const bt = this.backend.alloc(dtype, t.shape, label, 'none', 'weight');
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
    for (let r = 0; r < rows; r += rowsPerChunk) {
      throwIfAborted(this.signal);
      const nr = Math.min(rowsPerChunk, rows - r);
      const buf = this.stage(nr * rowBytes).subarray(0, nr * rowBytes);
      await read(r, nr, buf);
      this.backend.write(bt, buf, r * rowBytes);
    }
    this.bytesRead += t.end - t.begin;
    this.blockTensors[dtype]++;
    return bt;
  }

  /** The reused staging buffer, grown to at least `bytes`; its contents are consumed before the next read. */
  private stage(bytes: number): Uint8Array {
    if (!this.staging || this.staging.length < bytes) this.staging = new Uint8Array(Math.max(bytes, STAGE_BYTES));
    return this.staging;
  }

  /** Upload host f32 values as an f32 tensor. */
  upload(values: Float32Array, shape: readonly number[], label: string): BTensor {
    const bt = this.backend.alloc('f32', shape, label);
    this.backend.write(bt, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return bt;
  }

  async close(): Promise<void> {
    for (const s of this.sources.values()) await s.close();
    this.sources.clear();
  }
}
