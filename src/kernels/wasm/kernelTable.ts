// The contract between the WASM backend, its thread pool and the helper threads: which kernels run split over rows, the
// layout of the shared control block, and the runner interface the backend talks to. Pure (no node:*).

/** Kernels with the (r0, r1, tid, ...args) signature, by job id. Order is the wire format between threads. */
export const THREADED_KERNELS = ['mv_f32', 'mv_f16', 'mv_bf16', 'mv_q8', 'mm', 'lora_delta', 'attention', 'stream_read', 'lora_merge', 'fma_peak', 'mm_q8', 'quant_q4_k', 'quant_q5_k', 'quant_q6_k', 'quant_q8_0', 'mv_q4', 'lora_up', 'dot_peak', 'gated_rows'] as const;
export type ThreadedKernel = (typeof THREADED_KERNELS)[number];

/** Int32 slots of the control block (a SharedArrayBuffer of CONTROL_INTS int32 + MAX_ARGS float64). */
export const CTL = {
  /** Job generation; helpers wait on it. */
  GEN: 0,
  /** Next unclaimed row (claimed by compare-exchange, see claimRows: guided dynamic chunks). */
  NEXT: 1,
  /** Helpers finished with the current generation. */
  DONE: 2,
  FN: 3,
  TOTAL: 4,
  CHUNK: 5,
  MEM: 6,
  /** 1: helpers exit. */
  STOP: 7,
  NARGS: 8,
} as const;
export const CONTROL_INTS = 16;
export const MAX_ARGS = 16;
/** FN value asking helpers to drain their message port synchronously (new memories) instead of running a kernel. */
export const FN_SYNC = -1;
/**
 * Spin iterations (Atomics.load) before a thread sleeps in Atomics.wait: waking a sleeping thread costs 41-51 us, a
 * spin catches the next job of a decode step within ~0.3 us (KERNELS.md).
 */
export const SPIN_ITERS = 1 << 15;

/**
 * Guided chunks: each claim takes 1/(GUIDED * threads) of the rows left (at least `chunk`, in multiples of it), so a
 * thread streams long contiguous runs first and the small chunks at the end still balance the threads. Fixed 64-row
 * chunks interleave the threads every 256-512 KiB; guided ones measured +6-12% on 2-thread matvec (same bytes,
 * interleaved A/B). Which rows a thread gets never changes a result: every kernel computes each row on its own.
 */
const GUIDED = 2;

/** Claims the next rows [r0, end[0]) of the current job; returns r0, or -1 when none are left. */
export function claimRows(ctl: Int32Array, total: number, chunk: number, threads: number, end: number[]): number {
  for (;;) {
    const r0 = Atomics.load(ctl, CTL.NEXT);
    if (r0 >= total) return -1;
    const size = Math.max(chunk, Math.floor((total - r0) / (threads * GUIDED) / chunk) * chunk);
    if (Atomics.compareExchange(ctl, CTL.NEXT, r0, r0 + size) === r0) {
      end[0] = Math.min(r0 + size, total);
      return r0;
    }
  }
}

export type KernelExports = Record<string, (...args: number[]) => number | void>;

/** Runs kernels on one or more threads over the backend's memories. */
export interface KernelRunner {
  readonly threads: number;
  /** Instantiate the module over a new memory on every thread (memory index = call order); returns this thread's exports. */
  addMemory(memory: WebAssembly.Memory): KernelExports;
  /** Run `fn(r0, r1, tid, ...args)` over rows [0, total) in chunks of `chunk` rows on every thread; returns when done. */
  run(fn: ThreadedKernel, mem: number, total: number, chunk: number, args: readonly number[]): void;
  dispose(): void;
}

/** Single-threaded runner: the calling thread does everything (threads = 1, or no worker_threads). */
export class InlineRunner implements KernelRunner {
  readonly threads = 1;
  private readonly instances: KernelExports[] = [];
  constructor(private readonly module: WebAssembly.Module) {}
  addMemory(memory: WebAssembly.Memory): KernelExports {
    const ex = new WebAssembly.Instance(this.module, { env: { memory } }).exports as unknown as KernelExports;
    this.instances.push(ex);
    return ex;
  }
  run(fn: ThreadedKernel, mem: number, total: number, _chunk: number, args: readonly number[]): void {
    this.instances[mem]![fn]!(0, total, 0, ...args);
  }
  dispose(): void {
    this.instances.length = 0;
  }
}
