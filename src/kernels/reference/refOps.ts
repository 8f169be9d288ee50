// Plain TypeScript kernels over typed arrays: the oracle every fast kernel is tested against, and the per-op fallback of
// the WASM backend (which calls these on views into its own memory). Sums accumulate in float64 so the oracle is more
// exact than any f32 kernel; results are rounded to f32 once on store. Math follows llama2.c run.c and HF Llama.

import type { AttentionOptions } from '../../core/backend';
import { encodeInto } from '../../core/merge/convert';
import { f16Lut, type FloatDType } from '../../core/tensor/dtype';
import { dequantizeQ4, q4Bytes } from '../../core/tensor/q4';

/** Decodes weight rows to f32, whatever the storage (f32, f16, bf16, q8_0 in either layout). */
export interface RowSource {
  readonly rows: number;
  readonly cols: number;
  /** dst[0..cols) = row r decoded. */
  row(r: number, dst: Float32Array): void;
}

/** The f16 table (core/tensor/dtype): makes the reference fast enough for real models. */
export { f16Lut };

export function f32Rows(data: Float32Array, rows: number, cols: number): RowSource {
  return { rows, cols, row: (r, dst) => dst.set(data.subarray(r * cols, r * cols + cols)) };
}

export function f16Rows(data: Uint16Array, rows: number, cols: number): RowSource {
  const lut = f16Lut();
  return {
    rows, cols, row: (r, dst) => {
      const base = r * cols;
      for (let j = 0; j < cols; j++) dst[j] = lut[data[base + j]!]!;
    },
  };
}

export function bf16Rows(data: Uint16Array, rows: number, cols: number): RowSource {
  const u = new Uint32Array(1);
  const f = new Float32Array(u.buffer);
  return {
    rows, cols, row: (r, dst) => {
      const base = r * cols;
      for (let j = 0; j < cols; j++) {
        u[0] = data[base + j]! << 16;
        dst[j] = f[0]!;
      }
    },
  };
}

/** GGUF block_q8_0 layout: per 32 values an f16 scale then 32 int8, 34 bytes. */
export const Q8_BLOCK = 32;
export const Q8_BLOCK_BYTES = 34;

export function q8Rows(bytes: Uint8Array, rows: number, cols: number): RowSource {
  const lut = f16Lut();
  const i8 = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rowBytes = (cols / Q8_BLOCK) * Q8_BLOCK_BYTES;
  return {
    rows, cols, row: (r, dst) => {
      let p = r * rowBytes;
      for (let b = 0; b < cols; b += Q8_BLOCK) {
        const d = lut[bytes[p]! | (bytes[p + 1]! << 8)]!;
        p += 2;
        for (let j = 0; j < Q8_BLOCK; j++) dst[b + j] = d * i8[p + j]!;
        p += Q8_BLOCK;
      }
    },
  };
}

/** q4 host blocks (core/tensor/q4.ts), row-major. */
export function q4Rows(bytes: Uint8Array, rows: number, cols: number): RowSource {
  const rowBytes = q4Bytes(cols);
  return { rows, cols, row: (r, dst) => dequantizeQ4(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), dst, cols) };
}

/** q4 repacked structure-of-arrays (the WASM layout): nibble plane [rows*cols/2] and (s, m) f32 pairs per 32 values. */
export function q4SoaRows(q: Uint8Array, sm: Float32Array, rows: number, cols: number): RowSource {
  const nb = cols / 32;
  const fr = Math.fround;
  return {
    rows, cols, row: (r, dst) => {
      for (let b = 0; b < nb; b++) {
        const s = sm[(r * nb + b) * 2]!, m = sm[(r * nb + b) * 2 + 1]!;
        const base = (r * cols + b * 32) / 2;
        for (let k = 0; k < 16; k++) {
          dst[b * 32 + k] = fr(fr(s * (q[base + k]! & 0xf)) - m);
          dst[b * 32 + 16 + k] = fr(fr(s * (q[base + k]! >> 4)) - m);
        }
      }
    },
  };
}

