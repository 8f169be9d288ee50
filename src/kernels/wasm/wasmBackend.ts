// The WASM SIMD backend: tensors live in shared WebAssembly memories (f32/f16/bf16 as stored, q8_0 and q4 repacked to SoA),
// ops call the AssemblyScript kernels (assembly/kernels.ts), row-parallel ones through a KernelRunner (thread pool).
// Anything without a fast kernel runs the reference kernels on views of the same memory (ggml's supports_op fallback).
//
// Models over 4 GiB: wasm32 memories cap at 4 GiB, so tensors are placed in several MemorySpaces. A tensor never
// straddles two; beginGroup(bytes) (one decoder layer) opens a new space when the current one cannot hold the whole
// group, so each space holds whole layers. An op runs in the space of its big operand (the weight, the KV cache); any
// other operand living elsewhere (activations) is copied into that space's scratch arena and back — a few KiB per call.
// memory64 is not used: it needs a flag on Node 20 (and >4 GiB memories created inside wasm there), while several
// memory32 spaces work on every Node and cost ~0.5 us per hand-off (KERNELS.md). TODO(#6): a memory64 build for Node 24.

import type { AttentionOptions, Backend, BackendInfo, BTensor, GgmlQuantType, OpName, WeightDType } from '../../core/backend';
import { floatDType, numel, type FloatStorage } from '../../core/tensor/dtype';
import { Q4_BLOCK_BYTES } from '../../core/tensor/q4';
import * as ref from '../reference/refOps';
import { checkShape, matrixShape } from '../reference/referenceBackend';
import type { KernelExports, KernelRunner, ThreadedKernel } from './kernelTable';
import { MAX_MEMORY_BYTES, MemorySpace } from './memorySpace';
import { releaseMemory, trackMemory } from './liveResources';

/** Must match assembly/kernels.ts. */
const KC = 256;
const MM_SCRATCH = 8 * KC * 4 + 64;
const DTYPE_CODE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4: 4 };
/**
 * Column-panel width of weights allocated with use 'weight' (assembly/kernels.ts, "Column panels"): a matvec then reads
 * x in windows of 2048 floats (8 KiB) that stay in L1 while the weights stream. Measured on 2 threads (same bytes,
 * interleaved): 4096 columns as two panels +16-27% for f32/f16/bf16. q8_0 keeps whole rows (its activations are i16, a
 * window of 4096 is 8 KiB already; panels measured -10 to +7%); so does q4 (same activations). Must be a multiple of
 * KC and 32.
 */
const PANEL_COLS: Record<WeightDType, number> = { f32: 2048, f16: 2048, bf16: 2048, q8_0: 1 << 30, q4: 1 << 30 };
const ELEM_BYTES: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 1, q4: 0.5 };
/** Bytes per 32-value block in the scales plane: q8_0 an f32 scale, q4 an (s, m) f32 pair. */
const SCALE_BYTES: Record<WeightDType, number> = { f32: 0, f16: 0, bf16: 0, q8_0: 4, q4: 8 };
/** Kernel and GGUF bytes per 256-value super-block of each quantizeGgml type (assembly/kquants.ts). */
const GGML_QUANT: Record<GgmlQuantType, { kernel: ThreadedKernel; blockBytes: number }> = {
  Q4_K: { kernel: 'quant_q4_k', blockBytes: 144 }, Q5_K: { kernel: 'quant_q5_k', blockBytes: 176 }, Q6_K: { kernel: 'quant_q6_k', blockBytes: 210 },
  // Eight 34-byte q8_0 blocks per 256 values.
  Q8_0: { kernel: 'quant_q8_0', blockBytes: 272 },
};
/** Must match assembly/kquants.ts. */
const KQ_SCRATCH = 4096;
/** Output bytes staged per super-block: the largest blockBytes above (q8_0's 272). */
const QUANT_OUT_BYTES = Math.max(...Object.values(GGML_QUANT).map((q) => q.blockBytes));
/**
 * Super-blocks per quantizeGgml chunk: 512 KiB of f32 staged at a time through one buffer kept across calls, so any
 * tensor quantizes in bounded extra memory (the export's bound is 2x the largest f32 tensor + 256 MB), and the values
 * quantizeGgmlTensor decodes are still in L2 when the quantizer reads them (4 MiB chunks: ~7% slower q8_0 export).
 */
const QUANT_CHUNK_BLOCKS = 512;
/** Super-blocks a thread claims at a time (~0.1 ms of work each: hand-offs stay negligible, the ends balance). */
const QUANT_CLAIM_BLOCKS = 8;
/** Work (multiply-adds) below which an op stays on the calling thread: a hand-off would cost more than it saves. */
const PARALLEL_MIN_WORK = 1 << 16;

class WasmTensor implements BTensor {
  readonly owner = 'wasm';
  freed = false;
  constructor(
    readonly dtype: WeightDType,
    readonly shape: readonly number[],
    readonly space: MemorySpace,
    readonly ptr: number,
    /** Storage bytes (q8_0: int8 plane then f32 scales; q4: nibble plane then (s, m) f32 pairs). */
    readonly bytes: number,
    readonly rows: number,
    readonly cols: number,
    readonly label: string,
    /** Column-panel width (cols: plain row-major); see PANEL_COLS. */
    readonly pw = cols,
  ) {}
  /** q8_0 and q4: byte offset of the scales plane. */
  get scalesOffset(): number {
    return this.rows * this.cols * ELEM_BYTES[this.dtype];
  }
  get panels(): number {
    return Math.ceil(this.cols / this.pw);
  }
  get panelled(): boolean {
    return this.pw < this.cols;
  }
  /**
   * Calls fn(at, done, len) for each run of `count` row-major elements from element `first` that is contiguous in
   * storage: `at` is the storage element index, `done` how many elements came before. One run when not panelled.
   */
  runs(first: number, count: number, fn: (at: number, done: number, len: number) => void): void {
    if (!this.panelled) {
      fn(first, 0, count);
      return;
    }
    const { rows, cols, pw } = this;
    for (let done = 0; done < count;) {
      const e = first + done;
      const r = Math.floor(e / cols), c = e - r * cols;
      const c0 = c - (c % pw), wp = Math.min(pw, cols - c0);
      const len = Math.min(c0 + wp - c, count - done);
      fn(rows * c0 + r * wp + (c - c0), done, len);
      done += len;
    }
  }
}

