// engine/gguf: plans and runs a GGUF export (a full model, or an adapter merged into its base on the way) inside the
// engine worker, forwarding progress and plan warnings. Semantics live in src/core/gguf/.

import { CoreError } from '../core/errors';
import { resolveBaseModel } from '../core/basemodel/resolve';
import { planLoraAdapterGguf } from '../core/gguf/adapterExport';
import { planGgufExport, runGgufExport, type GgufExportPlan } from '../core/gguf/export';
import { ENGINE_VERSION } from './probe';
import { readJsonObject } from '../core/jsonFile';
import { tr } from '../core/text';
import { isExportType } from '../core/gguf/format';
import type { WritableFsPort } from '../core/ports';
import { isAbsolutePath, joinPath, normalizePath } from '../core/paths';
import { readTorchBinTensors } from '../core/torchpickle/binReader';
import type { JobContext } from './handlers';
import { peakRssBytes, testDelayAfterTensor, type MergeBackendFactory } from './merge';
import type { GgufParams, GgufResult } from './protocol';

function absolute(p: unknown, what: string): string {
  if (typeof p !== 'string' || !isAbsolutePath(p)) throw new CoreError('usage', `engine/gguf: ${what} must be an absolute path.`);
  return normalizePath(p);
}

/** The base an adapter names in adapter_config.json, resolved as the diagnosis resolves it. */
async function adapterBase(io: WritableFsPort, adapterPath: string): Promise<string> {
  const file = joinPath(adapterPath, 'adapter_config.json');
  const cfg = await readJsonObject(io, file, false);
  const res = await resolveBaseModel(io, cfg?.base_model_name_or_path ?? null, { adapterDir: adapterPath });
  if (!res.resolved) {
    throw new CoreError('not-found', tr`${file}: base_model_name_or_path does not lead to a local model folder; give --base <model folder> (the adapter export reads its config.json).`, file);
  }
  return res.resolved;
}

async function planFor(params: GgufParams, io: WritableFsPort): Promise<GgufExportPlan> {
  if (!isExportType(params.type)) throw new CoreError('usage', `engine/gguf: unknown type '${String(params.type)}'.`);
  const adapterPath = params.adapterPath === undefined ? undefined : await io.realpath(absolute(params.adapterPath, 'adapterPath'));
  if (params.adapterOnly) {
    if (!adapterPath) throw new CoreError('usage', 'engine/gguf: adapterOnly needs adapterPath.');
    if (params.type !== 'f16' && params.type !== 'f32') throw new CoreError('usage', tr`--adapter-only writes f16 or f32 (llama.cpp applies adapters in float), not ${params.type}.`);
    const base = params.modelPath ? await io.realpath(absolute(params.modelPath, 'modelPath')) : await adapterBase(io, adapterPath);
    return planLoraAdapterGguf(io, adapterPath, base, params.type, readTorchBinTensors);
  }
  const modelPath = await io.realpath(absolute(params.modelPath, 'modelPath'));
  return planGgufExport(io, { modelPath, adapterPath, type: params.type }, readTorchBinTensors);
}

export async function handleGguf(params: GgufParams, ctx: JobContext, io: WritableFsPort, createBackend: MergeBackendFactory): Promise<GgufResult> {
  const started = performance.now();
  const out = absolute(params?.outPath, 'outPath');
  const plan = await planFor(params, io);
  for (const w of plan.warnings) ctx.log('warn', `gguf: ${w}`);
  // LoRA merges and K-quant tensors use the backend; a plain conversion to a float type or q8_0/q4_0/q5_0 starts none.
  const backend = plan.needsBackend ? await createBackend(params.backend, params.threads, (line) => ctx.log('info', line)) : null;
  try {
    ctx.log('info', `gguf: ${plan.tensors.length} tensors, ${(plan.layout.fileSize / 1e9).toFixed(3)} GB as ${params.type}`);
    const summary = await runGgufExport(plan, out, io, backend, {
      toolVersion: ENGINE_VERSION,
      afterTensor: testDelayAfterTensor(),
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
