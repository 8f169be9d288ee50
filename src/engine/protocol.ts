// The one typed protocol between the engine worker and its hosts (extension, CLI). Shared by both sides; the webview
// has its own messages (webview/) and never talks to the worker directly.
// Envelope host -> worker: {v, id, method, params}. Worker -> host: a union on `type`.

import type { LossSummary } from '../core/eval/loss';
import type { Fidelity } from '../core/model/fidelity';
import type { Text } from '../core/text';

export const PROTOCOL_VERSION = 1;

/** Declares a request: its method name ties Params and Result types together at compile time. */
export interface RequestType<P, R> {
  readonly method: string;
  /** Phantom fields, never set at runtime. */
  readonly _params?: P;
  readonly _result?: R;
}

function request<P, R>(method: string): RequestType<P, R> {
  return { method };
}

// ---- engine/probe -------------------------------------------------------------------------------------------------
export interface ProbeParams {
  /** When true the worker also tries to create a WebGPU adapter (can take a moment). */
  readonly webgpu?: boolean;
}
/** The adapter Dawn picked (high-performance preference): what it is and the limits that bound tensor sizes. */
export interface WebGpuAdapterDetails {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  /** Adapter features the kernels care about: 'subgroups', 'shader-f16'. */
  readonly features: readonly string[];
  /** The GPU's memory when the platform tells it (nvidia-smi, amdgpu sysfs; WebGPU does not); null = unknown. */
  readonly memoryBytes: number | null;
  /** Where dawn.node was loaded from (the platform package's dist/dawn/, or node_modules/webgpu in development). */
  readonly binary: string;
}
/** Starts the engine's warning when a lost WebGPU device makes it reload a model on WASM; the extension notifies on it. */
export const DEVICE_LOST_WARNING = 'the WebGPU device was lost';

export interface WebGpuProbeResult {
  readonly available: boolean;
  readonly adapter: string | null;
  readonly isFallback: boolean | null;
  readonly reason: string | null;
  readonly details?: WebGpuAdapterDetails;
}
export interface ProbeResult {
  readonly engineVersion: string;
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly simd: boolean;
  readonly relaxedSimd: boolean;
  readonly threads: boolean;
  readonly memory64: boolean;
  readonly webgpu: WebGpuProbeResult;
  readonly backends: readonly string[];
}
export const Probe = request<ProbeParams, ProbeResult>('engine/probe');

// ---- engine/load, engine/unload (generation engine, issue 7) -------------------------------------------------------
export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'reference';
export interface LoadParams {
  /** Model folder (config.json + weights); the worker reads the weights itself. */
  readonly modelPath: string;
  readonly backend?: BackendChoice;
  /** 0 or absent: one per core. */
  readonly threads?: number;
  /** Quantize f32/f16/bf16 weights to q8_0 while loading (machines short of RAM). */
  readonly quantize?: 'q8_0' | null;
  /** KV cache length in tokens (default min(max_position_embeddings, 4096)). */
  readonly contextLength?: number;
}
export interface LoadResult {
  /** Handle for generate/unload; loading the same folder again returns the loaded model. */
  readonly modelId: string;
  readonly architecture: string;
  readonly dtype: string;
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly backend: string;
  readonly weightBytes: number;
  readonly loadMs: number;
  readonly contextLength: number;
  /** Ids that stop generation by default (generation_config.json, else config.json, else the tokenizer). */
  readonly eosIds: readonly number[];
  readonly bosId: number | null;
  /** 'sentencepiece' (tokenizer.model) or 'tokenizer.json'. */
  readonly tokenizer: string;
  readonly hasChatTemplate: boolean;
}
export const Load = request<LoadParams, LoadResult>('engine/load');
export const Unload = request<{ readonly modelId: string }, { readonly unloaded: boolean }>('engine/unload');

// ---- engine/generate --------------------------------------------------------------------------------------------------
export interface AdapterSpec {
  /** Adapter folder (adapter_config.json + weights). */
  readonly path: string;
  /** Multiplies the adapter's own scaling; 1 = as trained, 0 = off. */
  readonly scale: number;
}
export type PromptFormat = 'raw' | 'alpaca2' | 'chat';
export interface SamplingParams {
  readonly maxNewTokens?: number;
  /** 0 = greedy. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly repetitionPenalty?: number;
  readonly seed?: number;
  readonly stopAtEos?: boolean;
  readonly stopStrings?: readonly string[];
}
export interface GenerateParams extends SamplingParams {
  readonly modelId: string;
  readonly adapters: readonly AdapterSpec[];
  /** Text (formatted and tokenized as the model's tokenizer config says) or token ids used verbatim. */
  readonly prompt: { readonly text: string; readonly format?: PromptFormat; readonly system?: string; readonly thinking?: boolean } | { readonly ids: readonly number[] };
  /** Echoed in every `token` message so a host can route tokens of concurrent columns. */
  readonly stream?: string;
}
export interface GenerateResult {
  readonly promptIds: readonly number[];
  /** Generated ids only. */
  readonly ids: readonly number[];
  readonly text: string;
  readonly stopReason: 'eos' | 'max-tokens' | 'stop-string' | 'cancelled';
  /** Top-10 [id, logit] pairs of the last prompt position. */
  readonly logitsLast: ReadonlyArray<readonly [number, number]>;
  readonly timings: { readonly prefillTokensPerSecond: number; readonly decodeTokensPerSecond: number; readonly firstTokenMs: number; readonly totalMs: number };
}
export const Generate = request<GenerateParams, GenerateResult>('engine/generate');

