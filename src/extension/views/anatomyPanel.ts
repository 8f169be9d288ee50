// "Show Adapter Anatomy" and "Compare Adapter Anatomy...": on checkpoints and adapters (Checkpoints view, palette), a
// webview heatmap (webview/anatomy) of core/anatomy's per-module numbers; relative to the base weights when the
// adapter's recorded base resolves and fits. One panel per (adapter, compared-with) pair.

import * as vscode from 'vscode';
import { adapterAnatomy, type AdapterAnatomy, type ModuleAnatomy } from '../../core/anatomy/anatomy';
import { diagnoseAdapter } from '../../core/basemodel/diagnose';
import { basename } from '../../core/paths';
import { readTorchBinTensors } from '../../core/torchpickle/binReader';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import type { AnatomyCell, AnatomyDataMessage, AnatomyToHost } from '../../../webview/anatomy/messages';
import { adapterFolderOf } from '../commands/merge';
import { registerCommand } from '../commands/funnel';
import { log } from '../platform/log';
import { pickAdapter } from './adapterPick';
import { webviewHtml } from '../platform/webviewHtml';
import type { CheckpointIndex } from './checkpointIndex';

export const ANATOMY_COMMAND = 'loraWorkbench.showAdapterAnatomy';
export const COMPARE_ANATOMY_COMMAND = 'loraWorkbench.compareAdapterAnatomy';

/** The recorded base when it resolves and fits; null otherwise (the heatmap then shows absolute sizes). */
async function baseFor(fs: NodeFs, adapter: string): Promise<string | null> {
  const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).map((f) => absolutePath(f.uri.fsPath));
  const d = await diagnoseAdapter(fs, adapter, { workspaceFolders, binReader: readTorchBinTensors, candidates: 'never' }).catch(() => null);
  return d?.base.resolved && d.compatible !== false ? d.base.resolved : null;
}

function cellOf(m: ModuleAnatomy): AnatomyCell {
  return {
    layer: m.layer, target: m.target, module: m.module, norm: m.norm, relative: m.relative, effectiveRank: m.effectiveRank,
    r: m.r, topSingularValues: m.singularValues.slice(0, 4), doraChange: m.dora?.relativeChange ?? null,
  };
}

function message(a: AdapterAnatomy): AnatomyDataMessage {
  const name = (p: string): string => vscode.workspace.asRelativePath(vscode.Uri.file(p));
  return {
    type: 'data',
    title: a.against ? vscode.l10n.t('{0} minus {1}', basename(a.adapter), basename(a.against)) : vscode.l10n.t('Anatomy of {0}', basename(a.adapter)),
    subtitle: [a.against ? `${name(a.adapter)} − ${name(a.against)}` : name(a.adapter), a.variant,
      a.base ? vscode.l10n.t('base {0}', name(a.base)) : vscode.l10n.t('base not found: absolute sizes'),
      ...(a.savedTensors.length ? [vscode.l10n.t('saved whole: {0}', a.savedTensors.join(', '))] : [])].join(' · '),
    grid: { layers: a.layers, targets: a.targets, cells: a.modules.map(cellOf) }, relative: a.base !== null,
    hasDora: a.modules.some((m) => m.dora?.relativeChange !== null && m.dora !== null),
    labels: {
      size: vscode.l10n.t('Update size'), rank: vscode.l10n.t('Effective rank'), dora: vscode.l10n.t('DoRA magnitude change'),
      layer: vscode.l10n.t('Layer'), legend: vscode.l10n.t('Scale:'), outside: vscode.l10n.t('Outside the layers'),
      relativeNote: vscode.l10n.t('||scale·B·A||_F / ||W||_F: how large the update is next to the base weight.'),
      absoluteNote: vscode.l10n.t('||scale·B·A||_F (the base model was not found, so sizes are not relative).'),
    },
  };
}

export function registerAnatomy(context: vscode.ExtensionContext, index: CheckpointIndex): void {
  const fs = new NodeFs();
  const panels = new Map<string, vscode.WebviewPanel>();
  context.subscriptions.push({ dispose: () => panels.forEach((p) => p.dispose()) });

  const show = async (adapter: string, against: string | undefined): Promise<AdapterAnatomy> => {
    const anatomy = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Adapter anatomy of {0}', basename(adapter)) },
      async () => adapterAnatomy(fs, adapter, {
        base: (await baseFor(fs, adapter)) ?? undefined, against,
        // A 7B adapter's r x r problems take seconds of CPU: let the extension host serve other requests in between.
        yieldToEvents: () => new Promise((r) => setImmediate(r)),
      }));
    const key = `${adapter}|${against ?? ''}`;
    let panel = panels.get(key);
    const msg = message(anatomy);
    if (panel) {
      panel.reveal();
      void panel.webview.postMessage(msg);
      return anatomy;
    }
    panel = vscode.window.createWebviewPanel('loraWorkbench.anatomy', msg.title, vscode.ViewColumn.Active, {
      enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview')],
    });
    panels.set(key, panel);
    const p = panel;
    p.onDidDispose(() => panels.delete(key));
    p.webview.onDidReceiveMessage((m: AnatomyToHost) => {
      if (m.type === 'ready') void p.webview.postMessage(msg);
      else if (m.type === 'rendered') log().info(`anatomy ${basename(adapter)}${against ? ` - ${basename(against)}` : ''}: rendered ${m.cells} cells (${m.metric})`);
    });
    p.webview.html = webviewHtml(p.webview, context.extensionUri, { script: 'anatomy', title: msg.title, rootTag: 'main' });
    return anatomy;
  };

  context.subscriptions.push(
    registerCommand(ANATOMY_COMMAND, vscode.l10n.t('Show Adapter Anatomy'), async (arg) => {
      const adapter = adapterFolderOf(arg, index) ?? await pickAdapter(index, vscode.l10n.t('Show the anatomy of which checkpoint or adapter?'));
      return adapter ? show(adapter, undefined) : undefined;
    }),
    registerCommand(COMPARE_ANATOMY_COMMAND, vscode.l10n.t('Compare Adapter Anatomy'), async (arg, second) => {
      const adapter = adapterFolderOf(arg, index) ?? await pickAdapter(index, vscode.l10n.t('Compare which checkpoint or adapter?'));
      if (!adapter) return undefined;
      const against = typeof second === 'string' ? absolutePath(second)
        : await pickAdapter(index, vscode.l10n.t('Compare {0} with which checkpoint or adapter (its update is subtracted)?', basename(adapter)), adapter);
      return against ? show(adapter, against) : undefined;
    }),
  );
}
