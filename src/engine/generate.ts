// engine/load, engine/generate, engine/tokenize, engine/unload: the generation side of the engine worker. Keeps
// loaded models (one backend each) and their adapters; switching adapters or scales between generations only swaps
// small per-adapter tensors, the base stays loaded. One generation at a time per model (it owns the KV cache).

import type { Backend } from '../core/backend';
import { CoreError } from '../core/errors';
import { compareLogits, nextTokenLogits } from '../core/model/fidelity';
import { generate } from '../core/model/generate';
import { freeAdapter, loadAdapter, type LoadedAdapter } from '../core/model/llama/adapters';
import { loadModel, readLlamaConfig, type LoadedModel } from '../core/model/loadModel';
import { encodePrompt } from '../core/model/prompt';
import { normalizePath } from '../core/paths';
import type { FsPort } from '../core/ports';
import { buildSampler, resolveSampling } from '../core/sampling/generationConfig';
import { tr } from '../core/text';
import { loadTokenizer } from '../core/tokenizer/loadTokenizer';
import { ggufFolderFs, type GgufFolderView } from '../core/gguf/ggufFolder';
import type { Tokenizer } from '../core/tokenizer/tokenizer';
import { runEval, type EvalCachePorts, type EvalModel } from './eval';
import type { JobContext } from './handlers';
import {
  DEVICE_LOST_WARNING, type AdapterSpec, type BackendChoice, type FidelityParams, type FidelityResult, type EvalParams, type EvalResult, type GenerateParams, type GenerateResult, type LoadParams,
  type LoadResult, type TokenizeParams, type TokenizeResult,
} from './protocol';

export type BackendFactory = (choice: BackendChoice, threads: number, log: (m: string) => void) => Promise<Backend>;

interface Entry {
  /** The file system the model was loaded through (a GGUF file's folder view, or the real one). */
  readonly fs: FsPort;
  readonly id: string;
  readonly params: LoadParams;
  /** Replaced when a lost WebGPU device makes the engine reload the model on WASM. */
  loaded: LoadedModel;
  result: LoadResult;
  readonly adapters: Map<string, LoadedAdapter>;
  readonly tokenizers: Map<string, Tokenizer>;
  /** Serialises generations on this model. */
  queue: Promise<unknown>;
}

export class GenerationEngine {
  private readonly models = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();

  constructor(private readonly fs: FsPort, private readonly createBackend: BackendFactory, private readonly evalCache: EvalCachePorts | null = null) {}

  async load(p: LoadParams, ctx: JobContext): Promise<LoadResult> {
    if (typeof p?.modelPath !== 'string' || p.modelPath.length === 0) throw new CoreError('usage', 'engine/load needs modelPath.');
    const folder = await this.fs.realpath(normalizePath(p.modelPath)).catch(() => normalizePath(p.modelPath));
    const backend = p.backend ?? 'auto';
    const id = `${folder}|${backend}|${p.threads ?? 0}|${p.quantize ?? ''}|${p.contextLength ?? ''}`;
    const existing = this.models.get(id);
    if (existing) return existing.result;
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.doLoad(id, folder, p, ctx).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return (await pending).result;
  }

  private async doLoad(id: string, folder: string, p: LoadParams, ctx: JobContext): Promise<Entry> {
    const t0 = Date.now();
    // Fail on an unsupported architecture before starting threads or a GPU device.
    // A .gguf file is read through a view of it as a model folder (core/gguf/ggufFolder).
    const gguf = folder.endsWith('.gguf') && (await this.fs.stat(folder))?.kind === 'file' ? await ggufFolderFs(this.fs, folder) : null;
    const fs = gguf ?? this.fs;
    // A quantized GGUF loads as q8_0 unless asked otherwise (q8_0 files: their stored blocks; Q4_0/Q4_K as q4 where
    // the backend has q4 kernels; the other 4-6 bit types requantized), not four times their size in f32.
    const params: LoadParams = { ...p, quantize: p.quantize ?? (gguf?.loadAsQ8 ? 'q8_0' : null) };
    await readLlamaConfig(fs, folder);
    const { loaded, backend } = await this.loadOn(fs, p.backend ?? 'auto', folder, params, ctx);
    const result = this.describe(id, loaded, backend, t0);
    ctx.log('info', `loaded ${folder}: ${loaded.config.architecture} ${loaded.model.weightDType}, ${loaded.config.numLayers} layers, ${(result.weightBytes / 1e6).toFixed(1)} MB in ${result.loadMs} ms on ${result.backend}`);
    const entry: Entry = { id, fs, params, loaded, result, adapters: new Map(), tokenizers: new Map(), queue: Promise.resolve() };
    this.models.set(id, entry);
    return entry;
  }

