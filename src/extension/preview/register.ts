// Registers "Preview Generation..." (loraWorkbench.previewGeneration) on checkpoints, adapters and full models (Checkpoints
// view, file Explorer, palette), keeps one panel per target, shares loaded base models between panels (refcounted
// engine/load + engine/unload; forgotten when the engine worker dies) and offers the compatible adapters of the
// workspace for "Add Checkpoint...".

import * as vscode from 'vscode';
import { diagnoseAdapter } from '../../core/basemodel/diagnose';
import { BaseModelCache } from '../../core/basemodel/inspect';
import type { ScanResult } from '../../core/checkpoints/model';
import { basename, dirname } from '../../core/paths';
import { Load, Unload, type BackendChoice, type LoadResult } from '../../engine/protocol';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { registerCommand } from '../commands/funnel';
import type { EngineHost } from '../engineHost';
import { log } from '../platform/log';
import type { CheckpointIndex } from '../views/checkpointIndex';
import type { CheckpointNode } from '../views/checkpointsTree';
import { PreviewPanel, type PreviewServices, type PreviewTarget } from './previewPanel';
import { localize } from '../platform/l10n';

export const PREVIEW_COMMAND = 'loraWorkbench.previewGeneration';
/** Explorer folders the command applies to: adapter folders (adapter_config.json) and full models (config.json + weights). */
export const PREVIEW_FOLDERS_KEY = 'loraWorkbench.previewFolders';

/** What register.ts hands to the in-host tests (the open panels) and to other features (the shared base models). */
export interface PreviewApi {
  readonly panels: () => readonly PreviewPanel[];
  /** Refcounted engine/load + engine/unload, shared with the panels (Evaluate Checkpoints loads its base here too). */
  readonly models: Pick<PreviewServices, 'acquireModel' | 'releaseModel'>;
}

interface LoadedModel {
  refs: number;
  result: Promise<LoadResult>;
}

/** The preview target a command argument names: a Checkpoints node, an Explorer Uri, a path string, or nothing. */
export function targetOf(arg: unknown, result: ScanResult): PreviewTarget | undefined {
  let folder: string | undefined;
  if (arg instanceof vscode.Uri) folder = absolutePath(arg.fsPath);
  else if (typeof arg === 'string') folder = absolutePath(arg);
  else if (arg && typeof arg === 'object' && 'type' in arg) {
    const node = arg as CheckpointNode;
    if (node.type === 'checkpoint') folder = node.checkpoint.adapter?.path ?? node.checkpoint.path;
    else if (node.type === 'adapter') folder = node.adapter.path;
    else if (node.type === 'model') return { kind: 'model', path: node.model.path };
    else if (node.type === 'gguf') return { kind: 'model', path: node.file.path };
  }
  if (!folder) return undefined;
  // A GGUF file is a model too: the engine reads it through its model-folder view.
  if (folder.toLowerCase().endsWith('.gguf')) return { kind: 'model', path: folder };
  if (result.models.some((m) => m.path === folder)) return { kind: 'model', path: folder };
  const checkpoint = result.runs.flatMap((r) => r.checkpoints).find((c) => c.path === folder);
  if (checkpoint?.adapter) return { kind: 'adapter', path: checkpoint.adapter.path };
  if (checkpoint?.files.fullModel) return { kind: 'model', path: folder };
  return { kind: 'adapter', path: folder };
}

function backendSetting(): { backend: BackendChoice; threads: number } {
  const cfg = vscode.workspace.getConfiguration('loraWorkbench.engine');
  return { backend: cfg.get<BackendChoice>('backend', 'auto'), threads: cfg.get<number>('threads', 0) };
}

