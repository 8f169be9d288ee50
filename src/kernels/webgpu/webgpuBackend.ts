// The WebGPU backend: tensors in GPU storage buffers in their stored format (f16/bf16 two per u32 word, q8_0 repacked to
// SoA: int8 plane + f32 scales), one compute shader per op (./wgsl/*.wgsl, bundled as text). Pure: it receives a
// GPUDevice from webgpuDevice.node.ts (Dawn through the optional `webgpu` package), so it also runs in a browser.
// Ops are recorded into one pending command encoder (see PendingWork) and submitted together when a result must leave
// the GPU (read/argmax await a buffer map, as Backend's async reads allow), on flush(), or every MAX_PENDING_PASSES.

import type { AttentionOptions, Backend, BackendInfo, BTensor, ModelPlan, OpName, WeightDType } from '../../core/backend';
import { decodeToF32, floatDType, numel } from '../../core/tensor/dtype';
import { quantizeQ8_0 } from '../../core/tensor/q8_0';
import { Q8_BLOCK_BYTES, f16Lut } from '../reference/refOps';
import { checkShape, matrixShape } from '../reference/referenceBackend';
import { COMPOSED_WGSL, subgroupMatmulSource } from './shaderSource';
import { checkModelFits, planRowParts, refuseOverLimit, storageBytes, type BufferLimits } from './limits';
import type { GpuBindGroupEntry, GpuBuffer, GpuCommandEncoder, GpuComputePipeline, GpuDevice } from './gpuTypes';
import attentionWgsl from './wgsl/attention.wgsl';
import binaryWgsl from './wgsl/binary.wgsl';
import embedWgsl from './wgsl/embed.wgsl';
import loraDeltaWgsl from './wgsl/loraDelta.wgsl';
import matmulWgsl from './wgsl/matmul.wgsl';
import matmulSubgroupsWgsl from './wgsl/matmulSubgroups.wgsl';
import rmsnormWgsl from './wgsl/rmsnorm.wgsl';
import ropeWgsl from './wgsl/rope.wgsl';
import softmaxWgsl from './wgsl/softmax.wgsl';
import swigluWgsl from './wgsl/swiglu.wgsl';

/** Every shader by name, for the pipeline cache and the WGSL compile lint. */
export const SHADERS: Readonly<Record<string, string>> = {
  attention: attentionWgsl, binary: binaryWgsl, embed: embedWgsl, loraDelta: loraDeltaWgsl, matmul: matmulWgsl,
  rmsnorm: rmsnormWgsl, rope: ropeWgsl, softmax: softmaxWgsl, swiglu: swigluWgsl,
  matmulSubgroups: subgroupMatmulSource(matmulWgsl, matmulSubgroupsWgsl),
};
/** Entry points other than `main`. */
const ENTRY_POINTS: Readonly<Record<string, string>> = { matmulSubgroups: COMPOSED_WGSL['matmulSubgroups.wgsl']!.entryPoint };

/** Choices among kernel variants; tests use them to run the fallback on a device that has the feature. */
export interface WebGpuKernelOptions {
  /** Use subgroup operations where the device has the `subgroups` feature (default true). */
  readonly subgroups?: boolean;
}

const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;
/** Shader dtype codes; q4 has no shaders (supports says so, alloc refuses it). */
const DTYPE_CODE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4: -1 };
/** Rows per dispatch dimension (maxComputeWorkgroupsPerDimension is 65535). */
const ROW_SPLIT = 65535;
/** 1-D elementwise dispatches: 65535 workgroups of 64 per row of the grid. */
const ELEMS_PER_Y = 65535 * 64;
/** An id embed.wgsl leaves alone: that output row comes from another part of a split table. */
const SKIP_ROW = 0xffffffff;

/**
 * Passes recorded before a submit is forced: bounds the latency of a long prefill and the temporaries (uniforms, freed
 * tensors) held until the submit, yet leaves a decode step of a 7B model (32 layers x ~15 ops) in one command buffer.
 */
export const MAX_PENDING_PASSES = 1024;
/** Bytes of buffers kept alive for the pending work (staged uploads, freed tensors) before a submit is forced. */
const MAX_HELD_BYTES = 64 << 20;

/** Counters for tests and logs: how often work left for the GPU, how often results came back. */
export interface WebGpuStats {
  readonly submits: number;
  readonly readbacks: number;
  /** Per-dispatch uniform buffers not yet destroyed (they live until the submit that uses them). */
  readonly liveUniforms: number;
  readonly pendingPasses: number;
}

