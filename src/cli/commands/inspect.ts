// `lora-workbench inspect <adapter> [--base <model>] [--against <adapter>] [--json]`: the adapter's anatomy (per layer
// and target module: ||s B A||_F, relative to ||W||_F with a base, effective rank, singular values, DoRA magnitude change).

import { adapterAnatomy, type AdapterAnatomy, type ModuleAnatomy } from '../../core/anatomy/anatomy';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand, type CliIo } from '../command';

const USAGE = `lora-workbench inspect <adapter folder> [--base <model folder>] [--against <adapter folder>] [--json]

  What the adapter changed, per decoder layer and target module, computed from the LoRA factors (B A is never formed):
  the update's size ||scale * B A||_F, its effective rank (exp of the entropy of the singular values) and, with
  --json, the singular values; DoRA adapters add the change of the magnitude vector.

  --base <folder>       the base model: sizes relative to the base weight's ||W||_F, DoRA's magnitude against the
                        base rows' norms (its starting point)
  --against <folder>    another adapter of the same base: the anatomy of the difference of the two updates
                        (e.g. checkpoint-800 against checkpoint-400)
  --json                {adapter, against, base, variant, layers, targets, modules: [{module, layer, target, r, norm,
                        baseNorm, relative, singularValues, effectiveRank, dora}], savedTensors}`;

async function folderArg(fs: NodeFs, value: unknown, flag: string, io: CliIo): Promise<string | undefined> {
  if (typeof value !== 'string') return undefined;
  const p = absolutePath(value, io.cwd);
  if ((await fs.stat(p))?.kind !== 'dir') throw new UsageError(`${flag} ${value}: not a folder.`);
  return p;
}

/** One heatmap cell as text: the relative size in percent when the base is known, else the absolute norm. */
function cell(m: ModuleAnatomy | undefined): string {
  if (!m) return '-';
  const size = m.relative !== null ? `${(100 * m.relative).toPrecision(3)}%` : m.norm.toPrecision(3);
  return `${size} r${m.effectiveRank.toFixed(1)}`;
}

function table(a: AdapterAnatomy, show: (m: ModuleAnatomy | undefined) => string): string[] {
  const width = Math.max(13, ...a.targets.map((t) => t.length + 2));
  const pad = (x: string): string => (x.length + 1 > width ? x + ' ' : x.padEnd(width));
  const lines = a.layers.length ? [['layer'.padEnd(7), ...a.targets.map(pad)].join('')] : [];
  for (const layer of a.layers) {
    const row = a.targets.map((t) => pad(show(a.modules.find((m) => m.layer === layer && m.target === t))));
    lines.push([String(layer).padEnd(7), ...row].join(''));
  }
  for (const m of a.modules.filter((x) => x.layer === null)) lines.push(`${m.module}: ${show(m)}`);
  return lines;
}

/** DoRA's magnitude: its change relative to the reference (the base rows or the other adapter), else ||m||. */
function doraCell(m: ModuleAnatomy | undefined): string {
  const d = m?.dora;
  if (!d) return '-';
  return d.relativeChange !== null ? `${(100 * d.relativeChange).toPrecision(3)}%` : d.magnitudeNorm.toPrecision(4);
}

function doraLines(a: AdapterAnatomy): string[] {
  const dora = a.modules.filter((m) => m.dora !== null);
  if (dora.length === 0) return [];
  const reference = dora[0]!.dora!.reference;
  const what = reference === 'against' ? '||m1 - m2|| / ||m2||' : reference === 'base' ? '||m - ||W rows|| || / ||W rows||' : '||m||';
  return ['', `DoRA magnitude: ${what}`, ...table(a, doraCell)];
}

function writeText(io: CliIo, a: AdapterAnatomy): void {
  const title = a.against ? `${a.adapter} minus ${a.against}` : a.adapter;
  const unit = a.base ? '||s B A||_F / ||W||_F' : '||s B A||_F';
  const saved = a.savedTensors.length ? [`saved whole (not low-rank): ${a.savedTensors.join(', ')}`] : [];
  io.stdout.write([`${title} (${a.variant}, ${a.modules.length} modules)`, `${unit}, rN = effective rank`, ...table(a, cell), ...doraLines(a), ...saved].join('\n') + '\n');
}

export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'Show what an adapter changed: update size and effective rank per layer and module.',
  usage: USAGE,
  options: { base: { type: 'string' }, against: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one adapter folder.');
    const fs = new NodeFs();
    const adapter = await folderArg(fs, positionals[0], 'adapter', io);
    const base = await folderArg(fs, values.base, '--base', io);
    const against = await folderArg(fs, values.against, '--against', io);
    const anatomy = await adapterAnatomy(fs, adapter!, { base, against });
    if (values.json) writeJson(io, anatomy);
    else writeText(io, anatomy);
    return 0;
  },
};