function storage(dtype: WeightDType, count: number): number {
  switch (dtype) {
    case 'f32': return count * 4;
    case 'f16': case 'bf16': return count * 2;
    case 'q8_0': return count + (count / 32) * 4;
    case 'q4': return count / 2 + (count / 32) * 8;
  }
}

type Mode = 'in' | 'out' | 'inout';

/** Operand pointers for one op in its home space, with the copy-back of outputs staged from another space. */
class OpFrame {
  private readonly back: Array<() => void> = [];
  constructor(readonly home: MemorySpace) {}
  stage(t: WasmTensor, mode: Mode, usedBytes = t.bytes): number {
    if (t.space === this.home) return t.ptr;
    const p = this.home.scratch(usedBytes);
    if (mode !== 'out') this.home.bytes(p, usedBytes).set(t.space.bytes(t.ptr, usedBytes));
    if (mode !== 'in') this.back.push(() => t.space.bytes(t.ptr, usedBytes).set(this.home.bytes(p, usedBytes)));
    return p;
  }
  finish(): void {
    for (const b of this.back) b();
  }
}

export interface WasmBackendOptions {
  /** Bytes per memory (default and maximum 4 GiB); tests use a small cap to exercise multi-memory placement. */
  readonly maxMemoryBytes?: number;
  /** For info.detail, e.g. 'relaxed-simd'. */
  readonly variant?: string;
  /** Tests: column-panel width for every dtype (a multiple of KC), instead of PANEL_COLS. */
  readonly panelCols?: number;
}

export class WasmBackend implements Backend {
  readonly info: BackendInfo;
  private readonly spaces: MemorySpace[] = [];
  private readonly exports: KernelExports[] = [];
  private readonly cap: number;
  private readonly panelCols: Record<WeightDType, number>;
  private current = 0;
  private disposed = false;
  /** quantizeGgml's staging buffer: input chunk, output chunk, per-thread scratch (allocated on first use). */
  private quantStage: { space: MemorySpace; ptr: number } | null = null;

  constructor(private readonly runner: KernelRunner, options: WasmBackendOptions = {}) {
    this.cap = Math.min(options.maxMemoryBytes ?? MAX_MEMORY_BYTES, MAX_MEMORY_BYTES);
    const pc = options.panelCols;
    if (pc !== undefined && (pc <= 0 || pc % KC)) throw new RangeError(`panelCols must be a positive multiple of ${KC}`);
    this.panelCols = pc ? { f32: pc, f16: pc, bf16: pc, q8_0: pc, q4: 1 << 30 } : PANEL_COLS;
    this.info = { name: 'wasm', threads: runner.threads, detail: `WASM ${options.variant ?? 'simd'}, ${runner.threads} thread(s), memories of ${(this.cap / 2 ** 30).toFixed(2)} GiB` };
    this.newSpace();
  }

  /** Number of WebAssembly memories in use (diagnostics and tests). */
  get memoryCount(): number {
    return this.spaces.length;
  }

  /** Which memory a tensor lives in (diagnostics and tests). */
  memoryOf(t: BTensor): number {
    return this.own(t).space.index;
  }

  supports(op: OpName, dtype?: WeightDType): boolean {
    switch (op) {
      case 'matmul': case 'loraApply': case 'embed': return true;
      case 'loraDelta': case 'rmsnorm': case 'mulRows': case 'addBias': case 'attention':
        return dtype === undefined || dtype === 'f32';
      default: return dtype === undefined || dtype === 'f32';
    }
  }

  beginGroup(bytes: number): void {
    const s = this.spaces[this.current]!;
    if (!s.empty && s.available < bytes + (1 << 20)) {
      this.current = this.spaces.length;
      this.newSpace();
    }
  }

  alloc(dtype: WeightDType, shape: readonly number[], label = '', fill: 'zero' | 'none' = 'zero', use?: 'weight'): BTensor {
    if (this.disposed) throw new Error('WASM backend used after dispose');
    checkShape(dtype, shape);
    const [rows, cols] = matrixShape(shape);
    const bytes = storage(dtype, numel(shape));
    const pw = use === 'weight' && rows > 1 && cols > this.panelCols[dtype] ? this.panelCols[dtype] : cols;
    if (bytes > this.cap - (1 << 17)) throw new RangeError(`tensor '${label}' (${bytes} bytes) does not fit one WASM memory (${this.cap} bytes)`);
    const order = [this.current, ...this.spaces.map((s) => s.index).filter((i) => i !== this.current)];
    for (const i of order) {
      const s = this.spaces[i]!;
      const p = s.alloc(bytes, fill === 'zero');
      if (p >= 0) return new WasmTensor(dtype, [...shape], s, p, bytes, rows, cols, label, pw);
    }
    this.current = this.spaces.length;
    const s = this.newSpace();
    const p = s.alloc(bytes, fill === 'zero');
    if (p < 0) throw new RangeError(`out of WASM memory for tensor '${label}'`);
    return new WasmTensor(dtype, [...shape], s, p, bytes, rows, cols, label, pw);
  }

  write(t: BTensor, bytes: Uint8Array, byteOffset = 0): void {
    const wt = this.own(t);
    if (wt.dtype === 'q4') {
      this.writeBlocks(wt, bytes, byteOffset, Q4_BLOCK_BYTES, (at, sm, src, nb) => this.exports[wt.space.index]!['repack_q4']!(at, sm, src, nb));
      return;
    }
    if (wt.dtype !== 'q8_0') {
      if (byteOffset < 0 || byteOffset + bytes.byteLength > wt.bytes) throw new RangeError(`write overflows tensor '${wt.label}'`);
      if (!wt.panelled) {
        wt.space.bytes(wt.ptr + byteOffset, bytes.byteLength).set(bytes);
        return;
      }
      const es = ELEM_BYTES[wt.dtype];
      if (byteOffset % es || bytes.byteLength % es) throw new RangeError(`writes to '${wt.label}' must cover whole values`);
      const mem = wt.space.bytes(wt.ptr, wt.bytes);
      wt.runs(byteOffset / es, bytes.byteLength / es, (at, done, len) => mem.set(bytes.subarray(done * es, (done + len) * es), at * es));
      return;
    }
    this.writeBlocks(wt, bytes, byteOffset, ref.Q8_BLOCK_BYTES, (at, sc, src, nb) => this.exports[wt.space.index]!['repack_q8']!(at, sc, src, nb));
  }