/**
 * Work recorded but not yet submitted. Buffers that its commands use (per-dispatch uniforms, staged uploads, tensors
 * freed meanwhile) must outlive the submit: destroying one earlier makes the whole command buffer invalid.
 */
interface PendingWork {
  readonly encoder: GpuCommandEncoder;
  commands: number;
  readonly destroyAfterSubmit: GpuBuffer[];
  heldBytes: number;
  uniforms: number;
}

/** The GPU device went away mid-run; the engine fails that request and runs the next on WASM. */
export class GpuDeviceLostError extends Error {
  constructor(readonly reason: string) {
    super(`the WebGPU device was lost (${reason}): this request failed; the next one runs on WASM`);
    this.name = 'GpuDeviceLostError';
  }
}

/** A tensor larger than one buffer may be: its rows from row0 on live in `t`, a whole tensor of its own. */
interface GpuRowPart {
  readonly row0: number;
  readonly t: GpuTensor;
}

class GpuTensor implements BTensor {
  readonly owner = 'webgpu';
  freed = false;
  /** `single` is null for a tensor split by rows across `parts` (it exceeds the adapter's buffer limits). */
  constructor(readonly dtype: WeightDType, readonly shape: readonly number[], private readonly single: GpuBuffer | null, readonly bytes: number,
    readonly rows: number, readonly cols: number, readonly label: string, readonly parts: readonly GpuRowPart[] = []) {}
  /** The one buffer; only ops that dispatch per part (matmul, embed, read, write) accept a split tensor. */
  get buffer(): GpuBuffer {
    if (!this.single) {
      throw new RangeError(`tensor '${this.label}' is split across ${this.parts.length} buffers (over the adapter's buffer size limits) and this op needs it in one: use the WASM backend for this model`);
    }
    return this.single;
  }
  /** Each buffer with the first row it holds: the tensor itself, or its parts. */
  get rowParts(): readonly GpuRowPart[] {
    return this.single ? [{ row0: 0, t: this }] : this.parts;
  }
  get count(): number {
    return this.rows * this.cols;
  }
  /** q8_0: u32 word index of the scales plane. */
  get scalesWord(): number {
    return this.count / 4;
  }
}

