// LlamaForCausalLM forward pass written against the Backend interface: RMSNorm -> attention (RoPE, GQA, KV cache) ->
// residual -> RMSNorm -> SwiGLU MLP -> residual, then the final norm and lm_head. Batched prefill, then one token at
// a time. LoRA adapters are applied on the fly inside `linear`. Reads like llama2.c run.c / candle llama.rs;
// semantics from transformers modeling_llama.py.

import type { Backend, BTensor, WeightDType } from '../../backend';
import { CoreError, throwIfAborted } from '../../errors';
import type { FsPort, ProgressFn } from '../../ports';
import type { ModelWeights, WeightTensor } from '../../safetensors/modelWeights';
import { computeInvFreq } from '../../tensor/rope';
import { TensorLoader } from '../tensorLoader';
import { doraRowScale, type LoadedAdapter } from './adapters';
import type { LlamaConfig } from './config';

/** A linear layer y = x W^T (+ b), named by its module path so adapters can find it. */
export interface Linear {
  readonly name: string;
  /** (outDim, inDim) in its stored format */
  readonly w: BTensor;
  /** (outDim) f32, or null */
  readonly bias: BTensor | null;
  readonly outDim: number;
  readonly inDim: number;
}

interface Layer {
  /** (dim) f32 */
  readonly attnNorm: BTensor;
  readonly q: Linear; // (nHeads*headDim, dim)
  readonly k: Linear; // (nKvHeads*headDim, dim)
  readonly v: Linear; // (nKvHeads*headDim, dim)
  readonly o: Linear; // (dim, nHeads*headDim)
  /** (dim) f32 */
  readonly mlpNorm: BTensor;
  readonly gate: Linear; // (hidden, dim)
  readonly up: Linear; // (hidden, dim)
  readonly down: Linear; // (dim, hidden)
}

/** One adapter's contribution to one module at its current scale. */
interface ActiveTerm {
  readonly a: BTensor; // (r, in)
  readonly b: BTensor; // (out, r)
  readonly scale: number;
  /** DoRA: g = m / ||W + sBA|| (out) and h = 1 - 1/g (out), both f32. */
  readonly dora: { readonly g: BTensor; readonly h: BTensor } | null;
  /** lora_bias scaled by s: (out) f32 */
  readonly bias: BTensor | null;
}

export interface AdapterBinding {
  readonly adapter: LoadedAdapter;
  /** Multiplies the adapter's own scaling. */
  readonly scale: number;
}

export interface LoadOptions {
  /** Quantize matmul weights to q8_0 while loading. */
  readonly quantize?: 'q8_0' | null;
  /** KV cache length (positions); default min(max_position_embeddings, 4096). */
  readonly contextLength?: number;
  /** Tokens per prefill batch (default 64). */
  readonly prefillBatch?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressFn;
}

export class LlamaModel {
  /** (vocab, dim) stored format */
  private embedTokens!: BTensor;
  /** (dim) f32 */
  private finalNorm!: BTensor;
  private lmHead!: Linear;
  private readonly layers: Layer[] = [];
  /** Per layer (ctx, nKvHeads*headDim) f32 */
  private readonly kCache: BTensor[] = [];
  private readonly vCache: BTensor[] = [];
  /** (headDim/2) f32 */
  private invFreq!: BTensor;
  private ropeLen: number;
  private attentionFactor = 1;
  /** Effective weights under the active adapters (modules_to_save replace base tensors). */
  private view!: { embed: BTensor; norm: BTensor; lmHead: Linear; layers: Layer[] };
  private active = new Map<string, ActiveTerm[]>();
  private activeEmbedding: Array<{ aT: Float32Array; b: BTensor; r: number; scale: number }> = [];
  private activeTensors: BTensor[] = [];
  private bindings: readonly AdapterBinding[] = [];
  private scratch: Map<string, BTensor> = new Map();
  private scratchCap = 0;
  private readonly exactBufs = new Map<string, BTensor>();
  readonly contextLength: number;
  readonly prefillBatch: number;
  readonly weightDType: WeightDType;
  weightBytes = 0;

  private constructor(readonly backend: Backend, readonly config: LlamaConfig, readonly weights: ModelWeights,
    private readonly fs: FsPort, options: LoadOptions) {
    this.contextLength = Math.max(1, options.contextLength ?? Math.min(4096, defaultContext(config)));
    this.prefillBatch = Math.max(1, options.prefillBatch ?? 64);
    this.ropeLen = config.maxPositionEmbeddings;
    const stored = weights.tensors.get('model.embed_tokens.weight')?.dtype;
    this.weightDType = options.quantize === 'q8_0' ? 'q8_0' : stored === 'F16' ? 'f16' : stored === 'BF16' ? 'bf16' : 'f32';
  }