  /**
   * Blocks of 32 values in (GGUF q8_0, q4 host blocks), SoA out: repacked by `repack(values, scales, src, nb)` in slabs
   * staged through the scratch arena.
   */
  private writeBlocks(wt: WasmTensor, bytes: Uint8Array, byteOffset: number, blockBytes: number,
    repack: (values: number, scales: number, src: number, nb: number) => void): void {
    if (byteOffset % blockBytes || bytes.byteLength % blockBytes) throw new RangeError(`${wt.dtype} writes must cover whole ${blockBytes}-byte blocks`);
    const block0 = byteOffset / blockBytes;
    const nBlocks = bytes.byteLength / blockBytes;
    if (block0 + nBlocks > (wt.rows * wt.cols) / 32) throw new RangeError(`write overflows tensor '${wt.label}'`);
    const s = wt.space;
    // Slabs of at most 32768 blocks (~1 MB), fewer when the space's arena is smaller (small memory caps).
    const slab = Math.max(1, Math.min(1 << 15, Math.floor((s.arenaCapacity - 1024) / blockBytes)));
    s.beginOp(slab * blockBytes);
    const tmp = s.scratch(slab * blockBytes);
    const eb = ELEM_BYTES[wt.dtype], scaleBytes = SCALE_BYTES[wt.dtype];
    for (let b = 0; b < nBlocks; b += slab) {
      const nb = Math.min(slab, nBlocks - b);
      s.bytes(tmp, nb * blockBytes).set(bytes.subarray(b * blockBytes, (b + nb) * blockBytes));
      wt.runs((block0 + b) * 32, nb * 32, (at, done, len) =>
        repack(wt.ptr + at * eb, wt.ptr + wt.scalesOffset + (at / 32) * scaleBytes, tmp + (done / 32) * blockBytes, len / 32));
    }
  }

  /** Quantize-on-load in the kernels: source slabs staged in the arena, decoded to f32, quantized straight to SoA. */
  writeQuantized(t: BTensor, bytes: Uint8Array, srcDtype: 'f32' | 'f16' | 'bf16', valueOffset = 0): void {
    const wt = this.own(t);
    if (wt.dtype !== 'q8_0') throw new Error(`writeQuantized needs a q8_0 tensor, '${wt.label}' is ${wt.dtype}`);
    const bpv = srcDtype === 'f32' ? 4 : 2;
    const count = bytes.byteLength / bpv;
    if (valueOffset % 32 || count % 32 || valueOffset + count > wt.rows * wt.cols) throw new RangeError(`writeQuantized: bad range for '${wt.label}'`);
    const s = wt.space;
    const slab = Math.max(32, Math.floor(Math.min(1 << 18, (s.arenaCapacity - 1024) / (bpv + 4)) / 32) * 32);
    s.beginOp(slab * (bpv + 4) + 256);
    const src = s.scratch(slab * bpv);
    const f32 = s.scratch(slab * 4);
    const ex = this.exports[s.index]!;
    for (let v = 0; v < count; v += slab) {
      const nv = Math.min(slab, count - v);
      s.bytes(src, nv * bpv).set(bytes.subarray(v * bpv, (v + nv) * bpv));
      ex['decode']!(f32, src, 0, nv, DTYPE_CODE[srcDtype]);
      wt.runs(valueOffset + v, nv, (at, done, len) =>
        ex['quant_q8']!(wt.ptr + at, wt.ptr + wt.scalesOffset + (at / 32) * 4, f32 + done * 4, len));
    }
  }

  quantizeGgml(type: GgmlQuantType, values: Float32Array): Uint8Array | null {
    const q = GGML_QUANT[type];
    const stage = q && values.length % 256 === 0 ? this.quantStaging() : null;
    if (!q || !stage) return null;
    const { space: s, ptr: xp } = stage;
    const op = xp + QUANT_CHUNK_BLOCKS * 1024;
    const scratch = op + QUANT_CHUNK_BLOCKS * QUANT_OUT_BYTES;
    const nb = values.length / 256;
    const out = new Uint8Array(nb * q.blockBytes);
    for (let b = 0; b < nb; b += QUANT_CHUNK_BLOCKS) {
      const n = Math.min(QUANT_CHUNK_BLOCKS, nb - b);
      s.f32(xp, n * 256).set(values.subarray(b * 256, (b + n) * 256));
      this.runner.run(q.kernel, s.index, n, this.chunkFor(n, n * 256 * 64, QUANT_CLAIM_BLOCKS), [op, xp, scratch]);
      out.set(s.bytes(op, n * q.blockBytes), b * q.blockBytes);
    }
    return out;
  }

