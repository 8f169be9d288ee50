// Wires the checkpoint explorer into VS Code: the CheckpointIndex service, the Checkpoints tree, the
// 'lora-workbench-health' diagnostics, the explorer context keys, the training-curves panels and the commands.
// activate() calls registerCheckpoints once and hands the returned index to features that need the workspace's adapters.

import * as vscode from 'vscode';
import type { Health, Run, ScanResult } from '../../core/checkpoints/model';
import { allHealth } from '../../core/checkpoints/scan';
import { formatBytes } from '../../core/format';
import { deleteLeftover } from '../../core/merge/partialOutput';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { registerCommand } from '../commands/funnel';
import { BaseStatusCache } from './baseStatus';
import { CheckpointIndex } from './checkpointIndex';
import { CheckpointsTreeProvider, leftoverOwnerText, type CheckpointNode } from './checkpointsTree';
import { CurvesPanels } from './curvesPanel';
import type { EvalResults } from './evalResults';
import { healthMessageWithoutFile } from './healthText';

export const HEALTH_DIAGNOSTICS = 'lora-workbench-health';

function toSeverity(h: Health): vscode.DiagnosticSeverity {
  return h.severity === 'error' ? vscode.DiagnosticSeverity.Error : h.severity === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information;
}

/** Findings about files go to the Problems view; folder-level walk notes (loops, depth) only to the log. */
function publishDiagnostics(collection: vscode.DiagnosticCollection, result: ScanResult): void {
  const byFile = new Map<string, vscode.Diagnostic[]>();
  for (const h of allHealth(result)) {
    if (h.code === 'symlink-loop' || h.code === 'depth-limit' || h.code === 'mlx-adapter') continue;
    const d = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 0), healthMessageWithoutFile(h), toSeverity(h));
    d.code = h.code;
    d.source = 'LoRA Workbench';
    const list = byFile.get(h.file) ?? [];
    list.push(d);
    byFile.set(h.file, list);
  }
  collection.clear();
  collection.set([...byFile].map(([file, diags]) => [vscode.Uri.file(file), diags] as [vscode.Uri, vscode.Diagnostic[]]));
}

/** Explorer menus are gated on `resourcePath in <key>`: publish the folders each command applies to. */
function publishContextKeys(result: ScanResult): void {
  const fsPath = (p: string): string => vscode.Uri.file(p).fsPath;
  const adapterFolders = result.adapters.filter((a) => !a.health.some((h) => h.code === 'missing-config')).map((a) => fsPath(a.path));
  const curveFolders = result.runs.filter((r) => r.trainerState !== null).flatMap((r) => [r.path, ...r.checkpoints.map((c) => c.path)]).map(fsPath);
  const known = [...new Set([...adapterFolders, ...curveFolders, ...result.runs.map((r) => fsPath(r.path)), ...result.models.map((m) => fsPath(m.path))])];
  void vscode.commands.executeCommand('setContext', 'loraWorkbench.adapterFolders', adapterFolders);
  void vscode.commands.executeCommand('setContext', 'loraWorkbench.curveFolders', curveFolders);
  void vscode.commands.executeCommand('setContext', 'loraWorkbench.exportFolders', [...adapterFolders, ...result.models.map((m) => fsPath(m.path))]);
  void vscode.commands.executeCommand('setContext', 'loraWorkbench.scannedFolders', known);
}

/** The folder a command was invoked on: a tree node, an Explorer Uri, or nothing (then the tree selection). */
function folderOf(arg: unknown, view: vscode.TreeView<CheckpointNode>): string | undefined {
  if (arg instanceof vscode.Uri) return absolutePath(arg.fsPath);
  const node = (arg as CheckpointNode | undefined) ?? view.selection[0];
  if (!node) return undefined;
  switch (node.type) {
    case 'run': return node.run.path;
    case 'checkpoint': return node.checkpoint.path;
    case 'adapter': return node.adapter.path;
    case 'model': return node.model.path;
    default: return undefined;
  }
}

