// Scan workspace folders into runs -> checkpoints -> adapters, plus standalone adapters and full models.
// Layouts: HF Trainer checkpoint-N, Chinese-LLaMA-Alpaca-2 sft_lora_model/pt_lora_model, unsloth lora_model,
// LLaMA-Factory saves/<model>/<type>/<run>, axolotl merged/, DeepSpeed global_stepN, MLX-LM adapters (DOMAIN.md §1).

import { inspectLeftover, partialTarget, type Leftover } from '../merge/partialOutput';
import type { FsPort } from '../ports';
import { basename, dirname, joinPath } from '../paths';
import { GlobSet } from './glob';
import { inspectAdapter, inspectModel, isAdapterFolder, isModelFolder, readJsonFile } from './inspect';
import type { Adapter, Checkpoint, CheckpointFiles, GgufInfo, Health, ModelInfo, Run, RunKind, ScanResult } from './model';
import { inspectGguf } from '../gguf/inspect';
import { bestStepOf, metricsAt, parseTrainerState, stepFromName, type TrainerState } from './trainerState';
import { DEEPSPEED_DIR, walk, yieldSometimes, type DirRecord, type WalkOptions } from './walk';
import { tr, textFields } from '../text';

export interface ScanOptions extends WalkOptions {
  /** Globs (relative to the root); only runs, adapters and models at or under a match are reported. Default: all. */
  readonly include?: readonly string[];
  /** Files inspected in parallel. */
  readonly inspectConcurrency?: number;
  /**
   * Runs the adapter inspections (the bulk of a large scan), e.g. spread over threads by a host that has them: must
   * return one Adapter per folder, in order, as `inspectHere` (this thread, the default) would. In path order, so a
   * contiguous slice keeps each run's checkpoints (which share a header) together.
   */
  readonly inspectAdapters?: (folders: readonly AdapterFolder[], inspectHere: (folders: readonly AdapterFolder[]) => Promise<Adapter[]>) => Promise<readonly Adapter[]>;
}

/** An adapter folder found by the walk and the file names it holds. */
export interface AdapterFolder {
  readonly path: string;
  readonly files: readonly string[];
}

/** Inspect adapter folders on this thread, `limit` at a time; one Adapter per folder, in order. */
export function inspectAdapterFolders(fs: FsPort, folders: readonly AdapterFolder[], limit = 16): Promise<Adapter[]> {
  return mapPool(folders, Math.max(1, limit), (d) => inspectAdapter(fs, d.path, d.files));
}

/** trainer_state.json with 10,000 log rows is ~2 MB; a 128 MB one is a finding, not something to parse on a UI host. */
export const MAX_TRAINER_STATE_BYTES = 128 * 1024 * 1024;

/** Sub-folders some tools put the adapter in, inside a checkpoint or run folder (first match wins). */
const ADAPTER_SUBDIRS = ['sft_lora_model', 'pt_lora_model', 'adapter_model', 'lora_model'];
const CHECKPOINT_DIR = /^checkpoint-\d+$/;

async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
      // File reads are synchronous under the Node port: give the event loop (the extension host) a turn now and then.
      await yieldSometimes();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function filesOf(rec: DirRecord | undefined): CheckpointFiles {
  const f = rec?.files ?? [];
  const has = (n: string): boolean => f.includes(n);
  return {
    optimizer: has('optimizer.pt') || has('optimizer.bin'),
    scheduler: has('scheduler.pt'),
    rngState: f.some((n) => /^rng_state(_\d+)?\.pth$/.test(n)),
    scaler: has('scaler.pt'),
    trainingArgs: has('training_args.bin'),
    trainerState: has('trainer_state.json'),
    tokenizer: has('tokenizer.model') || has('tokenizer.json') || has('tokenizer_config.json'),
    readme: has('README.md'),
    deepspeed: rec?.dirs.find((d) => DEEPSPEED_DIR.test(d)) ?? null,
    fullModel: isModelFolder(f),
    names: [...f].sort(),
  };
}

const EMPTY_FILES: CheckpointFiles = filesOf(undefined);