  /**
   * quantizeGgml from a tensor in the staging buffer's memory: its rows (in rowOrder) decoded by the kernel into the
   * staging buffer a chunk at a time, then quantized there; only the GGUF bytes come back to the host.
   */
  quantizeGgmlTensor(type: GgmlQuantType, t: BTensor, rowOrder: Int32Array | null): Uint8Array | null {
    const q = GGML_QUANT[type];
    const T = this.rowMajor(t);
    const count = T.rows * T.cols;
    const stage = q && count % 256 === 0 && T.dtype !== 'q8_0' && T.dtype !== 'q4' ? this.quantStaging() : null;
    if (!q || !stage || stage.space !== T.space || (rowOrder && rowOrder.length !== T.rows)) return null;
    const { space: s, ptr: xp } = stage;
    const op = xp + QUANT_CHUNK_BLOCKS * 1024;
    const scratch = op + QUANT_CHUNK_BLOCKS * QUANT_OUT_BYTES;
    const ex = this.exports[s.index]!;
    const bpv = ELEM_BYTES[T.dtype];
    const chunkValues = QUANT_CHUNK_BLOCKS * 256;
    const out = new Uint8Array((count / 256) * q.blockBytes);
    let filled = 0, done = 0;
    const flush = (): void => {
      const n = filled / 256;
      this.runner.run(q.kernel, s.index, n, this.chunkFor(n, filled * 64, QUANT_CLAIM_BLOCKS), [op, xp, scratch]);
      out.set(s.bytes(op, n * q.blockBytes), (done / 256) * q.blockBytes);
      done += filled;
      filled = 0;
    };
    // Runs of values in output order: the whole tensor when its rows keep their order, else one run per row.
    const runs = rowOrder ? T.rows : 1;
    const runLength = rowOrder ? T.cols : count;
    for (let i = 0; i < runs; i++) {
      const src = rowOrder ? rowOrder[i]! : 0;
      if (!(src >= 0 && src < T.rows)) throw new RangeError(`quantizeGgmlTensor: row ${src} is outside '${T.label}'`);
      for (let c = 0; c < runLength;) {
        const n = Math.min(runLength - c, chunkValues - filled);
        ex['decode']!(xp + filled * 4, T.ptr + (src * T.cols + c) * bpv, 0, n, DTYPE_CODE[T.dtype]);
        filled += n;
        c += n;
        if (filled === chunkValues) flush();
      }
    }
    if (filled > 0) flush();
    return out;
  }

  /** The staging buffer of quantizeGgml, kept for the backend's life; null when no memory can hold it. */
  private quantStaging(): { space: MemorySpace; ptr: number } | null {
    if (this.quantStage) return this.quantStage;
    const bytes = QUANT_CHUNK_BLOCKS * (1024 + QUANT_OUT_BYTES) + this.runner.threads * KQ_SCRATCH;
    for (const space of this.spaces) {
      const ptr = space.alloc(bytes, false);
      if (ptr >= 0) return (this.quantStage = { space, ptr });
    }
    return null;
  }

  hostView(t: BTensor): Uint8Array | null {
    const wt = this.own(t);
    return wt.dtype === 'q8_0' || wt.dtype === 'q4' || wt.panelled ? null : wt.space.bytes(wt.ptr, wt.bytes);
  }

  async read(t: BTensor): Promise<Float32Array> {
    const wt = this.own(t);
    if (wt.dtype === 'f32' && !wt.panelled) return wt.space.f32(wt.ptr, wt.rows * wt.cols).slice();
    return ref.decodeVector(this.rowSource(wt));
  }

  free(t: BTensor): void {
    const wt = this.own(t);
    wt.freed = true;
    wt.space.free(wt.ptr, wt.bytes);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runner.dispose();
    for (const sp of this.spaces) releaseMemory(sp.memory);
  }

  matmul(out: BTensor, w: BTensor, x: BTensor, n: number): void {
    const W = this.own(w), X = this.f32t(x), O = this.f32t(out);
    const { rows, cols } = W;
    const s = W.space;
    const ex = this.exports[s.index]!;
    const q8 = W.dtype === 'q8_0';
    if (n === 1) {
      const xBytes = (q8 || W.dtype === 'q4' ? 3 * cols + (cols / 32) * 8 : W.dtype === 'f16' ? cols * 4 : 0) + (W.panelled ? W.panels * rows * 4 + 64 : 0);
      if (!s.tryBeginOp(this.staged(s, [X, cols * 4], [O, rows * 4]) + xBytes + 256)) {
        ref.matmul(this.view(O), this.rowSource(W), this.view(X), n);
        return;
      }
      const f = new OpFrame(s);
      const xp = f.stage(X, 'in', cols * 4);
      const out = f.stage(O, 'out', rows * 4);
      // A panelled weight: one partial sum per panel row (virtual row), then summed per row in panel order.
      const np = W.panels;
      const vrows = rows * np;
      const op = np > 1 ? s.scratch(vrows * 4) : out;
      const chunk = this.chunkFor(vrows, rows * cols, 64);
      if (q8 || W.dtype === 'q4') {
        // Activations quantized to q8_0 once per call, then integer dot products (llama.cpp vec_dot_q8_0_q8_0; q4
        // adds the activations' block sums for its min term, assembly/q4.ts).
        const xq = s.scratch(cols);
        const x16 = s.scratch(cols * 2);
        const xs = s.scratch((cols / 32) * 4);
        ex['quant_q8']!(xq, xs, xp, cols);
        ex['q8_widen']!(x16, xq, cols);
        if (q8) {
          this.runner.run('mv_q8', s.index, vrows, chunk, [op, W.ptr, W.ptr + W.scalesOffset, x16, xs, cols, rows, W.pw]);
        } else {
          const xsum = s.scratch((cols / 32) * 4);
          ex['q8_block_sums']!(xsum, xq, xs, cols / 32);
          this.runner.run('mv_q4', s.index, rows, chunk, [op, W.ptr, W.ptr + W.scalesOffset, x16, xs, xsum, cols]);
        }
      } else if (W.dtype === 'f16') {
        // The f16 decode's 2^112 rescale moves onto x once per call (f16_prescale); the kernel undoes any extra scale.
        const xs = s.scratch(cols * 4);
        const e = ex['f16_prescale']!(xs, xp, cols) as number;
        this.runner.run('mv_f16', s.index, vrows, chunk, [op, W.ptr, xs, cols, 2 ** e, rows, W.pw]);
      } else {
        const fn: ThreadedKernel = W.dtype === 'f32' ? 'mv_f32' : 'mv_bf16';
        this.runner.run(fn, s.index, vrows, chunk, [op, W.ptr, xp, cols, rows, W.pw]);
      }
      if (np > 1) ex['mv_reduce']!(out, op, rows, np);
      f.finish();
      return;
    }
    const threads = this.runner.threads;
    const q4 = W.dtype === 'q4';
    const groupRows = Math.ceil(n / 4) * 4;
    const xBytes = q8 || q4 ? 3 * n * cols + 2 * groupRows * cols + (n * cols / 32) * 8 + 128 : groupRows * cols * 4 + 64;
    if (!s.tryBeginOp(this.staged(s, [X, n * cols * 4], [O, n * rows * 4]) + threads * (MM_SCRATCH + 8 * KC * 4) + xBytes + 256)) {
      ref.matmul(this.view(O), this.rowSource(W), this.view(X), n);
      return;
    }
    const f = new OpFrame(s);
    const xp = f.stage(X, 'in', n * cols * 4);
    const op = f.stage(O, 'out', n * rows * 4);
    const scratch = s.scratch(threads * (MM_SCRATCH + 8 * KC * 4));
    const chunk = this.chunkFor(rows, n * rows * cols, 32, 8);
    if (q8 || q4) {
      // Activations quantized to q8_0 per row, as the matvec does, then integer products (mm_q8; q4: with the min
      // term over the activations' block sums).
      const xq = s.scratch(n * cols);
      const x16 = s.scratch(n * cols * 2);
      const x4 = s.scratch(groupRows * cols * 2); // x16's i16 pairs, four rows interleaved
      const xs = s.scratch((n * cols / 32) * 4);
      const xsum = q4 ? s.scratch((n * cols / 32) * 4) : 0;
      ex['quant_q8']!(xq, xs, xp, n * cols);
      ex['q8_widen']!(x16, xq, n * cols);
      ex['interleave4']!(x4, x16, n, cols / 2);
      if (q4) ex['q8_block_sums']!(xsum, xq, xs, (n * cols) / 32);
      this.runner.run('mm_q8', s.index, rows, chunk, [op, W.ptr, W.ptr + W.scalesOffset, x4, xs, n, rows, cols, scratch, W.pw, xsum]);
    } else {
      const x4 = s.scratch(groupRows * cols * 4); // four rows interleaved
      ex['interleave4']!(x4, xp, n, cols);
      this.runner.run('mm', s.index, rows, chunk, [op, W.ptr, W.ptr + W.scalesOffset, x4, n, rows, cols, DTYPE_CODE[W.dtype], scratch, W.pw]);
    }
    f.finish();
  }