export function registerCheckpoints(context: vscode.ExtensionContext, evalResults: EvalResults): CheckpointIndex {
  const index = new CheckpointIndex();
  const baseStatus = new BaseStatusCache();
  const tree = new CheckpointsTreeProvider(index, baseStatus, evalResults);
  const view = vscode.window.createTreeView('loraWorkbench.checkpoints', { treeDataProvider: tree, showCollapseAll: true });
  const diagnostics = vscode.languages.createDiagnosticCollection(HEALTH_DIAGNOSTICS);
  const curves = new CurvesPanels(context.extensionUri, index, evalResults);
  context.subscriptions.push(index, baseStatus, tree, view, diagnostics, curves);

  context.subscriptions.push(
    index.onDidChange((result) => {
      baseStatus.reset();
      tree.refresh();
      publishDiagnostics(diagnostics, result);
      publishContextKeys(result);
      const broken = result.runs.reduce((n, r) => n + r.checkpoints.filter((c) => c.health.some((h) => h.severity === 'error')).length, 0);
      view.badge = broken > 0 ? { value: broken, tooltip: vscode.l10n.t('{0} broken checkpoints', broken) } : undefined;
    }),
  );

  const adapterConfigOf = (folder: string): vscode.Uri => {
    const hit = index.checkpointFor(folder);
    const adapterPath = hit?.checkpoint.adapter?.path ?? index.adapters().find((a) => a.path === folder)?.path ?? folder;
    return vscode.Uri.file(`${adapterPath}/adapter_config.json`);
  };

  const pickRun = async (): Promise<Run | undefined> => {
    const runs = index.runs().filter((r) => r.trainerState !== null);
    if (runs.length <= 1) return runs[0];
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: vscode.workspace.asRelativePath(vscode.Uri.file(r.path)), description: r.kind, run: r })),
      { placeHolder: vscode.l10n.t('Show the training curves of which run?') },
    );
    return pick?.run;
  };

  context.subscriptions.push(
    registerCommand('loraWorkbench.refreshCheckpoints', vscode.l10n.t('Refresh Checkpoints'), () => index.refresh()),
    registerCommand('loraWorkbench.revealInExplorer', vscode.l10n.t('Reveal in Explorer View'), async (arg) => {
      const folder = folderOf(arg, view);
      if (folder) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(folder));
    }),
    registerCommand('loraWorkbench.copyPath', vscode.l10n.t('Copy Path'), async (arg) => {
      const folder = folderOf(arg, view);
      if (folder) await vscode.env.clipboard.writeText(vscode.Uri.file(folder).fsPath);
      return folder;
    }),
    registerCommand('loraWorkbench.openAdapterConfig', vscode.l10n.t('Open adapter_config.json'), async (arg) => {
      const folder = folderOf(arg, view);
      if (!folder) return undefined;
      const uri = adapterConfigOf(folder);
      await vscode.window.showTextDocument(uri, { preview: true });
      return uri;
    }),
    registerCommand('loraWorkbench.showTrainingCurves', vscode.l10n.t('Show Training Curves'), async (arg) => {
      const folder = arg === undefined && view.selection.length === 0 ? undefined : folderOf(arg, view);
      const run = folder ? index.runFor(folder) : await pickRun();
      if (!run) {
        void vscode.window.showInformationMessage(vscode.l10n.t('No training run with a trainer_state.json was found here.'));
        return undefined;
      }
      await curves.show(run);
      return run.path;
    }),
    registerCommand('loraWorkbench.revealInCheckpoints', vscode.l10n.t('Reveal in Checkpoints View'), async (arg) => {
      const folder = folderOf(arg, view);
      if (!index.ready) await index.refresh();
      const node = folder ? tree.nodeForPath(folder) : undefined;
      if (node) await view.reveal(node, { select: true, focus: true, expand: true });
    }),
  );

  context.subscriptions.push(
    registerCommand('loraWorkbench.deleteLeftover', vscode.l10n.t('Delete Leftover'), async (arg) => {
      const node = (arg as CheckpointNode | undefined) ?? view.selection[0];
      if (node?.type !== 'leftover') return undefined;
      const l = node.leftover;
      const del = vscode.l10n.t('Delete');
      const choice = await vscode.window.showWarningMessage(
        vscode.l10n.t('Delete the unfinished merge output {0} ({1})?', vscode.Uri.file(l.path).fsPath, formatBytes(l.bytes)),
        { modal: true, detail: leftoverOwnerText(l) },
        del,
      );
      if (choice !== del) return undefined;
      await deleteLeftover(new NodeFs(), l.path); // refuses a folder whose merge is still running
      await index.refresh();
      return l.path;
    }),
  );

  void index.refresh();
  return index;
}
