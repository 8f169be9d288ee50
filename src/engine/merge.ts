// engine/merge: plans and runs a streaming LoRA merge inside the engine worker (never on the extension host thread),
// forwarding progress and plan warnings, and reporting the process's peak RSS. Semantics live in src/core/merge/.

import type { Backend } from '../core/backend';
import { CoreError } from '../core/errors';
import { planMerge, type OutDTypeChoice } from '../core/merge/plan';
import { runMerge } from '../core/merge/run';
import type { WritableFsPort } from '../core/ports';
import { isAbsolutePath, normalizePath } from '../core/paths';
import { readTorchBinTensors } from '../core/torchpickle/binReader';
import type { JobContext } from './handlers';
import { ENGINE_VERSION } from './probe';
import type { BackendChoice, MergeParams, MergeResult } from './protocol';

export type MergeBackendFactory = (backend: BackendChoice | undefined, threads: number | undefined, log: (line: string) => void) => Promise<Backend>;

const DTYPES: readonly OutDTypeChoice[] = ['auto', 'float16', 'bfloat16', 'float32'];

function absolute(p: unknown, what: string): string {
  if (typeof p !== 'string' || !isAbsolutePath(p)) throw new CoreError('usage', `engine/merge: ${what} must be an absolute path.`);
  return normalizePath(p);
}

/**
 * LORA_WORKBENCH_TEST_MERGE_DELAY_MS: a pause after each merged (or exported) tensor, set only by the e2e runner and the
 * kill tests so that a job on a small test model lasts long enough to be cancelled or raced (a 1 GiB merge takes under
 * a second).
 */
export function testDelayAfterTensor(): (() => Promise<void>) | undefined {
  const ms = Number(process.env.LORA_WORKBENCH_TEST_MERGE_DELAY_MS);
  return Number.isFinite(ms) && ms > 0 ? () => new Promise((resolve) => setTimeout(resolve, ms)) : undefined;
}

/** Peak resident set size of this process, in bytes (worker threads share it). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export async function handleMerge(params: MergeParams, ctx: JobContext, io: WritableFsPort, createBackend: MergeBackendFactory): Promise<MergeResult> {
  const started = performance.now();
  const adapterGiven = absolute(params?.adapterPath, 'adapterPath');
  const baseGiven = absolute(params.basePath, 'basePath');
  const out = absolute(params.outPath, 'outPath');
  const dtype = params.dtype ?? 'auto';
  if (!DTYPES.includes(dtype)) throw new CoreError('usage', `engine/merge: dtype must be one of ${DTYPES.join(', ')}.`);
  if (params.shardSize !== undefined && !(Number.isSafeInteger(params.shardSize) && params.shardSize > 0)) {
    throw new CoreError('usage', 'engine/merge: shardSize must be a positive number of bytes.');
  }
  const plan = await planMerge(io, {
    baseGiven: params.baseGiven ?? baseGiven, basePath: await io.realpath(baseGiven),
    adapterGiven: params.adapterGiven ?? adapterGiven, adapterPath: await io.realpath(adapterGiven),
    dtype, shardSize: params.shardSize,
  }, readTorchBinTensors);
  for (const w of plan.warnings) ctx.log('warn', `merge: ${w}`);
  const backend = await createBackend(params.backend, params.threads, (line) => ctx.log('info', line));
  try {
    ctx.log('info', `merge: ${plan.tensors.length} tensors, ${(plan.outputBytes / 1e9).toFixed(2)} GB in ${plan.shards.length} shard(s) on the ${backend.info.name} backend`);
    const summary = await runMerge(plan, out, io, backend, {
      signal: ctx.signal,
      onProgress: (phase, done, total, detail) => ctx.progress(phase, done, total, detail),
      verify: params.verify ?? true,
      toolVersion: ENGINE_VERSION,
      settings: { backend: backend.info.name, threads: backend.info.threads },
      afterTensor: testDelayAfterTensor(),
    });
    return {
      out: summary.out,
      tensors: summary.tensors,
      bytesWritten: summary.bytesWritten,
      seconds: (performance.now() - started) / 1000,
      peakRssBytes: peakRssBytes(),
      verified: summary.verified,
      warnings: summary.warnings,
    };
  } finally {
    backend.dispose();
  }
}
