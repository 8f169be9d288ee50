// The "Checkpoints" tree: runs -> checkpoints (numeric step order) -> details, plus standalone adapters and full
// models. State (best, broken, warning) is visible from icons and descriptions without hovering.

import * as vscode from 'vscode';
import { worstSeverity, type Adapter, type Checkpoint, type GgufInfo, type Health, type ModelInfo, type Run, type RunKind } from '../../core/checkpoints/model';
import { standaloneAdapters } from '../../core/checkpoints/scan';
import type { Leftover } from '../../core/merge/partialOutput';
import { baseStatusIcon, baseStatusLabel, type BaseStatusCache } from './baseStatus';
import type { CheckpointIndex } from './checkpointIndex';
import { formatBytes, formatCount } from '../../core/format';
import { adapterTooltip, checkpointTooltip, formatNum, modelTooltip, runTooltip, variantLabel } from './checkpointTooltip';
import { healthMessageWithoutFile } from './healthText';
import { localize } from '../platform/l10n';
import type { EvalResults } from './evalResults';

export type CheckpointNode =
  | { readonly type: 'run'; readonly run: Run }
  | { readonly type: 'checkpoint'; readonly run: Run; readonly checkpoint: Checkpoint }
  | { readonly type: 'adapter'; readonly adapter: Adapter }
  | { readonly type: 'models'; readonly models: readonly ModelInfo[] }
  | { readonly type: 'model'; readonly model: ModelInfo }
  | { readonly type: 'leftovers'; readonly leftovers: readonly Leftover[] }
  | { readonly type: 'leftover'; readonly leftover: Leftover }
  | { readonly type: 'ggufs'; readonly files: readonly GgufInfo[] }
  | { readonly type: 'gguf'; readonly file: GgufInfo }
  | { readonly type: 'detail'; readonly parentId: string; readonly key: string; readonly label: string; readonly value: string; readonly icon: string | vscode.ThemeIcon; readonly tooltip?: string }
  | { readonly type: 'health'; readonly parentId: string; readonly health: Health };

export function runKindLabel(kind: RunKind): string {
  switch (kind) {
    case 'hf-trainer': return vscode.l10n.t('HF Trainer');
    case 'llama-factory': return 'LLaMA-Factory';
    case 'chinese-llama-alpaca-2': return 'Chinese-LLaMA-Alpaca-2';
    case 'axolotl': return 'axolotl';
    case 'deepspeed': return 'DeepSpeed';
  }
}

function healthIcon(health: readonly Health[]): vscode.ThemeIcon | undefined {
  const worst = worstSeverity(health);
  if (worst === 'error') return new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
  if (worst === 'warning') return new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  return undefined;
}

function severityIcon(h: Health): vscode.ThemeIcon {
  if (h.severity === 'error') return new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
  if (h.severity === 'warning') return new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  return new vscode.ThemeIcon('info');
}

/** "step 600 · loss 1.234 · eval 1.345 · ★ best" */
export function checkpointDescription(c: Checkpoint): string {
  const parts: string[] = [];
  if (c.step !== null) parts.push(vscode.l10n.t('step {0}', c.step));
  if (c.metrics.loss !== null) parts.push(vscode.l10n.t('loss {0}', formatNum(c.metrics.loss)));
  if (c.metrics.evalLoss !== null) parts.push(vscode.l10n.t('eval {0}', formatNum(c.metrics.evalLoss)));
  if (c.best) parts.push(vscode.l10n.t('★ best'));
  if (c.final) parts.push(vscode.l10n.t('final'));
  const worst = worstSeverity(c.health);
  if (worst === 'error') parts.push(vscode.l10n.t('broken'));
  return parts.join(' · ');
}

function adapterDescription(a: Adapter): string {
  const parts = [variantLabel(a)];
  if (a.params !== null) parts.push(vscode.l10n.t('{0} params', formatCount(a.params)));
  else if (a.weightsBytes !== null) parts.push(formatBytes(a.weightsBytes));
  return parts.join(' · ');
}

/** contextValue tokens, matched in package.json menus with regexes like `viewItem =~ /\badapter\b/`. */
function contextValue(base: string, flags: Record<string, boolean>): string {
  return [base, ...Object.entries(flags).filter(([, v]) => v).map(([k]) => k)].join(' ');
}

