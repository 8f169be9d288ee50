// The Backend interface: tensors live in a backend's memory, ops are enqueued synchronously and results read back
// asynchronously (WebGPU needs the await; WASM and the reference complete immediately). Granularity follows llama2.c
// run.c and ggml's backend table: optional ops are reported by `supports` and fall back to the reference backend.
// Implementations: src/kernels/{reference,wasm,webgpu}. merge/ and model/ depend on this file only.

/** GGUF block types a backend may quantize for the export (Backend.quantizeGgml). */
export type GgmlQuantType = 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q8_0';

/**
 * Storage formats of weights. Activations are always f32. q4: 4-bit values with a scale and a min per 32 (GGUF Q4_0 and
 * Q4_K as loaded, core/tensor/q4.ts); a backend that has no kernels for it says so through supports('matmul', 'q4').
 */
export type WeightDType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4';

export type OpName =
  | 'matmul'
  | 'loraApply'
  | 'loraDelta'
  | 'rmsnorm'
  | 'rope'
  | 'softmax'
  | 'swiglu'
  | 'geglu'
  | 'add'
  | 'mulRows'
  | 'addBias'
  | 'attention'
  | 'copyRows'
  | 'embed'
  | 'argmax';

/** A backend-owned buffer. Row-major; shapes are logical (q8_0 [rows, cols] with cols % 32 == 0). */
export interface BTensor {
  readonly dtype: WeightDType;
  readonly shape: readonly number[];
  /** Name of the backend that owns it; passing a tensor to another backend is an error. */
  readonly owner: string;
}

/** Attention variations beyond Llama's (Gemma 2/3); every field is optional and defaults to Llama's behaviour. */
export interface AttentionOptions {
  /** Multiplies q·k (default 1/sqrt(headDim); Gemma: query_pre_attn_scalar^-0.5). */
  readonly scale?: number;
  /** attn_logit_softcapping: scores become cap * tanh(scores / cap) before the causal mask (Gemma 2). */
  readonly softcap?: number;
  /** Sliding window: the query at position p sees keys p - window + 1 .. p only (Gemma's local layers). */
  readonly window?: number;
}

/** Capabilities reported by engine/probe. */
export interface BackendInfo {
  readonly name: 'reference' | 'wasm' | 'webgpu';
  readonly threads: number;
  readonly detail: string;
}

/** What a model load will allocate, known before any weight is read: its weight tensors and everything else. */
export interface ModelPlan {
  readonly tensors: ReadonlyArray<{ readonly name: string; readonly dtype: WeightDType; readonly shape: readonly number[] }>;
  /** Bytes beyond the weights (KV cache). */
  readonly extraBytes: number;
}

export interface Backend {
  readonly info: BackendInfo;
  supports(op: OpName, dtype?: WeightDType): boolean;
  /** Optional: throws (naming the tensor or the total) when the model cannot fit on this backend; called before loading. */
  checkModelFits?(plan: ModelPlan): void;

  /**
   * Zero-filled tensor; with `fill: 'none'` its contents are unspecified (the caller overwrites every byte, e.g. a file
   * read straight into it), which spares a pass over reused memory. `use: 'weight'` marks a matrix that only matmul,
   * loraApply and embed read: the backend may store it in whatever layout its kernels stream fastest (write, read and
   * hostView still speak row-major; hostView may then be null).
   */
  alloc(dtype: WeightDType, shape: readonly number[], label?: string, fill?: 'zero' | 'none', use?: 'weight'): BTensor;
  /**
   * Copy raw little-endian bytes in the tensor's storage format into it, starting at `byteOffset`.
   * q8_0 bytes are GGUF block_q8_0 (f16 scale + 32 int8) per 32 values, q4 bytes the 24-byte host blocks of
   * core/tensor/q4.ts; a backend may repack either internally.
   */
  write(t: BTensor, bytes: Uint8Array, byteOffset?: number): void;
  /**
   * A writable view onto the tensor's storage when the backend keeps it in host memory in the given layout, so a file
   * can be read straight into it (no intermediate copy). null when the backend cannot offer one (WebGPU, repacked q8_0).
   */
  hostView(t: BTensor): Uint8Array | null;
  /**
   * Optional quantize-on-load (machines short of RAM): quantize `bytes` (little-endian `srcDtype` values) into a q8_0
   * tensor starting at value `valueOffset` (a multiple of 32), inside the backend. Without it: core/tensor/q8_0.ts
   * quantizeQ8_0 then write(). Scales may be kept at higher precision than GGUF's f16.
   */
  writeQuantized?(t: BTensor, bytes: Uint8Array, srcDtype: 'f32' | 'f16' | 'bf16', valueOffset?: number): void;
  /**
   * Optional, the GGUF export's quantizer: `values` (row-major f32) in `type`'s GGUF block layout, byte-identical to the
   * reference quantizers in core/gguf (kquants.ts). null when this backend cannot do it (type, length, memory): the
   * caller then runs the reference.
   */
  quantizeGgml?(type: GgmlQuantType, values: Float32Array): Uint8Array | null;
  /**
   * Optional, the same from a row-major f32/f16/bf16 tensor already in this backend (a merged weight), with no f32 copy
   * on the host: output row i holds t's row rowOrder[i] (null: in order; the export's q/k permutation). null when this
   * backend cannot do it here: the caller then reads the values and uses quantizeGgml or the reference.
   */
  quantizeGgmlTensor?(type: GgmlQuantType, t: BTensor, rowOrder: Int32Array | null): Uint8Array | null;
  /** Read an f32 tensor back. */
  read(t: BTensor): Promise<Float32Array>;
  free(t: BTensor): void;
  /** Release everything (worker threads, GPU device). */
  dispose(): void;
  /**
   * Optional placement hint (WASM, models over 4 GiB): the next allocations, totalling about `bytes`, belong together
   * (one decoder layer) and should share one memory. Backends with a single address space ignore it.
   */
  beginGroup?(bytes: number): void;