  loraApply(out: BTensor, a: BTensor, b: BTensor, x: BTensor, n: number, scale: number, tmp: BTensor): void {
    const B = this.own(b), O = this.f32t(out);
    this.matmul(tmp, a, x, n);
    if (n === 1 && B.dtype === 'f32' && !B.panelled && this.loraUp(O, B, this.f32t(tmp), scale)) return;
    // Up-projection into a temporary, then out += scale * that (axpy), so every weight dtype takes the fast matmul.
    const y = this.alloc('f32', [n, B.rows], 'loraApply.y', 'none') as WasmTensor;
    try {
      this.matmul(y, B, tmp, n);
      const home = y.space;
      home.beginOp(n * B.rows * 4 + 256);
      const f = new OpFrame(home);
      const op = f.stage(O, 'inout', n * B.rows * 4);
      this.exports[home.index]!['axpy']!(op, y.ptr, scale, n * B.rows);
      f.finish();
    } finally {
      this.free(y);
    }
  }

  /**
   * The decode's up-projection out += scale * B t in one job (lora_up), no temporary: the general matvec ran B's r-float
   * rows through its scalar tail and cost ~5x the A projection. false when the operands do not fit out's memory.
   */
  private loraUp(O: WasmTensor, B: WasmTensor, T: WasmTensor, scale: number): boolean {
    const s = O.space;
    const r = B.cols;
    if (!s.tryBeginOp(this.staged(s, [B, B.bytes], [T, r * 4], [O, B.rows * 4]) + 256)) return false;
    const f = new OpFrame(s);
    const op = f.stage(O, 'inout', B.rows * 4);
    const bp = f.stage(B, 'in');
    const tp = f.stage(T, 'in', r * 4);
    // Inline unless large (7B's r = 64 MLP): at TinyLlama's r = 16 (<= 90 K multiply-adds) a hand-off cost more than it
    // saved in the decode (paired LoRA/no-LoRA runs: 1.03x the time inline).
    const work = B.rows * r;
    const chunk = work < 4 * PARALLEL_MIN_WORK ? B.rows : this.chunkFor(B.rows, work, 256, 4);
    this.runner.run('lora_up', s.index, B.rows, chunk, [op, bp, tp, r, scale]);
    f.finish();
    return true;
  }

  loraDelta(w: BTensor, b: BTensor, a: BTensor, scale: number): void {
    const W = this.rowMajor(w), B = this.rowMajor(b), A = this.rowMajor(a);
    if (W.dtype !== 'f32' || B.dtype !== 'f32' || A.dtype !== 'f32') {
      ref.loraDelta(this.view(W), this.rowSource(B), this.rowSource(A), scale);
      return;
    }
    const r = B.cols;
    const s = W.space;
    const threads = this.runner.threads;
    if (!s.tryBeginOp(this.staged(s, [B, B.bytes], [A, A.bytes]) + threads * r * 16 + 256)) {
      ref.loraDelta(this.view(W), this.rowSource(B), this.rowSource(A), scale);
      return;
    }
    const f = new OpFrame(s);
    const bp = f.stage(B, 'in');
    const ap = f.stage(A, 'in');
    const scratch = s.scratch(threads * r * 16 + 4);
    const chunk = this.chunkFor(W.rows, W.rows * W.cols * r, 16);
    this.runner.run('lora_delta', s.index, W.rows, chunk, [W.ptr, bp, ap, W.cols, r, scale, scratch]);
    f.finish();
  }