  /** Load config + weights into the backend. */
  static async load(fs: FsPort, backend: Backend, config: LlamaConfig, weights: ModelWeights, options: LoadOptions = {}): Promise<LlamaModel> {
    const m = new LlamaModel(backend, config, weights, fs, options);
    await m.loadWeights(options);
    return m;
  }

  private tensor(name: string): WeightTensor {
    const t = this.weights.tensors.get(name);
    if (!t) throw new CoreError('bad-format', `${this.weights.folder}: weight '${name}' is missing.`, this.weights.folder);
    return t;
  }

  private async loadWeights(options: LoadOptions): Promise<void> {
    const c = this.config;
    if (c.partialRotaryFactor !== 1) throw new CoreError('unsupported', 'partial_rotary_factor other than 1 is not supported.');
    const loader = new TensorLoader(this.fs, this.backend, options.signal);
    const total = this.weights.totalBytes;
    const progress = (): void => options.onProgress?.('load-weights', loader.bytesRead, total);
    const q = options.quantize === 'q8_0' ? 'q8_0' as const : undefined;
    const linear = async (name: string, outDim: number, inDim: number): Promise<Linear> => {
      const wt = this.tensor(`${name}.weight`);
      if (wt.shape.length !== 2 || wt.shape[0] !== outDim || wt.shape[1] !== inDim) {
        throw new CoreError('bad-format', `${wt.file}: '${name}.weight' has shape [${wt.shape}], config.json implies [${outDim}, ${inDim}].`, wt.file);
      }
      const w = await loader.load(wt, q && inDim % 32 === 0 ? q : undefined);
      const bt = this.weights.tensors.get(`${name}.bias`);
      const bias = bt ? await loader.load(bt, 'f32') : null;
      progress();
      return { name, w, bias, outDim, inDim };
    };
    const vector = async (name: string): Promise<BTensor> => loader.load(this.tensor(name), 'f32');
    try {
      const dim = c.hiddenSize;
      const qDim = c.numHeads * c.headDim;
      const kvDim = c.numKvHeads * c.headDim;
      const emb = this.tensor('model.embed_tokens.weight');
      if (emb.shape[1] !== dim) throw new CoreError('bad-format', `${emb.file}: embed_tokens has ${emb.shape[1]} columns, hidden_size is ${dim}.`, emb.file);
      this.embedTokens = await loader.load(emb, q && dim % 32 === 0 ? q : undefined);
      progress();
      for (let l = 0; l < c.numLayers; l++) {
        throwIfAborted(options.signal);
        const p = `model.layers.${l}`;
        this.backend.beginGroup?.(this.layerBytes(p, q !== undefined, kvDim));
        this.layers.push({
          attnNorm: await vector(`${p}.input_layernorm.weight`),
          q: await linear(`${p}.self_attn.q_proj`, qDim, dim),
          k: await linear(`${p}.self_attn.k_proj`, kvDim, dim),
          v: await linear(`${p}.self_attn.v_proj`, kvDim, dim),
          o: await linear(`${p}.self_attn.o_proj`, dim, qDim),
          mlpNorm: await vector(`${p}.post_attention_layernorm.weight`),
          gate: await linear(`${p}.mlp.gate_proj`, c.intermediateSize, dim),
          up: await linear(`${p}.mlp.up_proj`, c.intermediateSize, dim),
          down: await linear(`${p}.mlp.down_proj`, dim, c.intermediateSize),
        });
        this.kCache.push(this.backend.alloc('f32', [this.contextLength, kvDim], `k_cache.${l}`));
        this.vCache.push(this.backend.alloc('f32', [this.contextLength, kvDim], `v_cache.${l}`));
      }
      this.finalNorm = await vector('model.norm.weight');
      const vocab = emb.shape[0]!;
      if (this.weights.tensors.has('lm_head.weight') && !c.tieWordEmbeddings) this.lmHead = await linear('lm_head', vocab, dim);
      else this.lmHead = { name: 'lm_head', w: this.embedTokens, bias: null, outDim: vocab, inDim: dim };
      this.weightBytes = loader.bytesRead;
    } finally {
      await loader.close();
    }
    this.setRope(this.config.maxPositionEmbeddings);
    this.view = { embed: this.embedTokens, norm: this.finalNorm, lmHead: this.lmHead, layers: this.layers };
  }

