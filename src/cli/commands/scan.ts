// `lora-workbench scan <dir...>`: the checkpoint explorer's model (runs, checkpoints, adapters, models, health) as
// text or, with --json, the issue-3 JSON shape on stdout. Exit 0 on a completed scan, 2 on usage or I/O errors.

import { CoreError } from '../../core/errors';
import { formatBytes, formatCount } from '../../core/format';
import { DEFAULT_SCAN_EXCLUDE, DEFAULT_SCAN_MAX_DEPTH } from '../../core/checkpoints/glob';
import type { Adapter, Checkpoint, Health, ScanResult } from '../../core/checkpoints/model';
import { availableParallelism, loadavg } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Leftover } from '../../core/merge/partialOutput';
import { inspectAdapterFolders, scanCheckpoints, standaloneAdapters, type AdapterFolder } from '../../core/checkpoints/scan';
import { relativePath } from '../../core/paths';
import { localizedMessage, tr, type Translate } from '../../core/text';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand, type CliIo } from '../command';

const USAGE = `lora-workbench scan <dir...> [--json] [--include GLOB]... [--exclude GLOB]... [--max-depth N] [--no-follow-symlinks]

  Find training runs, checkpoints, LoRA adapters and full models under each <dir>, with metrics and artifact health,
  and the temporary folders killed merges left behind (.<out>.partial-<id>: size, owner, whether it still runs).

  --json                 machine-readable output (absolute paths)
  --include GLOB         report only items at or under a match (relative to <dir>; repeatable)
  --exclude GLOB         do not enter matching folders (repeatable; replaces the defaults: ${DEFAULT_SCAN_EXCLUDE.join(', ')})
  --max-depth N          folder levels below <dir> to visit (default ${DEFAULT_SCAN_MAX_DEPTH})
  --no-follow-symlinks   do not enter symbolic links to folders`;

function fmt(x: number | null, digits = 4): string {
  return x === null ? '-' : Number(x.toPrecision(digits)).toString();
}


function adapterSummary(a: Adapter): string {
  if (a.format === 'mlx') return `MLX adapter (not PEFT) r=${fmt(a.r)} scale=${fmt(a.scaling)}`;
  const parts = [`${a.variant ?? a.format} r=${fmt(a.r)} alpha=${fmt(a.alpha)}`];
  if (a.params !== null) parts.push(`${formatCount(a.params)} params`);
  if (a.weightsBytes !== null) parts.push(formatBytes(a.weightsBytes));
  if (a.dtype) parts.push(a.dtype);
  if (a.baseModel) parts.push(`base ${a.baseModel}`);
  return parts.join(', ');
}

function healthLines(health: readonly Health[], indent: string, translate?: Translate): string[] {
  return health.map((h) => `${indent}${h.severity === 'error' ? 'ERROR' : h.severity === 'warning' ? 'warn ' : 'info '} [${h.code}] ${localizedMessage(h, translate)}`);
}

function checkpointLine(c: Checkpoint): string {
  const m = c.metrics;
  const bits = [c.name.padEnd(18), `step ${c.step ?? '-'}`.padEnd(11), `loss ${fmt(m.loss)}`.padEnd(12)];
  if (m.evalLoss !== null) bits.push(`eval ${fmt(m.evalLoss)}`.padEnd(12));
  if (c.best) bits.push('* best');
  if (c.final) bits.push('(final)');
  return bits.join(' ').trimEnd();
}