  private async loadOn(fs: FsPort, choice: BackendChoice, folder: string, p: LoadParams, ctx: JobContext): Promise<{ loaded: LoadedModel; backend: Backend }> {
    const backend = await this.createBackend(choice, p.threads ?? 0, (m) => ctx.log('info', m));
    try {
      const loaded = await loadModel(fs, folder, backend, {
        quantize: p.quantize ?? null,
        blocks: 'blockReader' in fs ? (fs as GgufFolderView) : undefined,
        contextLength: p.contextLength,
        signal: ctx.signal,
        onProgress: (phase, done, total) => ctx.progress(phase, done, total),
      });
      return { loaded, backend };
    } catch (e) {
      backend.dispose();
      throw e;
    }
  }

  /**
   * A WebGPU device lost during an earlier request (that request failed with the reason) takes the model's weights
   * and adapters with it: reload the model on WASM, once, before this request runs.
   */
  private async replaceLostBackend(e: Entry, ctx: JobContext): Promise<void> {
    const lost = (e.loaded.model.backend as { deviceLost?: string | null }).deviceLost;
    if (!lost) return;
    ctx.log('warn', `${DEVICE_LOST_WARNING} (${lost}): reloading ${e.loaded.folder} on WASM`);
    for (const a of e.adapters.values()) freeAdapter(e.loaded.model.backend, a);
    e.adapters.clear();
    e.loaded.model.dispose();
    const t0 = Date.now();
    const { loaded, backend } = await this.loadOn(e.fs, 'wasm', e.loaded.folder, e.params, ctx);
    e.loaded = loaded;
    e.result = this.describe(e.id, loaded, backend, t0);
  }

  private describe(id: string, loaded: LoadedModel, backend: Backend, t0: number): LoadResult {
    const c = loaded.config;
    return {
      modelId: id,
      architecture: c.architecture,
      dtype: loaded.model.weightDType,
      vocabSize: loaded.model.vocabSize,
      numLayers: c.numLayers,
      hiddenSize: c.hiddenSize,
      backend: `${backend.info.name} (${backend.info.threads} thread${backend.info.threads === 1 ? '' : 's'})`,
      weightBytes: loaded.model.weightBytes,
      loadMs: Date.now() - t0,
      contextLength: loaded.model.contextLength,
      eosIds: loaded.generation.eosIds,
      bosId: loaded.tokenizer.bosId,
      tokenizer: loaded.tokenizer.kind,
      hasChatTemplate: loaded.tokenizer.chatTemplate !== null,
    };
  }

  private entry(modelId: string): Entry {
    const e = this.models.get(modelId);
    if (!e) throw new CoreError('not-found', `No loaded model '${modelId}' (load it with engine/load first).`);
    return e;
  }

  private async adapter(e: Entry, path: string, ctx: JobContext): Promise<LoadedAdapter> {
    const key = normalizePath(path);
    let a = e.adapters.get(key);
    if (!a) {
      ctx.progress('load-adapter', 0, 1, key);
      a = await loadAdapter(e.fs, e.loaded.model.backend, key, e.loaded.model.weights.tensors, ctx.signal);
      e.adapters.set(key, a);
      ctx.progress('load-adapter', 1, 1, key);
      ctx.log('info', `adapter ${key}: ${a.variant}, ${a.modules.size} modules${a.overrides.size ? `, ${a.overrides.size} full tensors` : ''}`);
    }
    return a;
  }