export function registerPreview(context: vscode.ExtensionContext, engine: EngineHost, index: CheckpointIndex): PreviewApi {
  const panels = new Map<string, PreviewPanel>();
  const loaded = new Map<string, LoadedModel>();
  const fs = new NodeFs();

  const rel = (p: string): string => vscode.workspace.asRelativePath(vscode.Uri.file(p), (vscode.workspace.workspaceFolders?.length ?? 0) > 1);

  /** Quantized exports (GGUF model files) and other models for model columns; those next to `near` come first, checked. */
  const pickModels = async (near: string, exclude: readonly string[]): Promise<string[]> => {
    if (!index.ready) await index.refresh();
    const r = index.result;
    const skip = new Set([near, ...exclude]);
    const nearDirs = new Set([near, dirname(near), dirname(dirname(near))]);
    const isNear = (p: string): boolean => nearDirs.has(dirname(p));
    const byNearness = (a: string, b: string): number => Number(isNear(b)) - Number(isNear(a)) || a.localeCompare(b);
    type Item = vscode.QuickPickItem & { path?: string; browse?: boolean };
    const items: Item[] = [];
    const ggufs = r.gguf.filter((g) => g.kind === 'model' && !skip.has(g.path) && !g.health.some((h) => h.severity === 'error'));
    if (ggufs.length) items.push({ label: vscode.l10n.t('GGUF files'), kind: vscode.QuickPickItemKind.Separator });
    for (const g of [...ggufs].sort((a, b) => byNearness(a.path, b.path))) {
      const desc = [g.fileType ?? '', `${(g.sizeBytes / 1e6).toFixed(1)} MB`, isNear(g.path) ? vscode.l10n.t('next to {0}', rel(near)) : ''].filter(Boolean).join(' · ');
      items.push({ label: basename(g.path), description: desc, detail: rel(g.path), path: g.path, picked: isNear(g.path) });
    }
    const models = r.models.filter((m) => !skip.has(m.path));
    if (models.length) items.push({ label: vscode.l10n.t('Models'), kind: vscode.QuickPickItemKind.Separator });
    for (const m of models) items.push({ label: rel(m.path), description: [m.architecture ?? '', m.dtype ?? ''].filter(Boolean).join(' · '), path: m.path });
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator }, { label: vscode.l10n.t('Choose a GGUF File...'), browse: true });
    const picks = await vscode.window.showQuickPick(items, { canPickMany: true, placeHolder: vscode.l10n.t('Compare with which quantized exports or models?'), matchOnDescription: true, matchOnDetail: true });
    if (!picks) return [];
    const paths = picks.flatMap((p) => (p.path ? [p.path] : []));
    if (picks.some((p) => p.browse)) {
      const files = await vscode.window.showOpenDialog({ canSelectMany: true, openLabel: vscode.l10n.t('Compare'), filters: { GGUF: ['gguf'] } });
      paths.push(...(files ?? []).map((f) => absolutePath(f.fsPath)));
    }
    return paths;
  };

  const services: PreviewServices = {
    pickModels,
    engine,
    extensionUri: context.extensionUri,
    state: context.workspaceState,
    acquireModel(basePath, onProgress) {
      const hit = loaded.get(basePath);
      if (hit) {
        hit.refs++;
        return hit.result;
      }
      const entry: LoadedModel = {
        refs: 1,
        result: engine.get().request(Load, { modelPath: basePath, ...backendSetting() }, { onProgress: (p) => onProgress(p.done, p.total, p.phase) }),
      };
      entry.result.catch(() => loaded.delete(basePath));
      loaded.set(basePath, entry);
      return entry.result;
    },
    releaseModel(basePath) {
      const hit = loaded.get(basePath);
      if (!hit || --hit.refs > 0) return;
      loaded.delete(basePath);
      // The last panel on this base is gone: give its weights' memory back.
      void hit.result.then((r) => engine.get().request(Unload, { modelId: r.modelId })).catch((e: unknown) => log().warn(`preview: unload ${basePath}: ${String(e)}`));
    },
    async pickAdapter(basePath, exclude) {
      if (!index.ready) await index.refresh();
      const cache = new BaseModelCache();
      const candidates = index.adapters().filter((a) => a.format === 'peft' && !exclude.includes(a.path) && !a.health.some((h) => h.severity === 'error'));
      // Header-only check of each adapter against this base (not its recorded base): an adapter trained on a copy of
      // the same model elsewhere fits too, one trained on another model does not.
      const items = (async (): Promise<Array<vscode.QuickPickItem & { path?: string }>> => {
        const checked = await Promise.all(candidates.map(async (a) => {
          try {
            const d = await diagnoseAdapter(fs, a.path, { base: basePath, candidates: 'never', cache });
            return { a, ok: d.compatible !== false, why: d.incompatibilities[0] ? localize(d.incompatibilities[0]) : '' };
          } catch (e) {
            return { a, ok: false, why: (e as Error).message };
          }
        }));
        const out: Array<vscode.QuickPickItem & { path?: string }> = [];
        let lastRun: string | undefined;
        for (const { a } of checked.filter((c) => c.ok)) {
          const run = index.runFor(a.path);
          const group = run ? rel(run.path) : vscode.l10n.t('Adapters');
          if (group !== lastRun) {
            out.push({ label: group, kind: vscode.QuickPickItemKind.Separator });
            lastRun = group;
          }
          const cp = index.checkpointFor(a.path)?.checkpoint;
          const desc = [a.variant ?? '', a.r !== null ? `r=${a.r}` : '', cp?.step != null ? vscode.l10n.t('step {0}', cp.step) : '', cp?.best ? vscode.l10n.t('★ best') : ''].filter(Boolean).join(' · ');
          out.push({ label: cp && !cp.final ? cp.name : rel(a.path), description: desc, detail: rel(a.path), path: a.path });
        }
        const hidden = checked.filter((c) => !c.ok);
        for (const h of hidden) log().info(`preview: ${h.a.path} does not fit ${basePath}: ${h.why}`);
        return out;
      })();
      const pick = await vscode.window.showQuickPick(items, {
        placeHolder: vscode.l10n.t('Add a column: a checkpoint or adapter of {0}', rel(basePath)),
        matchOnDescription: true, matchOnDetail: true,
      });
      return pick?.path;
    },
  };


  // A dead worker took every loaded model with it: forget them all (no engine/unload: those ids no longer exist), and
  // let each panel load again on its next Run.
  context.subscriptions.push(engine.onWorkerDied(() => {
    loaded.clear();
    for (const p of panels.values()) p.engineLost();
  }));

  const publishFolders = (result: ScanResult): void => {
    const folders = [...result.adapters.filter((a) => a.format === 'peft' && !a.health.some((h) => h.code === 'missing-config')).map((a) => a.path), ...result.models.map((m) => m.path)];
    void vscode.commands.executeCommand('setContext', PREVIEW_FOLDERS_KEY, folders.map((p) => vscode.Uri.file(p).fsPath));
  };
  context.subscriptions.push(index.onDidChange(publishFolders));
  if (index.ready) publishFolders(index.result);

  const pickTarget = async (): Promise<PreviewTarget | undefined> => {
    if (!index.ready) await index.refresh();
    const r = index.result;
    const items: Array<vscode.QuickPickItem & { target?: PreviewTarget }> = [];
    for (const run of r.runs) {
      const cps = run.checkpoints.filter((c) => c.adapter && c.adapter.format === 'peft');
      if (cps.length === 0) continue;
      items.push({ label: rel(run.path), kind: vscode.QuickPickItemKind.Separator });
      for (const c of cps) {
        items.push({
          label: c.final ? rel(c.adapter!.path) : c.name,
          description: [c.step !== null ? vscode.l10n.t('step {0}', c.step) : '', c.metrics.evalLoss !== null ? vscode.l10n.t('eval {0}', c.metrics.evalLoss.toFixed(4)) : '', c.best ? vscode.l10n.t('★ best') : ''].filter(Boolean).join(' · '),
          detail: rel(c.adapter!.path),
          target: { kind: 'adapter', path: c.adapter!.path },
        });
      }
    }
    const inRuns = new Set(r.runs.flatMap((run) => run.checkpoints.map((c) => c.adapter?.path)));
    const loose = r.adapters.filter((a) => a.format === 'peft' && !inRuns.has(a.path));
    if (loose.length) items.push({ label: vscode.l10n.t('Adapters'), kind: vscode.QuickPickItemKind.Separator });
    for (const a of loose) items.push({ label: rel(a.path), description: a.variant ?? '', target: { kind: 'adapter', path: a.path } });
    if (r.models.length) items.push({ label: vscode.l10n.t('Models'), kind: vscode.QuickPickItemKind.Separator });
    for (const m of r.models) items.push({ label: rel(m.path), description: [m.architecture ?? '', m.dtype ?? ''].filter(Boolean).join(' · '), target: { kind: 'model', path: m.path } });
    if (!items.some((i) => i.target)) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No adapters or models were found in this workspace.'));
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Preview generation with which checkpoint, adapter or model?'), matchOnDescription: true, matchOnDetail: true });
    return pick?.target;
  };

  // Not refused in Restricted Mode: the panel opens and explains why it will not run (the host re-checks trust on Run).
  context.subscriptions.push(
    registerCommand(PREVIEW_COMMAND, vscode.l10n.t('Preview Generation'), async (arg) => {
      if (arg !== undefined && !index.ready) await index.refresh();
      const target = arg === undefined ? await pickTarget() : targetOf(arg, index.result);
      if (!target) return undefined;
      const existing = panels.get(target.path);
      if (existing) {
        existing.reveal();
        return target.path;
      }
      const panel = new PreviewPanel(target, services, () => panels.delete(target.path));
      panels.set(target.path, panel);
      log().info(`preview: opened on ${target.kind} ${target.path}`);
      return target.path;
    }),
    { dispose: () => { for (const p of panels.values()) p.panel.dispose(); } },
  );

  return { panels: () => [...panels.values()], models: { acquireModel: services.acquireModel, releaseModel: services.releaseModel } };
}