async function readTrainerState(fs: FsPort, file: string): Promise<{ state: TrainerState | null; health: Health | null }> {
  const r = await readJsonFile(fs, file, MAX_TRAINER_STATE_BYTES, 'bad-trainer-state', 'warning');
  if (!r.ok) return { state: null, health: r.health };
  try {
    return { state: parseTrainerState(r.value), health: null };
  } catch (e) {
    return { state: null, health: { code: 'bad-trainer-state', severity: 'warning', ...textFields(tr`${file}: ${(e as Error).message}.`), file } };
  }
}

/** Numeric step order; the final output (no step, or tied with its last checkpoint) after the checkpoints. */
function byStep(a: Checkpoint, b: Checkpoint): number {
  const sa = a.step ?? Infinity;
  const sb = b.step ?? Infinity;
  if (sa !== sb) return sa - sb;
  return Number(a.final) - Number(b.final);
}

/** Scan `roots` (absolute folders). Never throws for bad files: everything wrong becomes a Health entry. */
export async function scanCheckpoints(fs: FsPort, roots: readonly string[], opts: ScanOptions = {}): Promise<ScanResult> {
  const t0 = Date.now();
  const walked = await walk(fs, roots, opts);
  const { dirs } = walked;
  const include = new GlobSet(opts.include && opts.include.length > 0 ? opts.include : ['**']);
  const included = (rec: DirRecord): boolean => include.matchesSelfOrAncestor(rec.rel);
  const limit = Math.max(1, opts.inspectConcurrency ?? 16);

  // 1. Inspect every adapter and model folder (the expensive part: configs + headers), in parallel.
  // In path order, so a run's final adapter and its checkpoints (which share one header) are inspected together.
  const adapterRecs = [...dirs.values()]
    .filter((d) => isAdapterFolder(d.files) || (d.files.includes('adapters.safetensors') && d.files.includes('adapter_config.json')))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const modelRecs = [...dirs.values()].filter((d) => isModelFolder(d.files));
  const adapters = new Map<string, Adapter>();
  const folders: AdapterFolder[] = adapterRecs.map((d) => ({ path: d.path, files: d.files }));
  const inspectHere = (f: readonly AdapterFolder[]): Promise<Adapter[]> => inspectAdapterFolders(fs, f, limit);
  const inspected = opts.inspectAdapters ? await opts.inspectAdapters(folders, inspectHere) : await inspectHere(folders);
  if (inspected.length !== folders.length) throw new Error(`adapter inspection returned ${inspected.length} results for ${folders.length} folders`);
  folders.forEach((d, i) => adapters.set(d.path, inspected[i]!));
  const models = new Map<string, ModelInfo>();
  await mapPool(modelRecs, limit, async (d) => {
    const m = await inspectModel(fs, d.path);
    if (m) models.set(d.path, m);
  });

  const ggufFiles = [...dirs.values()].filter(included).flatMap((d) => d.files.filter((f) => f.toLowerCase().endsWith('.gguf')).map((f) => joinPath(d.path, f)));
  const gguf: GgufInfo[] = [];
  await mapPool(ggufFiles, limit, async (f) => { gguf.push(await inspectGguf(fs, f)); });

  const adapterIn = (dir: string): Adapter | null => {
    const own = adapters.get(dir);
    if (own) return own;
    for (const sub of ADAPTER_SUBDIRS) {
      const a = adapters.get(joinPath(dir, sub));
      if (a) return a;
    }
    return null;
  };

  // 2. Runs: a folder with checkpoint-N children, a trainer_state.json outside a checkpoint, or DeepSpeed-only output.
  const runRecs = [...dirs.values()].filter((d) => {
    if (CHECKPOINT_DIR.test(basename(d.path))) return false;
    return d.dirs.some((n) => CHECKPOINT_DIR.test(n)) || d.files.includes('trainer_state.json') || (d.files.includes('latest') && d.dirs.some((n) => DEEPSPEED_DIR.test(n)));
  });
  // A scan rooted at a single checkpoint-N folder reports it as a one-checkpoint run of its parent.
  for (const root of roots) {
    const rec = dirs.get(root);
    if (rec && CHECKPOINT_DIR.test(basename(root)) && !dirs.has(dirname(root))) {
      runRecs.push({ path: dirname(root), rel: '', root, depth: -1, files: [], dirs: [basename(root)] });
    }
  }

  const runs = (await mapPool(runRecs.filter(included), limit, (d) => buildRun(fs, d))).filter((r): r is Run => r !== null);

  async function buildRun(fs: FsPort, d: DirRecord): Promise<Run | null> {
    const health: Health[] = [];
    const ckptNames = d.dirs.filter((n) => CHECKPOINT_DIR.test(n));
    const dsOnly = ckptNames.length === 0 && d.files.includes('latest') && d.dirs.some((n) => DEEPSPEED_DIR.test(n));
    const stepDirs = dsOnly ? d.dirs.filter((n) => DEEPSPEED_DIR.test(n)) : ckptNames;

    // Newest trainer_state.json: the run root's or the highest checkpoint's that has one, whichever is further along.
    const candidates: string[] = [];
    if (d.files.includes('trainer_state.json')) candidates.push(joinPath(d.path, 'trainer_state.json'));
    const sortedDesc = [...ckptNames].sort((a, b) => stepFromName(b)! - stepFromName(a)!);
    const newestWithState = sortedDesc.find((n) => dirs.get(joinPath(d.path, n))?.files.includes('trainer_state.json'));
    if (newestWithState) candidates.push(joinPath(d.path, newestWithState, 'trainer_state.json'));
    let state: TrainerState | null = null;
    let statePath: string | null = null;
    for (const c of candidates) {
      const r = await readTrainerState(fs, c);
      if (r.health) health.push(r.health);
      if (r.state && (state === null || (r.state.globalStep ?? -1) > (state.globalStep ?? -1))) {
        state = r.state;
        statePath = c;
      }
    }

    const checkpoints: Checkpoint[] = [];
    for (const name of stepDirs) {
      const path = joinPath(d.path, name);
      const rec = dirs.get(path);
      const step = stepFromName(name);
      const adapter = dsOnly ? null : adapterIn(path);
      const files = dsOnly ? { ...EMPTY_FILES, deepspeed: name } : filesOf(rec);
      checkpoints.push(makeCheckpoint(path, name, step, false, adapter, files));
    }
    // The final output at the run root (or its sft_lora_model/ etc.), when there is one.
    const finalAdapter = adapterIn(d.path);
    const rootIsModel = isModelFolder(d.files);
    if (finalAdapter || rootIsModel) {
      const path = finalAdapter?.path ?? d.path;
      const files = filesOf(dirs.get(path));
      checkpoints.push(makeCheckpoint(path, basename(path), state?.globalStep ?? null, true, finalAdapter, files));
    }
    if (checkpoints.length === 0) return null;

    const steps = checkpoints.filter((c) => !c.final && c.step !== null).map((c) => c.step!);
    const bestStep = bestStepOf(state, steps.length > 0 ? steps : checkpoints.map((c) => c.step).filter((s): s is number => s !== null));
    const withMetrics = checkpoints
      .map((c) => ({ ...c, metrics: metricsAt(state, c.step), best: bestStep !== null && c.step === bestStep && !c.final }))
      .sort(byStep);

    const mergedPath = d.dirs.includes('merged') ? joinPath(d.path, 'merged') : null;
    return {
      path: d.path,
      name: basename(d.path),
      kind: runKind(d, withMetrics, dsOnly, mergedPath !== null && models.has(mergedPath)),
      trainerState: statePath,
      globalStep: state?.globalStep ?? null,
      maxSteps: state?.maxSteps ?? null,
      bestStep,
      bestMetric: state?.bestMetric ?? null,
      checkpoints: withMetrics,
      mergedModel: mergedPath !== null && models.has(mergedPath) ? mergedPath : null,
      health,
    };
  }

  const leftovers = await findScannedLeftovers(fs, [...dirs.values()].filter(included), limit);
  const result: ScanResult = {
    roots: [...roots],
    runs: runs.sort((a, b) => a.path.localeCompare(b.path)),
    adapters: [...adapters.values()].filter((a) => dirs.has(a.path) && included(dirs.get(a.path)!)).sort((a, b) => a.path.localeCompare(b.path)),
    models: [...models.values()].filter((m) => included(dirs.get(m.path)!)).sort((a, b) => a.path.localeCompare(b.path)),
    gguf: gguf.sort((a, b) => a.path.localeCompare(b.path)),
    problems: walked.problems,
    leftovers,
    stats: { dirs: dirs.size, files: walked.fileCount, ms: Date.now() - t0 },
  };
  return result;
}

