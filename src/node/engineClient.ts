// Host side of the engine protocol: starts the engine worker (worker_threads), sends typed requests, routes pushed
// progress/token/log messages to the caller, and turns an AbortSignal into engine/cancel. Used by the CLI and the extension.
// A worker that dies (an uncaught error, out of memory, process.exit) fails its in-flight requests once with
// 'worker-died', is reported to onWorkerDied once, and is replaced by a fresh worker on the next request (issue 18).

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CoreError, type CoreErrorCode } from '../core/errors';
import { reclaimDeadThreadLeftovers } from '../core/merge/partialOutput';
import { isText, tr, type Text } from '../core/text';
import {
  Cancel, GgufExport, Merge, PROTOCOL_VERSION, isWorkerMessage,
  type LogMessage, type ProgressMessage, type RequestType, type TokenMessage, type WorkerMessage,
} from '../engine/protocol';
import { NodeFs } from './nodeFs';

export interface RequestOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (m: ProgressMessage) => void;
  readonly onToken?: (m: TokenMessage) => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  options: RequestOptions;
  /** The output folder or file of a merge/export, whose temporary sibling a dead worker leaves behind. */
  outPath?: string;
}

/**
 * The worker isolate's heap limit. Weights live outside it (WASM memories, ArrayBuffers); the heap holds tokenizers,
 * plans and JSON, far below this. The explicit limit makes a runaway allocation end the worker alone (Node terminates a
 * worker at its resourceLimits) instead of the process that hosts it: the extension host or the CLI.
 */
export const DEFAULT_WORKER_HEAP_MB = 4096;

export interface EngineClientOptions {
  /** Path of the bundled worker script (dist/engineWorker.js). */
  readonly workerPath?: string;
  readonly onLog?: (m: LogMessage) => void;
  /** Extra V8 flags for the worker's isolate is not possible per worker; flags go to the process (see cli). */
  readonly env?: Record<string, string>;
  /** Old-generation heap limit of each worker in MiB (default DEFAULT_WORKER_HEAP_MB); tests use a small one. */
  readonly heapLimitMb?: number;
}

/** How a worker died, as reported to onWorkerDied. */
export interface WorkerDeath {
  readonly cause: 'out-of-memory' | 'uncaught-error' | 'exit';
  readonly exitCode: number;
  readonly threadId: number;
  /** Requests that were in flight and were failed with `error`. */
  readonly inFlight: number;
  /** The 'worker-died' error each of them was rejected with (message in English, text to translate). */
  readonly error: CoreError;
}

/** One worker thread and the requests sent to it: its state dies with it. */
interface WorkerSession {
  readonly worker: Worker;
  readonly threadId: number;
  readonly ready: Promise<void>;
  readonly pending: Map<number, Pending>;
  /** The first 'error' event, which tells an out-of-memory or an uncaught error from a plain exit. */
  fault: Error | null;
  /** Set once the worker has exited (or was stopped): requests to it fail with this. */
  dead: CoreError | null;
}

/** dist/engineWorker.js next to the bundle, or the .ts source under tsx (tests running src/ directly). */
function workerEntry(): { file: string; execArgv?: string[] } {
  const bundled = path.join(__dirname, 'engineWorker.js');
  if (fs.existsSync(bundled)) return { file: bundled }; // inherits the process's execArgv, as a Worker does by default
  const source = path.join(__dirname, '..', 'engine', 'worker.node.ts');
  // createRequire keeps esbuild from trying to bundle the dev-only tsx hook.
  if (fs.existsSync(source)) return { file: source, execArgv: ['--require', createRequire(__filename).resolve('tsx/cjs')] };
  return { file: bundled }; // fails at start with Node's own "cannot find module" naming the path
}

