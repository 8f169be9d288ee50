// Test-only engine requests (issue 18): engine/debugCrash kills this worker the three ways a real one dies, so the
// host's handling of a dead worker can be tested end to end; engine/stats reports what the worker holds, for soak runs.
// debugCrash is refused unless the worker's environment has LORA_WORKBENCH_TEST_HOOKS=1 (set by tests and the e2e runner).

import { threadId } from 'node:worker_threads';
import { CoreError } from '../core/errors';
import { tr } from '../core/text';
import { liveWasmResources } from '../kernels/wasm/liveResources';
import { CRASH_KINDS, DEBUG_EXIT_CODE, TEST_HOOKS_ENV, type CrashKind, type DebugCrashParams, type StatsResult } from './protocol';

export function engineStats(loadedModels: number): StatsResult {
  const mem = process.memoryUsage();
  const wasm = liveWasmResources();
  return {
    heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external,
    wasmMemories: wasm.memories, wasmBytes: wasm.bytes, poolThreads: wasm.helperThreads, loadedModels, threadId,
  };
}

/** Holds what the 'oom' crash allocates, so the collector cannot free it. */
const hoard: unknown[] = [];

function crash(kind: CrashKind): void {
  if (kind === 'throw') throw new Error('engine/debugCrash: an error thrown outside any request');
  if (kind === 'exit') process.exit(DEBUG_EXIT_CODE);
  // Small arrays of doubles grow the JS heap itself (unlike ArrayBuffers) until the worker's resourceLimits stop it.
  for (;;) hoard.push(new Array<number>(1 << 16).fill(Math.random()));
}

let armed: { kind: CrashKind; tokensLeft: number } | null = null;

/**
 * Crash on a later turn, outside the request's promise chain, as a real fault would (not as a rejected request): now,
 * or once `afterTokens` more tokens have streamed, so a test can kill a generation mid-way at a token it chooses.
 */
export function debugCrash(params: Partial<DebugCrashParams> | null | undefined): Promise<{ armed: true }> {
  if (process.env[TEST_HOOKS_ENV] !== '1') {
    return Promise.reject(new CoreError('usage', tr`engine/debugCrash is a test hook: it runs only when ${TEST_HOOKS_ENV}=1 is set.`));
  }
  const kind = params?.kind as CrashKind;
  if (!CRASH_KINDS.includes(kind)) return Promise.reject(new CoreError('usage', tr`engine/debugCrash: unknown kind '${String(kind)}' (throw, exit or oom).`));
  const after = params?.afterTokens;
  if (typeof after === 'number' && after >= 1) {
    armed = { kind, tokensLeft: Math.floor(after) };
    return Promise.resolve({ armed: true });
  }
  setTimeout(() => crash(kind), 0);
  return new Promise<never>(() => undefined);
}

/** Called by the worker after each streamed token: fires an armed crash. */
export function tokenStreamed(): void {
  if (!armed || --armed.tokensLeft > 0) return;
  const { kind } = armed;
  armed = null;
  setTimeout(() => crash(kind), 0);
}