/** q8_0 repacked structure-of-arrays (the WASM layout): int8 plane [rows*cols] and f32 scales [rows*cols/32]. */
export function q8SoaRows(q: Int8Array, scales: Float32Array, rows: number, cols: number): RowSource {
  const nb = cols / Q8_BLOCK;
  return {
    rows, cols, row: (r, dst) => {
      for (let b = 0; b < nb; b++) {
        const d = scales[r * nb + b]!;
        const base = r * cols + b * Q8_BLOCK;
        for (let j = 0; j < Q8_BLOCK; j++) dst[b * Q8_BLOCK + j] = d * q[base + j]!;
      }
    },
  };
}

/** out[i, r] = sum_k x[i, k] * W[r, k] for i < n, r < rows (out [n, rows], x [n, cols]). */
export function matmul(out: Float32Array, w: RowSource, x: Float32Array, n: number): void {
  const { rows, cols } = w;
  const wr = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    w.row(r, wr);
    for (let i = 0; i < n; i++) {
      let s = 0;
      const xo = i * cols;
      for (let k = 0; k < cols; k++) s += wr[k]! * x[xo + k]!;
      out[i * rows + r] = s;
    }
  }
}

/** out[n, rows] += scale * (x @ A^T) @ B^T, with tmp [n, r] receiving x @ A^T. */
export function loraApply(out: Float32Array, a: RowSource, b: RowSource, x: Float32Array, n: number, scale: number, tmp: Float32Array): void {
  const r = a.rows;
  matmul(tmp, a, x, n);
  const br = new Float32Array(r);
  for (let row = 0; row < b.rows; row++) {
    b.row(row, br);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += br[k]! * tmp[i * r + k]!;
      out[i * b.rows + row] = out[i * b.rows + row]! + scale * s;
    }
  }
}

/** W[rows, cols] += scale * B[rows, r] @ A[r, cols], in place on f32 W. */
export function loraDelta(w: Float32Array, b: RowSource, a: RowSource, scale: number): void {
  const rows = b.rows;
  const r = b.cols;
  const cols = a.cols;
  const aAll = new Float32Array(r * cols);
  const tmp = new Float32Array(cols);
  for (let k = 0; k < r; k++) {
    a.row(k, tmp);
    aAll.set(tmp, k * cols);
  }
  const br = new Float32Array(r);
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    b.row(i, br);
    acc.fill(0);
    for (let k = 0; k < r; k++) {
      const bk = br[k]!;
      const ao = k * cols;
      for (let j = 0; j < cols; j++) acc[j] = acc[j]! + bk * aAll[ao + j]!;
    }
    const wo = i * cols;
    for (let j = 0; j < cols; j++) w[wo + j] = w[wo + j]! + scale * acc[j]!;
  }
}

/** HF LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * weight, row by row. */
export function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, n: number, eps: number): void {
  const d = weight.length;
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[i * d + j]! * x[i * d + j]!;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j]! * inv * weight[j]!;
  }
}

/**
 * HF rotate_half RoPE in place: for each head, pairs (j, j + half) rotate by angle pos * invFreq[j], half =
 * invFreq.length (headDim/2, or less with partial_rotary_factor: the dims past 2*half pass through).
 * The angle is formed in f32 as transformers does (`inv_freq.float() @ position_ids.float()`).
 */
export function rope(x: Float32Array, n: number, heads: number, headDim: number, pos0: number, invFreq: Float32Array, attentionFactor: number): void {
  const half = invFreq.length;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let i = 0; i < n; i++) {
    const pos = pos0 + i;
    for (let j = 0; j < half; j++) {
      const ang = Math.fround(pos * invFreq[j]!);
      cos[j] = Math.cos(ang) * attentionFactor;
      sin[j] = Math.sin(ang) * attentionFactor;
    }
    for (let h = 0; h < heads; h++) {
      const o = i * heads * headDim + h * headDim;
      for (let j = 0; j < half; j++) {
        const x1 = x[o + j]!;
        const x2 = x[o + j + half]!;
        x[o + j] = x1 * cos[j]! - x2 * sin[j]!;
        x[o + j + half] = x2 * cos[j]! + x1 * sin[j]!;
      }
    }
  }
}