export class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  private readonly pipelines = new Map<string, GpuComputePipeline>();
  private disposed = false;
  readonly maxPendingPasses = MAX_PENDING_PASSES;
  private pending: PendingWork | null = null;
  private counters = { submits: 0, readbacks: 0, liveUniforms: 0 };

  /** Dawn's GPU object, referenced while the device is used (see webgpuDevice.node.ts). */
  private keepAlive: unknown;

  /** The adapter's per-buffer limits (the device is opened with them raised to the adapter's maximum). */
  private readonly limits: BufferLimits;

  /** Why the device was lost (not by dispose()), once it was: every later op fails with it. */
  deviceLost: string | null = null;

  /** The matmul shader: subgroupAdd reduction where the device has `subgroups`, else the workgroup-memory tree. */
  readonly matmulShader: 'matmul' | 'matmulSubgroups';

  constructor(private readonly device: GpuDevice, adapterName: string, gpu?: unknown, limits?: BufferLimits, kernels: WebGpuKernelOptions = {}) {
    this.keepAlive = gpu;
    void device.lost?.then((info) => {
      if (!this.disposed) this.deviceLost = info.message || info.reason || 'unknown reason';
    });
    this.matmulShader = kernels.subgroups !== false && device.features?.has('subgroups') ? 'matmulSubgroups' : 'matmul';
    this.info = { name: 'webgpu', threads: 1, detail: `WebGPU on ${adapterName}` };
    // WebGPU's guaranteed minimums when the caller does not know the adapter's.
    this.limits = limits ?? { maxStorageBufferBindingSize: 128 << 20, maxBufferSize: 256 << 20 };
  }

  checkModelFits(plan: ModelPlan): void {
    checkModelFits(plan, this.limits);
  }

  supports(_op: OpName, dtype?: WeightDType): boolean {
    return dtype !== 'q4';
  }

  alloc(dtype: WeightDType, shape: readonly number[], label = '', _fill?: 'zero' | 'none', use?: 'weight'): BTensor {
    if (dtype === 'q4') throw new Error(`tensor '${label}': the WebGPU backend has no q4 kernels (load it as q8_0)`);
    checkShape(dtype, shape);
    const [rows, cols] = matrixShape(shape);
    const plan = planRowParts(label, dtype, shape, rows, cols, this.limits);
    if (plan.length === 1) return this.allocOne(dtype, [...shape], rows, cols, label);
    // Only weights are split (read by matmul and embed, which dispatch per part); activations and KV caches are read
    // whole by every other op, so one over the limit is refused now, at load, rather than at its first use.
    if (use !== 'weight') refuseOverLimit(label, dtype, shape, this.limits);
    const parts = plan.map((p) => ({ row0: p.row0, t: this.allocOne(dtype, [p.rows, cols], p.rows, cols, `${label}[rows ${p.row0}..${p.row0 + p.rows - 1}]`) }));
    return new GpuTensor(dtype, [...shape], null, storageBytes(dtype, numel(shape)), rows, cols, label, parts);
  }

  private allocOne(dtype: WeightDType, shape: number[], rows: number, cols: number, label: string): GpuTensor {
    const bytes = storageBytes(dtype, rows * cols);
    const buffer = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label });
    return new GpuTensor(dtype, shape, buffer, bytes, rows, cols, label);
  }

  write(t: BTensor, bytes: Uint8Array, byteOffset = 0): void {
    const g = this.own(t);
    if (g.parts.length) {
      this.writeParts(g, bytes, byteOffset);
      return;
    }
    if (g.dtype === 'q8_0') {
      this.writeQ8(g, bytes, byteOffset);
      return;
    }
    if (byteOffset < 0 || byteOffset + bytes.byteLength > g.bytes) throw new RangeError(`write overflows tensor '${g.label}'`);
    // writeBuffer needs 4-byte aligned offsets and sizes: widen to whole words (neighbouring bytes read back first is
    // not possible synchronously, so unaligned partial writes are refused).
    if (byteOffset % 4) throw new RangeError('WebGPU writes must start on a 4-byte boundary');
    const padded = bytes.byteLength % 4 ? (() => {
      const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      p.set(bytes);
      return p;
    })() : bytes;
    this.upload(g.buffer, byteOffset, padded);
  }

  writeQuantized(t: BTensor, bytes: Uint8Array, srcDtype: 'f32' | 'f16' | 'bf16', valueOffset = 0): void {
    const count = bytes.byteLength / (srcDtype === 'f32' ? 4 : 2);
    const values = decodeToF32(bytes, floatDType(srcDtype), count);
    this.write(t, quantizeQ8_0(values), (valueOffset / 32) * Q8_BLOCK_BYTES);
  }

  hostView(_t: BTensor): Uint8Array | null {
    return null;
  }

  async read(t: BTensor): Promise<Float32Array> {
    const g = this.own(t);
    if (g.dtype !== 'f32') return this.readDecoded(g);
    const out = new Float32Array(g.count);
    for (const { row0, t: P } of g.rowParts) out.set(await this.readF32(P.buffer, P.count), row0 * g.cols);
    return out;
  }

  /** A non-f32 tensor decoded on the GPU in row ranges whose f32 copy fits one buffer (the f32 copy is 2-4x larger). */
  private async readDecoded(g: GpuTensor): Promise<Float32Array> {
    const out = new Float32Array(g.count);
    for (const { row0, rows } of planRowParts(g.label, 'f32', [g.rows, g.cols], g.rows, g.cols, this.limits)) {
      const tmp = this.allocOne('f32', [rows, g.cols], rows, g.cols, 'decoded');
      this.decodeRows(tmp, g, Uint32Array.from({ length: rows }, (_, i) => row0 + i));
      out.set(await this.readF32(tmp.buffer, rows * g.cols), row0 * g.cols);
      this.free(tmp);
    }
    return out;
  }

  free(t: BTensor): void {
    const g = this.own(t);
    g.freed = true;
    for (const p of g.rowParts) this.destroyWhenUnused(p.t.buffer);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Pending work is dropped, not submitted: nothing can read its results any more, and destroy() frees its buffers.
    this.pending = null;
    this.device.destroy();
    this.keepAlive = null;
  }

  /** Submits the recorded work (the engine need not call it: reads do; for tests, timing and idle points). */
  flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.device.queue.submit([p.encoder.finish()]);
    this.counters.submits++;
    // Destroying after submit is allowed: the GPU keeps the memory until the submitted work is done.
    for (const b of p.destroyAfterSubmit) b.destroy();
    this.counters.liveUniforms -= p.uniforms;
  }

  stats(): WebGpuStats {
    return { ...this.counters, pendingPasses: this.pending?.commands ?? 0 };
  }

  matmul(out: BTensor, w: BTensor, x: BTensor, n: number): void {
    const W = this.own(w), X = this.f32t(x), O = this.f32t(out);
    // Output rows are independent: each part of a split W writes its slice [row0, row0 + rows) of every output row.
    for (const { row0, t: P } of W.rowParts) {
      this.dispatch(this.matmulShader, [P.rows, P.cols, n, DTYPE_CODE[P.dtype], P.dtype === 'q8_0' ? P.scalesWord : 0, ROW_SPLIT, row0, W.rows], [P.buffer, X.buffer, O.buffer],
        [Math.min(P.rows, ROW_SPLIT), Math.ceil(P.rows / ROW_SPLIT), n]);
    }
  }

  loraApply(out: BTensor, a: BTensor, b: BTensor, x: BTensor, n: number, scale: number, tmp: BTensor): void {
    const B = this.own(b), O = this.f32t(out);
    this.matmul(tmp, a, x, n);
    const y = this.alloc('f32', [n, B.rows]) as GpuTensor;
    this.matmul(y, B, tmp, n);
    this.binary(O, O, y, n * B.rows, 0, 3, scale);
    this.free(y);
  }

  loraDelta(w: BTensor, b: BTensor, a: BTensor, scale: number): void {
    const W = this.f32t(w), B = this.f32t(b), A = this.f32t(a);
    this.dispatch('loraDelta', [W.rows, W.cols, B.cols, f32bits(scale)], [W.buffer, B.buffer, A.buffer],
      [Math.ceil(W.cols / 64), Math.min(W.rows, 65535), Math.ceil(W.rows / 65535)]);
  }

  rmsnorm(out: BTensor, x: BTensor, weight: BTensor, n: number, eps: number): void {
    const X = this.f32t(x), O = this.f32t(out);
    const wt = this.asF32(this.own(weight));
    const d = wt.t.count;
    this.withDistinctOut(O, [X], (o) => this.dispatch('rmsnorm', [d, f32bits(eps), 0, 0], [X.buffer, wt.t.buffer, o.buffer], [n, 1, 1]), n * d);
    wt.release();
  }

  rope(x: BTensor, n: number, heads: number, headDim: number, pos0: number, invFreq: BTensor, attentionFactor: number): void {
    const X = this.f32t(x), F = this.f32t(invFreq);
    const half = F.count;
    this.dispatch('rope', [n, heads, headDim, pos0, f32bits(attentionFactor), half, 0, 0], [X.buffer, F.buffer], [Math.ceil(half / 64), heads, n]);
  }

  softmax(x: BTensor, n: number): void {
    const X = this.f32t(x);
    this.dispatch('softmax', [X.cols, 0, 0, 0], [X.buffer], [n, 1, 1]);
  }

  swiglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    this.gated('swiglu', out, gate, up, n);
  }

  geglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    this.gated('geglu', out, gate, up, n);
  }

  /** The gated MLP activations: out = act(gate) * up elementwise (swiglu.wgsl, act 0 or 1). */
  private gated(act: 'swiglu' | 'geglu', out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    const O = this.f32t(out), G = this.f32t(gate), U = this.f32t(up);
    const count = n * O.cols;
    const params = [count, act === 'geglu' ? 1 : 0, 0, 0];
    this.withDistinctOut(O, [G, U], (o) => this.dispatch('swiglu', params, [G.buffer, U.buffer, o.buffer], grid1d(count)), count);
  }

  add(out: BTensor, a: BTensor, b: BTensor, count: number): void {
    this.binary(this.f32t(out), this.f32t(a), this.f32t(b), count, 0, 0, 1);
  }

  mulRows(x: BTensor, v: BTensor, n: number): void {
    const X = this.f32t(x);
    const vec = this.asF32(this.own(v));
    this.binary(X, X, vec.t, n * vec.t.count, vec.t.count, 1, 1);
    vec.release();
  }

  addBias(x: BTensor, bias: BTensor, n: number): void {
    const X = this.f32t(x);
    const vec = this.asF32(this.own(bias));
    this.binary(X, X, vec.t, n * vec.t.count, vec.t.count, 2, 1);
    vec.release();
  }

  attention(out: BTensor, q: BTensor, kCache: BTensor, vCache: BTensor, n: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number,
    options: AttentionOptions = {}): void {
    const O = this.f32t(out), Q = this.f32t(q), K = this.f32t(kCache), V = this.f32t(vCache);
    const seq = pos0 + n;
    const scores = this.alloc('f32', [n * nHeads, seq]) as GpuTensor;
    const params = [n, pos0, nHeads, nKvHeads, headDim, seq, f32bits(options.scale ?? 1 / Math.sqrt(headDim)), f32bits(options.softcap ?? 0), options.window ?? 0, 0, 0, 0];
    this.withDistinctOut(O, [Q, K, V], (o) => this.dispatch('attention', params,
      [Q.buffer, K.buffer, V.buffer, o.buffer, scores.buffer], [nHeads, n, 1]), n * nHeads * headDim);
    this.free(scores);
  }

  copyRows(dst: BTensor, dstRow: number, src: BTensor, srcRow: number, rows: number): void {
    const D = this.f32t(dst), S = this.f32t(src);
    const rowBytes = S.cols * 4;
    this.checkAlive();
    const enc = this.record();
    if (D === S) {
      // Same buffer: copy through a temporary (copyBufferToBuffer forbids overlapping source and destination).
      const tmp = this.device.createBuffer({ size: Math.max(16, rows * rowBytes), usage: USAGE.COPY_SRC | USAGE.COPY_DST });
      enc.copyBufferToBuffer(S.buffer, srcRow * rowBytes, tmp, 0, rows * rowBytes);
      enc.copyBufferToBuffer(tmp, 0, D.buffer, dstRow * rowBytes, rows * rowBytes);
      this.destroyWhenUnused(tmp);
    } else {
      enc.copyBufferToBuffer(S.buffer, srcRow * rowBytes, D.buffer, dstRow * rowBytes, rows * rowBytes);
    }
  }

  embed(out: BTensor, table: BTensor, ids: Int32Array): void {
    const T = this.own(table);
    for (const id of ids) if (id < 0 || id >= T.rows) throw new RangeError(`token id ${id} is outside the embedding table (${T.rows} rows)`);
    this.decodeRows(this.f32t(out), T, Uint32Array.from(ids));
  }

  async argmax(x: BTensor, count: number): Promise<number> {
    const v = await this.readF32(this.f32t(x).buffer, count);
    let best = 0;
    for (let i = 1; i < count; i++) if (v[i]! > v[best]!) best = i;
    return best;
  }

  // ---- helpers ------------------------------------------------------------------------------------------------------

  private pipeline(name: string): GpuComputePipeline {
    let p = this.pipelines.get(name);
    if (!p) {
      const module = this.device.createShaderModule({ code: SHADERS[name]!, label: name });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: ENTRY_POINTS[name] ?? 'main' }, label: name });
      this.pipelines.set(name, p);
    }
    return p;
  }

  /** One dispatch: params (u32 words, floats passed as bits) in a uniform at binding 0, then `buffers` at 1.. */
  private dispatch(name: string, params: number[], buffers: GpuBuffer[], grid: [number, number, number]): void {
    this.checkAlive();
    if (grid.some((g) => g === 0)) return;
    const uniform = this.uniformFor(params);
    const pipe = this.pipeline(name);
    const entries: GpuBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }, ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))];
    const bind = this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
    const pass = this.record().beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    pass.end();
    if (this.pending!.commands >= MAX_PENDING_PASSES) this.flush();
  }

  /**
   * A fresh uniform buffer per dispatch, written now: queue.writeBuffer takes effect before any later submit, so
   * before the encoder that reads it. One reused buffer would be clobbered under passes recorded earlier (they run
   * only at the submit, after every write); a fresh one is read by this pass alone. Destroyed after that submit.
   */
  private uniformFor(params: number[]): GpuBuffer {
    const words = new Uint32Array(Math.ceil(params.length / 4) * 4);
    words.set(params.map((v) => v >>> 0));
    const uniform = this.device.createBuffer({ size: words.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    this.device.queue.writeBuffer(uniform, 0, words);
    const p = this.pendingWork();
    p.destroyAfterSubmit.push(uniform);
    p.uniforms++;
    this.counters.liveUniforms++;
    return uniform;
  }

  /** The pending encoder, to record one command into (counted toward the submit bound). */
  private record(): GpuCommandEncoder {
    const p = this.pendingWork();
    p.commands++;
    return p.encoder;
  }

  private pendingWork(): PendingWork {
    this.pending ??= { encoder: this.device.createCommandEncoder(), commands: 0, destroyAfterSubmit: [], heldBytes: 0, uniforms: 0 };
    return this.pending;
  }

  /**
   * Data into an existing buffer, ordered after every op recorded so far. queue.writeBuffer alone would land before the
   * pending encoder runs (it is ordered at submit time), under passes that still need the old contents; so with work
   * pending the data goes through a fresh staging buffer copied inside the encoder.
   */
  private upload(dst: GpuBuffer, offset: number, data: ArrayBufferView): void {
    if (!this.pending?.commands) {
      this.device.queue.writeBuffer(dst, offset, data);
      return;
    }
    const staging = this.device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: USAGE.COPY_SRC | USAGE.COPY_DST });
    this.device.queue.writeBuffer(staging, 0, data);
    this.record().copyBufferToBuffer(staging, 0, dst, offset, data.byteLength);
    this.destroyWhenUnused(staging);
  }

  /** Destroys now, or after the submit of the pending work that may still use the buffer. */
  private destroyWhenUnused(buffer: GpuBuffer): void {
    const p = this.pending;
    if (!p) {
      buffer.destroy();
      return;
    }
    p.destroyAfterSubmit.push(buffer);
    p.heldBytes += buffer.size;
    // A large upload (or many frees) while work is pending would otherwise keep its copy until the next read.
    if (p.heldBytes > MAX_HELD_BYTES) this.flush();
  }

  private binary(out: GpuTensor, a: GpuTensor, b: GpuTensor, count: number, d: number, op: number, scale: number): void {
    // A read_write binding may not alias a read binding: when the output is a, the shader reads a through `out`.
    const run = (o: GpuTensor): void => this.dispatch('binary', [count, d, op, f32bits(scale), o === a ? 1 : 0, 0, 0, 0],
      [o.buffer, o === a ? b.buffer : a.buffer, b.buffer], grid1d(count));
    if (out === b) this.withDistinctOut(out, [b], run, count);
    else run(out);
  }

  /** Runs `fn` with an output buffer that no input aliases (a temporary copied back when needed). */
  private withDistinctOut(out: GpuTensor, inputs: GpuTensor[], fn: (o: GpuTensor) => void, count: number): void {
    if (!inputs.includes(out)) {
      fn(out);
      return;
    }
    const tmp = this.alloc('f32', [count]) as GpuTensor;
    fn(tmp);
    this.record().copyBufferToBuffer(tmp.buffer, 0, out.buffer, 0, count * 4);
    this.free(tmp);
  }

  /** out rows i = table rows ids[i], decoded on the GPU; a split table fills, per part, the rows whose ids it holds. */
  private decodeRows(out: GpuTensor, table: GpuTensor, ids: Uint32Array): void {
    if (!table.parts.length) {
      this.decodeRowsOne(out, table, ids);
      return;
    }
    for (const { row0, t: P } of table.parts) {
      const local = ids.map((id) => (id >= row0 && id < row0 + P.rows ? id - row0 : SKIP_ROW));
      if (local.some((id) => id !== SKIP_ROW)) this.decodeRowsOne(out, P, local);
    }
  }

  private decodeRowsOne(out: GpuTensor, table: GpuTensor, ids: Uint32Array): void {
    // A fresh buffer per call (like the uniforms): written before the submit, read by no earlier recorded pass.
    const idBuf = this.device.createBuffer({ size: Math.max(16, Math.ceil(ids.byteLength / 16) * 16), usage: USAGE.STORAGE | USAGE.COPY_DST });
    this.device.queue.writeBuffer(idBuf, 0, ids);
    this.dispatch('embed', [table.cols, ids.length, DTYPE_CODE[table.dtype], table.dtype === 'q8_0' ? table.scalesWord : 0], [table.buffer, idBuf, out.buffer],
      [Math.ceil(table.cols / 64), ids.length, 1]);
    this.destroyWhenUnused(idBuf);
  }

  /** An f32 version of a (small) weight vector: the tensor itself, or a decoded temporary. */
  private asF32(t: GpuTensor): { t: GpuTensor; release: () => void } {
    if (t.dtype === 'f32') return { t, release: () => undefined };
    const tmp = this.alloc('f32', [t.rows, t.cols]) as GpuTensor;
    this.decodeRows(tmp, t, Uint32Array.from({ length: t.rows }, (_, i) => i));
    const flat = new GpuTensor('f32', [t.count], tmp.buffer, tmp.bytes, 1, t.count, 'decoded');
    return { t: flat, release: () => this.free(tmp) };
  }

  /**
   * A write into a split tensor, cut at the parts' boundaries. Offsets count in the caller's format: stored bytes, or
   * for q8_0 GGUF blocks of 34 bytes (writeQ8 repacks them).
   */
  private writeParts(g: GpuTensor, bytes: Uint8Array, byteOffset: number): void {
    const rowBytes = g.dtype === 'q8_0' ? (g.cols / 32) * Q8_BLOCK_BYTES : storageBytes(g.dtype, g.cols);
    const end = byteOffset + bytes.byteLength;
    if (byteOffset < 0 || end > g.rows * rowBytes) throw new RangeError(`write overflows tensor '${g.label}'`);
    for (const { row0, t: P } of g.parts) {
      const start = row0 * rowBytes, stop = start + P.rows * rowBytes;
      const from = Math.max(byteOffset, start), to = Math.min(end, stop);
      if (from < to) this.write(P, bytes.subarray(from - byteOffset, to - byteOffset), from - start);
    }
  }

  private writeQ8(g: GpuTensor, bytes: Uint8Array, byteOffset: number): void {
    if (byteOffset % Q8_BLOCK_BYTES || bytes.byteLength % Q8_BLOCK_BYTES) throw new RangeError('q8_0 writes must cover whole 34-byte blocks');
    const b0 = byteOffset / Q8_BLOCK_BYTES;
    const nb = bytes.byteLength / Q8_BLOCK_BYTES;
    if (b0 + nb > g.count / 32) throw new RangeError(`write overflows tensor '${g.label}'`);
    const q = new Uint8Array(nb * 32);
    const s = new Float32Array(nb);
    const lut = f16Lut();
    for (let b = 0; b < nb; b++) {
      const p = b * Q8_BLOCK_BYTES;
      s[b] = lut[bytes[p]! | (bytes[p + 1]! << 8)]!;
      q.set(bytes.subarray(p + 2, p + Q8_BLOCK_BYTES), b * 32);
    }
    this.upload(g.buffer, b0 * 32, q);
    this.upload(g.buffer, g.count + b0 * 4, s);
  }

  private async readF32(buffer: GpuBuffer, count: number): Promise<Float32Array> {
    const size = Math.max(16, Math.ceil((count * 4) / 16) * 16);
    this.checkAlive();
    const staging = this.device.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    // The copy joins the pending work, so everything recorded so far and this read go out in one submit.
    this.record().copyBufferToBuffer(buffer, 0, staging, 0, Math.min(size, buffer.size));
    this.flush();
    this.counters.readbacks++;
    try {
      await staging.mapAsync(1);
    } catch (err) {
      // A lost device rejects pending maps: say so rather than surfacing the bare AbortError.
      this.deviceLost ??= (err as Error).message;
      this.checkAlive();
      throw err;
    }
    const out = new Float32Array(staging.getMappedRange()).slice(0, count);
    staging.unmap();
    staging.destroy();
    return out;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('WebGPU backend used after dispose');
    if (this.deviceLost !== null) throw new GpuDeviceLostError(this.deviceLost);
  }

  private own(t: BTensor): GpuTensor {
    if (!(t instanceof GpuTensor)) throw new Error(`tensor owned by '${t.owner}' passed to the webgpu backend`);
    if (t.freed) throw new Error(`tensor '${t.label}' used after free`);
    return t;
  }

  private f32t(t: BTensor): GpuTensor {
    const g = this.own(t);
    if (g.dtype !== 'f32') throw new Error(`op needs an f32 tensor, '${g.label}' is ${g.dtype}`);
    return g;
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
function f32bits(v: number): number {
  f32buf[0] = v;
  return u32buf[0]!;
}

function grid1d(count: number): [number, number, number] {
  return [Math.min(Math.ceil(count / 64), 65535), Math.ceil(count / ELEMS_PER_Y), 1];
}
