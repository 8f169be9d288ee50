// Soak run (issue 18): one engine client does many generations on the demo model (mixed adapters and scales, greedy
// and sampled, stop strings and Stop), load/unload cycles of a second model, then merges, while process RSS, the
// worker's heap, its WASM memories and helper threads, and the process's open handles are sampled. Flat means: after
// warm-up RSS grows less than a stated margin, and the counts of WASM memories, helper threads and handles come back.
// test/soak/run.ts runs the full counts (npm run soak); test/unit/soakShort.test.ts a short version.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAbortError } from '../../src/core/errors';
import { Generate, Load, Merge, Stats, Unload, type AdapterSpec, type StatsResult } from '../../src/engine/protocol';
import { EngineClient } from '../../src/node/engineClient';

const ROOT = path.join(__dirname, '..', '..');
const DEMO = path.join(ROOT, 'demo');
const BASE = path.join(DEMO, 'models', 'stories260K');
const SECOND_MODEL = path.join(DEMO, 'models', 'qwen3-tiny');
const ADAPTERS = [
  ...['50', '100', '150', '200'].map((s) => path.join(DEMO, 'runs', 'stories-lora', `checkpoint-${s}`)),
  path.join(DEMO, 'runs', 'stories-dora'),
];
const MERGE_ADAPTER = path.join(DEMO, 'runs', 'stories-lora', 'checkpoint-200');
const MIB = 1024 * 1024;

export interface SoakOptions {
  readonly generations: number;
  readonly loadCycles: number;
  readonly merges: number;
  /** Samples taken per phase (besides the first and the last). */
  readonly samplesPerPhase?: number;
  readonly workerPath?: string;
  readonly threads?: number;
  readonly log?: (line: string) => void;
}

export interface Sample {
  readonly label: string;
  readonly rssBytes: number;
  readonly worker: StatsResult;
  /** process.getActiveResourcesInfo() of the host thread: timers, sockets, workers, message ports... */
  readonly handles: number;
}

export interface SoakLimits {
  readonly rssGrowthBytes: number;
  readonly heapGrowthBytes: number;
}

/** RSS may grow by 64 MiB after warm-up (allocator and JIT noise), the worker heap by 32 MiB; counts must come back. */
export const LIMITS: SoakLimits = { rssGrowthBytes: 64 * MIB, heapGrowthBytes: 32 * MIB };

export interface SoakReport {
  readonly samples: readonly Sample[];
  /** The sample taken after warm-up (10 generations, one load cycle, one merge), the base of growth. */
  readonly warm: Sample;
  readonly end: Sample;
  /** The counted phases (warm-up excluded). */
  readonly counts: { generations: number; cancelled: number; stopStrings: number; tokens: number; loadCycles: number; merges: number };
  readonly seconds: number;
  readonly failures: readonly string[];
}

/** Column settings for run i: base or one of the adapters at a changing scale, greedy or sampled, some with stop strings. */
function generationParams(i: number): { adapters: AdapterSpec[]; temperature: number; seed: number; stopStrings?: string[]; maxNewTokens: number } {
  const column = i % (ADAPTERS.length + 1);
  const scale = [1, 0.5, 1.5, 0][Math.floor(i / (ADAPTERS.length + 1)) % 4]!;
  const adapters = column === 0 ? [] : [{ path: ADAPTERS[column - 1]!, scale }];
  return { adapters, temperature: i % 3 === 0 ? 0 : 0.8, seed: i, maxNewTokens: 48, ...(i % 5 === 2 ? { stopStrings: ['.'] } : {}) };
}

async function sample(client: EngineClient, label: string): Promise<Sample> {
  return { label, rssBytes: process.memoryUsage().rss, worker: await client.request(Stats, {}), handles: process.getActiveResourcesInfo().length };
}

/** Helper threads end asynchronously after a backend is disposed: wait (briefly) until the count settles. */
async function settledSample(client: EngineClient, label: string, poolThreads: number): Promise<Sample> {
  let s = await sample(client, label);
  for (let i = 0; i < 40 && s.worker.poolThreads > poolThreads; i++) {
    await new Promise((r) => setTimeout(r, 50));
    s = await sample(client, label);
  }
  return s;
}

