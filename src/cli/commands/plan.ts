// `lora-workbench plan <adapter folder> [--base <model folder>] [--json]`: the deployment options of an adapter side by
// side with real numbers (core/deploy/plan). Exit 0 with a plan against a base that fits, 1 when the base is missing
// or does not fit (only the adapter's numbers), 2 on usage or I/O errors. Never writes.

import { planDeployment, OPTION_NOTES, type DeployPlan, type MergedOption, type GgufOption } from '../../core/deploy/plan';
import { formatBytes } from '../../core/format';
import { localizedMessage, renderText, type HasText } from '../../core/text';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand, type CliIo } from '../command';

const USAGE = `lora-workbench plan <adapter folder | adapter_config.json> [--base <model folder>] [--search <folder>]... [--json]

  How this adapter can be deployed, with the sizes for this adapter and its base, from headers and file sizes only:
  (a) the adapter alone on a shared base (adapter size, base size, N adapters on one base), (b) a merged
  safetensors model in float32, float16 and bfloat16 (exact bytes merge writes, merge_manifest.json aside), (c) a
  GGUF file per type (exact file size). Each with the weights in memory at load time and the command line that
  builds it (for a container build).

  --base <folder>     plan against this base model instead of the recorded base_model_name_or_path
  --search <folder>   a folder holding models by name (like loraWorkbench.modelSearchPaths); repeatable
  --json              {adapterPath, configPath, base, shared, merged: [...], gguf: [...]} with sizes in bytes

  Exit status: 0 planned, 1 the base is missing or does not fit (only the adapter's numbers) or adapter_config.json is
  malformed, 2 usage or I/O error (a folder without adapter_config.json or adapter weights).`;

/** Sizes as people read them, exact bytes beside. */
function size(n: number | null): string {
  return n === null ? '-' : `${formatBytes(n)} (${n} B)`;
}

function message(x: HasText | null, io: CliIo): string {
  return x ? localizedMessage(x, io.translate) : '';
}

function baseLines(p: DeployPlan, io: CliIo): string[] {
  const b = p.base;
  const recorded = b.recorded === null ? '(none)' : JSON.stringify(b.recorded);
  if (b.status === 'ok') return [`base: ${recorded} -> ${b.path} (${b.dtype ?? '?'}, ${size(b.bytes)})`];
  return [`base: ${recorded} - ${b.status === 'missing' ? 'not found' : 'does not fit'}: ${message(b.reason, io)}`, '  only the adapter\'s numbers can be given; choose a base with --base <model folder>'];
}

function sharedLines(p: DeployPlan, io: CliIo): string[] {
  const s = p.shared;
  const sharing = s.sharing.map((r) => `${r.adapters}${r.adapters === s.runAdapters ? ' (this run)' : ''}: ${formatBytes(r.sharedBytes ?? NaN)} vs merged ${r.mergedBytes === null ? '-' : formatBytes(r.mergedBytes)}`);
  return [
    '(a) Adapter alone on a shared base',
    `  adapter files: ${size(s.adapterBytes)}: ${s.adapterFiles.map((f) => f.name).join(', ')}`,
    `  base to share: ${p.base.status === 'ok' ? `${p.base.path} (${size(p.base.bytes)})` : '-'}`,
    `  reference it: base_model_name_or_path in adapter_config.json set to the shared path${s.recordsSharedPath ? ' (already so)' : ` (now ${JSON.stringify(p.base.recorded)})`}`,
    `  load: ${s.loadBytes === null ? `the base's weights + ${size(s.adapterWeightsBytes)}` : size(s.loadBytes)} of weights (base + adapter, applied unmerged)`,
    ...(p.base.status === 'ok' ? [`  disk, N adapters on one base: ${sharing.join(' · ')}`] : []),
    `  check: ${s.command}`,
    `  ${renderText(OPTION_NOTES.shared, io.translate)}`,
  ];
}

function optionRow(label: string, o: MergedOption | GgufOption, io: CliIo): string {
  if (o.bytes === null) return `  ${label.padEnd(10)} cannot be written: ${message(o.error, io)}`;
  return `  ${label.padEnd(10)} ${size(o.bytes).padEnd(26)} load ${formatBytes(o.loadBytes ?? NaN).padEnd(11)} ${o.command}`;
}

function writeText(p: DeployPlan, io: CliIo): void {
  const base = p.base.status === 'ok';
  const mergedRows = p.merged.map((m) => optionRow(`${m.dtype}${m.isBaseDtype ? '*' : ''}`, m, io));
  const ggufRows = p.gguf.map((g) => optionRow(g.type, g, io));
  // Without a base every row would repeat the same reason: one line says it, the command lines stay useful.
  const unplanned = (cmds: string[]): string[] => [`  sizes need the base model; commands: ${cmds[0]} ...`];
  io.stdout.write([
    `Deployment plan for ${p.adapterPath}`, ...baseLines(p, io), '', ...sharedLines(p, io), '',
    '(b) Merged safetensors model (* the base\'s dtype)', ...(base ? mergedRows : unplanned(p.merged.map((m) => m.command))),
    `  ${renderText(OPTION_NOTES.merged, io.translate)}`, '',
    '(c) GGUF file', ...(base ? ggufRows : unplanned(p.gguf.map((g) => g.command))),
    `  ${renderText(OPTION_NOTES.gguf, io.translate)}`,
  ].join('\n') + '\n');
}

/** The plan as JSON: messages in English (as every --json output), sizes in bytes. */
function toJson(p: DeployPlan): unknown {
  return JSON.parse(JSON.stringify(p, (key, value: unknown) => (key === 'reason' || key === 'error' ? (value as HasText | null)?.message ?? null : value)));
}

async function folderOrFile(fs: NodeFs, value: string, what: string, io: CliIo): Promise<string> {
  const p = absolutePath(value, io.cwd);
  if (!(await fs.stat(p))) throw new UsageError(`${what} ${value}: not found.`);
  return p;
}

export const planCommand: CliCommand = {
  name: 'plan',
  summary: 'Plan a deployment: shared base, merged model or GGUF, with sizes for this adapter.',
  usage: USAGE,
  options: { base: { type: 'string' }, search: { type: 'string', multiple: true }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one adapter folder or adapter_config.json.');
    const fs = new NodeFs();
    const adapter = await folderOrFile(fs, positionals[0]!, 'adapter', io);
    const base = typeof values.base === 'string' ? await folderOrFile(fs, values.base, '--base', io) : undefined;
    const searchPaths = Array.isArray(values.search) ? (values.search as string[]).map((s) => absolutePath(s, io.cwd)) : [];
    const plan = await planDeployment(fs, adapter, { base, workspaceFolders: [absolutePath('.', io.cwd)], searchPaths });
    if (values.json) writeJson(io, toJson(plan));
    else writeText(plan, io);
    return plan.base.status === 'ok' ? 0 : 1;
  },
};
