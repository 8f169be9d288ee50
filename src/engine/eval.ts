// engine/eval: the loss of the base and of each candidate adapter set on a data file, on one loaded base (adapters
// switched between candidates, never reloaded), cancellable, with progress per example and a result cache.

import { CoreError, throwIfAborted } from '../core/errors';
import { adapterFingerprint, baseFingerprint, EvalCache, evalCacheKey, type CachedResult, type HashFile } from '../core/eval/cache';
import { parseEvalData, type EvalExample } from '../core/eval/dataset';
import { exampleLoss, summarizeLosses, type ExampleLoss } from '../core/eval/loss';
import { tokenizeExample, type TokenizedExample } from '../core/eval/tokenize';
import type { LoadedAdapter } from '../core/model/llama/adapters';
import type { LlamaModel } from '../core/model/llama/model';
import type { FsPort, WritableFsPort } from '../core/ports';
import type { Tokenizer } from '../core/tokenizer/tokenizer';
import type { JobContext } from './handlers';
import type { EvalCandidate, EvalCandidateResult, EvalParams, EvalResult, PromptFormat } from './protocol';

/** What the evaluation needs from the loaded model's entry. */
export interface EvalModel {
  readonly folder: string;
  readonly model: LlamaModel;
  adapter(path: string): Promise<LoadedAdapter>;
  tokenizerFor(adapters: readonly LoadedAdapter[]): Promise<Tokenizer>;
}

/** File access for the cache: writes and content hashes (absent: results are never cached). */
export interface EvalCachePorts {
  readonly fs: WritableFsPort;
  readonly hash: HashFile;
}

const MAX_DATA_BYTES = 256 * 1024 * 1024;
const FORMATS: readonly PromptFormat[] = ['raw', 'alpaca2', 'chat'];

function validate(p: EvalParams): void {
  if (typeof p?.dataPath !== 'string' || p.dataPath === '') throw new CoreError('usage', 'engine/eval needs dataPath.');
  if (!Array.isArray(p.candidates) || p.candidates.length === 0) throw new CoreError('usage', 'engine/eval needs at least one candidate.');
  if (p.format !== undefined && !FORMATS.includes(p.format)) throw new CoreError('usage', `engine/eval: format must be raw, alpaca2 or chat, not '${String(p.format)}'.`);
  if (p.limit !== undefined && !(Number.isInteger(p.limit) && p.limit > 0)) throw new CoreError('usage', 'engine/eval: limit must be a positive integer.');
}

async function readExamples(fs: FsPort, p: EvalParams): Promise<EvalExample[]> {
  const all = parseEvalData(p.dataPath, await fs.readText(p.dataPath, MAX_DATA_BYTES));
  return p.limit ? all.slice(0, p.limit) : all;
}

interface Pending {
  readonly index: number;
  readonly candidate: EvalCandidate;
  readonly key: string | null;
}

/** Shared state of one engine/eval job while it walks the candidates. */
interface EvalRun {
  readonly m: EvalModel;
  readonly p: EvalParams;
  readonly format: PromptFormat;
  readonly examples: readonly EvalExample[];
  readonly ctx: JobContext;
  readonly yieldToEvents: () => Promise<void>;
  /** Tokenized data per tokenizer (an adapter may ship its own). */
  readonly tokenized: Map<Tokenizer, TokenizedExample[]>;
  readonly total: number;
  done: number;
}

/** Evaluate every candidate on the data (cached ones are taken from the cache). */
export async function runEval(m: EvalModel, fs: FsPort, ports: EvalCachePorts | null, p: EvalParams, ctx: JobContext,
  yieldToEvents: () => Promise<void>): Promise<EvalResult> {
  validate(p);
  const format = p.format ?? 'raw';
  const examples = await readExamples(fs, p);
  const cache = ports && p.cacheFile ? await EvalCache.open(fs, p.cacheFile) : null;
  const keys = cache ? await cacheKeys(m, fs, ports!, p, format) : p.candidates.map(() => null);
  const results: EvalCandidateResult[] = [];
  const pending: Pending[] = [];
  p.candidates.forEach((candidate, index) => {
    const hit = keys[index] ? cache!.get(keys[index]!) : undefined;
    if (hit) results[index] = resultOf(candidate, hit, true);
    else pending.push({ index, candidate, key: keys[index]! });
  });
  const run: EvalRun = { m, p, format, examples, ctx, yieldToEvents, tokenized: new Map(), total: pending.length * examples.length, done: 0 };
  for (const { index, candidate, key } of pending) {
    const entry = await evaluateCandidate(run, candidate);
    if (key) cache!.set(key, entry);
    results[index] = resultOf(candidate, entry, false);
  }
  ctx.progress('eval', run.total, run.total);
  const written = cache && pending.length > 0 ? await saveCache(cache, ports!, ctx) : cache !== null;
  return { dataPath: p.dataPath, format, examples: examples.length, results, cacheFile: written ? p.cacheFile! : null };
}