/** Generate once; every 7th run is stopped after its 8th token, as the preview's Stop does. */
async function oneGeneration(client: EngineClient, modelId: string, i: number): Promise<{ tokens: number; cancelled: boolean; stopString: boolean }> {
  const controller = new AbortController();
  const stop = i % 7 === 3;
  let tokens = 0;
  try {
    const r = await client.request(Generate, { modelId, prompt: { text: i % 2 ? 'Once upon a time' : 'Lily and Tom went to the park' }, ...generationParams(i) }, {
      signal: controller.signal,
      onToken: () => { if (++tokens === 8 && stop) controller.abort(); },
    });
    return { tokens: r.ids.length, cancelled: r.stopReason === 'cancelled', stopString: r.stopReason === 'stop-string' };
  } catch (err) {
    if (stop && (isAbortError(err) || (err as { code?: string }).code === 'cancelled')) return { tokens, cancelled: true, stopString: false };
    throw err;
  }
}

function checkpoints(n: number, samples: number): Set<number> {
  const out = new Set<number>();
  for (let k = 1; k <= samples; k++) out.add(Math.max(0, Math.round((n * k) / (samples + 1)) - 1));
  return out;
}

interface Phases {
  readonly client: EngineClient;
  readonly baseId: string;
  readonly threads: number;
  readonly tmp: string;
  readonly counts: SoakReport['counts'];
}

async function generations(p: Phases, n: number, first: number, mark: (i: number) => Promise<void>): Promise<void> {
  for (let i = first; i < first + n; i++) {
    const r = await oneGeneration(p.client, p.baseId, i);
    p.counts.generations++;
    p.counts.tokens += r.tokens;
    if (r.cancelled) p.counts.cancelled++;
    if (r.stopString) p.counts.stopStrings++;
    await mark(i - first);
  }
}

/** Load the second model, generate on it once, unload it: its backend (memories, helper threads) must go with it. */
async function loadCycles(p: Phases, n: number, mark: (c: number) => Promise<void>): Promise<void> {
  for (let c = 0; c < n; c++) {
    const m = await p.client.request(Load, { modelPath: SECOND_MODEL, backend: 'wasm', threads: p.threads });
    await p.client.request(Generate, { modelId: m.modelId, adapters: [], prompt: { text: 'Tell me a story.', format: 'chat' }, maxNewTokens: 16, temperature: 0 });
    await p.client.request(Unload, { modelId: m.modelId });
    p.counts.loadCycles++;
    await mark(c);
  }
}

/** Merges in the same worker, each with its own backend, each output removed after it. */
async function merges(p: Phases, n: number, mark: (k: number) => Promise<void>): Promise<void> {
  for (let k = 0; k < n; k++) {
    const outPath = path.join(p.tmp, `merged-${p.counts.merges}`);
    await p.client.request(Merge, { adapterPath: MERGE_ADAPTER, basePath: BASE, outPath, backend: 'wasm', threads: p.threads });
    fs.rmSync(outPath, { recursive: true, force: true });
    p.counts.merges++;
    await mark(k);
  }
}

