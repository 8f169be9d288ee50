// Engine worker entry (worker_threads). Validates every request, runs its handler with an AbortController per job,
// and streams progress/token/log messages back. engine/cancel aborts the job's controller: the work really stops.

import * as os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { toCoreError } from '../core/errors';
import { HandlerTable, type JobContext } from './handlers';
import { probeEngine } from './probe';
import { Cancel, DebugCrash, Eval, FidelityCompare, Generate, GgufExport, Load, Merge, Probe, Stats, Tokenize, Unload, isRequestMessage, type WorkerMessage } from './protocol';
import { debugCrash, engineStats, tokenStreamed } from './testHooks.node';
import { probeWebGpu } from '../kernels/webgpu/probe.node';
import { createBackend } from '../kernels/createBackend.node';
import { NodeFs } from '../node/nodeFs';
import { sha256File } from '../node/hashFile';
import { GenerationEngine } from './generate';
import { handleGguf } from './gguf';
import { handleMerge } from './merge';

const port = parentPort;
if (!port) throw new Error('worker.node.ts must run inside a worker thread');

const jobs = new Map<number, AbortController>();
const post = (m: WorkerMessage): void => port.postMessage(m);
const log = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void => post({ type: 'log', level, message });

const nodeFs = new NodeFs();
const generation = new GenerationEngine(nodeFs, (backend, threads, logLine) => createBackend({ backend, threads, log: logLine }), { fs: nodeFs, hash: sha256File });

const table = new HandlerTable()
  .on(Load, (params, ctx) => generation.load(params, ctx))
  .on(Generate, (params, ctx) => generation.generate(params, ctx))
  .on(Tokenize, (params, ctx) => generation.tokenize(params, ctx))
  .on(Eval, (params, ctx) => generation.evaluate(params, ctx))
  .on(FidelityCompare, (params, ctx) => generation.fidelity(params, ctx))
  .on(Unload, (params) => generation.unload(params))
  .on(Merge, (params, ctx) => handleMerge(params, ctx, new NodeFs(), (backend, threads, logLine) => createBackend({ backend, threads, log: logLine })))
  .on(GgufExport, (params, ctx) => handleGguf(params, ctx, new NodeFs(), (backend, threads, logLine) => createBackend({ backend, threads, log: logLine })))
  .on(Probe, (params) =>
    probeEngine(params ?? {}, { node: process.version, platform: process.platform, arch: process.arch, cpus: os.availableParallelism() }, probeWebGpu))
  .on(Stats, async () => engineStats(generation.loadedModels))
  .on(DebugCrash, (params) => debugCrash(params))
  .on(Cancel, async ({ id }) => {
    const job = jobs.get(id);
    job?.abort();
    return { cancelled: job !== undefined };
  });

port.on('message', (raw: unknown) => {
  if (!isRequestMessage(raw)) {
    log('error', `engine: ignored a malformed request: ${JSON.stringify(raw)?.slice(0, 200)}`);
    return;
  }
  const { id, method, params } = raw;
  const handler = table.get(method);
  if (!handler) {
    post({ type: 'error', id, code: 'usage', message: `Unknown engine method '${method}'.` });
    return;
  }
  const controller = new AbortController();
  jobs.set(id, controller);
  const ctx: JobContext = {
    id,
    signal: controller.signal,
    progress: (phase, done, total, detail) => post({ type: 'progress', id, phase, done, total, detail }),
    token: (tokenId, text, stream) => {
      post({ type: 'token', id, tokenId, text, stream });
      tokenStreamed();
    },
    log,
  };
  handler(params, ctx).then(
    (result) => post({ type: 'result', id, result }),
    (err: unknown) => {
      const e = toCoreError(err);
      if (e.code === 'internal') log('error', `${method}: ${(err as Error)?.stack ?? e.message}`);
      post({ type: 'error', id, code: e.code, message: e.message, file: e.file, ...(e.text ? { text: e.text } : {}) });
    },
  ).finally(() => jobs.delete(id));
});

log('info', `engine worker started (node ${process.version}, ${os.availableParallelism()} cores)`);
post({ type: 'ready' });