async function evaluateCandidate(run: EvalRun, candidate: EvalCandidate): Promise<CachedResult> {
  const t0 = Date.now();
  const tok = await run.m.tokenizerFor(await applyCandidate(run.m, candidate));
  let exs = run.tokenized.get(tok);
  if (!exs) {
    const o = { format: run.format, system: run.p.system, contextLength: run.m.model.contextLength, path: run.p.dataPath };
    exs = run.examples.map((ex) => tokenizeExample(tok, ex, o));
    run.tokenized.set(tok, exs);
  }
  const losses: ExampleLoss[] = [];
  for (const ex of exs) {
    run.ctx.progress('eval', run.done++, run.total, candidate.label);
    await run.yieldToEvents(); // lets engine/cancel in between examples
    throwIfAborted(run.ctx.signal);
    losses.push(await exampleLoss(run.m.model, ex, run.ctx.signal));
  }
  return {
    summary: summarizeLosses(losses), truncated: exs.filter((x) => x.truncated).length,
    skipped: losses.filter((l) => l.tokens === 0).length, ms: Date.now() - t0, at: new Date().toISOString(),
  };
}

/** Attach the candidate's adapters (loaded once per engine, so switching candidates never reloads the base). */
async function applyCandidate(m: EvalModel, c: EvalCandidate): Promise<LoadedAdapter[]> {
  const adapters: LoadedAdapter[] = [];
  for (const s of c.adapters) {
    if (typeof s.scale !== 'number' || !Number.isFinite(s.scale)) throw new CoreError('usage', `adapter ${s.path}: scale must be a number.`);
    adapters.push(await m.adapter(s.path));
  }
  const live = c.adapters.map((s, i) => ({ adapter: adapters[i]!, scale: s.scale })).filter((b) => b.scale !== 0);
  await m.model.setAdapters(live);
  return live.map((b) => b.adapter);
}

async function cacheKeys(m: EvalModel, fs: FsPort, ports: EvalCachePorts, p: EvalParams, format: PromptFormat): Promise<string[]> {
  const base = await baseFingerprint(fs, m.folder);
  const data = await ports.hash(p.dataPath);
  const settings = {
    format, system: p.system ?? null, limit: p.limit ?? null, contextLength: m.model.contextLength, dtype: m.model.weightDType,
    // Bump when the loss, masking or interval computation changes, so old results are not reused.
    method: 'eval-v1',
  };
  const keys: string[] = [];
  for (const c of p.candidates) {
    const adapters = [];
    for (const s of c.adapters) adapters.push({ files: await adapterFingerprint(fs, s.path, ports.hash), scale: s.scale });
    keys.push(evalCacheKey({ base, adapters, data, settings }));
  }
  return keys;
}

async function saveCache(cache: EvalCache, ports: EvalCachePorts, ctx: JobContext): Promise<boolean> {
  try {
    await cache.save(ports.fs);
    return true;
  } catch (e) {
    // A read-only run folder must not fail the evaluation: the results are still returned.
    ctx.log('warn', `eval cache not written: ${(e as Error).message}`);
    return false;
  }
}

function resultOf(c: EvalCandidate, r: CachedResult, cached: boolean): EvalCandidateResult {
  const s = r.summary;
  return {
    label: c.label, adapters: c.adapters.map((a) => a.path), loss: s.loss, perplexity: s.perplexity,
    lossCi95: s.lossCi95, perplexityCi95: s.perplexityCi95, tokens: s.tokens, examples: s.examples,
    truncated: r.truncated, skipped: r.skipped, ms: r.ms, cached,
  };
}
