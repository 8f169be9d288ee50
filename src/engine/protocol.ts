// The one typed protocol between the engine worker and its hosts (extension, CLI). Shared by both sides; the webview
// has its own messages (webview/) and never talks to the worker directly.
// Envelope host -> worker: {v, id, method, params}. Worker -> host: a union on `type`.

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
  readonly webgpu: { readonly available: boolean; readonly adapter: string | null; readonly isFallback: boolean | null; readonly reason: string | null };
  readonly backends: readonly string[];
}
export const Probe = request<ProbeParams, ProbeResult>('engine/probe');

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
  | { readonly type: 'error'; readonly id: number; readonly code: string; readonly message: string; readonly file?: string }
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
