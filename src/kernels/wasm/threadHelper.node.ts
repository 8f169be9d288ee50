// Helper thread of the WASM thread pool (bundled to dist/wasmHelper.js). Instantiates the shared compiled module over
// every shared memory, then loops: spin briefly, else Atomics.wait for the next job generation, claim row chunks with
// claimRows until none are left, count itself done. Never returns to the event loop while the pool lives, so new
// memories arrive through a MessagePort drained synchronously (receiveMessageOnPort) on an FN_SYNC job.

import { receiveMessageOnPort, workerData, parentPort, type MessagePort } from 'node:worker_threads';
import { claimRows, CONTROL_INTS, CTL, FN_SYNC, SPIN_ITERS, THREADED_KERNELS, type KernelExports } from './kernelTable';

interface HelperData {
  readonly module: WebAssembly.Module;
  readonly memories: WebAssembly.Memory[];
  readonly control: SharedArrayBuffer;
  readonly port: MessagePort;
  readonly tid: number;
  /** Threads in the pool, the calling thread included (sizes guided chunks). */
  readonly threads: number;
  /** Tests only: busy-wait this long per chunk to simulate a helper on a loaded core. */
  readonly delayMs: number;
}

const data = workerData as HelperData;
const ctl = new Int32Array(data.control, 0, CONTROL_INTS);
const args = new Float64Array(data.control, CONTROL_INTS * 4);
const instances: KernelExports[] = data.memories.map(
  (memory) => new WebAssembly.Instance(data.module, { env: { memory } }).exports as unknown as KernelExports);
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function drainPort(): void {
  for (let m = receiveMessageOnPort(data.port); m; m = receiveMessageOnPort(data.port)) {
    const memory = (m.message as { memory: WebAssembly.Memory }).memory;
    instances.push(new WebAssembly.Instance(data.module, { env: { memory } }).exports as unknown as KernelExports);
  }
}

function runJob(): void {
  const fnId = ctl[CTL.FN]!;
  if (fnId === FN_SYNC) {
    drainPort();
    return;
  }
  const fn = instances[ctl[CTL.MEM]!]![THREADED_KERNELS[fnId]!]!;
  const total = ctl[CTL.TOTAL]!;
  const chunk = ctl[CTL.CHUNK]!;
  const a = Array.from(args.subarray(0, ctl[CTL.NARGS]!));
  const end = [0];
  for (let r0 = claimRows(ctl, total, chunk, data.threads, end); r0 >= 0; r0 = claimRows(ctl, total, chunk, data.threads, end)) {
    if (data.delayMs > 0) Atomics.wait(sleeper, 0, 0, data.delayMs);
    fn(r0, end[0]!, data.tid, ...a);
  }
}

// Read the generation before announcing readiness: the pool dispatches only after every 'ready', so no job is missed.
let seen = Atomics.load(ctl, CTL.GEN);
parentPort!.postMessage('ready');
for (;;) {
  let spins = 0;
  let g: number;
  while ((g = Atomics.load(ctl, CTL.GEN)) === seen) {
    if (++spins > SPIN_ITERS) {
      Atomics.wait(ctl, CTL.GEN, seen);
      spins = 0;
    }
  }
  seen = g;
  if (Atomics.load(ctl, CTL.STOP)) break;
  try {
    runJob();
  } catch (err) {
    // Always count done, or the calling thread would wait forever; the error is reported after the job.
    parentPort!.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
  Atomics.add(ctl, CTL.DONE, 1);
  Atomics.notify(ctl, CTL.DONE);
}