function deathCause(fault: Error | null, exitCode: number, heapMb: number): { cause: WorkerDeath['cause']; text: Text } {
  if ((fault as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { cause: 'out-of-memory', text: tr`it ran out of memory (its heap limit is ${heapMb} MiB)` };
  }
  if (fault) return { cause: 'uncaught-error', text: tr`an uncaught error: ${fault.message}` };
  return { cause: 'exit', text: tr`it exited with code ${exitCode}` };
}

export class EngineClient {
  private session: WorkerSession | null = null;
  private nextId = 1;
  private disposed = false;
  private readonly deathListeners = new Set<(d: WorkerDeath) => void>();

  constructor(private readonly options: EngineClientOptions = {}) {
    this.session = this.start();
  }

  /** Called once per worker death, after its in-flight requests were rejected. Returns an unsubscribe function. */
  onWorkerDied(listener: (d: WorkerDeath) => void): () => void {
    this.deathListeners.add(listener);
    return () => this.deathListeners.delete(listener);
  }

  async request<P, R>(type: RequestType<P, R>, params: P, options: RequestOptions = {}): Promise<R> {
    if (this.disposed) throw new CoreError('internal', tr`The engine was stopped.`);
    const s = (this.session ??= this.start());
    await s.ready;
    if (s.dead) throw s.dead;
    if (options.signal?.aborted) throw new CoreError('cancelled', tr`Cancelled.`);
    const id = this.nextId++;
    const result = new Promise<R>((resolve, reject) => {
      s.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, options, outPath: outPathOf(type, params) });
    });
    const onAbort = (): void => {
      if (!s.dead) s.worker.postMessage({ v: PROTOCOL_VERSION, id: this.nextId++, method: Cancel.method, params: { id } });
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    s.worker.postMessage({ v: PROTOCOL_VERSION, id, method: type.method, params });
    try {
      return await result;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const s = this.session;
    this.session = null;
    if (!s) return;
    s.dead ??= new CoreError('internal', tr`The engine was stopped.`);
    this.rejectPending(s, s.dead);
    await s.worker.terminate();
  }

  private start(): WorkerSession {
    const entry = this.options.workerPath ? { file: this.options.workerPath } : workerEntry();
    const worker = new Worker(entry.file, {
      execArgv: entry.execArgv,
      env: this.options.env ? { ...process.env, ...this.options.env } : process.env,
      resourceLimits: { maxOldGenerationSizeMb: this.heapLimitMb },
    });
    const session: WorkerSession = {
      worker, threadId: worker.threadId, pending: new Map(), fault: null, dead: null,
      ready: new Promise<void>((resolve) => {
        const onReady = (m: unknown): void => {
          if (!isWorkerMessage(m) || m.type !== 'ready') return;
          worker.off('message', onReady);
          resolve();
        };
        worker.on('message', onReady);
        // A worker that dies before it is ready resolves too: request() then finds it dead and throws its error.
        worker.once('exit', () => resolve());
      }),
    };
    worker.on('message', (m: unknown) => this.onMessage(session, m));
    worker.on('error', (err) => { session.fault ??= err; });
    worker.on('exit', (code) => this.onExit(session, code));
    return session;
  }

  private get heapLimitMb(): number {
    return this.options.heapLimitMb ?? DEFAULT_WORKER_HEAP_MB;
  }

  private onExit(s: WorkerSession, exitCode: number): void {
    if (s.dead) return; // stopped by dispose(): not a death
    const { cause, text } = deathCause(s.fault, exitCode, this.heapLimitMb);
    const error = new CoreError('worker-died', tr`The engine worker stopped: ${text}. The requests it was running failed; the next one starts a new worker.`);
    s.dead = error;
    if (this.session === s) this.session = null;
    const inFlight = s.pending.size;
    const outPaths = [...s.pending.values()].flatMap((p) => (p.outPath ? [p.outPath] : []));
    this.rejectPending(s, error);
    this.options.onLog?.({ type: 'log', level: 'error', message: `${error.message} (thread ${s.threadId}, exit code ${exitCode}, ${inFlight} in flight)${s.fault?.stack ? `\n${s.fault.stack}` : ''}` });
    void this.reclaimDeadWorkerLeftovers(s.threadId, outPaths);
    const death: WorkerDeath = { cause, exitCode, threadId: s.threadId, inFlight, error };
    for (const listener of this.deathListeners) listener(death);
  }

  /**
   * Remove the temporary outputs the dead worker's merges/exports left beside their outputs. Their owner record
   * names this process, which lives on, so no later job would judge them gone; the thread id proves they are.
   */
  private async reclaimDeadWorkerLeftovers(threadId: number, outPaths: readonly string[]): Promise<void> {
    const io = new NodeFs();
    const dead = { pid: process.pid, host: os.hostname(), threadId };
    for (const parent of new Set(outPaths.map((p) => path.dirname(p)))) {
      const removed = await reclaimDeadThreadLeftovers(io, parent, dead).catch(() => []);
      for (const l of removed) this.options.onLog?.({ type: 'log', level: 'info', message: `removed ${l.path}, left by the dead engine worker (thread ${threadId})` });
    }
  }

  private rejectPending(s: WorkerSession, error: CoreError): void {
    for (const p of s.pending.values()) p.reject(error);
    s.pending.clear();
  }

  private onMessage(s: WorkerSession, raw: unknown): void {
    if (!isWorkerMessage(raw)) return;
    const m: WorkerMessage = raw;
    switch (m.type) {
      case 'ready':
        return;
      case 'log':
        this.options.onLog?.(m);
        return;
      case 'progress':
        s.pending.get(m.id)?.options.onProgress?.(m);
        return;
      case 'token':
        s.pending.get(m.id)?.options.onToken?.(m);
        return;
      case 'result': {
        const p = s.pending.get(m.id);
        s.pending.delete(m.id);
        p?.resolve(m.result);
        return;
      }
      case 'error': {
        const p = s.pending.get(m.id);
        s.pending.delete(m.id);
        p?.reject(new CoreError(m.code as CoreErrorCode, m.text && isText(m.text) ? m.text : m.message, m.file));
        return;
      }
    }
  }
}

/** The output path of the requests that write through a temporary sibling (merge, GGUF export). */
function outPathOf(type: RequestType<unknown, unknown>, params: unknown): string | undefined {
  if (type.method !== Merge.method && type.method !== GgufExport.method) return undefined;
  const out = (params as { outPath?: unknown } | null)?.outPath;
  return typeof out === 'string' ? path.resolve(out) : undefined;
}