// ---- engine/tokenize ------------------------------------------------------------------------------------------------
export interface TokenizeParams {
  readonly modelId: string;
  /** Use this adapter's tokenizer when it ships one (resized vocabulary). */
  readonly adapterPath?: string;
  readonly text: string;
  readonly format?: PromptFormat;
  readonly system?: string;
  /** Chat format: the template's enable_thinking (Qwen3); unset leaves the template's default. */
  readonly thinking?: boolean;
}
export interface TokenizeResult {
  readonly ids: readonly number[];
  readonly pieces: readonly string[];
}
export const Tokenize = request<TokenizeParams, TokenizeResult>('engine/tokenize');

// ---- engine/merge (issue 5) -------------------------------------------------------------------------------------------
export interface MergeParams {
  readonly adapterPath: string;
  readonly basePath: string;
  readonly outPath: string;
  readonly dtype?: 'auto' | 'float16' | 'bfloat16' | 'float32';
  /** Bytes per shard (default 5 GB, as transformers). */
  readonly shardSize?: number;
  readonly verify?: boolean;
  readonly backend?: BackendChoice;
  readonly threads?: number;
  /** The paths as the user typed them, recorded in merge_manifest.json (default: the absolute paths). */
  readonly baseGiven?: string;
  readonly adapterGiven?: string;
}
export interface MergeResult {
  readonly out: string;
  readonly tensors: number;
  readonly bytesWritten: number;
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly verified: boolean;
  readonly warnings: readonly string[];
}
export const Merge = request<MergeParams, MergeResult>('engine/merge');

// ---- engine/eval (issue 20) ----------------------------------------------------------------------------------------
export interface EvalCandidate {
  /** Shown in progress and results: 'base', a checkpoint's folder name. */
  readonly label: string;
  /** Adapters applied unmerged on the loaded base; empty for the base itself. */
  readonly adapters: readonly AdapterSpec[];
}
export interface EvalParams {
  readonly modelId: string;
  /** JSONL (Alpaca, messages / conversations, text) or a plain text file; the worker reads it. */
  readonly dataPath: string;
  /** How prompts are rendered: raw (default), alpaca2 or chat (the model's chat_template), as in the preview. */
  readonly format?: PromptFormat;
  readonly system?: string;
  /** Evaluate the first N examples only. */
  readonly limit?: number;
  readonly candidates: readonly EvalCandidate[];
  /** JSON cache of results (see core/eval/cache.ts); null or absent: no cache. */
  readonly cacheFile?: string | null;
}
/** The summary (loss, perplexity, 95% bootstrap intervals, tokens, examples) of one candidate, and where it came from. */
export interface EvalCandidateResult extends LossSummary {
  readonly label: string;
  readonly adapters: readonly string[];
  /** Examples cut to the context length / with nothing left to score. */
  readonly truncated: number;
  readonly skipped: number;
  readonly ms: number;
  /** Taken from the cache instead of evaluated now. */
  readonly cached: boolean;
}
export interface EvalResult {
  readonly dataPath: string;
  readonly format: PromptFormat;
  /** Examples read (after --limit). */
  readonly examples: number;
  readonly results: readonly EvalCandidateResult[];
  /** The cache file written, or null. */
  readonly cacheFile: string | null;
}
export const Eval = request<EvalParams, EvalResult>('engine/eval');
// ---- engine/fidelity (issue 16: a quantized export against its 16-bit model) -------------------------------------------
export interface FidelityParams {
  /** The model compared (e.g. a quantized GGUF export), loaded with engine/load; run without adapters. */
  readonly modelId: string;
  /** The reference (the 16-bit model) and the adapters its column ran with. */
  readonly referenceModelId: string;
  readonly referenceAdapters?: readonly AdapterSpec[];
  /** The reference column's run as engine/generate returned it: its prompt ids and generated ids. */
  readonly promptIds: readonly number[];
  readonly ids: readonly number[];
}
/**
 * Teacher-forced on the reference's tokens: per generated position, KL(p_ref || p_model) of the next-token
 * distributions (nats, softmax in float64) and whether the two argmax tokens agree.
 */