/**
 * Warm-up first (10 generations, one load cycle, one merge: code compiled, pools and caches at working size), then
 * the counted phases; growth is judged from the sample after warm-up to the end.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const client = new EngineClient({ ...(opts.workerPath ? { workerPath: opts.workerPath } : {}), onLog: (m) => { if (m.level === 'error') log(`engine: ${m.message}`); } });
  const samples: Sample[] = [];
  let poolThreads = 0;
  const take = async (label: string): Promise<Sample> => {
    const s = await settledSample(client, label, poolThreads);
    samples.push(s);
    log(formatSample(s));
    return s;
  };
  const every = opts.samplesPerPhase ?? 4;
  const marker = (n: number, label: (i: number) => string) => {
    const marks = checkpoints(n, every);
    return async (i: number): Promise<void> => { if (marks.has(i)) await take(label(i)); };
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-soak-'));
  const counts = { generations: 0, cancelled: 0, stopStrings: 0, tokens: 0, loadCycles: 0, merges: 0 };
  try {
    await take('start');
    const threads = opts.threads ?? 0;
    const base = await client.request(Load, { modelPath: BASE, backend: 'wasm', threads });
    const p: Phases = { client, baseId: base.modelId, threads, tmp, counts };
    const loaded = await take('base loaded');
    poolThreads = loaded.worker.poolThreads;
    const none = async (): Promise<void> => undefined;
    await generations(p, 10, 0, none);
    await loadCycles(p, 1, none);
    await merges(p, 1, none);
    const warm = await take('warm-up done');
    const warmCounts = { ...counts };
    await generations(p, opts.generations, 10, marker(opts.generations, (i) => `generation ${i + 1}`));
    await loadCycles(p, opts.loadCycles, marker(opts.loadCycles, (c) => `load cycle ${c + 1}`));
    await merges(p, opts.merges, marker(opts.merges, (k) => `merge ${k + 1}`));
    const end = await take('end');
    const counted = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v - warmCounts[k as keyof typeof counts]])) as SoakReport['counts'];
    return { samples, warm, end, counts: counted, seconds: (Date.now() - t0) / 1000, failures: judge(loaded, warm, end) };
  } finally {
    await client.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function judge(loaded: Sample, warm: Sample, end: Sample): string[] {
  const failures: string[] = [];
  const rss = end.rssBytes - warm.rssBytes;
  if (rss > LIMITS.rssGrowthBytes) failures.push(`RSS grew ${mib(rss)} MiB after warm-up (limit ${mib(LIMITS.rssGrowthBytes)})`);
  const heap = end.worker.heapUsedBytes - warm.worker.heapUsedBytes;
  if (heap > LIMITS.heapGrowthBytes) failures.push(`worker heap grew ${mib(heap)} MiB after warm-up (limit ${mib(LIMITS.heapGrowthBytes)})`);
  // Only the base model is loaded at the end, as right after its load: every other backend gave its memories back.
  if (end.worker.wasmMemories !== loaded.worker.wasmMemories) failures.push(`WASM memories: ${loaded.worker.wasmMemories} with the base loaded, ${end.worker.wasmMemories} at the end`);
  if (end.worker.poolThreads !== loaded.worker.poolThreads) failures.push(`helper threads: ${loaded.worker.poolThreads} with the base loaded, ${end.worker.poolThreads} at the end`);
  if (end.worker.loadedModels !== 1) failures.push(`${end.worker.loadedModels} models loaded at the end (1 expected)`);
  if (end.handles > warm.handles) failures.push(`open handles: ${warm.handles} after warm-up, ${end.handles} at the end (${process.getActiveResourcesInfo().join(', ')})`);
  return failures;
}

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

export function formatSample(s: Sample): string {
  const w = s.worker;
  return `${s.label.padEnd(20)} rss ${mib(s.rssBytes).padStart(7)} MiB  heap ${mib(w.heapUsedBytes).padStart(6)} MiB  wasm ${w.wasmMemories} (${mib(w.wasmBytes)} MiB)  threads ${w.poolThreads}  handles ${s.handles}`;
}

/** The Markdown table of a report's samples (RELIABILITY.md). */
export function sampleTable(r: SoakReport): string {
  const rows = r.samples.map((s) => {
    const w = s.worker;
    return `| ${s.label} | ${mib(s.rssBytes)} | ${mib(w.heapUsedBytes)} | ${mib(w.externalBytes)} | ${w.wasmMemories} | ${mib(w.wasmBytes)} | ${w.poolThreads} | ${w.loadedModels} | ${s.handles} |`;
  });
  return ['| After | RSS MiB | Worker heap MiB | External MiB | WASM memories | WASM MiB | Helper threads | Models | Handles |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
}
