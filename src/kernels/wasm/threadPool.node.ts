// Thread pool for the WASM kernels: the calling thread (the engine worker) plus threads-1 helper worker_threads share
// one compiled WebAssembly.Module and every shared WebAssembly.Memory. Jobs are split into guided dynamic row chunks
// claimed with compare-exchange (claimRows; a static split gives 1.0x when the other core is busy); hand-off spins
// before waiting (KERNELS.md).

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { claimRows, CONTROL_INTS, CTL, FN_SYNC, MAX_ARGS, SPIN_ITERS, THREADED_KERNELS, type KernelExports, type KernelRunner, type ThreadedKernel } from './kernelTable';
import { helperExited, helperStarted } from './liveResources';

export interface ThreadPoolOptions {
  /** Tests only: per-chunk delay of helper `helper` (1-based thread id). */
  readonly slowHelper?: { readonly tid: number; readonly delayMs: number };
  readonly log?: (message: string) => void;
}

/** Where the helper entry lives: next to the bundle (dist/wasmHelper.js), or the .ts source when running under tsx. */
function helperEntry(): { file: string; execArgv: string[] } {
  const bundled = path.join(__dirname, 'wasmHelper.js');
  if (fs.existsSync(bundled)) return { file: bundled, execArgv: [] };
  const source = path.join(__dirname, 'threadHelper.node.ts');
  // createRequire keeps esbuild from trying to bundle the dev-only tsx hook.
  if (fs.existsSync(source)) return { file: source, execArgv: ['--require', createRequire(__filename).resolve('tsx/cjs')] };
  throw new Error(`WASM helper thread entry not found next to ${__dirname} (run npm run build)`);
}

/**
 * Contention guard: when the calling thread spends more than half of a job waiting for helpers (a helper descheduled
 * while holding a chunk, e.g. another process keeps a core busy) in SLOW_STREAK consecutive jobs, jobs run on the
 * calling thread alone for a while, then threads are tried again. The while is measured in time, not jobs (one count
 * of jobs was 3 tokens of decode but 10 s of prefill, and one false alarm - a helper paused by V8's background compile
 * during warm-up - ran a whole 256-token prompt on one thread): INLINE_BASE_MS, doubled each time the guard trips again
 * within TRUST_MS of threaded work (real contention), up to INLINE_MAX_MS, so a busy core costs a few slow jobs per
 * window. Results are bit-identical either way.
 */
const SLOW_STREAK = 4;
const INLINE_BASE_MS = 50;
const INLINE_MAX_MS = 2000;
/** Threaded work without a trip for this long resets the window to INLINE_BASE_MS. */
const TRUST_MS = 5000;
/** Waits shorter than this never count as slow (a normal hand-off costs well under it). */
const SLOW_WAIT_MS = 0.05;

export class ThreadPool implements KernelRunner {
  /** Jobs run inline by the contention guard so far (diagnostics, tests). */
  inlineJobs = 0;
  private log?: (message: string) => void;
  /** performance.now() until which jobs run on the calling thread (contention guard). */
  private inlineUntil = 0;
  private inlineWindowMs = INLINE_BASE_MS;
  /** When threads were last tried again after an inline window (or first used). */
  private threadedSince = -Infinity;
  private slowStreak = 0;
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly instances: KernelExports[] = [];
  private disposed = false;
  private failure: string | null = null;