  /** Bytes one decoder layer will occupy in the backend (weights as stored or as q8_0, plus its KV cache). */
  private layerBytes(prefix: string, q8: boolean, kvDim: number): number {
    let total = 2 * this.contextLength * kvDim * 4;
    for (const [name, t] of this.weights.tensors) {
      if (!name.startsWith(prefix + '.')) continue;
      const count = t.shape.reduce((a, b) => a * b, 1);
      const cols = t.shape[t.shape.length - 1] ?? 1;
      const isMatrix = t.shape.length === 2 && name.endsWith('.weight');
      total += !isMatrix ? count * 4 : q8 && cols % 32 === 0 ? (count / 32) * 34 : t.end - t.begin;
    }
    return total;
  }

  /** Vocabulary size of the logits under the active adapters (a resized lm_head changes it). */
  get vocabSize(): number {
    return this.view.lmHead.outDim;
  }

  /** (Re)compute inverse frequencies for sequences up to `len` (only dynamic NTK depends on it). */
  private setRope(len: number): void {
    const c = this.config;
    let rf;
    try {
      rf = computeInvFreq({ headDim: c.headDim, ropeTheta: c.ropeTheta, maxPositionEmbeddings: c.maxPositionEmbeddings, ropeScaling: c.ropeScaling }, len);
    } catch (e) {
      throw new CoreError('unsupported', `config.json: ${(e as Error).message}.`);
    }
    if (this.invFreq) this.backend.free(this.invFreq);
    this.invFreq = this.backend.alloc('f32', [rf.invFreq.length], 'rope.inv_freq');
    this.backend.write(this.invFreq, new Uint8Array(rf.invFreq.buffer, rf.invFreq.byteOffset, rf.invFreq.byteLength));
    this.attentionFactor = rf.attentionFactor;
    this.ropeLen = len;
  }

  /**
   * Dynamic NTK grows the RoPE base once the sequence passes max_position_embeddings and resets it for short ones,
   * exactly when transformers' dynamic_rope_update does (keys already cached keep their rotation, as there).
   */
  private updateDynamicRope(seqLen: number): void {
    const s = this.config.ropeScaling;
    if (!s || (s.rope_type ?? s.type) !== 'dynamic') return;
    const orig = this.config.maxPositionEmbeddings;
    if (seqLen > this.ropeLen) this.setRope(seqLen);
    else if (seqLen < orig && this.ropeLen > orig) this.setRope(orig);
  }

