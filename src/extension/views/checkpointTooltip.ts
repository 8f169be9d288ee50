// Rich MarkdownString tooltips for the Checkpoints tree: variant, r, alpha, effective scaling, target modules,
// modules_to_save, trainable parameters and size (from the safetensors header), dtype, base as written, files, health.

import * as vscode from 'vscode';
import type { Adapter, Checkpoint, Health, ModelInfo, Run } from '../../core/checkpoints/model';
import { formatBytes, formatCount } from '../../core/format';
import { baseStatusLabel, type BaseStatusInfo } from './baseStatus';
import { localize } from '../platform/l10n';

export function formatNum(x: number, digits = 4): string {
  return Number(x.toPrecision(digits)).toString();
}


export function variantLabel(a: Adapter): string {
  if (a.format === 'mlx') return vscode.l10n.t('MLX adapter (not PEFT)');
  switch (a.variant) {
    case 'lora': return 'LoRA';
    case 'rslora': return 'rsLoRA';
    case 'dora': return 'DoRA';
    case 'other': return a.peftType ?? vscode.l10n.t('other');
    default: return a.format === 'unknown' ? vscode.l10n.t('unknown format') : '?';
  }
}

/** Markdown-escape text that comes from files (module names, paths) so it renders literally. */
function esc(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

function code(s: string): string {
  return '`' + s.replace(/`/g, "'") + '`';
}

function healthSection(md: vscode.MarkdownString, health: readonly Health[]): void {
  if (health.length === 0) return;
  md.appendMarkdown('\n\n---\n\n');
  for (const h of health) {
    const icon = h.severity === 'error' ? '$(error)' : h.severity === 'warning' ? '$(warning)' : '$(info)';
    md.appendMarkdown(`${icon} **${esc(h.code)}**: ${esc(localize(h))}\n\n`);
  }
}

/**
 * The adapter's rows, compact so the whole tooltip fits its box (a hover that scrolls hides what is below the fold):
 * variant with r, alpha and scaling on one row, the weights' file, size, parameters and dtype on another.
 */
function adapterRows(a: Adapter): string[] {
  const rows: string[] = [];
  const shape: string[] = [esc(variantLabel(a))];
  if (a.r !== null) shape.push(`r ${a.r}${Object.keys(a.rankPattern).length ? ` (${vscode.l10n.t('{0} rank_pattern entries', Object.keys(a.rankPattern).length)})` : ''}`);
  if (a.alpha !== null) shape.push(`alpha ${formatNum(a.alpha)}${Object.keys(a.alphaPattern).length ? ` (${vscode.l10n.t('{0} alpha_pattern entries', Object.keys(a.alphaPattern).length)})` : ''}`);
  if (a.scaling !== null) shape.push(`${vscode.l10n.t('Effective scaling')} ${formatNum(a.scaling)}${a.variant === 'rslora' ? ' (α/√r)' : a.format === 'mlx' ? '' : ' (α/r)'}`);
  rows.push(`| ${vscode.l10n.t('Variant')} | ${shape.join(' · ')} |`);
  if (a.targetModules !== null) {
    rows.push(`| ${vscode.l10n.t('Target modules')} | ${typeof a.targetModules === 'string' ? code(a.targetModules) : a.targetModules.map(code).join(', ')} |`);
  }
  if (a.modulesToSave.length > 0) rows.push(`| modules_to_save | ${a.modulesToSave.map(code).join(', ')} |`);
  const weights: string[] = [];
  if (a.weightsFile !== null) weights.push(`${code(a.weightsFile)}${a.weightsBytes !== null ? ` · ${formatBytes(a.weightsBytes)}` : ''}`);
  if (a.params !== null) weights.push(`${vscode.l10n.t('Trainable parameters')} ${formatCount(a.params)}`);
  if (a.dtype !== null) weights.push(a.dtypes.length > 1 ? a.dtypes.join(', ') : a.dtype);
  if (weights.length > 0) rows.push(`| ${vscode.l10n.t('Weights')} | ${weights.join(' · ')} |`);
  rows.push(`| ${vscode.l10n.t('Base model (as written)')} | ${a.baseModel !== null ? code(a.baseModel) : vscode.l10n.t('(not recorded)')} |`);
  if (a.layout) rows.push(`| ${vscode.l10n.t('Layout')} | ${esc(a.layout)} |`);
  return rows;
}

/** The base status as a line under the title: the first thing read, never below the fold. */
function baseStatusLine(md: vscode.MarkdownString, base?: BaseStatusInfo): void {
  if (!base) return;
  const icon = base.status === 'ok' ? '$(pass)' : base.status === 'error' ? '$(error)' : base.status === 'warning' ? '$(warning)' : '$(question)';
  md.appendMarkdown(`\n\n${icon} **${vscode.l10n.t('Base status')}**: ${esc(baseStatusLabel(base.status))}${base.resolved ? ` · ${code(base.resolved)}` : ''}`);
}

function table(md: vscode.MarkdownString, rows: string[]): void {
  if (rows.length === 0) return;
  md.appendMarkdown('\n\n| | |\n|---|---|\n' + rows.join('\n') + '\n');
}

function newMd(): vscode.MarkdownString {
  const md = new vscode.MarkdownString('', true);
  md.supportHtml = false;
  return md;
}

export function adapterTooltip(a: Adapter, base?: BaseStatusInfo): vscode.MarkdownString {
  const md = newMd();
  md.appendMarkdown(`**${esc(a.path)}**`);
  baseStatusLine(md, base);
  table(md, adapterRows(a));
  healthSection(md, a.health);
  return md;
}

export function checkpointTooltip(run: Run, c: Checkpoint, base?: BaseStatusInfo): vscode.MarkdownString {
  const md = newMd();
  md.appendMarkdown(`**${esc(c.name)}**${c.best ? ' $(star-full) ' + vscode.l10n.t('best') : ''}${c.final ? ' · ' + vscode.l10n.t('final output') : ''}\n\n${esc(c.path)}`);
  if (c.adapter) baseStatusLine(md, base);
  const rows: string[] = [];
  const metrics: string[] = [];
  if (c.step !== null) rows.push(`| ${vscode.l10n.t('Step')} | ${c.step}${run.maxSteps ? ` / ${run.maxSteps}` : ''}${c.metrics.epoch !== null ? ` · ${vscode.l10n.t('Epoch')} ${formatNum(c.metrics.epoch, 3)}` : ''} |`);
  if (c.metrics.loss !== null) metrics.push(`${vscode.l10n.t('Training loss')} ${formatNum(c.metrics.loss)}`);
  if (c.metrics.evalLoss !== null) metrics.push(`${vscode.l10n.t('Eval loss')} ${formatNum(c.metrics.evalLoss)}`);
  if (metrics.length > 0) rows.push(`| ${vscode.l10n.t('Loss')} | ${metrics.join(' · ')} |`);
  const optim: string[] = [];
  if (c.metrics.learningRate !== null) optim.push(`${vscode.l10n.t('Learning rate')} ${c.metrics.learningRate.toExponential(3)}`);
  if (c.metrics.gradNorm !== null) optim.push(`${vscode.l10n.t('Grad norm')} ${formatNum(c.metrics.gradNorm)}`);
  if (optim.length > 0) rows.push(`| ${vscode.l10n.t('Optimizer')} | ${optim.join(' · ')} |`);
  if (c.adapter) rows.push(...adapterRows(c.adapter));
  const f = c.files;
  const files = [
    f.optimizer && 'optimizer', f.scheduler && 'scheduler', f.rngState && 'rng_state', f.scaler && 'scaler', f.trainingArgs && 'training_args',
    f.trainerState && 'trainer_state.json', f.tokenizer && 'tokenizer', f.readme && 'README.md', f.deepspeed && `${f.deepspeed}/`, f.fullModel && vscode.l10n.t('full model weights'),
  ].filter((x): x is string => typeof x === 'string');
  rows.push(`| ${vscode.l10n.t('Files')} | ${files.length > 0 ? files.map(code).join(', ') : vscode.l10n.t('(none besides the adapter)')} |`);
  table(md, rows);
  healthSection(md, c.health);
  return md;
}

export function runTooltip(r: Run): vscode.MarkdownString {
  const md = newMd();
  md.appendMarkdown(`**${esc(r.name)}** · ${esc(r.kind)}\n\n${esc(r.path)}`);
  const rows: string[] = [];
  rows.push(`| ${vscode.l10n.t('Checkpoints')} | ${r.checkpoints.filter((c) => !c.final).length} |`);
  if (r.globalStep !== null) rows.push(`| ${vscode.l10n.t('Step')} | ${r.globalStep}${r.maxSteps ? ` / ${r.maxSteps}` : ''} |`);
  if (r.bestStep !== null) rows.push(`| ${vscode.l10n.t('Best checkpoint')} | ${r.bestStep}${r.bestMetric !== null ? ` (${formatNum(r.bestMetric)})` : ''} |`);
  if (r.trainerState) rows.push(`| trainer_state.json | ${esc(r.trainerState)} |`);
  if (r.mergedModel) rows.push(`| ${vscode.l10n.t('Merged model')} | ${esc(r.mergedModel)} |`);
  table(md, rows);
  healthSection(md, r.health);
  return md;
}

export function modelTooltip(m: ModelInfo): vscode.MarkdownString {
  const md = newMd();
  md.appendMarkdown(`**${esc(m.path)}**`);
  const rows: string[] = [];
  rows.push(`| ${vscode.l10n.t('Architecture')} | ${esc(m.architecture ?? m.modelType ?? '?')} |`);
  if (m.dtype) rows.push(`| dtype | ${esc(m.dtype)} |`);
  if (m.params !== null) rows.push(`| ${vscode.l10n.t('Parameters')} | ${formatCount(m.params)} |`);
  if (m.weightsBytes !== null) rows.push(`| ${vscode.l10n.t('Weights')} | ${formatBytes(m.weightsBytes)} (${esc(m.layout)}) |`);
  if (m.mergedFrom) {
    rows.push(`| ${vscode.l10n.t('Merged from adapter')} | ${esc(m.mergedFrom.adapter ?? '?')}${m.mergedFrom.variant ? ` (${esc(m.mergedFrom.variant)})` : ''} |`);
    rows.push(`| ${vscode.l10n.t('Merged into base')} | ${esc(m.mergedFrom.base ?? '?')} |`);
    if (m.mergedFrom.tool) rows.push(`| ${vscode.l10n.t('Merged by')} | ${esc(m.mergedFrom.tool)} (merge_manifest.json) |`);
  }
  table(md, rows);
  healthSection(md, m.health);
  return md;
}