  /** out[n, rows] = x[n, cols] @ W[rows, cols]^T  (matvec when n == 1). */
  matmul(out: BTensor, w: BTensor, x: BTensor, n: number): void;
  /**
   * out[n, rows] += scale * (x[n, cols] @ A[r, cols]^T) @ B[rows, r]^T. `tmp` is f32 [n, r] scratch.
   * Inference-time LoRA: y = W x + s * B (A x), weights never merged.
   */
  loraApply(out: BTensor, a: BTensor, b: BTensor, x: BTensor, n: number, scale: number, tmp: BTensor): void;
  /** In place, f32: W[rows, cols] += scale * B[rows, r] @ A[r, cols]. The merge kernel. */
  loraDelta(w: BTensor, b: BTensor, a: BTensor, scale: number): void;
  /**
   * Optional, the merge's fused step over whole tensors (f32/f16/bf16, same [rows, cols]):
   * out = round_to(out.dtype, widen(w) + scale * B @ A) — widen, loraDelta's arithmetic, one round to nearest even —
   * or a plain dtype conversion when b and a are null. Returns the flat index of the first non-finite output, or -1.
   * Without it the merge widens, calls loraDelta and rounds on the host.
   */
  loraMerge?(out: BTensor, w: BTensor, b: BTensor | null, a: BTensor | null, scale: number): number;
  /**
   * Optional: XXH32 stripe rounds (the merge's content hash) over `data` (a multiple of 16 bytes) when it lies in this
   * backend's memory; `state` holds the accumulators v1..v4 and is updated. Returns false when the data is elsewhere.
   */
  xxh32Stripes?(state: Int32Array, data: Uint8Array): boolean;
  /** out[i, :] = x[i, :] / sqrt(mean(x[i, :]^2) + eps) * weight, for n rows. */
  rmsnorm(out: BTensor, x: BTensor, weight: BTensor, n: number, eps: number): void;
  /**
   * In place HF rotate_half RoPE on x[n, heads * headDim] for positions pos0..pos0+n-1.
   * invFreq is f32 [rotaryDim / 2] (rope_scaling already applied); only the first rotaryDim dims of each head rotate
   * (partial_rotary_factor), pairs (j, j + rotaryDim/2). attentionFactor scales cos/sin (longrope/yarn, 1 if none).
   */
  rope(x: BTensor, n: number, heads: number, headDim: number, pos0: number, invFreq: BTensor, attentionFactor: number): void;
  /** In place row softmax over x[n, cols]. */
  softmax(x: BTensor, n: number): void;
  /** out[n, hidden] = silu(gate) * up. */
  swiglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void;
  /** out[n, hidden] = gelu_tanh(gate) * up (GeGLU, Gemma's gelu_pytorch_tanh). */
  geglu(out: BTensor, gate: BTensor, up: BTensor, n: number): void;
  /** out = a + b, elementwise over the first `count` values (out may alias a). */
  add(out: BTensor, a: BTensor, b: BTensor, count: number): void;
  /** x[i, j] *= v[j] for n rows (DoRA's per-output-row magnitude scale). */
  mulRows(x: BTensor, v: BTensor, n: number): void;
  /** x[i, j] += bias[j] for n rows. */
  addBias(x: BTensor, bias: BTensor, n: number): void;
  /**
   * Causal attention for n new query rows at positions pos0..pos0+n-1 over a KV cache holding positions 0..pos0+n-1.
   * q [n, nHeads*headDim], kCache/vCache [maxSeq, nKvHeads*headDim] (already holding the new rows), out like q.
   * GQA: query head h reads kv head floor(h / (nHeads / nKvHeads)). Scores scaled by 1/sqrt(headDim) unless `options`
   * says otherwise (scale, softcap, sliding window).
   */
  attention(out: BTensor, q: BTensor, kCache: BTensor, vCache: BTensor, n: number, pos0: number,
    nHeads: number, nKvHeads: number, headDim: number, options?: AttentionOptions): void;
  /** dst[dstRow .. dstRow+rows, :] = src[srcRow .. srcRow+rows, :] (same row width, f32). */
  copyRows(dst: BTensor, dstRow: number, src: BTensor, srcRow: number, rows: number): void;
  /** out[i, :] = table[ids[i], :] decoded to f32. */
  embed(out: BTensor, table: BTensor, ids: Int32Array): void;
  /** Index of the largest of the first `count` values of an f32 tensor (lowest index on ties). */
  argmax(x: BTensor, count: number): Promise<number>;
}