/** The temporary output folders inside the scanned folders (listed by the walk, never entered). */
async function findScannedLeftovers(fs: FsPort, recs: readonly DirRecord[], limit: number): Promise<Leftover[]> {
  const found = recs.flatMap((d) => d.dirs.filter((n) => partialTarget(n) !== null).map((name) => ({ parent: d.path, name })));
  const leftovers = await mapPool(found, limit, (f) => inspectLeftover(fs, f.parent, f.name));
  return leftovers.sort((a, b) => a.path.localeCompare(b.path));
}

function makeCheckpoint(path: string, name: string, step: number | null, final: boolean, adapter: Adapter | null, files: CheckpointFiles): Checkpoint {
  const health: Health[] = [...(adapter?.health ?? [])];
  if (!adapter && !files.fullModel) {
    const state = [files.optimizer && 'optimizer.pt', files.deepspeed && `${files.deepspeed}/`, files.scheduler && 'scheduler.pt'].filter(Boolean);
    health.push(
      state.length > 0
        ? {
            code: 'missing-adapter',
            severity: 'warning',
            ...textFields(tr`${path}: has training state (${state.join(', ')}) but no adapter weights or config${files.deepspeed ? tr`; with DeepSpeed, run zero_to_fp32.py in the run folder to recover them` : ''}.`),
            file: path,
          }
        : { code: 'missing-adapter', severity: 'warning', ...textFields(tr`${path}: no adapter or model weights (still being written?).`), file: path },
    );
  }
  return {
    path,
    name,
    step,
    final,
    best: false,
    metrics: { loss: null, evalLoss: null, epoch: null, learningRate: null, gradNorm: null },
    adapter,
    files,
    health,
  };
}