export function formatScan(result: ScanResult, cwd: string, translate?: Translate): string {
  const rel = (p: string): string => {
    const r = relativePath(cwd, p);
    return r.startsWith('../../') ? p : r;
  };
  const out: string[] = [];
  for (const run of result.runs) {
    const best = run.bestStep !== null ? `, best step ${run.bestStep}` : '';
    out.push(`${rel(run.path)}  [${run.kind}, ${run.checkpoints.length} checkpoint(s)${best}]`);
    out.push(...healthLines(run.health, '    ', translate));
    for (const c of run.checkpoints) {
      out.push(`  ${checkpointLine(c)}`);
      if (c.adapter) out.push(`      ${adapterSummary(c.adapter)}`);
      out.push(...healthLines(c.health, '      ', translate));
    }
  }
  const standalone = standaloneAdapters(result);
  if (standalone.length > 0) {
    out.push('', 'Adapters:');
    for (const a of standalone) {
      out.push(`  ${rel(a.path)}  ${adapterSummary(a)}`);
      out.push(...healthLines(a.health, '      ', translate));
    }
  }
  if (result.models.length > 0) {
    out.push('', 'Models:');
    for (const m of result.models) {
      const params = m.params !== null ? `, ${formatCount(m.params)} params` : '';
      out.push(`  ${rel(m.path)}  ${m.architecture ?? m.modelType ?? 'unknown architecture'}, ${m.dtype ?? 'dtype?'}${params}`);
      if (m.mergedFrom) out.push(`      merged from ${m.mergedFrom.adapter ? rel(m.mergedFrom.adapter) : '?'} into ${m.mergedFrom.base ? rel(m.mergedFrom.base) : '?'}`);
      out.push(...healthLines(m.health, '      ', translate));
    }
  }
  if (result.leftovers.length > 0) out.push('', ...leftoverLines(result.leftovers, rel));
  if (result.gguf.length > 0) {
    out.push('', 'GGUF files:');
    for (const g of result.gguf) {
      const what = g.health.length > 0 ? 'unreadable' : `${g.architecture ?? 'unknown architecture'} ${g.kind}, ${g.fileType ?? 'type?'}, ${formatCount(g.params ?? 0)} params`;
      out.push(`  ${rel(g.path)}  ${what}, ${formatBytes(g.sizeBytes)}`);
      out.push(...healthLines(g.health, '      ', translate));
    }
  }
  if (result.problems.length > 0) {
    out.push('', 'Scan notes:');
    out.push(...healthLines(result.problems, '  ', translate));
  }
  if (out.length === 0) out.push('No training runs, adapters, models or GGUF files found.');
  const errors = [...result.runs.flatMap((r) => r.checkpoints.flatMap((c) => c.health)), ...result.adapters.flatMap((a) => a.health)].filter((h) => h.severity === 'error').length;
  out.push('', `${result.runs.length} run(s), ${result.adapters.length} adapter(s), ${result.models.length} model(s)${result.gguf.length ? `, ${result.gguf.length} GGUF file(s)` : ''}; ${result.stats.dirs} folders in ${result.stats.ms} ms${errors ? `; ${errors} error finding(s)` : ''}.`);
  return out.join('\n') + '\n';
}

const OWNER_STATE: Record<Leftover['state'], string> = {
  gone: 'its process is gone: the next merge into this folder removes it',
  alive: 'still being written',
  unknown: 'owner cannot be checked from here',
};