export interface FidelityResult extends Fidelity {
  /** True when only the first `positions` generated tokens were compared (the logits would not fit the memory cap). */
  readonly truncated: boolean;
}
export const FidelityCompare = request<FidelityParams, FidelityResult>('engine/fidelity');

// ---- engine/gguf (issue 16) ------------------------------------------------------------------------------------------
export interface GgufParams {
  /** The full model, or the base when adapterPath is set (for adapterOnly: default, the adapter's resolved base). */
  readonly modelPath?: string;
  /** Merge this adapter into the model on the way (or, with adapterOnly, export it alone). */
  readonly adapterPath?: string;
  /** A llama.cpp LoRA adapter GGUF of adapterPath (type f16 or f32). */
  readonly adapterOnly?: boolean;
  readonly outPath: string;
  readonly type: 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q5_0' | 'q4_k_m' | 'q5_k_m' | 'q6_k';
  readonly backend?: BackendChoice;
  readonly threads?: number;
}
export interface GgufResult {
  readonly out: string;
  readonly tensors: number;
  readonly bytesWritten: number;
  readonly seconds: number;
  readonly peakRssBytes: number;
  readonly type: GgufParams['type'];
  readonly warnings: readonly string[];
}
export const GgufExport = request<GgufParams, GgufResult>('engine/gguf');

// ---- engine/stats, engine/debugCrash (issue 18: soak runs and worker-death tests) -------------------------------------
export interface StatsResult {
  /** The worker isolate's JS heap (process.memoryUsage() inside the worker counts this thread's heap). */
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** ArrayBuffers and other memory outside the heap that this isolate holds (weights of the reference backend). */
  readonly externalBytes: number;
  /** WebAssembly memories owned by live WASM backends, and their committed bytes. */
  readonly wasmMemories: number;
  readonly wasmBytes: number;
  /** WASM thread-pool helper threads that have started and not exited. */
  readonly poolThreads: number;
  readonly loadedModels: number;
  /** This worker's threadId (a fresh worker after a death has a new one). */
  readonly threadId: number;
}
export const Stats = request<Record<string, never>, StatsResult>('engine/stats');

/** Env switch for test-only requests: engine/debugCrash is refused unless it is '1' in the worker's environment. */
export const TEST_HOOKS_ENV = 'LORA_WORKBENCH_TEST_HOOKS';
/** throw: an uncaught error outside any request; exit: process.exit(70) in the worker; oom: allocate past the heap limit. */
export type CrashKind = 'throw' | 'exit' | 'oom';
export const CRASH_KINDS: readonly CrashKind[] = ['throw', 'exit', 'oom'];
/** Exit code of the 'exit' crash, so tests can tell it from other exits. */
export const DEBUG_EXIT_CODE = 70;
export interface DebugCrashParams {
  readonly kind: CrashKind;
  /** Crash once this many more tokens were streamed (by any request), instead of now: answers {armed: true} at once. */
  readonly afterTokens?: number;
}
/** Without afterTokens it never answers: the worker dies and the request fails with 'worker-died'. */
export const DebugCrash = request<DebugCrashParams, { readonly armed: true }>('engine/debugCrash');

// ---- engine/cancel --------------------------------------------------------------------------------------------------
export interface CancelParams {
  readonly id: number;
}
export const Cancel = request<CancelParams, { readonly cancelled: boolean }>('engine/cancel');

// ---- envelopes ----------------------------------------------------------------------------------------------------
export interface RequestMessage {
  readonly v: number;
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly result: unknown }
  | {
    readonly type: 'error'; readonly id: number; readonly code: string; readonly message: string; readonly file?: string;
    /** The message as a core Text (template + args, plain data), so the front end can show it in the user's language. */
    readonly text?: Text;
  }
  | { readonly type: 'progress'; readonly id: number; readonly phase: string; readonly done: number; readonly total: number; readonly detail?: string }
  | { readonly type: 'token'; readonly id: number; readonly stream?: string; readonly tokenId: number; readonly text: string }
  | { readonly type: 'log'; readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; readonly message: string };

export type ProgressMessage = Extract<WorkerMessage, { type: 'progress' }>;
export type TokenMessage = Extract<WorkerMessage, { type: 'token' }>;
export type LogMessage = Extract<WorkerMessage, { type: 'log' }>;

/** Validate an inbound request envelope (the worker never trusts its input). */
export function isRequestMessage(m: unknown): m is RequestMessage {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return r.v === PROTOCOL_VERSION && typeof r.id === 'number' && typeof r.method === 'string' && r.method.startsWith('engine/');
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return t === 'ready' || t === 'result' || t === 'error' || t === 'progress' || t === 'token' || t === 'log';
}
