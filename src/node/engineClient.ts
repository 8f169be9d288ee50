// Host side of the engine protocol: starts the engine worker (worker_threads), sends typed requests, routes pushed
// progress/token/log messages to the caller, and turns an AbortSignal into engine/cancel. Used by the CLI and the extension.

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CoreError, type CoreErrorCode } from '../core/errors';
import { isText } from '../core/text';
import {
  Cancel, PROTOCOL_VERSION, isWorkerMessage,
  type LogMessage, type ProgressMessage, type RequestType, type TokenMessage, type WorkerMessage,
} from '../engine/protocol';

export interface RequestOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (m: ProgressMessage) => void;
  readonly onToken?: (m: TokenMessage) => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  options: RequestOptions;
}

export interface EngineClientOptions {
  /** Path of the bundled worker script (dist/engineWorker.js). */
  readonly workerPath?: string;
  readonly onLog?: (m: LogMessage) => void;
  /** Extra V8 flags for the worker's isolate is not possible per worker; flags go to the process (see cli). */
  readonly env?: Record<string, string>;
}

export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly ready: Promise<void>;
  private exited: Error | null = null;

  constructor(private readonly options: EngineClientOptions = {}) {
    const workerPath = options.workerPath ?? path.join(__dirname, 'engineWorker.js');
    this.worker = new Worker(workerPath, { env: options.env ? { ...process.env, ...options.env } : process.env });
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (isWorkerMessage(m) && m.type === 'ready') {
          this.worker.off('message', onMessage);
          resolve();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
    this.worker.on('message', (m: unknown) => this.onMessage(m));
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => this.failAll(new Error(`engine worker exited with code ${code}`)));
  }

  async request<P, R>(type: RequestType<P, R>, params: P, options: RequestOptions = {}): Promise<R> {
    await this.ready;
    if (this.exited) throw new CoreError('internal', this.exited.message);
    if (options.signal?.aborted) throw new CoreError('cancelled', 'Cancelled.');
    const id = this.nextId++;
    const result = new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, options });
    });
    const onAbort = (): void => {
      this.worker.postMessage({ v: PROTOCOL_VERSION, id: this.nextId++, method: Cancel.method, params: { id } });
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.worker.postMessage({ v: PROTOCOL_VERSION, id, method: type.method, params });
    try {
      return await result;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async dispose(): Promise<void> {
    this.exited ??= new Error('engine stopped');
    await this.worker.terminate();
  }

  private onMessage(raw: unknown): void {
    if (!isWorkerMessage(raw)) return;
    const m: WorkerMessage = raw;
    switch (m.type) {
      case 'ready':
        return;
      case 'log':
        this.options.onLog?.(m);
        return;
      case 'progress':
        this.pending.get(m.id)?.options.onProgress?.(m);
        return;
      case 'token':
        this.pending.get(m.id)?.options.onToken?.(m);
        return;
      case 'result': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m.result);
        return;
      }
      case 'error': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.reject(new CoreError(m.code as CoreErrorCode, m.text && isText(m.text) ? m.text : m.message, m.file));
        return;
      }
    }
  }

  private failAll(err: Error): void {
    this.exited ??= err;
    for (const p of this.pending.values()) p.reject(new CoreError('internal', `The engine stopped: ${err.message}`));
    this.pending.clear();
  }
}
