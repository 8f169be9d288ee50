// `lora-workbench merge`: merge a LoRA adapter into its base model in the engine worker (engine/merge), with a progress
// bar on stderr when it is a terminal. Exit 0 merged, 1 merge error (incompatible, corrupt input, non-finite,
// unsupported, verification), 2 usage or I/O error (including cancellation, an existing output, a full disk).

import { formatBytes } from '../../core/format';
import type { CoreError } from '../../core/errors';
import { Merge, type BackendChoice, type MergeParams, type MergeResult, type ProgressMessage } from '../../engine/protocol';
import { absolutePath } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand, type CliIo } from '../command';
import { runEngineJob } from '../engineJob';

const USAGE = `lora-workbench merge <adapter folder> --base <folder> --out <folder> [--dtype auto|float16|bfloat16|float32]
    [--shard-size 5GB] [--no-verify] [--backend auto|wasm|reference] [--threads N] [--json]

  Merge a PEFT LoRA adapter (LoRA, rsLoRA, DoRA, patterns, modules_to_save incl. resized vocabularies) into its base
  model, tensor by tensor, into a new folder of sharded safetensors with config, tokenizer and merge_manifest.json.

  --base <folder>      the base model (safetensors, sharded safetensors or pytorch_model*.bin)
  --out <folder>       the output folder: must not exist (or be empty), not inside the base or the adapter; refused
                       while another merge writes it (.<out>.partial.lock names that process)
  --dtype <d>          output dtype; auto (default) keeps the base's
  --shard-size <size>  bytes per shard: 5GB (default, as transformers), 500MB, 2GiB, or a plain number
  --no-verify          skip re-reading the output and recomputing sample rows bit for bit
  --json               print {"out","tensors","bytesWritten","seconds","peakRssBytes","verified"} on stdout

  Exit status: 0 merged, 1 merge error (incompatible, corrupt input, non-finite result), 2 usage or I/O error.`;

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** '5GB' -> 5e9 (decimal units as transformers' max_shard_size; KiB/MiB/GiB binary). */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(s);
  const unit = m ? (m[2] ?? '').toUpperCase() : '';
  if (!m || !(unit in UNITS)) throw new UsageError(`--shard-size expects a size like 5GB, 500MB or 2GiB, got '${s}'.`);
  const n = Math.floor(Number(m[1]) * UNITS[unit]!);
  if (!(n > 0)) throw new UsageError(`--shard-size must be positive, got '${s}'.`);
  return n;
}

/** Exit code for a merge failure: 1 for what is wrong with the inputs or the result, 2 for usage and I/O. */
export function mergeExitCode(e: CoreError): 1 | 2 {
  switch (e.code) {
    case 'usage': case 'io': case 'not-found': case 'exists': case 'no-space': case 'cancelled': case 'untrusted':
      return 2;
    default:
      return 1;
  }
}

/** A one-line progress bar redrawn with '\r' (only when stderr is a terminal). */
export function progressBar(io: CliIo): (m: ProgressMessage) => void {
  const started = Date.now();
  let last = 0;
  return (m) => {
    const now = Date.now();
    if (now - last < 100 && m.done < m.total) return;
    last = now;
    const frac = m.total > 0 ? Math.min(1, m.done / m.total) : 0;
    const width = 28;
    const filled = Math.round(frac * width);
    const elapsed = (now - started) / 1000;
    const bytes = m.phase === 'merge' || m.phase === 'gguf';
    const eta = frac > 0.01 && bytes ? ` ETA ${Math.max(0, Math.round(elapsed / frac - elapsed))}s` : '';
    const tensors = m.detail ? ` ${m.detail.split(' ')[0]} tensors` : '';
    const amount = bytes ? ` ${formatBytes(m.done)}/${formatBytes(m.total)}` : ` ${m.done}/${m.total}`;
    io.stderr.write(`\r${m.phase.padEnd(6)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%${amount}${tensors}${eta}\x1b[K`);
  };
}

/** --backend and --threads, validated (shared by merge and gguf). */
export function backendOptions(values: Record<string, unknown>): { backend: BackendChoice; threads: number | undefined } {
  const backend = (values.backend ?? 'auto') as string;
  if (!['auto', 'wasm', 'webgpu', 'reference'].includes(backend)) throw new UsageError(`--backend must be auto, wasm or reference, got '${backend}'.`);
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 0) throw new UsageError(`--threads expects a non-negative integer, got '${String(values.threads)}'.`);
  }
  return { backend: backend as BackendChoice, threads };
}

export const mergeCommand: CliCommand = {
  name: 'merge',
  summary: 'Merge a LoRA adapter into its base model (streaming, exact, verified).',
  usage: USAGE,
  options: {
    base: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, 'shard-size': { type: 'string' },
    'no-verify': { type: 'boolean' }, backend: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the adapter folder.' : `expected one adapter folder, got ${positionals.length}.`);
    if (typeof values.base !== 'string') throw new UsageError('--base <folder> is required.');
    if (typeof values.out !== 'string') throw new UsageError('--out <folder> is required.');
    const dtype = (values.dtype ?? 'auto') as string;
    if (!['auto', 'float16', 'bfloat16', 'float32'].includes(dtype)) throw new UsageError(`--dtype must be auto, float16, bfloat16 or float32, got '${dtype}'.`);
    const { backend, threads } = backendOptions(values);
    const adapterGiven = positionals[0]!;
    const params: MergeParams = {
      adapterPath: absolutePath(adapterGiven, io.cwd),
      basePath: absolutePath(values.base, io.cwd),
      outPath: absolutePath(values.out, io.cwd),
      adapterGiven,
      baseGiven: values.base,
      dtype: dtype as MergeParams['dtype'],
      shardSize: values['shard-size'] !== undefined ? parseSize(String(values['shard-size'])) : undefined,
      verify: values['no-verify'] !== true,
      backend,
      threads,
    };
    const job = await runEngineJob(io, 'merge', Merge, params);
    if ('code' in job) return job.code;
    const result: MergeResult = job.result;
    if (values.json) {
      const { out, tensors, bytesWritten, seconds, peakRssBytes, verified } = result;
      writeJson(io, { out, tensors, bytesWritten, seconds, peakRssBytes, verified });
    } else {
      io.stdout.write(`merged ${result.tensors} tensors into ${result.out} (${formatBytes(result.bytesWritten)}, ${result.seconds.toFixed(1)} s, peak RSS ${formatBytes(result.peakRssBytes)}${result.verified ? ', verified' : ''})\n`);
    }
    return 0;
  },
};