function runKind(d: DirRecord, checkpoints: readonly Checkpoint[], dsOnly: boolean, hasMerged: boolean): RunKind {
  if (dsOnly) return 'deepspeed';
  if (/\/saves\/[^/]+\/[^/]+\/[^/]+$/.test(d.path) || d.files.includes('trainer_log.jsonl') || d.files.includes('llamaboard_config.yaml')) return 'llama-factory';
  if (checkpoints.some((c) => c.adapter?.layout === 'chinese-llama-alpaca-2')) return 'chinese-llama-alpaca-2';
  if (hasMerged) return 'axolotl';
  return 'hf-trainer';
}

/** Adapters not inside any run (shown at the top level of the tree). */
export function standaloneAdapters(result: ScanResult): Adapter[] {
  const inRuns = new Set<string>();
  for (const run of result.runs) for (const c of run.checkpoints) if (c.adapter) inRuns.add(c.adapter.path);
  return result.adapters.filter((a) => !inRuns.has(a.path));
}

/** Every health finding of a scan with the file it belongs to, deduplicated (for diagnostics). */
export function allHealth(result: ScanResult): Health[] {
  const seen = new Set<string>();
  const out: Health[] = [];
  const add = (h: Health): void => {
    const key = `${h.file}\0${h.code}\0${h.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(h);
    }
  };
  for (const run of result.runs) {
    run.health.forEach(add);
    for (const c of run.checkpoints) c.health.forEach(add);
  }
  for (const a of result.adapters) a.health.forEach(add);
  for (const m of result.models) m.health.forEach(add);
  result.problems.forEach(add);
  return out;
}
