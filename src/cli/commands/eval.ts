// `lora-workbench eval <run | adapter...> --base <model> --data <file>`: mean token loss and perplexity (95% bootstrap
// interval) of the base and of each checkpoint on the user's data, in the engine worker (base loaded once, adapters
// switched), cached in <run>/.lora-workbench/eval-cache.json.

import { scanCheckpoints } from '../../core/checkpoints/scan';
import { CoreError } from '../../core/errors';
import { defaultEvalCachePath } from '../../core/eval/cache';
import { bestIndex, runCandidates, type RunCandidate } from '../../core/eval/candidates';
import { dirname, joinPath } from '../../core/paths';
import { Eval, Load, type BackendChoice, type EvalCandidateResult, type EvalResult, type PromptFormat } from '../../engine/protocol';
import { EngineClient } from '../../node/engineClient';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand, type CliIo } from '../command';

const USAGE = `lora-workbench eval <run folder | adapter folder...> --base <model folder> --data <file>
    [--limit N] [--format raw|alpaca2|chat] [--system <text>] [--cache <file> | --no-cache]
    [--backend auto|wasm|webgpu|reference] [--threads N] [--json]

  The loss of the base model and of each checkpoint on your data: mean loss per scored token (nats), perplexity, a
  95% interval (percentile bootstrap over examples, 1000 draws, fixed seed), tokens scored and time. The base is
  loaded once and each adapter applied unmerged in turn.

  <run folder>        every checkpoint of a training run that holds an adapter (checkpoint-N folders, final output)
  <adapter folder>    or one or more adapter folders
  --data <file>       JSONL (or a JSON array): Alpaca {instruction, input, output} (loss on the output only), {messages: [...]} or
                      ShareGPT {conversations: [...]} (loss on the assistant turns), {text} (loss on every token);
                      or a plain text file, one example per blank-line-separated paragraph
  --format <f>        how prompts are rendered, as in the preview: raw (default), alpaca2, chat (the chat_template)
  --system <text>     system prompt for alpaca2 / chat
  --limit N           the first N examples only
  --cache <file>      result cache (default: <run or first adapter's parent>/.lora-workbench/eval-cache.json);
                      an unchanged checkpoint on unchanged data and settings is not evaluated again
  --no-cache          neither read nor write the cache
  --json              {dataPath, format, examples, results: [{label, step, adapters, loss, perplexity, lossCi95,
                      perplexityCi95, tokens, examples, truncated, skipped, ms, cached, final}], best (the checkpoint with the
                      lowest loss; the base is the yardstick), cacheFile}`;

interface Target {
  readonly candidates: readonly RunCandidate[];
  /** The folder whose .lora-workbench/ holds the cache. */
  readonly home: string;
}

/** A run folder's checkpoints, or the adapter folders given. */
async function resolveTargets(fs: NodeFs, paths: readonly string[]): Promise<Target> {
  for (const p of paths) if ((await fs.stat(p))?.kind !== 'dir') throw new UsageError(`${p}: not a folder.`);
  if (paths.length === 1) {
    const run = (await scanCheckpoints(fs, [paths[0]!])).runs.find((r) => r.path === paths[0]);
    if (run) {
      const candidates = runCandidates(run);
      if (candidates.length === 0) throw new UsageError(`${run.path}: the run has no checkpoint with an adapter.`);
      return { candidates, home: run.path };
    }
  }
  for (const p of paths) {
    if ((await fs.stat(joinPath(p, 'adapter_config.json')))?.kind !== 'file') throw new UsageError(`${p}: neither a training run nor an adapter folder (no adapter_config.json).`);
  }
  return { candidates: paths.map((p) => ({ label: p.slice(p.lastIndexOf('/') + 1), path: p, step: null, final: false })), home: dirname(paths[0]!) };
}