  /** The tokenizer in force: the last active adapter that ships one (a resized vocabulary), else the model's. */
  private async tokenizerFor(e: Entry, adapters: readonly LoadedAdapter[]): Promise<Tokenizer> {
    const folder = [...adapters].reverse().find((a) => a.tokenizerFolder)?.tokenizerFolder;
    if (!folder) return e.loaded.tokenizer;
    let t = e.tokenizers.get(folder);
    if (!t) {
      t = await loadTokenizer(this.fs, folder);
      e.tokenizers.set(folder, t);
    }
    return t;
  }

  async tokenize(p: TokenizeParams, ctx: JobContext): Promise<TokenizeResult> {
    const e = this.entry(p.modelId);
    const adapters = p.adapterPath ? [await this.adapter(e, p.adapterPath, ctx)] : [];
    const tok = await this.tokenizerFor(e, adapters);
    const ids = encodePrompt(tok, p.text, p.format ?? 'raw', p.system, thinkingOf(p.thinking));
    return { ids, pieces: ids.map((id) => tok.idToPiece(id)) };
  }

  /** Run `job` when the model's earlier requests are done (they share its KV cache and adapters), on a live backend. */
  private exclusive<T>(e: Entry, ctx: JobContext, job: () => Promise<T>): Promise<T> {
    const run = e.queue.then(async () => {
      await this.replaceLostBackend(e, ctx);
      return job();
    });
    e.queue = run.catch(() => undefined);
    return run;
  }

  async generate(p: GenerateParams, ctx: JobContext): Promise<GenerateResult> {
    const e = this.entry(p.modelId);
    return this.exclusive(e, ctx, () => this.runGenerate(e, p, ctx));
  }

  /** Attach exactly these adapters at their scales (a scale of 0 leaves one out); returns the live ones. */
  private async applyAdapters(e: Entry, specs: readonly AdapterSpec[], ctx: JobContext): Promise<LoadedAdapter[]> {
    const model = e.loaded.model;
    const adapters: LoadedAdapter[] = [];
    for (const s of specs) {
      if (typeof s.scale !== 'number' || !Number.isFinite(s.scale)) throw new CoreError('usage', `adapter ${s.path}: scale must be a number.`);
      adapters.push(await this.adapter(e, s.path, ctx));
    }
    const live = specs.map((s, i) => ({ adapter: adapters[i]!, scale: s.scale })).filter((b) => b.scale !== 0);
    const same = model.adapters.length === live.length
      && model.adapters.every((b, i) => b.adapter === live[i]!.adapter && b.scale === live[i]!.scale);
    if (!same) await model.setAdapters(live);
    return live.map((b) => b.adapter);
  }

  private async runGenerate(e: Entry, p: GenerateParams, ctx: JobContext): Promise<GenerateResult> {
    const model = e.loaded.model;
    const tok = await this.tokenizerFor(e, await this.applyAdapters(e, p.adapters ?? [], ctx));
    let promptIds: number[];
    if ('ids' in p.prompt) {
      promptIds = checkedIds(p.prompt.ids, model.vocabSize, 'prompt ids');
    } else promptIds = encodePrompt(tok, p.prompt.text, p.prompt.format ?? 'raw', p.prompt.system, thinkingOf(p.prompt.thinking));
    if (promptIds.length === 0) throw new CoreError('usage', 'The prompt is empty (no tokens); give some text or ids.');
    const sampling = resolveSampling(p, e.loaded.generation);
    const eosIds = p.stopAtEos === false ? [] : tok === e.loaded.tokenizer ? e.loaded.generation.eosIds : [tok.eosId ?? -1].filter((x) => x >= 0);
    const out = await generate(model, tok, promptIds, {
      maxNewTokens: sampling.maxNewTokens,
      sampler: buildSampler(sampling),
      eosIds,
      stopStrings: p.stopStrings,
      signal: ctx.signal,
      yieldToEvents: () => new Promise((r) => setImmediate(r)),
      onToken: (id, text) => ctx.token(id, text, p.stream),
    });
    return out;
  }