  loraMerge(out: BTensor, w: BTensor, b: BTensor | null, a: BTensor | null, scale: number): number {
    const O = this.rowMajor(out), W = this.rowMajor(w);
    if (O.dtype === 'q8_0' || W.dtype === 'q8_0' || O.dtype === 'q4' || W.dtype === 'q4') throw new Error('loraMerge: f32/f16/bf16 tensors only');
    if (O.rows * O.cols !== W.rows * W.cols) throw new Error(`loraMerge: '${O.label}' and '${W.label}' differ in size`);
    const B = b ? this.f32t(b) : null, A = a ? this.f32t(a) : null;
    if (O.space !== W.space) return this.loraMergeAcross(O, W, B, A, scale);
    const r = B && A ? B.cols : 0;
    const s = W.space;
    const threads = this.runner.threads;
    const extra = B && A ? this.staged(s, [B, B.bytes], [A, A.bytes]) : 0;
    if (!s.tryBeginOp(extra + threads * (r * 16 + 4) + 256)) {
      return ref.loraMerge(O.space.bytes(O.ptr, O.bytes), floatDType(O.dtype), this.rowSource(W), B && this.rowSource(B), A && this.rowSource(A), scale);
    }
    const f = new OpFrame(s);
    const bp = B ? f.stage(B, 'in') : 0;
    const ap = A ? f.stage(A, 'in') : 0;
    const scratch = s.scratch(threads * r * 16 + 4);
    const bad = s.scratch(threads * 4);
    const slots = new Int32Array(s.memory.buffer, bad, threads);
    slots.fill(W.rows);
    const chunk = this.chunkFor(W.rows, W.rows * W.cols * Math.max(r, 4), 16);
    this.runner.run('lora_merge', s.index, W.rows, chunk,
      [O.ptr, DTYPE_CODE[O.dtype], W.ptr, DTYPE_CODE[W.dtype], bp, ap, W.cols, r, scale, scratch, bad]);
    const row = Math.min(...slots);
    if (row >= W.rows) return -1;
    // The kernel names the row; the column comes from the stored output row.
    const outRow = new Float32Array(O.cols);
    this.rowSource(O).row(row, outRow);
    const col = outRow.findIndex((v) => !Number.isFinite(v));
    return row * O.cols + Math.max(col, 0);
  }

  /** out and w in different memories (models over 4 GiB): run in one of them on a temporary copy of the other. */
  private loraMergeAcross(O: WasmTensor, W: WasmTensor, B: WasmTensor | null, A: WasmTensor | null, scale: number): number {
    const wCopy = O.space.alloc(W.bytes);
    if (wCopy >= 0) {
      const t = new WasmTensor(W.dtype, W.shape, O.space, wCopy, W.bytes, W.rows, W.cols, `${W.label}.copy`);
      try {
        O.space.bytes(wCopy, W.bytes).set(W.space.bytes(W.ptr, W.bytes));
        return this.loraMerge(O, t, B, A, scale);
      } finally {
        O.space.free(wCopy, W.bytes);
      }
    }
    const oTmp = W.space.alloc(O.bytes);
    if (oTmp < 0) return ref.loraMerge(O.space.bytes(O.ptr, O.bytes), floatDType(O.dtype as FloatStorage), this.rowSource(W), B && this.rowSource(B), A && this.rowSource(A), scale);
    const t = new WasmTensor(O.dtype, O.shape, W.space, oTmp, O.bytes, O.rows, O.cols, `${O.label}.tmp`);
    try {
      const bad = this.loraMerge(t, W, B, A, scale);
      O.space.bytes(O.ptr, O.bytes).set(W.space.bytes(oTmp, O.bytes));
      return bad;
    } finally {
      W.space.free(oTmp, O.bytes);
    }
  }

  xxh32Stripes(state: Int32Array, data: Uint8Array): boolean {
    if (data.byteLength % 16) throw new RangeError('xxh32Stripes: whole 16-byte stripes only');
    const s = this.spaces.find((sp) => sp.memory.buffer === data.buffer);
    if (!s) return false;
    s.beginOp(64);
    const st = s.scratch(16);
    const view = new Int32Array(s.memory.buffer, st, 4);
    view.set(state);
    this.exports[s.index]!['xxh32_stripes']!(st, data.byteOffset, data.byteLength / 16);
    state.set(view);
    return true;
  }

  rmsnorm(out: BTensor, x: BTensor, weight: BTensor, n: number, eps: number): void {
    const X = this.f32t(x), O = this.f32t(out), Wt = this.rowMajor(weight);
    const d = Wt.rows * Wt.cols;
    if (Wt.dtype !== 'f32') {
      ref.rmsnorm(this.view(O), this.view(X), ref.decodeVector(this.rowSource(Wt)), n, eps);
      return;
    }
    const s = X.space;
    s.beginOp(2 * n * d * 4 + d * 4 + 256);
    const f = new OpFrame(s);
    const xp = f.stage(X, O === X ? 'inout' : 'in', n * d * 4);
    const wp = f.stage(Wt, 'in');
    const op = O === X ? xp : f.stage(O, 'out', n * d * 4);
    this.exports[s.index]!['rmsnorm']!(op, xp, wp, n, d, eps);
    f.finish();
  }

  rope(x: BTensor, n: number, heads: number, headDim: number, pos0: number, invFreq: BTensor, attentionFactor: number): void {
    const X = this.f32t(x), F = this.f32t(invFreq);
    const s = X.space;
    s.beginOp(F.bytes + headDim * 4 + 256);
    const f = new OpFrame(s);
    const fp = f.stage(F, 'in');
    const scratch = s.scratch(headDim * 4);
    this.exports[s.index]!['rope']!(X.ptr, n, heads, headDim, F.bytes / 4, pos0, fp, attentionFactor, scratch);
    f.finish();
  }

  softmax(x: BTensor, n: number): void {
    const X = this.f32t(x);
    this.exports[X.space.index]!['softmax']!(X.ptr, n, X.cols);
  }

  swiglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    this.gated('swiglu', out, gate, up, n);
  }

  geglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    this.gated('geglu', out, gate, up, n);
  }

  /** The gated MLP activations: out = act(gate) * up elementwise. */
  private gated(kernel: 'swiglu' | 'geglu', out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    const O = this.f32t(out), G = this.f32t(gate);
    const count = n * O.cols;
    const s = G.space; // elementwise's home: the first input's memory
    // Threaded by element ranges (a multiple of 4 each): ~10 ns per element of exp and division on one thread.
    const chunk = this.chunkFor(count, count * 4, 4096, 4);
    this.elementwise((_ex, p) => this.runner.run('gated_rows', s.index, count, chunk, [p[0]!, p[1]!, p[2]!, kernel === 'geglu' ? 1 : 0]),
      [[O, 'out'], [G, 'in'], [this.f32t(up), 'in']], count * 4);
  }

  add(out: BTensor, a: BTensor, b: BTensor, count: number): void {
    this.elementwise((ex, p) => ex['binary']!(p[0]!, p[1]!, p[2]!, count, 0, 0), [[this.f32t(out), 'out'], [this.f32t(a), 'in'], [this.f32t(b), 'in']], count * 4);
  }

  mulRows(x: BTensor, v: BTensor, n: number): void {
    this.rowBroadcast(x, v, n, 1);
  }

  addBias(x: BTensor, bias: BTensor, n: number): void {
    this.rowBroadcast(x, bias, n, 2);
  }

  attention(out: BTensor, q: BTensor, kCache: BTensor, vCache: BTensor, n: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number,
    options: AttentionOptions = {}): void {
    const K = this.f32t(kCache), V = this.f32t(vCache), Q = this.f32t(q), O = this.f32t(out);
    const s = K.space;
    const threads = this.runner.threads;
    const seq = pos0 + n;
    const qBytes = n * nHeads * headDim * 4;
    const scoreStride = Math.ceil(seq / 16) * 16;
    if (!s.tryBeginOp(this.staged(s, [Q, qBytes], [O, qBytes], [V, seq * nKvHeads * headDim * 4]) + threads * scoreStride * 4 + 256)) {
      ref.attention(this.view(O), this.view(Q), this.view(K), this.view(V), n, pos0, nHeads, nKvHeads, headDim, options);
      return;
    }
    const f = new OpFrame(s);
    const qp = f.stage(Q, 'in', qBytes);
    const vp = f.stage(V, 'in', seq * nKvHeads * headDim * 4);
    const op = f.stage(O, 'out', qBytes);
    const scratch = s.scratch(threads * scoreStride * 4);
    const units = n * nHeads;
    const chunk = this.chunkFor(units, units * seq * headDim * 2, Math.max(1, Math.floor(units / (threads * 4))));
    this.runner.run('attention', s.index, units, chunk, [op, qp, K.ptr, vp, pos0, nHeads, nKvHeads, headDim, scratch, scoreStride,
      options.scale ?? 1 / Math.sqrt(headDim), options.softcap ?? 0, options.window ?? 0]);
    f.finish();
  }

  copyRows(dst: BTensor, dstRow: number, src: BTensor, srcRow: number, rows: number): void {
    const D = this.f32t(dst), S = this.f32t(src);
    const cols = S.cols;
    D.space.f32(D.ptr, D.rows * D.cols).set(S.space.f32(S.ptr + srcRow * cols * 4, rows * cols), dstRow * cols);
  }

  embed(out: BTensor, table: BTensor, ids: Int32Array): void {
    const T = this.own(table), O = this.f32t(out);
    const s = T.space;
    const cols = T.cols;
    if (!s.tryBeginOp(this.staged(s, [O, ids.length * cols * 4]) + 256)) {
      ref.embed(this.view(O), this.rowSource(T), ids);
      return;
    }
    const f = new OpFrame(s);
    const op = f.stage(O, 'out', ids.length * cols * 4);
    const ex = this.exports[s.index]!;
    const bpv = ELEM_BYTES[T.dtype];
    const scaleBytes = SCALE_BYTES[T.dtype];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= T.rows) throw new RangeError(`token id ${id} is outside the embedding table (${T.rows} rows)`);
      T.runs(id * cols, cols, (at, done, len) =>
        ex['decode']!(op + (i * cols + done) * 4, T.ptr + at * bpv, T.ptr + T.scalesOffset + (at / 32) * scaleBytes, len, DTYPE_CODE[T.dtype]));
    }
    f.finish();
  }

  async argmax(x: BTensor, count: number): Promise<number> {
    return ref.argmax(this.view(this.f32t(x)), count);
  }

  /**
   * Streaming-read bandwidth (GB/s, median of `reps`) of `bytes` read by this backend's threads with the same dynamic
   * chunking as the kernels: the yardstick for matvec GB/s (benchmarks; engine/probe may report it).
   */
  measureReadBandwidth(bytes = 256 << 20, reps = 7): number {
    const block = 1 << 16;
    const blocks = Math.max(1, Math.floor(bytes / block));
    const buf = this.alloc('f32', [blocks * block / 4], 'bandwidthProbe') as WasmTensor;
    try {
      const view = buf.space.bytes(buf.ptr, blocks * block);
      for (let i = 0; i < view.length; i += 4096) view[i] = i & 0xff; // touch every page so reads hit DRAM, not zero pages
      const s = buf.space;
      const times: number[] = [];
      for (let r = 0; r <= reps; r++) {
        s.beginOp(this.runner.threads * 16 + 64);
        const sink = s.scratch(this.runner.threads * 16);
        const t0 = performance.now();
        this.runner.run('stream_read', s.index, blocks, 16, [buf.ptr, block, sink]);
        if (r > 0) times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return (blocks * block) / (times[Math.floor(times.length / 2)]! / 1e3) / 1e9;
    } finally {
      this.free(buf);
    }
  }

  /**
   * f32 multiply-add GFLOP/s of this backend's threads with no memory traffic (fma_peak): the compute roof a matmul of
   * this build (relaxed fma or mul + add) can reach; benchmarks print GEMM figures against it.
   */
  fmaPeakGflops(units = 64, iters = 1 << 16): number {
    return this.peakRate('fma_peak', 12 * 4 * 2, units, iters);
  }

  /** The same for i16 dot products (dot_peak: 8 multiply-adds per instruction), the q8_0/q4 GEMM's roof, in GOP/s. */
  dotPeakGops(units = 64, iters = 1 << 16): number {
    return this.peakRate('dot_peak', 12 * 8 * 2, units, iters);
  }

  private peakRate(kernel: 'fma_peak' | 'dot_peak', opsPerIter: number, units: number, iters: number): number {
    const s = this.spaces[0] ?? this.newSpace();
    const times: number[] = [];
    for (let r = 0; r <= 5; r++) {
      s.beginOp(this.runner.threads * 16 + 64);
      const sink = s.scratch(this.runner.threads * 16);
      const t0 = performance.now();
      this.runner.run(kernel, s.index, units, 1, [iters, sink]);
      if (r > 0) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return (units * iters * opsPerIter) / (times[Math.floor(times.length / 2)]! / 1e3) / 1e9;
  }

  // ---- helpers ------------------------------------------------------------------------------------------------------

  private newSpace(): MemorySpace {
    const s = new MemorySpace(this.spaces.length, this.cap);
    trackMemory(s.memory);
    this.spaces.push(s);
    this.exports.push(this.runner.addMemory(s.memory));
    return s;
  }

  /**
   * Scratch bytes an op needs to stage operands that live outside `home`. When even that does not fit (a space filled
   * to the brim, a huge operand elsewhere), ops run the reference kernel on views instead: slower, never wrong.
   */
  private staged(home: MemorySpace, ...operands: Array<[WasmTensor, number]>): number {
    let bytes = 0;
    for (const [t, b] of operands) if (t.space !== home) bytes += Math.ceil(b / 64) * 64 + 64;
    return bytes;
  }

  /** Chunk rows so a thread claims `pref` rows at a time; everything inline when the op is too small to share. */
  private chunkFor(total: number, work: number, pref: number, multiple = 1): number {
    if (this.runner.threads === 1 || work < PARALLEL_MIN_WORK) return Math.max(total, 1);
    return Math.max(multiple, Math.ceil(pref / multiple) * multiple);
  }

  private elementwise(fn: (ex: KernelExports, ptrs: number[]) => void, operands: Array<[WasmTensor, Mode]>, bytes: number): void {
    const s = operands[1]![0].space;
    s.beginOp(operands.length * bytes + 256);
    const f = new OpFrame(s);
    // An output aliasing an input keeps one staged copy.
    const staged = new Map<WasmTensor, number>();
    const ptrs = operands.map(([t, mode]) => {
      const hit = staged.get(t);
      if (hit !== undefined) return hit;
      const p = f.stage(t, operands.some(([u, m]) => u === t && m === 'in') && mode === 'out' ? 'inout' : mode, bytes);
      staged.set(t, p);
      return p;
    });
    fn(this.exports[s.index]!, ptrs);
    f.finish();
  }

  private rowBroadcast(x: BTensor, v: BTensor, n: number, op: number): void {
    const X = this.f32t(x), Vt = this.rowMajor(v);
    const d = Vt.rows * Vt.cols;
    if (Vt.dtype !== 'f32') {
      const vec = ref.decodeVector(this.rowSource(Vt));
      if (op === 1) ref.mulRows(this.view(X), vec, n);
      else ref.addBias(this.view(X), vec, n);
      return;
    }
    const s = X.space;
    s.beginOp(d * 4 + 256);
    const f = new OpFrame(s);
    const vp = f.stage(Vt, 'in');
    this.exports[s.index]!['binary']!(X.ptr, X.ptr, vp, n * d, d, op);
    f.finish();
  }

  private own(t: BTensor): WasmTensor {
    if (!(t instanceof WasmTensor)) throw new Error(`tensor owned by '${t.owner}' passed to the wasm backend`);
    if (t.freed) throw new Error(`tensor '${t.label}' used after free`);
    return t;
  }

  private f32t(t: BTensor): WasmTensor {
    const wt = this.rowMajor(t);
    if (wt.dtype !== 'f32') throw new Error(`op needs an f32 tensor, '${wt.label}' is ${wt.dtype}`);
    return wt;
  }

  /** Ops other than matmul, loraApply and embed read their operands row-major. */
  private rowMajor(t: BTensor): WasmTensor {
    const wt = this.own(t);
    if (wt.panelled) throw new Error(`op needs a row-major tensor, '${wt.label}' was allocated as a weight (column panels)`);
    return wt;
  }

  private view(t: WasmTensor): Float32Array {
    if (t.panelled) throw new Error(`op needs a row-major tensor, '${t.label}' was allocated as a weight (column panels)`);
    return t.space.f32(t.ptr, t.rows * t.cols);
  }

  private rowSource(t: WasmTensor): ref.RowSource {
    if (!t.panelled) return this.panelRows(t, 0, t.cols);
    // Each panel is a row-major [rows, wp] matrix of its own; a row is its panels' rows side by side.
    const parts: Array<{ c0: number; wp: number; src: ref.RowSource }> = [];
    for (let c0 = 0; c0 < t.cols; c0 += t.pw) {
      const wp = Math.min(t.pw, t.cols - c0);
      parts.push({ c0, wp, src: this.panelRows(t, c0, wp) });
    }
    return { rows: t.rows, cols: t.cols, row: (r, dst) => { for (const p of parts) p.src.row(r, dst.subarray(p.c0, p.c0 + p.wp)); } };
  }

  /** Rows of the panel starting at column c0 (width wp; c0 = 0, wp = cols: the whole row-major tensor). */
  private panelRows(t: WasmTensor, c0: number, wp: number): ref.RowSource {
    const buf = t.space.memory.buffer;
    const count = t.rows * wp;
    const at = t.rows * c0;
    const p = t.ptr + at * ELEM_BYTES[t.dtype];
    switch (t.dtype) {
      case 'f32': return ref.f32Rows(new Float32Array(buf, p, count), t.rows, wp);
      case 'f16': return ref.f16Rows(new Uint16Array(buf, p, count), t.rows, wp);
      case 'bf16': return ref.bf16Rows(new Uint16Array(buf, p, count), t.rows, wp);
      case 'q8_0': return ref.q8SoaRows(new Int8Array(buf, p, count), new Float32Array(buf, t.ptr + t.scalesOffset + (at / 32) * 4, count / 32), t.rows, wp);
      case 'q4': return ref.q4SoaRows(new Uint8Array(buf, p, count / 2), new Float32Array(buf, t.ptr + t.scalesOffset + (at / 32) * 8, count / 16), t.rows, wp);
    }
  }
}
