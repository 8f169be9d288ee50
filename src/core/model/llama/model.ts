// LlamaForCausalLM forward pass written against the Backend interface: RMSNorm -> attention (RoPE, GQA, KV cache) ->
// residual -> RMSNorm -> SwiGLU MLP -> residual, then the final norm and lm_head. Batched prefill, then one token at
// a time. LoRA adapters are applied on the fly inside `linear`. Reads like llama2.c run.c / candle llama.rs;
// semantics from transformers modeling_llama.py. The same skeleton runs Qwen3 (q/k norms), Gemma 2/3 (sandwich norms,
// GeGLU, scaled embeddings, soft-capping, sliding-window layers, local RoPE) and Phi-3 (fused projections, longrope):
// config.variant says which step applies (modeling_{qwen3,gemma2,gemma3,phi3}.py).

import type { AttentionOptions, Backend, BTensor, ModelPlan, WeightDType } from '../../backend';
import { CoreError, throwIfAborted } from '../../errors';
import type { FsPort, ProgressFn } from '../../ports';
import type { ModelWeights } from '../../safetensors/modelWeights';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../tensor/dtype';
import { computeInvFreq } from '../../tensor/rope';
import { TensorLoader, weightDTypeOf } from '../tensorLoader';
import type { BlockSource } from '../../tensor/blockSource';
import { doraRowScale, type LoadedAdapter, type LoraModule } from './adapters';
import type { LlamaConfig } from './config';
import { LayerLoader, linearKey, type Layer, type Linear } from './layers';

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
  /**
   * With quantize: the weights this source holds in blocks load as those blocks (GGUF Q8_0 as q8_0, Q4_0/Q4_K as q4
   * where the backend has q4 kernels), not through f32.
   */
  readonly blocks?: BlockSource;
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
  /** Module path of each fused module (Phi-3) -> its parts, for slicing adapters by rows. */
  private readonly fusedParts = new Map<string, Linear[]>();
  /** Per layer (ctx, nKvHeads*headDim) f32 */
  private readonly kCache: BTensor[] = [];
  private readonly vCache: BTensor[] = [];
  /**
   * The prompt cache: ids whose K/V rows fill positions 0..length of the cache under the current adapters, computed by
   * multi-row forwards (see reusablePrefix). Rows from single-token steps are not recorded: their matvec rounds
   * differently from the matmul a fresh prompt would go through.
   */
  private cachedIds: number[] = [];
  /** (rotaryDim/2) f32: global layers' RoPE; Gemma 3's sliding layers use invFreqLocal (rope_local_base_freq). */
  private invFreq!: BTensor;
  private invFreqLocal: BTensor | null = null;
  private ropeLen: number;
  private attentionFactor = 1;
  /** Gemma: (dim) f32, every entry sqrt(hidden_size) rounded to the weights' dtype; null elsewhere. */
  private embedScale: BTensor | null = null;
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
  /** The weights' format (q4 when any weight loaded as q4: the rest are then q8_0). */
  weightDType: WeightDType;
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

  /** Everything the load will allocate, for Backend.checkModelFits: the stored weights (an upper bound with q8_0) + KV cache. */
  private plan(): ModelPlan {
    const kvDim = this.config.numKvHeads * this.config.headDim;
    const tensors = [...this.weights.tensors.values()].flatMap((t) => {
      const dtype = weightDTypeOf(t.dtype);
      return dtype ? [{ name: t.name, dtype, shape: t.shape }] : [];
    });
    return { tensors, extraBytes: 2 * this.config.numLayers * this.contextLength * kvDim * 4 };
  }

  private async loadWeights(options: LoadOptions): Promise<void> {
    const c = this.config;
    // Before any read: a model that cannot fit (a GPU buffer limit, the GPU's memory) is refused now, not minutes in.
    this.backend.checkModelFits?.(this.plan());
    const loader = new TensorLoader(this.fs, this.backend, options.signal, options.blocks);
    const progress = (): void => options.onProgress?.('load-weights', loader.bytesRead, this.weights.totalBytes);
    const q = options.quantize === 'q8_0' ? 'q8_0' as const : undefined;
    const layers = new LayerLoader(this.weights, loader, c, q, progress);
    try {
      const dim = c.hiddenSize;
      const kvDim = c.numKvHeads * c.headDim;
      const emb = layers.tensor('model.embed_tokens.weight');
      if (emb.shape[1] !== dim) throw new CoreError('bad-format', `${emb.file}: embed_tokens has ${emb.shape[1]} columns, hidden_size is ${dim}.`, emb.file);
      this.embedTokens = await loader.load(emb, q && dim % 32 === 0 ? q : undefined);
      progress();
      for (let l = 0; l < c.numLayers; l++) {
        throwIfAborted(options.signal);
        this.backend.beginGroup?.(this.layerBytes(`model.layers.${l}`, q !== undefined, kvDim));
        const layer = await layers.layer(l);
        for (const part of [layer.q, layer.k, layer.v, layer.gate, layer.up]) {
          if (part.row0 !== null) this.fusedParts.set(part.name, [...(this.fusedParts.get(part.name) ?? []), part]);
        }
        this.layers.push(layer);
        this.kCache.push(this.backend.alloc('f32', [this.contextLength, kvDim], `k_cache.${l}`));
        this.vCache.push(this.backend.alloc('f32', [this.contextLength, kvDim], `v_cache.${l}`));
      }
      this.finalNorm = await layers.norm('model.norm.weight');
      const vocab = emb.shape[0]!;
      if (this.weights.tensors.has('lm_head.weight') && !c.tieWordEmbeddings) this.lmHead = await layers.linear('lm_head', vocab, dim);
      else this.lmHead = { name: 'lm_head', w: this.embedTokens, bias: null, outDim: vocab, inDim: dim, row0: null };
      if (c.variant.embedScale) this.embedScale = loader.upload(new Float32Array(dim).fill(embedNormalizer(dim, emb.dtype)), [dim], 'embed_scale');
      this.weightBytes = loader.bytesRead;
      if (loader.blockTensors.q4 > 0) this.weightDType = 'q4';
    } finally {
      await loader.close();
    }
    // longrope starts on short_factor (transformers' original_inv_freq); the others at the configured length.
    this.setRope(ropeTypeOf(c) === 'longrope' ? longropeOriginal(c) : c.maxPositionEmbeddings);
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

  /** (Re)compute inverse frequencies for sequences up to `len` (dynamic NTK and longrope depend on it). */
  private setRope(len: number): void {
    const c = this.config;
    const rope = { headDim: c.headDim, partialRotaryFactor: c.partialRotaryFactor, maxPositionEmbeddings: c.ropeMaxPositions };
    let rf;
    try {
      const maxPositionEmbeddings = ropeTypeOf(c) === 'longrope' ? c.ropeMaxPositions : c.maxPositionEmbeddings;
      rf = computeInvFreq({ ...rope, ropeTheta: c.ropeTheta, maxPositionEmbeddings, ropeScaling: c.ropeScaling,
        originalMaxPositionEmbeddings: c.originalMaxPositionEmbeddings }, len);
    } catch (e) {
      throw new CoreError('unsupported', `config.json: ${(e as Error).message}.`);
    }
    this.invFreq = this.replaceVector(this.invFreq, rf.invFreq, 'rope.inv_freq');
    if (c.variant.localRopeTheta !== null) {
      // Gemma 3's sliding layers: their own base, never scaled (rotary_emb_local is a default RoPE).
      const local = computeInvFreq({ ...rope, ropeTheta: c.variant.localRopeTheta }).invFreq;
      this.invFreqLocal = this.replaceVector(this.invFreqLocal, local, 'rope.inv_freq_local');
    }
    this.attentionFactor = rf.attentionFactor;
    this.ropeLen = len;
  }

  private replaceVector(old: BTensor | null | undefined, values: Float32Array, label: string): BTensor {
    if (old) this.backend.free(old);
    const t = this.backend.alloc('f32', [values.length], label);
    this.backend.write(t, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return t;
  }

  /**
   * Dynamic NTK grows the RoPE base once the sequence passes max_position_embeddings and resets it for short ones,
   * exactly when transformers' dynamic_rope_update does; longrope switches between short_factor and long_factor at
   * original_max_position_embeddings as longrope_frequency_update does (keys already cached keep their rotation, as there).
   */
  private updateRope(seqLen: number): void {
    const type = ropeTypeOf(this.config);
    if (type === 'dynamic') {
      const orig = this.config.maxPositionEmbeddings;
      if (seqLen > this.ropeLen) this.setRope(seqLen);
      else if (seqLen < orig && this.ropeLen > orig) this.setRope(orig);
    } else if (type === 'longrope') {
      const orig = longropeOriginal(this.config);
      if ((seqLen > orig) !== (this.ropeLen > orig)) this.setRope(seqLen > orig ? orig + 1 : orig);
    }
  }

  /**
   * Attach adapters with their scales, replacing the previous set. Only small per-adapter tensors change; the base
   * weights are never touched or reloaded. Scale 0 detaches an adapter (for DoRA too, unlike PEFT's set_scale).
   */
  async setAdapters(bindings: readonly AdapterBinding[]): Promise<void> {
    this.cachedIds = [];
    for (const t of this.activeTensors) this.backend.free(t);
    this.activeTensors = [];
    this.active = new Map();
    this.activeEmbedding = [];
    const overrides = new Map<string, BTensor>();
    const live = bindings.filter((b) => b.scale !== 0);
    const loader = new TensorLoader(this.fs, this.backend);
    try {
      for (const { adapter, scale } of live) {
        for (const [name, m] of adapter.modules) await this.activate(name, m, m.scaling * scale, loader);
        if (adapter.embedding) this.activeEmbedding.push({ ...adapter.embedding, scale: adapter.embedding.scaling * scale });
        for (const [name, t] of adapter.overrides) overrides.set(name, await this.overrideTensor(name, t));
      }
    } finally {
      await loader.close();
    }
    this.bindings = live;
    this.view = this.viewWith(overrides);
  }

  private upload(values: Float32Array, label: string): BTensor {
    const t = this.backend.alloc('f32', [values.length], label);
    this.backend.write(t, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    this.activeTensors.push(t);
    return t;
  }

  /** Add one adapter module's term at effective scale `s`; a fused module gets one row slice per part. */
  private async activate(name: string, m: LoraModule, s: number, loader: TensorLoader): Promise<void> {
    let g: Float32Array | null = null;
    if (m.dora) {
      const w = this.weights.tensors.get(`${name}.weight`) ?? (name === 'lm_head' ? this.weights.tensors.get('model.embed_tokens.weight') : undefined);
      if (!w) throw new CoreError('bad-format', `${this.weights.folder}: weight '${name}.weight' is missing.`, this.weights.folder);
      g = doraRowScale(await loader.readF32(w), m, s);
    }
    const bias = m.loraBias ? m.loraBias.map((x) => x * s) : null;
    const parts = this.fusedParts.get(name) ?? [{ name, row0: null, outDim: m.b.shape[0]! }];
    for (const part of parts) {
      const r0 = part.row0 ?? 0;
      const slice = (v: Float32Array): Float32Array => v.subarray(r0, r0 + part.outDim);
      const key = linearKey(part);
      let b = m.b;
      if (part.row0 !== null) {
        b = this.backend.alloc('f32', [part.outDim, m.r], `${key}.lora_B`);
        this.backend.copyRows(b, 0, m.b, r0, part.outDim);
        this.activeTensors.push(b);
      }
      const dora = g ? { g: this.upload(slice(g), `${key}.dora_g`), h: this.upload(slice(g).map((x) => 1 - 1 / x), `${key}.dora_h`) } : null;
      const list = this.active.get(key) ?? [];
      list.push({ a: m.a, b, scale: s, dora, bias: bias ? this.upload(slice(bias), `${key}.lora_bias`) : null });
      this.active.set(key, list);
    }
  }

  /** A modules_to_save / trained tensor as the forward pass uses it (Gemma's norms as 1 + w). */
  private async overrideTensor(name: string, t: BTensor): Promise<BTensor> {
    const module = name.replace(/\.(weight|bias)$/, '');
    if (this.fusedParts.has(module)) throw new CoreError('unsupported', `a full '${name}' (modules_to_save) on a fused module is not supported.`);
    if (!this.config.variant.normPlusOne || !/norm\.weight$/.test(name)) return t;
    return this.upload((await this.backend.read(t)).map((x) => Math.fround(1 + x)), `${name}+1`);
  }

  private viewWith(overrides: ReadonlyMap<string, BTensor>): LlamaModel['view'] {
    const pick = (name: string, base: BTensor): BTensor => overrides.get(name) ?? base;
    const pickOpt = (name: string, base: BTensor | null): BTensor | null => (base ? pick(name, base) : null);
    const lin = (l: Linear): Linear => {
      const w = overrides.get(`${l.name}.weight`);
      const bias = overrides.get(`${l.name}.bias`);
      return w || bias ? { ...l, w: w ?? l.w, bias: bias ?? l.bias, outDim: w ? w.shape[0]! : l.outDim } : l;
    };
    const lmHeadW = overrides.get('lm_head.weight');
    return {
      embed: pick('model.embed_tokens.weight', this.embedTokens),
      norm: pick('model.norm.weight', this.finalNorm),
      lmHead: lmHeadW ? { ...this.lmHead, w: lmHeadW, outDim: lmHeadW.shape[0]! } : this.lmHead,
      layers: this.layers.map((L, l) => {
        const p = `model.layers.${l}`;
        return {
          attnNorm: pick(`${p}.input_layernorm.weight`, L.attnNorm), q: lin(L.q), k: lin(L.k), v: lin(L.v), o: lin(L.o),
          qNorm: pickOpt(`${p}.self_attn.q_norm.weight`, L.qNorm), kNorm: pickOpt(`${p}.self_attn.k_norm.weight`, L.kNorm),
          mlpNorm: pick(`${p}.post_attention_layernorm.weight`, L.mlpNorm),
          preFfnNorm: pickOpt(`${p}.pre_feedforward_layernorm.weight`, L.preFfnNorm),
          postFfnNorm: pickOpt(`${p}.post_feedforward_layernorm.weight`, L.postFfnNorm),
          gate: lin(L.gate), up: lin(L.up), down: lin(L.down),
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
    const terms = this.active.get(linearKey(l));
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
    // Positions from pos0 on are overwritten: the cache keeps what lies before them.
    this.cachedIds.length = Math.min(this.cachedIds.length, pos0);
    if (ids.length <= this.prefillBatch) {
      // One chunk (every decode step): its read-back (a fresh array) is already the answer, no second copy.
      throwIfAborted(options.signal);
      const logits = (await this.forwardChunk(ids, pos0, true, options.allLogits === true))!;
      this.recordCached(ids, pos0);
      return logits;
    }
    const out = new Float32Array(options.allLogits ? ids.length * vocab : vocab);
    for (let start = 0; start < ids.length;) {
      throwIfAborted(options.signal);
      // Never a last chunk of one row: every row of a multi-token forward goes through the matmul (see cachedIds).
      const len = ids.length - start === this.prefillBatch + 1 ? this.prefillBatch - 1 : Math.min(this.prefillBatch, ids.length - start);
      const chunk = ids.slice(start, start + len);
      const logits = await this.forwardChunk(chunk, pos0 + start, options.allLogits === true || start + chunk.length === ids.length, options.allLogits === true);
      if (logits && options.allLogits) out.set(logits, start * vocab);
      else if (logits) out.set(logits.subarray(logits.length - vocab));
      this.recordCached(chunk, pos0 + start);
      start += len;
    }
    return out;
  }

  /**
   * Leading tokens of `ids` whose K/V the cache already holds, so a forward of ids.slice(p) at position p gives the
   * same logits, bit for bit, as a forward of all of ids at 0: matmul rows do not depend on the rows beside them, and
   * at least two tokens are left to run (a one-token rest would take the matvec). 0 where RoPE depends on the length.
   */
  reusablePrefix(ids: readonly number[]): number {
    const type = ropeTypeOf(this.config);
    if (type === 'dynamic' || type === 'longrope') return 0;
    const cached = this.cachedIds;
    const limit = Math.min(cached.length, ids.length - 2);
    let p = 0;
    while (p < limit && cached[p] === ids[p]) p++;
    return p;
  }

  /** After a forward of `ids` at pos0: multi-row results extend the cache, a single step ends it there. */
  private recordCached(ids: readonly number[], pos0: number): void {
    if (ids.length > 1 && this.cachedIds.length === pos0) this.cachedIds.push(...ids);
  }

  private async forwardChunk(ids: readonly number[], pos0: number, wantLogits: boolean, allRows: boolean): Promise<Float32Array | null> {
    const n = ids.length;
    const W = this.view;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= W.embed.shape[0]!) throw new CoreError('usage', `token id ${id} is outside the vocabulary (${W.embed.shape[0]}).`);
    }
    this.updateRope(pos0 + n);
    const x = this.buf('x', this.config.hiddenSize, n); // (n, dim) residual stream
    this.embed(x, ids);
    for (let l = 0; l < this.config.numLayers; l++) {
      this.attentionBlock(x, l, n, pos0);
      this.mlpBlock(x, l, n);
    }
    return wantLogits ? this.head(x, n, allRows) : null;
  }

  /** x (n, dim) = embed_tokens[ids] (+ embedding LoRA), times Gemma's sqrt(hidden_size). */
  private embed(x: BTensor, ids: readonly number[]): void {
    const b = this.backend;
    const n = ids.length;
    const dim = this.config.hiddenSize;
    b.embed(x, this.view.embed, Int32Array.from(ids));
    for (const e of this.activeEmbedding) {
      // Embedding LoRA: x += (s * A[:, ids]^T) B^T, the A columns gathered on the host.
      const g = new Float32Array(n * e.r);
      ids.forEach((id, i) => {
        for (let j = 0; j < e.r; j++) g[i * e.r + j] = e.scale * e.aT[id * e.r + j]!;
      });
      const ga = this.buf('emb_lora_a', e.r, n);
      b.write(ga, new Uint8Array(g.buffer));
      const xb = this.buf('xb', dim, n);
      b.matmul(xb, e.b, ga, n);
      b.add(x, x, xb, n * dim);
    }
    if (this.embedScale) b.mulRows(x, this.embedScale, n);
  }

  /** x += o_proj(attention(rope(norm(q)), rope(norm(k)), v)), Gemma: normed before the residual add. */
  private attentionBlock(x: BTensor, l: number, n: number, pos0: number): void {
    const b = this.backend;
    const c = this.config;
    const v = c.variant;
    const L = this.view.layers[l]!;
    const hd = c.headDim;
    const xb = this.buf('xb', c.hiddenSize, n); // (n, dim) normed input / attention output
    const q = this.buf('q', c.numHeads * hd, n); // (n, nHeads*hd)
    const k = this.buf('k', c.numKvHeads * hd, n); // (n, nKv*hd)
    const vv = this.buf('v', c.numKvHeads * hd, n); // (n, nKv*hd)
    const att = this.buf('att', c.numHeads * hd, n); // (n, nHeads*hd)
    b.rmsnorm(xb, x, L.attnNorm, n, c.rmsNormEps);
    this.linear(q, L.q, xb, n);
    this.linear(k, L.k, xb, n);
    this.linear(vv, L.v, xb, n);
    // Qwen3 / Gemma 3: RMSNorm over each head (rows of headDim) before RoPE.
    if (L.qNorm) b.rmsnorm(q, q, L.qNorm, n * c.numHeads, c.rmsNormEps);
    if (L.kNorm) b.rmsnorm(k, k, L.kNorm, n * c.numKvHeads, c.rmsNormEps);
    const window = v.layerWindows[l] ?? null;
    const invFreq = window !== null && this.invFreqLocal ? this.invFreqLocal : this.invFreq;
    const af = invFreq === this.invFreq ? this.attentionFactor : 1;
    b.rope(q, n, c.numHeads, hd, pos0, invFreq, af);
    b.rope(k, n, c.numKvHeads, hd, pos0, invFreq, af);
    b.copyRows(this.kCache[l]!, pos0, k, 0, n);
    b.copyRows(this.vCache[l]!, pos0, vv, 0, n);
    const options: AttentionOptions = {
      ...(v.attnScale !== null ? { scale: v.attnScale } : {}),
      ...(v.attnSoftcap !== null ? { softcap: v.attnSoftcap } : {}),
      ...(window !== null ? { window } : {}),
    };
    b.attention(att, q, this.kCache[l]!, this.vCache[l]!, n, pos0, c.numHeads, c.numKvHeads, hd, options);
    this.linear(xb, L.o, att, n);
    if (v.sandwichNorms) b.rmsnorm(xb, xb, L.mlpNorm, n, c.rmsNormEps);
    b.add(x, x, xb, n * c.hiddenSize);
  }

  /** x += down(act(gate(h)) * up(h)), h = norm(x); Gemma normalizes the MLP output too. */
  private mlpBlock(x: BTensor, l: number, n: number): void {
    const b = this.backend;
    const c = this.config;
    const L = this.view.layers[l]!;
    const xb = this.buf('xb', c.hiddenSize, n);
    const gate = this.buf('gate', c.intermediateSize, n); // (n, ff)
    const up = this.buf('up', c.intermediateSize, n); // (n, ff)
    b.rmsnorm(xb, x, L.preFfnNorm ?? L.mlpNorm, n, c.rmsNormEps);
    this.linear(gate, L.gate, xb, n);
    this.linear(up, L.up, xb, n);
    if (c.variant.activation === 'gelu_tanh') b.geglu(gate, gate, up, n);
    else b.swiglu(gate, gate, up, n);
    this.linear(xb, L.down, gate, n);
    if (L.postFfnNorm) b.rmsnorm(xb, xb, L.postFfnNorm, n, c.rmsNormEps);
    b.add(x, x, xb, n * c.hiddenSize);
  }

  /** Logits of the last row (or all rows): final norm, lm_head, then Gemma 2's final soft-capping on the host. */
  private async head(x: BTensor, n: number, allRows: boolean): Promise<Float32Array> {
    const b = this.backend;
    const c = this.config;
    const W = this.view;
    const rows = allRows ? n : 1;
    let h = x;
    if (!allRows && n > 1) {
      h = this.buf('last', c.hiddenSize, 1);
      b.copyRows(h, 0, x, n - 1, 1);
    }
    const xn = this.buf('final', c.hiddenSize, rows); // (rows, dim)
    b.rmsnorm(xn, h, W.norm, rows, c.rmsNormEps);
    const logits = this.exact('logits', [rows, W.lmHead.outDim]); // (rows, vocab)
    this.linear(logits, W.lmHead, xn, rows);
    const out = await b.read(logits);
    const cap = c.variant.finalSoftcap;
    if (cap !== null) for (let i = 0; i < out.length; i++) out[i] = Math.fround(Math.tanh(Math.fround(out[i]! / cap)) * cap);
    return out;
  }

  dispose(): void {
    this.backend.dispose();
  }
}

const ropeTypeOf = (c: LlamaConfig): string | null => {
  const s = c.ropeScaling;
  const t = s ? String(s.rope_type ?? s.type ?? 'default') : null;
  return t === 'su' ? 'longrope' : t;
};

/** longrope's switch point: original_max_position_embeddings (top level, else in rope_scaling, else max_position_embeddings). */
function longropeOriginal(c: LlamaConfig): number {
  const inScaling = c.ropeScaling?.original_max_position_embeddings;
  return c.originalMaxPositionEmbeddings ?? (typeof inScaling === 'number' ? inScaling : c.ropeMaxPositions);
}

/** Gemma's sqrt(hidden_size) as a tensor of the embedding's dtype (transformers casts it: sqrt(3072) becomes 55.5 in bf16). */
function embedNormalizer(dim: number, dtype: string): number {
  const v = Math.sqrt(dim);
  if (dtype === 'BF16') return bf16ToF32(f32ToBf16(v));
  if (dtype === 'F16') return f16ToF32(f32ToF16(v));
  return Math.fround(v);
}

/**
 * Default KV cache length: max_position_embeddings, times the factor for linear scaling; dynamic NTK exists to run past
 * it, so it gets the engine's cap. An explicit contextLength always wins.
 */
function defaultContext(c: LlamaConfig): number {
  const type = ropeTypeOf(c);
  if (type === 'dynamic') return Number.MAX_SAFE_INTEGER;
  const s = c.ropeScaling;
  const f = s && typeof s.factor === 'number' && s.factor > 1 ? s.factor : 1;
  return c.maxPositionEmbeddings * (type === 'linear' ? f : 1);
}