  private constructor(
    private readonly module: WebAssembly.Module,
    private readonly control: SharedArrayBuffer,
    private readonly workers: Worker[],
    private readonly ports: MessagePort[],
  ) {
    this.ctl = new Int32Array(control, 0, CONTROL_INTS);
    this.args = new Float64Array(control, CONTROL_INTS * 4, MAX_ARGS);
    for (const w of workers) {
      w.on('message', (m: unknown) => {
        if (m && typeof m === 'object' && 'error' in m) this.failure = String((m as { error: unknown }).error);
      });
    }
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Starts threads-1 helpers (threads >= 2) over the given memories; resolves once every helper is ready. */
  static async create(module: WebAssembly.Module, threads: number, memories: WebAssembly.Memory[], options: ThreadPoolOptions = {}): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(CONTROL_INTS * 4 + MAX_ARGS * 8);
    const entry = helperEntry();
    const workers: Worker[] = [];
    const ports: MessagePort[] = [];
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const { port1, port2 } = new MessageChannel();
      const delayMs = options.slowHelper?.tid === tid ? options.slowHelper.delayMs : 0;
      const w = new Worker(entry.file, {
        execArgv: entry.execArgv,
        workerData: { module, memories, control, port: port2, tid, threads, delayMs },
        transferList: [port2],
      });
      helperStarted();
      w.once('exit', helperExited);
      ready.push(new Promise((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`WASM helper thread exited with code ${code} before it was ready`)));
      }));
      workers.push(w);
      ports.push(port1);
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const w of workers) void w.terminate();
      throw err;
    }
    // Referenced while starting (the caller awaits them); afterwards helpers must not keep the process alive.
    for (const w of workers) w.unref();
    for (const p of ports) p.unref();
    const pool = new ThreadPool(module, control, workers, ports);
    pool.log = options.log;
    for (const memory of memories) pool.instances.push(pool.instantiate(memory));
    return pool;
  }

  addMemory(memory: WebAssembly.Memory): KernelExports {
    for (const p of this.ports) p.postMessage({ memory });
    this.dispatch(FN_SYNC, 0, 0, 1, []);
    this.waitHelpers();
    const ex = this.instantiate(memory);
    this.instances.push(ex);
    return ex;
  }

  run(fn: ThreadedKernel, mem: number, total: number, chunk: number, args: readonly number[]): void {
    const f = this.instances[mem]![fn]!;
    if (this.workers.length === 0 || total <= chunk) {
      f(0, total, 0, ...args);
      return;
    }
    const started = performance.now();
    if (started < this.inlineUntil) {
      this.inlineJobs++;
      f(0, total, 0, ...args);
      return;
    }
    this.dispatch(THREADED_KERNELS.indexOf(fn), mem, total, chunk, args);
    const end = [0];
    for (let r0 = claimRows(this.ctl, total, chunk, this.threads, end); r0 >= 0; r0 = claimRows(this.ctl, total, chunk, this.threads, end)) {
      f(r0, end[0]!, 0, ...args);
    }
    const ownDone = performance.now();
    this.waitHelpers();
    if (this.failure) throw new Error(`WASM helper thread failed: ${this.failure}`);
    const waited = performance.now() - ownDone;
    if (waited > SLOW_WAIT_MS && waited > ownDone - started) {
      if (++this.slowStreak >= SLOW_STREAK) this.goInline(waited, ownDone - started);
    } else {
      this.slowStreak = 0;
    }
  }

  /** The guard trips: the calling thread alone for the current window, longer each time contention persists. */
  private goInline(waited: number, own: number): void {
    const now = performance.now();
    this.slowStreak = 0;
    this.inlineWindowMs = now - this.threadedSince > TRUST_MS ? INLINE_BASE_MS : Math.min(INLINE_MAX_MS, this.inlineWindowMs * 2);
    this.inlineUntil = now + this.inlineWindowMs;
    this.threadedSince = this.inlineUntil;
    if (this.inlineJobs === 0) this.log?.(`WASM thread pool: helpers are being descheduled (waited ${waited.toFixed(2)} ms after ${own.toFixed(2)} ms of own work); jobs run on one thread for ${this.inlineWindowMs} ms`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctl, CTL.STOP, 1);
    Atomics.add(this.ctl, CTL.GEN, 1);
    Atomics.notify(this.ctl, CTL.GEN);
    for (const p of this.ports) p.close();
    for (const w of this.workers) void w.terminate();
  }

  private instantiate(memory: WebAssembly.Memory): KernelExports {
    return new WebAssembly.Instance(this.module, { env: { memory } }).exports as unknown as KernelExports;
  }

  private dispatch(fnId: number, mem: number, total: number, chunk: number, args: readonly number[]): void {
    if (this.disposed) throw new Error('WASM thread pool used after dispose');
    if (args.length > MAX_ARGS) throw new RangeError('too many kernel arguments');
    this.args.set(args);
    const c = this.ctl;
    c[CTL.NARGS] = args.length;
    c[CTL.FN] = fnId;
    c[CTL.TOTAL] = total;
    c[CTL.CHUNK] = chunk;
    c[CTL.MEM] = mem;
    Atomics.store(c, CTL.NEXT, 0);
    Atomics.store(c, CTL.DONE, 0);
    // The seq-cst add publishes the plain writes above to every helper that observes the new generation.
    Atomics.add(c, CTL.GEN, 1);
    Atomics.notify(c, CTL.GEN);
  }

  private waitHelpers(): void {
    const n = this.workers.length;
    let spins = 0;
    for (let d = Atomics.load(this.ctl, CTL.DONE); d < n; d = Atomics.load(this.ctl, CTL.DONE)) {
      if (++spins > SPIN_ITERS) Atomics.wait(this.ctl, CTL.DONE, d, 5);
    }
  }
}