/** Numerically stable softmax of each row of x[n, cols], in place. */
export function softmax(x: Float32Array, n: number, cols: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]!);
    let s = 0;
    const e = new Float64Array(cols);
    for (let j = 0; j < cols; j++) {
      e[j] = Math.exp(x[o + j]! - m);
      s += e[j]!;
    }
    for (let j = 0; j < cols; j++) x[o + j] = e[j]! / s;
  }
}

/** out = silu(gate) * up over count values. */
export function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

/** out = gelu_tanh(gate) * up over count values (torch gelu(approximate='tanh')). */
export function geglu(out: Float32Array, gate: Float32Array, up: Float32Array, count: number): void {
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < count; i++) {
    const g = gate[i]!;
    out[i] = 0.5 * g * (1 + Math.tanh(c * (g + 0.044715 * g * g * g))) * up[i]!;
  }
}

export function add(out: Float32Array, a: Float32Array, b: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) out[i] = a[i]! + b[i]!;
}

export function mulRows(x: Float32Array, v: Float32Array, n: number): void {
  const d = v.length;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = x[i * d + j]! * v[j]!;
}

export function addBias(x: Float32Array, bias: Float32Array, n: number): void {
  const d = bias.length;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = x[i * d + j]! + bias[j]!;
}

/**
 * Causal attention with GQA over an f32 KV cache (see Backend.attention). Query row i sits at position pos0 + i and
 * attends to cache rows t0..pos0+i, t0 = 0 or the start of its sliding window; scores are scaled, then soft-capped.
 */
export function attention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, n: number, pos0: number,
  nHeads: number, nKvHeads: number, headDim: number, options: AttentionOptions = {}): void {
  const group = nHeads / nKvHeads;
  const qStride = nHeads * headDim;
  const kvStride = nKvHeads * headDim;
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const cap = options.softcap ?? 0;
  const scores = new Float64Array(pos0 + n);
  for (let i = 0; i < n; i++) {
    const len = pos0 + i + 1;
    const t0 = options.window ? Math.max(0, len - options.window) : 0;
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      const qo = i * qStride + h * headDim;
      let m = -Infinity;
      for (let t = t0; t < len; t++) {
        const ko = t * kvStride + kvh * headDim;
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[qo + d]! * k[ko + d]!;
        s *= scale;
        if (cap > 0) s = cap * Math.tanh(s / cap);
        scores[t] = s;
        if (s > m) m = s;
      }
      let sum = 0;
      for (let t = t0; t < len; t++) {
        scores[t] = Math.exp(scores[t]! - m);
        sum += scores[t]!;
      }
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let t = t0; t < len; t++) acc += scores[t]! * v[t * kvStride + kvh * headDim + d]!;
        out[qo + d] = acc / sum;
      }
    }
  }
}

/** out[i, :] = table row ids[i]. */
export function embed(out: Float32Array, table: RowSource, ids: Int32Array): void {
  const row = new Float32Array(table.cols);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= table.rows) throw new RangeError(`token id ${id} is outside the embedding table (${table.rows} rows)`);
    table.row(id, row);
    out.set(row, i * table.cols);
  }
}

/** Index of the largest value (lowest index on ties; NaN never wins). */
export function argmax(x: Float32Array, count: number): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < count; i++) {
    if (x[i]! > bv) {
      bv = x[i]!;
      best = i;
    }
  }
  return best;
}

/** Decodes a whole 1-D weight vector (norm weights, biases) to f32. */
export function decodeVector(src: RowSource): Float32Array {
  const out = new Float32Array(src.rows * src.cols);
  const tmp = new Float32Array(src.cols);
  for (let r = 0; r < src.rows; r++) {
    src.row(r, tmp);
    out.set(tmp, r * src.cols);
  }
  return out;
}

/**
 * The merge's fused step (Backend.loraMerge) on host memory: widen, loraDelta (or nothing when b/a are null), one round
 * to nearest even into `out` (raw little-endian `outDtype`). Returns the first non-finite output's index, or -1.
 */
export function loraMerge(out: Uint8Array, outDtype: FloatDType, w: RowSource, b: RowSource | null, a: RowSource | null, scale: number): number {
  const f = decodeVector(w);
  if (b && a) loraDelta(f, b, a, scale);
  return encodeInto(f, f.length, outDtype, out);
}