/** Temporary output folders: size, whose they are, and whether the next merge will reclaim them. */
function leftoverLines(leftovers: readonly Leftover[], rel: (p: string) => string): string[] {
  const total = leftovers.reduce((n, l) => n + l.bytes, 0);
  const out = [`Leftover temporary outputs (${formatBytes(total)}):`];
  for (const l of leftovers) {
    const o = l.owner;
    const who = o ? `${o.job} of ${rel(o.out)}, pid ${o.pid} on ${o.host}, started ${o.startedAt}` : 'no owner record';
    out.push(`  ${rel(l.path)}  ${formatBytes(l.bytes)}  (${who}; ${OWNER_STATE[l.state]})`);
  }
  return out;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Below this many adapters a helper thread costs more to start than it saves. */
const WORKER_MIN_ADAPTERS = 1000;
/** Hidden flag: the bundled CLI started as a worker_threads helper that inspects the adapter folders in workerData. */
const WORKER_FLAG = 'inspect-adapters-worker';

interface WorkerReply {
  readonly ok: boolean;
  readonly adapters?: Adapter[];
  readonly error?: string;
}

/**
 * Split a large inspection between this thread and one helper thread (the CLI bundle itself, started with the hidden
 * flag): the first half here, the second there, each a contiguous slice in path order. Only when this code runs as
 * the process's main module (the bundled CLI, not under a test runner or the extension host) and a second core is
 * free (LORA_WORKBENCH_SCAN_THREADS=1 turns it off, =2 forces it, for comparisons); any failure of the helper falls
 * back to inspecting its half here, so the result never depends on it.
 */
async function inspectSplit(folders: readonly AdapterFolder[], inspectHere: (f: readonly AdapterFolder[]) => Promise<Adapter[]>): Promise<readonly Adapter[]> {
  const threads = process.env.LORA_WORKBENCH_SCAN_THREADS;
  // A helper only pays when a core is actually free: on a busy machine it competes with this thread (and costs ~0.5 s
  // CPU of its own: start-up, copying results back, a second heap). LORA_WORKBENCH_SCAN_THREADS=2 forces it.
  const freeCores = threads === '2' ? 2 : availableParallelism() - (loadavg()[0] ?? 0);
  if (folders.length < WORKER_MIN_ADAPTERS || freeCores < 1.5 || threads === '1' || require.main !== module || !isMainThread) return inspectHere(folders);
  const cut = Math.ceil(folders.length / 2);
  const theirs = folders.slice(cut);
  let worker: Worker | null = null;
  let remote: Promise<Adapter[] | null>;
  try {
    const w = new Worker(__filename, { argv: ['scan', `--${WORKER_FLAG}`], workerData: { folders: theirs }, stdout: true, stderr: true });
    worker = w;
    remote = new Promise<Adapter[] | null>((resolve) => {
      w.once('message', (m: WorkerReply) => resolve(m.ok && m.adapters && m.adapters.length === theirs.length && m.adapters.every((a, i) => a.path === theirs[i]!.path) ? m.adapters : null));
      w.once('error', () => resolve(null));
      w.once('exit', () => resolve(null));
    });
  } catch {
    remote = Promise.resolve(null);
  }
  const mine = await inspectHere(folders.slice(0, cut));
  const rest = (await remote) ?? (await inspectHere(theirs));
  void worker?.terminate();
  return [...mine, ...rest];
}

async function runInspectWorker(): Promise<number> {
  const port = parentPort;
  if (isMainThread || port === null) throw new UsageError(`--${WORKER_FLAG} is internal.`);
  const folders = (workerData as { folders: AdapterFolder[] }).folders;
  let reply: WorkerReply;
  try {
    reply = { ok: true, adapters: await inspectAdapterFolders(new NodeFs(), folders) };
  } catch (e) {
    reply = { ok: false, error: (e as Error).message };
  }
  port.postMessage(reply);
  return 0;
}

export const scanCommand: CliCommand = {
  name: 'scan',
  summary: 'Find training runs, checkpoints, adapters and models, with metrics and health.',
  usage: USAGE,
  options: {
    json: { type: 'boolean' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'max-depth': { type: 'string' },
    'no-follow-symlinks': { type: 'boolean' },
    [WORKER_FLAG]: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(values, positionals, io: CliIo) {
    if (values[WORKER_FLAG] === true) return runInspectWorker();
    if (positionals.length === 0) throw new UsageError('missing <dir>.');
    let maxDepth = DEFAULT_SCAN_MAX_DEPTH;
    if (values['max-depth'] !== undefined) {
      maxDepth = Number(values['max-depth']);
      if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new UsageError(`--max-depth must be a non-negative integer, got '${String(values['max-depth'])}'.`);
    }
    const fs = new NodeFs();
    const roots: string[] = [];
    for (const p of positionals) {
      const abs = absolutePath(p, io.cwd);
      const st = await fs.stat(abs);
      if (st === null) throw new CoreError('not-found', tr`${abs}: no such folder.`, abs);
      if (st.kind !== 'dir') throw new CoreError('io', `${abs}: is not a folder.`, abs);
      roots.push(abs);
    }
    const exclude = strings(values.exclude);
    const result = await scanCheckpoints(fs, roots, {
      include: strings(values.include),
      exclude: exclude.length > 0 ? exclude : DEFAULT_SCAN_EXCLUDE,
      maxDepth,
      followSymlinks: values['no-follow-symlinks'] !== true,
      inspectAdapters: inspectSplit,
    });
    if (values.json) writeJson(io, result);
    else io.stdout.write(formatScan(result, io.cwd, io.translate));
    return 0;
  },
};