export class CheckpointsTreeProvider implements vscode.TreeDataProvider<CheckpointNode> {
  private readonly changed = new vscode.EventEmitter<CheckpointNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly parents = new Map<string, CheckpointNode>();
  private readonly byPath = new Map<string, CheckpointNode>();

  private readonly baseSub: vscode.Disposable;
  private readonly evalSub: vscode.Disposable;

  constructor(private readonly index: CheckpointIndex, private readonly baseStatus: BaseStatusCache, private readonly evalResults: EvalResults) {
    this.baseSub = baseStatus.onDidChange(() => this.refresh());
    this.evalSub = evalResults.onDidChange(() => this.refresh());
  }

  dispose(): void {
    this.baseSub.dispose();
    this.evalSub.dispose();
    this.changed.dispose();
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  /** The node shown for a folder (run, checkpoint, adapter or model), for treeView.reveal. */
  nodeForPath(path: string): CheckpointNode | undefined {
    if (this.byPath.size === 0) this.getChildren(undefined).forEach((n) => this.getChildren(n));
    return this.byPath.get(path);
  }

  private rel(path: string): string {
    return vscode.workspace.asRelativePath(vscode.Uri.file(path), (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
  }

  getTreeItem(node: CheckpointNode): vscode.TreeItem {
    switch (node.type) {
      case 'run': {
        const r = node.run;
        const nRuns = this.index.result.runs.length;
        const item = new vscode.TreeItem(this.rel(r.path), nRuns <= 5 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `run:${r.path}`;
        const broken = r.checkpoints.filter((c) => worstSeverity(c.health) === 'error').length;
        const desc = [runKindLabel(r.kind), vscode.l10n.t('{0} checkpoints', r.checkpoints.filter((c) => !c.final).length)];
        if (r.bestStep !== null) desc.push(vscode.l10n.t('best {0}', r.bestStep));
        if (broken > 0) desc.push(vscode.l10n.t('{0} broken', broken));
        item.description = desc.join(' · ');
        item.iconPath = healthIcon([...r.health, ...r.checkpoints.flatMap((c) => c.health)].filter((h) => h.severity === 'error')) ?? new vscode.ThemeIcon('beaker');
        item.tooltip = runTooltip(r);
        item.contextValue = contextValue('run', { curves: r.trainerState !== null });
        return item;
      }
      case 'checkpoint': {
        const c = node.checkpoint;
        const item = new vscode.TreeItem(c.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `ckpt:${c.path}`;
        const base = c.adapter ? this.baseStatus.get(c.adapter) : undefined;
        const bestOnData = c.adapter !== null && this.evalResults.isBest(node.run.path, c.adapter.path);
        item.description = checkpointDescription(c) + (base?.status === 'error' ? ` · ${vscode.l10n.t('base ✗')}` : '')
          + (bestOnData ? ` · ${vscode.l10n.t('best on your data')}` : '');
        item.iconPath = healthIcon(c.health) ?? (bestOnData ? new vscode.ThemeIcon('target', new vscode.ThemeColor('charts.green')) : c.best ? new vscode.ThemeIcon('star-full', new vscode.ThemeColor('charts.yellow')) : new vscode.ThemeIcon(c.final ? 'flag' : 'package'));
        item.tooltip = checkpointTooltip(node.run, c, base);
        item.contextValue = contextValue('checkpoint', { adapter: hasConfig(c.adapter), curves: node.run.trainerState !== null, best: c.best, bestOnData });
        return item;
      }
      case 'adapter': {
        const a = node.adapter;
        const item = new vscode.TreeItem(this.rel(a.path), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `adapter:${a.path}`;
        const base = this.baseStatus.get(a);
        item.description = adapterDescription(a) + (base?.status === 'error' ? ` · ${vscode.l10n.t('base ✗')}` : '');
        item.iconPath = healthIcon(a.health) ?? new vscode.ThemeIcon(a.format === 'mlx' ? 'symbol-misc' : 'extensions');
        item.tooltip = adapterTooltip(a, base);
        item.contextValue = contextValue('adapter', { adapter: hasConfig(a) });
        return item;
      }
      case 'models':
        return groupItem('models', vscode.l10n.t('Full models ({0})', node.models.length), 'library');
      case 'model': {
        const m = node.model;
        const item = new vscode.TreeItem(this.rel(m.path), vscode.TreeItemCollapsibleState.None);
        item.id = `model:${m.path}`;
        item.description = [
          m.mergedFrom ? vscode.l10n.t('merged from {0}', m.mergedFrom.adapter ? this.rel(m.mergedFrom.adapter) : '?') : null,
          m.architecture ?? m.modelType ?? '?', m.dtype, m.params !== null ? vscode.l10n.t('{0} params', formatCount(m.params)) : null,
        ].filter(Boolean).join(' · ');
        item.iconPath = healthIcon(m.health) ?? new vscode.ThemeIcon('database');
        item.tooltip = modelTooltip(m);
        item.contextValue = 'model';
        return item;
      }
      case 'leftovers': return leftoversItem(node.leftovers);
      case 'leftover': return leftoverItem(node.leftover, this.rel(node.leftover.path));
      case 'ggufs':
        return groupItem('ggufs', vscode.l10n.t('GGUF files ({0})', node.files.length), 'package');
      case 'gguf':
        return ggufItem(node.file, this.rel(node.file.path));
      case 'detail': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.parentId}/${node.key}`;
        item.description = node.value;
        item.iconPath = typeof node.icon === 'string' ? new vscode.ThemeIcon(node.icon) : node.icon;
        item.tooltip = node.tooltip ?? `${node.label}: ${node.value}`;
        item.contextValue = 'detail';
        return item;
      }
      case 'health': {
        const h = node.health;
        const item = new vscode.TreeItem(healthMessageWithoutFile(h), vscode.TreeItemCollapsibleState.None);
        item.id = `${node.parentId}/health:${h.code}:${h.file}`;
        item.description = h.code;
        item.iconPath = severityIcon(h);
        item.tooltip = new vscode.MarkdownString().appendText(localize(h));
        item.contextValue = 'health';
        item.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [vscode.Uri.file(h.file)] };
        if (/\.(safetensors|bin|pt|pth)$/.test(h.file) || !/\.[a-z]+$/.test(h.file)) item.command = { command: 'revealInExplorer', title: vscode.l10n.t('Reveal in Explorer View'), arguments: [vscode.Uri.file(h.file)] };
        return item;
      }
    }
  }

  getChildren(node?: CheckpointNode): CheckpointNode[] {
    const out = this.childrenOf(node);
    for (const c of out) {
      if (node) this.parents.set(nodeId(c), node);
      const p = pathOf(c);
      if (p) this.byPath.set(p, c);
    }
    if (!node) {
      this.parents.clear();
      for (const c of out) {
        const p = pathOf(c);
        if (p) this.byPath.set(p, c);
      }
    }
    return out;
  }

  getParent(node: CheckpointNode): CheckpointNode | undefined {
    if (node.type === 'checkpoint') return this.byPath.get(node.run.path) ?? { type: 'run', run: node.run };
    return this.parents.get(nodeId(node));
  }

  private childrenOf(node?: CheckpointNode): CheckpointNode[] {
    const result = this.index.result;
    if (!node) {
      this.byPath.clear();
      const top: CheckpointNode[] = result.runs.map((run) => ({ type: 'run', run }));
      for (const adapter of standaloneAdapters(result)) top.push({ type: 'adapter', adapter });
      if (result.models.length > 0) top.push({ type: 'models', models: result.models });
      if (result.leftovers.length > 0) top.push({ type: 'leftovers', leftovers: result.leftovers });
      if (result.gguf.length > 0) top.push({ type: 'ggufs', files: result.gguf });
      return top;
    }
    switch (node.type) {
      case 'run': {
        const kids: CheckpointNode[] = node.run.health.map((health) => ({ type: 'health', parentId: `run:${node.run.path}`, health }));
        return [...kids, ...node.run.checkpoints.map((checkpoint) => ({ type: 'checkpoint', run: node.run, checkpoint }) as const)];
      }
      case 'checkpoint':
        return checkpointDetails(node.checkpoint, this.baseStatus);
      case 'adapter':
        return [...node.adapter.health.map((health) => ({ type: 'health', parentId: `adapter:${node.adapter.path}`, health }) as const), ...adapterDetails(`adapter:${node.adapter.path}`, node.adapter, this.baseStatus)];
      case 'models':
        return node.models.map((model) => ({ type: 'model', model }));
      case 'leftovers':
        return node.leftovers.map((leftover) => ({ type: 'leftover', leftover }));
      case 'ggufs':
        return node.files.map((file) => ({ type: 'gguf', file }));
      case 'gguf':
        return node.file.health.map((health) => ({ type: 'health', parentId: `gguf:${node.file.path}`, health }));
      default:
        return [];
    }
  }
}

function leftoversItem(leftovers: readonly Leftover[]): vscode.TreeItem {
  const total = leftovers.reduce((n, l) => n + l.bytes, 0);
  const item = new vscode.TreeItem(vscode.l10n.t('Leftover temporary outputs ({0})', leftovers.length), vscode.TreeItemCollapsibleState.Expanded);
  item.id = 'leftovers';
  item.description = formatBytes(total);
  item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  item.tooltip = vscode.l10n.t('Temporary folders of merges that did not finish (killed or crashed): {0} of disk. The next merge into the same folder removes those whose process is gone.', formatBytes(total));
  item.contextValue = 'leftovers';
  return item;
}

/** Who wrote a leftover and whether it is still running, for its description and the Delete confirmation. */
export function leftoverOwnerText(l: Leftover): string {
  const o = l.owner;
  const who = o ? vscode.l10n.t('{0} of {1}, pid {2} on {3}, started {4}', o.job, o.out, o.pid, o.host, o.startedAt) : vscode.l10n.t('no owner record');
  const state = l.state === 'alive' ? vscode.l10n.t('still being written') : l.state === 'gone' ? vscode.l10n.t('its process is gone') : vscode.l10n.t('its process cannot be checked from here');
  return `${who} · ${state}`;
}

function leftoverItem(l: Leftover, label: string): vscode.TreeItem {
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `leftover:${l.path}`;
  item.description = `${formatBytes(l.bytes)} · ${l.state === 'alive' ? vscode.l10n.t('still being written') : vscode.l10n.t('unfinished merge')}`;
  item.iconPath = new vscode.ThemeIcon(l.state === 'alive' ? 'sync' : 'trash');
  item.tooltip = `${l.path}\n${formatBytes(l.bytes)}\n${leftoverOwnerText(l)}`;
  item.contextValue = `leftover ${l.state}`;
  return item;
}

/** A collapsed group at the top level (full models, GGUF files); its id is its context value. */
function groupItem(id: string, label: string, icon: string): vscode.TreeItem {
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = id;
  item.iconPath = new vscode.ThemeIcon(icon);
  item.contextValue = id;
  return item;
}

/** A GGUF file: architecture, model or adapter, llama.cpp type, params and size; broken ones with their findings. */
function ggufItem(g: GgufInfo, label: string): vscode.TreeItem {
  const item = new vscode.TreeItem(label, g.health.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  item.id = `gguf:${g.path}`;
  item.description = g.health.length ? vscode.l10n.t('unreadable') : [
    g.architecture ?? '?', g.kind === 'adapter' ? vscode.l10n.t('LoRA adapter') : null, g.fileType,
    g.params !== null ? vscode.l10n.t('{0} params', formatCount(g.params)) : null, formatBytes(g.sizeBytes),
  ].filter(Boolean).join(' · ');
  item.iconPath = healthIcon(g.health) ?? new vscode.ThemeIcon('package');
  item.tooltip = g.path;
  item.contextValue = 'gguf';
  item.resourceUri = vscode.Uri.file(g.path);
  return item;
}

/** An adapter folder whose adapter_config.json exists (so "Open adapter_config.json" works). */
function hasConfig(a: Adapter | null): boolean {
  return a !== null && !a.health.some((h) => h.code === 'missing-config');
}

function nodeId(n: CheckpointNode): string {
  switch (n.type) {
    case 'run': return `run:${n.run.path}`;
    case 'checkpoint': return `ckpt:${n.checkpoint.path}`;
    case 'adapter': return `adapter:${n.adapter.path}`;
    case 'models': return 'models';
    case 'model': return `model:${n.model.path}`;
    case 'leftovers': return 'leftovers';
    case 'leftover': return `leftover:${n.leftover.path}`;
    case 'ggufs': return 'ggufs';
    case 'gguf': return `gguf:${n.file.path}`;
    case 'detail': return `${n.parentId}/${n.key}`;
    case 'health': return `${n.parentId}/health:${n.health.code}:${n.health.file}`;
  }
}

function pathOf(n: CheckpointNode): string | undefined {
  switch (n.type) {
    case 'run': return n.run.path;
    case 'checkpoint': return n.checkpoint.path;
    case 'adapter': return n.adapter.path;
    case 'model': return n.model.path;
    case 'gguf': return n.file.path;
    default: return undefined;
  }
}

function adapterDetails(parentId: string, a: Adapter, baseStatus: BaseStatusCache): CheckpointNode[] {
  const d = (key: string, label: string, value: string, icon: string | vscode.ThemeIcon, tooltip?: string): CheckpointNode => ({ type: 'detail', parentId, key, label, value, icon, tooltip });
  const out: CheckpointNode[] = [];
  if (a.format === 'mlx') out.push(d('format', vscode.l10n.t('Format'), vscode.l10n.t('MLX adapter (not PEFT)'), 'symbol-misc'));
  const rank = a.r !== null ? `r=${a.r}` : '';
  const alpha = a.alpha !== null ? ` α=${formatNum(a.alpha)}` : '';
  const scaling = a.scaling !== null ? ` · ${vscode.l10n.t('scaling {0}', formatNum(a.scaling))}` : '';
  out.push(d('variant', vscode.l10n.t('Variant'), `${variantLabel(a)} ${rank}${alpha}${scaling}`.trim(), 'symbol-parameter'));
  if (a.targetModules !== null) {
    out.push(d('targets', vscode.l10n.t('Target modules'), typeof a.targetModules === 'string' ? a.targetModules : a.targetModules.join(', '), 'symbol-field'));
  }
  if (a.modulesToSave.length > 0) out.push(d('mts', vscode.l10n.t('Modules to save'), a.modulesToSave.join(', '), 'save'));
  if (a.params !== null || a.weightsBytes !== null) {
    const v = [a.params !== null ? vscode.l10n.t('{0} params', formatCount(a.params)) : null, a.weightsBytes !== null ? formatBytes(a.weightsBytes) : null, a.dtype].filter(Boolean).join(' · ');
    out.push(d('size', vscode.l10n.t('Weights'), `${a.weightsFile ?? ''} ${v}`.trim(), 'file-binary'));
  }
  const base = baseStatus.get(a);
  const baseValue = `${a.baseModel ?? vscode.l10n.t('(not recorded)')}${base ? ` · ${baseStatusLabel(base.status)}` : ''}`;
  const baseTip = base ? [baseValue, base.resolved ? vscode.l10n.t('Resolves to {0}', base.resolved) : null, base.problem].filter(Boolean).join('\n') : undefined;
  out.push(d('base', vscode.l10n.t('Base model'), baseValue, base ? baseStatusIcon(base.status) : 'references', baseTip));
  return out;
}

function checkpointDetails(c: Checkpoint, baseStatus: BaseStatusCache): CheckpointNode[] {
  const parentId = `ckpt:${c.path}`;
  const out: CheckpointNode[] = c.health.map((health) => ({ type: 'health', parentId, health }));
  const m = c.metrics;
  const metrics = [
    m.loss !== null ? vscode.l10n.t('loss {0}', formatNum(m.loss)) : null,
    m.evalLoss !== null ? vscode.l10n.t('eval {0}', formatNum(m.evalLoss)) : null,
    m.learningRate !== null ? `lr ${m.learningRate.toExponential(2)}` : null,
    m.epoch !== null ? vscode.l10n.t('epoch {0}', formatNum(m.epoch, 3)) : null,
  ].filter(Boolean);
  if (metrics.length > 0) out.push({ type: 'detail', parentId, key: 'metrics', label: vscode.l10n.t('Metrics'), value: metrics.join(' · '), icon: 'graph-line' });
  if (c.adapter) out.push(...adapterDetails(parentId, c.adapter, baseStatus));
  const f = c.files;
  const present = [
    f.optimizer && vscode.l10n.t('optimizer'),
    f.scheduler && vscode.l10n.t('scheduler'),
    f.rngState && 'RNG',
    f.scaler && vscode.l10n.t('AMP scaler'),
    f.trainerState && 'trainer_state',
    f.tokenizer && vscode.l10n.t('tokenizer'),
    f.deepspeed && `DeepSpeed ${f.deepspeed}`,
    f.fullModel && vscode.l10n.t('full model weights'),
  ].filter((x): x is string => typeof x === 'string');
  if (present.length > 0) out.push({ type: 'detail', parentId, key: 'files', label: vscode.l10n.t('Files'), value: present.join(', '), icon: 'files', tooltip: f.names.join('\n') });
  return out;
}