  /**
   * Attach adapters with their scales, replacing the previous set. Only small per-adapter tensors change; the base
   * weights are never touched or reloaded. Scale 0 detaches an adapter (for DoRA too, unlike PEFT's set_scale).
   */
  async setAdapters(bindings: readonly AdapterBinding[]): Promise<void> {
    for (const t of this.activeTensors) this.backend.free(t);
    this.activeTensors = [];
    this.active = new Map();
    this.activeEmbedding = [];
    const overrides = new Map<string, BTensor>();
    const live = bindings.filter((b) => b.scale !== 0);
    const upload = (values: Float32Array, label: string): BTensor => {
      const t = this.backend.alloc('f32', [values.length], label);
      this.backend.write(t, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      this.activeTensors.push(t);
      return t;
    };
    const loader = new TensorLoader(this.fs, this.backend);
    try {
      for (const { adapter, scale } of live) {
        for (const [name, m] of adapter.modules) {
          const s = m.scaling * scale;
          let dora: ActiveTerm['dora'] = null;
          if (m.dora) {
            const g = doraRowScale(await loader.readF32(this.tensor(`${name}.weight`)), m, s);
            const h = g.map((x) => 1 - 1 / x);
            dora = { g: upload(g, `${name}.dora_g`), h: upload(h, `${name}.dora_h`) };
          }
          const bias = m.loraBias ? upload(m.loraBias.map((x) => x * s), `${name}.lora_bias`) : null;
          const list = this.active.get(name) ?? [];
          list.push({ a: m.a, b: m.b, scale: s, dora, bias });
          this.active.set(name, list);
        }
        if (adapter.embedding) this.activeEmbedding.push({ ...adapter.embedding, scale: adapter.embedding.scaling * scale });
        for (const [name, t] of adapter.overrides) overrides.set(name, t);
      }
    } finally {
      await loader.close();
    }
    this.bindings = live;
    const pick = (name: string, base: BTensor): BTensor => overrides.get(name) ?? base;
    const lin = (l: Linear): Linear => {
      const w = overrides.get(`${l.name}.weight`);
      const bias = overrides.get(`${l.name}.bias`);
      return w || bias ? { ...l, w: w ?? l.w, bias: bias ?? l.bias, outDim: w ? w.shape[0]! : l.outDim } : l;
    };
    const embed = pick('model.embed_tokens.weight', this.embedTokens);
    const lmHeadW = overrides.get('lm_head.weight');
    this.view = {
      embed,
      norm: pick('model.norm.weight', this.finalNorm),
      lmHead: lmHeadW ? { ...this.lmHead, w: lmHeadW, outDim: lmHeadW.shape[0]! } : this.lmHead,
      layers: this.layers.map((L, l) => {
        const p = `model.layers.${l}`;
        return {
          attnNorm: pick(`${p}.input_layernorm.weight`, L.attnNorm), q: lin(L.q), k: lin(L.k), v: lin(L.v), o: lin(L.o),
          mlpNorm: pick(`${p}.post_attention_layernorm.weight`, L.mlpNorm), gate: lin(L.gate), up: lin(L.up), down: lin(L.down),
        };
      }),
    };
  }

  get adapters(): readonly AdapterBinding[] {
    return this.bindings;
  }

  /** Scratch activations for up to `n` rows, allocated once per capacity. */
  private buf(key: string, width: number, n: number): BTensor {
    if (n > this.scratchCap) {
      for (const t of this.scratch.values()) this.backend.free(t);
      this.scratch.clear();
      this.scratchCap = n;
    }
    const k = `${key}:${width}`;
    let t = this.scratch.get(k);
    if (!t) {
      t = this.backend.alloc('f32', [this.scratchCap, width], k);
      this.scratch.set(k, t);
    }
    return t;
  }

  /** An f32 buffer of exactly `shape` (read back whole, so no spare rows), kept while the shape repeats. */
  private exact(key: string, shape: readonly number[]): BTensor {
    const k = `${key}:${shape.join('x')}`;
    let t = this.exactBufs.get(key);
    if (t && t.shape.join('x') === shape.join('x')) return t;
    if (t) this.backend.free(t);
    t = this.backend.alloc('f32', shape, k);
    this.exactBufs.set(key, t);
    return t;
  }

  /** out (n, outDim) = x (n, inDim) W^T + adapters + bias. */
  private linear(out: BTensor, l: Linear, x: BTensor, n: number): void {
    const b = this.backend;
    b.matmul(out, l.w, x, n);
    const terms = this.active.get(l.name);
    if (terms) {
      // DoRA terms need W x alone, before any other adapter adds to it.
      const base = terms.some((t) => t.dora) ? this.buf('dora_base', l.outDim, n) : null;
      if (base) b.copyRows(base, 0, out, 0, n);
      for (const t of terms) {
        const tmp = this.buf('lora_tmp', t.a.shape[0]!, n);
        if (!t.dora) b.loraApply(out, t.a, t.b, x, n, t.scale, tmp);
        else {
          // PEFT DoRA: out += (g - 1) * Wx + g * s B(Ax) = g * ((1 - 1/g) * Wx + s B(Ax)).
          const u = this.buf('dora_u', l.outDim, n);
          b.copyRows(u, 0, base!, 0, n);
          b.mulRows(u, t.dora.h, n);
          b.loraApply(u, t.a, t.b, x, n, t.scale, tmp);
          b.mulRows(u, t.dora.g, n);
          b.add(out, out, u, n * l.outDim);
        }
        if (t.bias) b.addBias(out, t.bias, n);
      }
    }
    if (l.bias) b.addBias(out, l.bias, n);
  }

  /**
   * Run `ids` at positions pos0.. through the model, filling the KV cache. Returns logits (vocab) of the last position,
   * or of every position (n, vocab) when `allLogits`.
   */
  async forward(ids: readonly number[], pos0: number, options: { allLogits?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new CoreError('usage', 'forward needs at least one token.');
    if (pos0 + ids.length > this.contextLength) {
      throw new CoreError('usage', `the sequence (${pos0 + ids.length} tokens) exceeds the context of ${this.contextLength}.`);
    }
    const vocab = this.vocabSize;
    if (ids.length <= this.prefillBatch) {
      // One chunk (every decode step): its read-back (a fresh array) is already the answer, no second copy.
      throwIfAborted(options.signal);
      return (await this.forwardChunk(ids, pos0, true, options.allLogits === true))!;
    }
    const out = new Float32Array(options.allLogits ? ids.length * vocab : vocab);
    for (let start = 0; start < ids.length; start += this.prefillBatch) {
      throwIfAborted(options.signal);
      const chunk = ids.slice(start, start + this.prefillBatch);
      const logits = await this.forwardChunk(chunk, pos0 + start, options.allLogits === true || start + chunk.length === ids.length, options.allLogits === true);
      if (logits && options.allLogits) out.set(logits, start * vocab);
      else if (logits) out.set(logits.subarray(logits.length - vocab));
    }
    return out;
  }

  private async forwardChunk(ids: readonly number[], pos0: number, wantLogits: boolean, allRows: boolean): Promise<Float32Array | null> {
    const b = this.backend;
    const c = this.config;
    const n = ids.length;
    const dim = c.hiddenSize;
    const hd = c.headDim;
    const qDim = c.numHeads * hd;
    const kvDim = c.numKvHeads * hd;
    const ff = c.intermediateSize;
    const W = this.view;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= W.embed.shape[0]!) throw new CoreError('usage', `token id ${id} is outside the vocabulary (${W.embed.shape[0]}).`);
    }
    this.updateDynamicRope(pos0 + n);

    const x = this.buf('x', dim, n); // (n, dim) residual stream
    const xb = this.buf('xb', dim, n); // (n, dim) normed input / attention output
    const q = this.buf('q', qDim, n); // (n, nHeads*hd)
    const k = this.buf('k', kvDim, n); // (n, nKv*hd)
    const v = this.buf('v', kvDim, n); // (n, nKv*hd)
    const att = this.buf('att', qDim, n); // (n, nHeads*hd)
    const gate = this.buf('gate', ff, n); // (n, ff)
    const up = this.buf('up', ff, n); // (n, ff)

    b.embed(x, W.embed, Int32Array.from(ids));
    for (const e of this.activeEmbedding) {
      // Embedding LoRA: x += (s * A[:, ids]^T) B^T, the A columns gathered on the host.
      const g = new Float32Array(n * e.r);
      ids.forEach((id, i) => {
        for (let j = 0; j < e.r; j++) g[i * e.r + j] = e.scale * e.aT[id * e.r + j]!;
      });
      const ga = this.buf('emb_lora_a', e.r, n);
      b.write(ga, new Uint8Array(g.buffer));
      b.matmul(xb, e.b, ga, n);
      b.add(x, x, xb, n * dim);
    }

    for (let l = 0; l < c.numLayers; l++) {
      const L = W.layers[l]!;
      // Attention block.
      b.rmsnorm(xb, x, L.attnNorm, n, c.rmsNormEps);
      this.linear(q, L.q, xb, n);
      this.linear(k, L.k, xb, n);
      this.linear(v, L.v, xb, n);
      b.rope(q, n, c.numHeads, hd, pos0, this.invFreq, this.attentionFactor);
      b.rope(k, n, c.numKvHeads, hd, pos0, this.invFreq, this.attentionFactor);
      b.copyRows(this.kCache[l]!, pos0, k, 0, n);
      b.copyRows(this.vCache[l]!, pos0, v, 0, n);
      b.attention(att, q, this.kCache[l]!, this.vCache[l]!, n, pos0, c.numHeads, c.numKvHeads, hd);
      this.linear(xb, L.o, att, n);
      b.add(x, x, xb, n * dim);
      // MLP block: down(silu(gate(x)) * up(x)).
      b.rmsnorm(xb, x, L.mlpNorm, n, c.rmsNormEps);
      this.linear(gate, L.gate, xb, n);
      this.linear(up, L.up, xb, n);
      b.swiglu(gate, gate, up, n);
      this.linear(xb, L.down, gate, n);
      b.add(x, x, xb, n * dim);
    }
    if (!wantLogits) return null;

    const rows = allRows ? n : 1;
    let h = x;
    if (!allRows && n > 1) {
      h = this.buf('last', dim, 1);
      b.copyRows(h, 0, x, n - 1, 1);
    }
    const xn = this.buf('final', dim, rows); // (rows, dim)
    b.rmsnorm(xn, h, W.norm, rows, c.rmsNormEps);
    const logits = this.exact('logits', [rows, W.lmHead.outDim]); // (rows, vocab)
    this.linear(logits, W.lmHead, xn, rows);
    return b.read(logits);
  }

  dispose(): void {
    this.backend.dispose();
  }
}

/**
 * Default KV cache length: max_position_embeddings, times the factor for linear scaling; dynamic NTK exists to run past
 * it, so it gets the engine's cap. An explicit contextLength always wins.
 */
function defaultContext(c: LlamaConfig): number {
  const s = c.ropeScaling;
  const type = s ? s.rope_type ?? s.type : null;
  if (type === 'dynamic') return Number.MAX_SAFE_INTEGER;
  const f = s && typeof s.factor === 'number' && s.factor > 1 ? s.factor : 1;
  return c.maxPositionEmbeddings * (type === 'linear' ? f : 1);
}