  /** engine/eval on a loaded model, queued with its generations (both own the KV cache). */
  async evaluate(p: EvalParams, ctx: JobContext): Promise<EvalResult> {
    const e = this.entry(p?.modelId);
    return this.exclusive(e, ctx, () => {
      // Built after the check: a reload replaces e.loaded.
      const model: EvalModel = {
        folder: e.loaded.folder,
        model: e.loaded.model,
        adapter: (path) => this.adapter(e, path, ctx),
        tokenizerFor: (adapters) => this.tokenizerFor(e, adapters),
      };
      return runEval(model, this.fs, this.evalCache, p, ctx, () => new Promise((r) => setImmediate(r)));
    });
  }

  /**
   * engine/fidelity: the reference and the compared model each run the reference's prompt + generated tokens in one
   * teacher-forced pass (queued with their own generations), then their next-token distributions are compared.
   */
  async fidelity(p: FidelityParams, ctx: JobContext): Promise<FidelityResult> {
    const ref = this.entry(p?.referenceModelId);
    const other = this.entry(p?.modelId);
    const vocab = ref.loaded.model.vocabSize;
    const promptIds = checkedIds(p.promptIds ?? [], vocab, 'promptIds');
    if (promptIds.length === 0) throw new CoreError('usage', 'engine/fidelity needs the prompt ids.');
    // Both logit arrays stay in memory at once: compare no more positions than the cap allows.
    const maxPositions = Math.max(1, Math.floor(MAX_FIDELITY_LOGIT_BYTES / (4 * vocab)));
    const generated = checkedIds(p.ids ?? [], vocab, 'ids');
    const ids = [...promptIds, ...generated.slice(0, maxPositions)];
    const teacherForced = (e: Entry, adapters: readonly AdapterSpec[]) => this.exclusive(e, ctx, async () => {
      await this.applyAdapters(e, adapters, ctx);
      return { vocab: e.loaded.model.vocabSize, logits: await nextTokenLogits(e.loaded.model, ids, promptIds.length, ctx.signal) };
    });
    const a = await teacherForced(ref, p.referenceAdapters ?? []);
    const b = await teacherForced(other, []);
    if (a.vocab !== b.vocab) {
      throw new CoreError('incompatible', tr`The two models have different vocabularies (${a.vocab} and ${b.vocab} tokens): their next-token distributions cannot be compared.`);
    }
    return { ...compareLogits(a.logits, b.logits, a.vocab), truncated: generated.length > maxPositions };
  }

  /** Models loaded and not unloaded (engine/stats). */
  get loadedModels(): number {
    return this.models.size;
  }

  async unload(p: { modelId: string }): Promise<{ unloaded: boolean }> {
    const e = this.models.get(p?.modelId);
    if (!e) return { unloaded: false };
    this.models.delete(p.modelId);
    await e.queue;
    for (const a of e.adapters.values()) freeAdapter(e.loaded.model.backend, a);
    e.loaded.model.dispose();
    return { unloaded: true };
  }

  async dispose(): Promise<void> {
    for (const id of [...this.models.keys()]) await this.unload({ modelId: id });
  }
}

/** Bounds the memory of one engine/fidelity request: each model's logits over the compared positions. */
const MAX_FIDELITY_LOGIT_BYTES = 256 * 1024 * 1024;

/** Token ids from a request, checked: integers in [0, vocab). */
function checkedIds(ids: readonly number[], vocab: number, what: string): number[] {
  if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0 && id < vocab)) {
    throw new CoreError('usage', `${what} must be integers in [0, ${vocab}).`);
  }
  return [...ids];
}

/** The chat options of a request: enable_thinking only when the request sets it. */
function thinkingOf(thinking: boolean | undefined): { thinking?: boolean } {
  return thinking === undefined ? {} : { thinking };
}
