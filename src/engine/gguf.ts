// engine/gguf: plans and runs a GGUF export (a full model, or an adapter merged into its base on the way) inside the
// engine worker, forwarding progress and plan warnings. Semantics live in src/core/gguf/.

import { CoreError } from '../core/errors';
import { planGgufExport, runGgufExport } from '../core/gguf/export';
import { isExportType } from '../core/gguf/format';
import type { WritableFsPort } from '../core/ports';
import { isAbsolutePath, normalizePath } from '../core/paths';
import { readTorchBinTensors } from '../core/torchpickle/binReader';
import type { JobContext } from './handlers';
import { peakRssBytes, type MergeBackendFactory } from './merge';
import type { GgufParams, GgufResult } from './protocol';

function absolute(p: unknown, what: string): string {
  if (typeof p !== 'string' || !isAbsolutePath(p)) throw new CoreError('usage', `engine/gguf: ${what} must be an absolute path.`);
  return normalizePath(p);
}

export async function handleGguf(params: GgufParams, ctx: JobContext, io: WritableFsPort, createBackend: MergeBackendFactory): Promise<GgufResult> {
  const started = performance.now();
  const modelPath = await io.realpath(absolute(params?.modelPath, 'modelPath'));
  const adapterPath = params.adapterPath === undefined ? undefined : await io.realpath(absolute(params.adapterPath, 'adapterPath'));
  const out = absolute(params.outPath, 'outPath');
  if (!isExportType(params.type)) throw new CoreError('usage', `engine/gguf: unknown type '${String(params.type)}'.`);
  const plan = await planGgufExport(io, { modelPath, adapterPath, type: params.type }, readTorchBinTensors);
  for (const w of plan.warnings) ctx.log('warn', `gguf: ${w}`);
  // Only LoRA-merged weights need the backend; a plain conversion never starts one.
  const backend = plan.needsBackend ? await createBackend(params.backend, params.threads, (line) => ctx.log('info', line)) : null;
  try {
    ctx.log('info', `gguf: ${plan.tensors.length} tensors, ${(plan.layout.fileSize / 1e9).toFixed(3)} GB as ${params.type}`);
    const summary = await runGgufExport(plan, out, io, backend, {
      signal: ctx.signal,
      onProgress: (phase, done, total, detail) => ctx.progress(phase, done, total, detail),
    });
    return {
      out: summary.out, tensors: summary.tensors, bytesWritten: summary.bytesWritten, type: params.type,
      seconds: (performance.now() - started) / 1000, peakRssBytes: peakRssBytes(), warnings: plan.warnings,
    };
  } finally {
    backend?.dispose();
  }
}
