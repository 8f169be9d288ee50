// Request handlers of the engine worker: one function per protocol method, each given a context with the job's
// AbortSignal and push channels. The worker entry (worker.node.ts) owns dispatch and cancellation.

import type { RequestType } from './protocol';

export interface JobContext {
  readonly id: number;
  readonly signal: AbortSignal;
  progress(phase: string, done: number, total: number, detail?: string): void;
  token(tokenId: number, text: string, stream?: string): void;
  log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export type Handler<P, R> = (params: P, ctx: JobContext) => Promise<R>;

/** A method-indexed table; `on` keeps Params/Result tied to the declared RequestType. */
export class HandlerTable {
  private readonly handlers = new Map<string, Handler<unknown, unknown>>();

  on<P, R>(type: RequestType<P, R>, handler: Handler<P, R>): this {
    this.handlers.set(type.method, handler as Handler<unknown, unknown>);
    return this;
  }

  get(method: string): Handler<unknown, unknown> | undefined {
    return this.handlers.get(method);
  }
}