function optionalInt(values: Record<string, unknown>, key: string): number | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${key} expects a positive integer, got '${String(v)}'.`);
  return n;
}

function fmt(x: number): string {
  return x.toFixed(4);
}

function writeTable(io: CliIo, r: EvalResult, rows: ReadonlyArray<RunCandidate | null>, best: number): void {
  io.stdout.write(`${r.dataPath}: ${r.examples} examples, format ${r.format}\n`);
  const width = Math.max(12, ...r.results.map((x) => x.label.length + 2));
  io.stdout.write(`  ${'candidate'.padEnd(width)}${'step'.padStart(6)}  ${'loss'.padStart(8)}  ${'95% CI'.padEnd(19)}${'ppl'.padStart(9)}  ${'tokens'.padStart(7)}  time\n`);
  r.results.forEach((x: EvalCandidateResult, i) => {
    const mark = i === best ? '*' : ' ';
    const row = rows[i];
    const step = row?.final ? 'final' : row?.step == null ? '-' : String(row.step);
    const ci = `[${fmt(x.lossCi95[0])}, ${fmt(x.lossCi95[1])}]`;
    const time = x.cached ? 'cached' : `${(x.ms / 1000).toFixed(1)} s`;
    io.stdout.write(`${mark} ${x.label.padEnd(width)}${step.padStart(6)}  ${fmt(x.loss).padStart(8)}  ${ci.padEnd(19)}${x.perplexity.toFixed(3).padStart(9)}  ${String(x.tokens).padStart(7)}  ${time}\n`);
  });
  if (best > 0) io.stdout.write(`* best on this data: ${r.results[best]!.label}\n`);
  if (best > 0 && r.results[0]!.loss < r.results[best]!.loss) io.stdout.write('note: the base model does better than every checkpoint on this data.\n');
  const cut = r.results[0]?.truncated ?? 0;
  if (cut > 0) io.stdout.write(`note: ${cut} example(s) were cut to the model's context length.\n`);
}

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'Evaluate the base and each checkpoint on a dataset: loss, perplexity, 95% interval.',
  usage: USAGE,
  options: {
    base: { type: 'string' }, data: { type: 'string' }, limit: { type: 'string' }, format: { type: 'string' },
    system: { type: 'string' }, cache: { type: 'string' }, 'no-cache': { type: 'boolean' }, backend: { type: 'string' },
    threads: { type: 'string' }, json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length === 0) throw new UsageError('give a run folder or one or more adapter folders.');
    if (typeof values.base !== 'string') throw new UsageError('--base is required.');
    if (typeof values.data !== 'string') throw new UsageError('--data is required.');
    const format = (values.format ?? 'raw') as string;
    if (!['raw', 'alpaca2', 'chat'].includes(format)) throw new UsageError(`--format must be raw, alpaca2 or chat, not '${format}'.`);
    const backend = (values.backend ?? 'auto') as string;
    if (!['auto', 'wasm', 'webgpu', 'reference'].includes(backend)) throw new UsageError(`--backend must be auto, wasm, webgpu or reference, not '${backend}'.`);
    const fs = new NodeFs();
    const dataPath = absolutePath(values.data, io.cwd);
    if ((await fs.stat(dataPath))?.kind !== 'file') throw new UsageError(`--data ${values.data}: not a file.`);
    const target = await resolveTargets(fs, positionals.map((p) => absolutePath(p, io.cwd)));
    const cacheFile = values['no-cache'] ? null : typeof values.cache === 'string' ? absolutePath(values.cache, io.cwd) : defaultEvalCachePath(target.home);
    const candidates = [{ label: 'base', adapters: [] }, ...target.candidates.map((c) => ({ label: c.label, adapters: [{ path: c.path, scale: 1 }] }))];
    const result = await withEngine(io, values.json === true, async (engine, signal, onProgress) => {
      const load = await engine.request(Load, { modelPath: absolutePath(values.base as string, io.cwd), backend: backend as BackendChoice, threads: optionalInt(values, 'threads') }, { signal });
      return engine.request(Eval, {
        modelId: load.modelId, dataPath, format: format as PromptFormat, system: values.system as string | undefined,
        limit: optionalInt(values, 'limit'), candidates, cacheFile,
      }, { signal, onProgress });
    });
    if (result === null) return 130;
    const rows = [null, ...target.candidates];
    // The best checkpoint (the base is the yardstick, not a candidate), as the extension marks it.
    const best = bestIndex(result.results.slice(1)) + 1;
    const results = result.results.map((r, i) => ({ ...r, step: rows[i]?.step ?? null, final: rows[i]?.final ?? false }));
    if (values.json) writeJson(io, { ...result, results, best: best > 0 ? result.results[best]!.label : null });
    else writeTable(io, result, rows, best);
    return 0;
  },
};

type ProgressFn = (m: { phase: string; done: number; total: number; detail?: string }) => void;

/** Run `work` on a fresh engine worker with Ctrl+C cancelling it; null when cancelled. */
async function withEngine<T>(io: CliIo, quiet: boolean, work: (engine: EngineClient, signal: AbortSignal, onProgress: ProgressFn) => Promise<T>): Promise<T | null> {
  const engine = new EngineClient({ onLog: (m) => { if (m.level === 'error' || m.level === 'warn') io.stderr.write(`engine: ${m.message}\n`); } });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const onProgress: ProgressFn = (m) => {
    if (io.interactive && !quiet && m.phase === 'eval' && m.total > 0) io.stderr.write(`\r\x1b[Kevaluating ${m.detail ?? ''} ${Math.round((100 * m.done) / m.total)}%`);
  };
  try {
    const out = await work(engine, controller.signal, onProgress);
    if (io.interactive && !quiet) io.stderr.write('\r\x1b[K');
    return out;
  } catch (e) {
    if (e instanceof CoreError && e.code === 'cancelled') {
      io.stderr.write('\ncancelled\n');
      return null;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await engine.dispose();
  }
}
