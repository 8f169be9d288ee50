// The reference backend: tensors in plain ArrayBuffers in their stored format (q8_0 kept in GGUF block layout), every op
// from refOps.ts. Always available, pure (no node:*), and the oracle of the parity tests.

import type { AttentionOptions, Backend, BackendInfo, BTensor, OpName, WeightDType } from '../../core/backend';
import { decodeToF32, floatDType, numel } from '../../core/tensor/dtype';
import { q4Bytes } from '../../core/tensor/q4';
import { quantizeQ8_0 } from '../../core/tensor/q8_0';
import * as ref from './refOps';

/** Bytes of storage for a tensor of `dtype` and `count` values. */
export function storageBytes(dtype: WeightDType, count: number): number {
  switch (dtype) {
    case 'f32': return count * 4;
    case 'f16': case 'bf16': return count * 2;
    case 'q8_0': return (count / ref.Q8_BLOCK) * ref.Q8_BLOCK_BYTES;
    case 'q4': return q4Bytes(count);
  }
}

/** Rows x cols of a tensor seen as a matrix: the last dim is cols, everything before it multiplies into rows. */
export function matrixShape(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1]!;
  return [cols === 0 ? 0 : numel(shape) / cols, cols];
}

export function checkShape(dtype: WeightDType, shape: readonly number[]): void {
  for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad tensor shape [${shape.join(', ')}]`);
  if ((dtype === 'q8_0' || dtype === 'q4') && matrixShape(shape)[1] % ref.Q8_BLOCK !== 0) {
    throw new RangeError(`${dtype} tensors need a last dimension divisible by 32, got [${shape.join(', ')}]`);
  }
}

class RefTensor implements BTensor {
  readonly owner = 'reference';
  freed = false;
  constructor(readonly dtype: WeightDType, readonly shape: readonly number[], readonly bytes: Uint8Array, readonly label: string) {}
  get f32(): Float32Array {
    return new Float32Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength >> 2);
  }
}

export class ReferenceBackend implements Backend {
  readonly info: BackendInfo = { name: 'reference', threads: 1, detail: 'plain TypeScript (oracle), float64 accumulation' };

  supports(_op: OpName, _dtype?: WeightDType): boolean {
    return true;
  }

  alloc(dtype: WeightDType, shape: readonly number[], label = ''): BTensor {
    checkShape(dtype, shape);
    const n = storageBytes(dtype, numel(shape));
    // Round up to 4 bytes so an f32 view is always possible.
    return new RefTensor(dtype, [...shape], new Uint8Array(new ArrayBuffer((n + 3) & ~3), 0, n), label);
  }

  write(t: BTensor, bytes: Uint8Array, byteOffset = 0): void {
    const rt = this.own(t);
    if (byteOffset < 0 || byteOffset + bytes.byteLength > rt.bytes.byteLength) {
      throw new RangeError(`write of ${bytes.byteLength} bytes at ${byteOffset} overflows tensor '${rt.label}' (${rt.bytes.byteLength} bytes)`);
    }
    rt.bytes.set(bytes, byteOffset);
  }

  writeQuantized(t: BTensor, bytes: Uint8Array, srcDtype: 'f32' | 'f16' | 'bf16', valueOffset = 0): void {
    const count = bytes.byteLength / (srcDtype === 'f32' ? 4 : 2);
    const values = decodeToF32(bytes, floatDType(srcDtype), count);
    this.write(t, quantizeQ8_0(values), (valueOffset / ref.Q8_BLOCK) * ref.Q8_BLOCK_BYTES);
  }

  hostView(t: BTensor): Uint8Array | null {
    return this.own(t).bytes;
  }

  async read(t: BTensor): Promise<Float32Array> {
    const rt = this.own(t);
    if (rt.dtype === 'f32') return rt.f32.slice();
    return ref.decodeVector(this.rows(rt));
  }

  free(t: BTensor): void {
    this.own(t).freed = true;
  }

  dispose(): void {
    // Nothing held beyond garbage-collected buffers.
  }

  matmul(out: BTensor, w: BTensor, x: BTensor, n: number): void {
    ref.matmul(this.f32(out), this.rows(this.own(w)), this.f32(x), n);
  }

  loraApply(out: BTensor, a: BTensor, b: BTensor, x: BTensor, n: number, scale: number, tmp: BTensor): void {
    ref.loraApply(this.f32(out), this.rows(this.own(a)), this.rows(this.own(b)), this.f32(x), n, scale, this.f32(tmp));
  }

  loraDelta(w: BTensor, b: BTensor, a: BTensor, scale: number): void {
    ref.loraDelta(this.f32(w), this.rows(this.own(b)), this.rows(this.own(a)), scale);
  }

  loraMerge(out: BTensor, w: BTensor, b: BTensor | null, a: BTensor | null, scale: number): number {
    const O = this.own(out), W = this.own(w);
    if (O.dtype === 'q8_0' || W.dtype === 'q8_0' || O.dtype === 'q4' || W.dtype === 'q4') throw new Error('loraMerge: f32/f16/bf16 tensors only');
    if (numel(O.shape) !== numel(W.shape)) throw new Error('loraMerge: out and w differ in size');
    return ref.loraMerge(O.bytes, floatDType(O.dtype), this.rows(W), b && this.rows(this.own(b)), a && this.rows(this.own(a)), scale);
  }

  rmsnorm(out: BTensor, x: BTensor, weight: BTensor, n: number, eps: number): void {
    ref.rmsnorm(this.f32(out), this.f32(x), this.vector(weight), n, eps);
  }

  rope(x: BTensor, n: number, heads: number, headDim: number, pos0: number, invFreq: BTensor, attentionFactor: number): void {
    ref.rope(this.f32(x), n, heads, headDim, pos0, this.f32(invFreq), attentionFactor);
  }

  softmax(x: BTensor, n: number): void {
    const t = this.own(x);
    ref.softmax(this.f32(x), n, matrixShape(t.shape)[1]);
  }

  swiglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    ref.swiglu(this.f32(out), this.f32(gate), this.f32(up), n * matrixShape(this.own(out).shape)[1]);
  }

  geglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void {
    ref.geglu(this.f32(out), this.f32(gate), this.f32(up), n * matrixShape(this.own(out).shape)[1]);
  }

  add(out: BTensor, a: BTensor, b: BTensor, count: number): void {
    ref.add(this.f32(out), this.f32(a), this.f32(b), count);
  }

  mulRows(x: BTensor, v: BTensor, n: number): void {
    ref.mulRows(this.f32(x), this.vector(v), n);
  }

  addBias(x: BTensor, bias: BTensor, n: number): void {
    ref.addBias(this.f32(x), this.vector(bias), n);
  }

  attention(out: BTensor, q: BTensor, kCache: BTensor, vCache: BTensor, n: number, pos0: number, nHeads: number, nKvHeads: number, headDim: number,
    options?: AttentionOptions): void {
    ref.attention(this.f32(out), this.f32(q), this.f32(kCache), this.f32(vCache), n, pos0, nHeads, nKvHeads, headDim, options);
  }

  copyRows(dst: BTensor, dstRow: number, src: BTensor, srcRow: number, rows: number): void {
    const d = this.f32(dst);
    const s = this.f32(src);
    const cols = matrixShape(this.own(src).shape)[1];
    d.set(s.subarray(srcRow * cols, (srcRow + rows) * cols), dstRow * cols);
  }

  embed(out: BTensor, table: BTensor, ids: Int32Array): void {
    ref.embed(this.f32(out), this.rows(this.own(table)), ids);
  }

  async argmax(x: BTensor, count: number): Promise<number> {
    return ref.argmax(this.f32(x), count);
  }

  private own(t: BTensor): RefTensor {
    if (!(t instanceof RefTensor)) throw new Error(`tensor owned by '${t.owner}' passed to the reference backend`);
    if (t.freed) throw new Error(`tensor '${t.label}' used after free`);
    return t;
  }

  private f32(t: BTensor): Float32Array {
    const rt = this.own(t);
    if (rt.dtype !== 'f32') throw new Error(`op needs an f32 tensor, '${rt.label}' is ${rt.dtype}`);
    return rt.f32;
  }

  private vector(t: BTensor): Float32Array {
    const rt = this.own(t);
    return rt.dtype === 'f32' ? rt.f32 : ref.decodeVector(this.rows(rt));
  }

  private rows(t: RefTensor): ref.RowSource {
    const [rows, cols] = matrixShape(t.shape);
    const b = t.bytes;
    switch (t.dtype) {
      case 'f32': return ref.f32Rows(t.f32, rows, cols);
      case 'f16': return ref.f16Rows(new Uint16Array(b.buffer, b.byteOffset, b.byteLength >> 1), rows, cols);
      case 'bf16': return ref.bf16Rows(new Uint16Array(b.buffer, b.byteOffset, b.byteLength >> 1), rows, cols);
      case 'q8_0': return ref.q8Rows(b, rows, cols);
      case 'q4': return ref.q4Rows(b, rows, cols);
    }
  }
}
