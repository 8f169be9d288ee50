// "Plan Deployment...": on checkpoints and adapters (Checkpoints view, Explorer, palette), a webview (webview/deploy)
// of core/deploy's plan - shared base, merged safetensors per dtype, GGUF per type - whose buttons run the existing
// Merge, Export to GGUF, Relink and Choose Base commands with the plan's arguments. One panel per adapter; it plans
// again after a relink or a chosen base.

import * as vscode from 'vscode';
import { planDeployment, type DeployPlan } from '../../core/deploy/plan';
import { basename } from '../../core/paths';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import type { DeployAction, DeployToHost, HostToDeploy } from '../../../webview/deploy/messages';
import { adapterFolderOf, MERGE_COMMAND, type MergeCommandArgs } from '../commands/merge';
import { GGUF_COMMAND, type GgufCommandArgs } from '../commands/gguf';
import { registerCommand, reportError } from '../commands/funnel';
import { CHOOSE_BASE, RELINK_RUN } from '../language/baseCommands';
import { log } from '../platform/log';
import { webviewHtml } from '../platform/webviewHtml';
import { pickAdapter } from './adapterPick';
import type { CheckpointIndex } from './checkpointIndex';
import { deployMessage } from './deployMessage';
import type { ExportType } from '../../core/gguf/format';

export const PLAN_DEPLOYMENT_COMMAND = 'loraWorkbench.planDeployment';

const fs = new NodeFs();

async function planOf(adapter: string): Promise<DeployPlan> {
  const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => absolutePath(f.uri.fsPath));
  const searchPaths = vscode.workspace.getConfiguration('loraWorkbench').get<string[]>('modelSearchPaths', []);
  return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Planning the deployment of {0}', basename(adapter)) },
    () => planDeployment(fs, adapter, { workspaceFolders, searchPaths }));
}

/** The plan reads files: save the config that Choose Base Model edited (the user asked for the change in the panel). */
async function savedIfOpen(config: vscode.Uri): Promise<boolean> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === config.toString());
  return doc?.isDirty ? doc.save() : true;
}

/** The existing command an action stands for, with the plan's arguments; true when the plan may have changed. */
async function runAction(plan: DeployPlan, action: DeployAction): Promise<boolean> {
  const config = vscode.Uri.file(plan.configPath);
  const base = plan.base.status === 'ok' ? plan.base.path ?? undefined : undefined;
  switch (action.kind) {
    case 'merge': {
      const suggestedOut = plan.merged.find((m) => m.dtype === action.dtype)?.outPath;
      await vscode.commands.executeCommand(MERGE_COMMAND, { adapter: plan.adapterPath, base, dtype: action.dtype, suggestedOut } satisfies MergeCommandArgs);
      return false;
    }
    case 'gguf':
      await vscode.commands.executeCommand(GGUF_COMMAND, { adapter: plan.adapterPath, base, ggufType: action.type as ExportType } satisfies GgufCommandArgs);
      return false;
    case 'relink':
      return Boolean(await vscode.commands.executeCommand(RELINK_RUN, config, base));
    case 'chooseBase':
      return Boolean(await vscode.commands.executeCommand(CHOOSE_BASE, config)) && await savedIfOpen(config);
    case 'copy':
      await vscode.env.clipboard.writeText(action.text);
      return false;
  }
}

class DeployPanel {
  readonly panel: vscode.WebviewPanel;

  constructor(private plan: DeployPlan, extensionUri: vscode.Uri, onDispose: () => void) {
    const msg = deployMessage(plan);
    this.panel = vscode.window.createWebviewPanel('loraWorkbench.deploy', msg.title, vscode.ViewColumn.Active, {
      enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    });
    this.panel.onDidDispose(onDispose);
    this.panel.webview.onDidReceiveMessage((m: DeployToHost) => void this.receive(m));
    this.panel.webview.html = webviewHtml(this.panel.webview, extensionUri, { script: 'deploy', title: msg.title, rootTag: 'main' });
  }

  show(plan: DeployPlan): void {
    this.plan = plan;
    this.panel.reveal();
    this.post(deployMessage(plan));
  }

  private post(m: HostToDeploy): void {
    void this.panel.webview.postMessage(m);
  }

  private async receive(m: DeployToHost): Promise<void> {
    if (m.type === 'ready') this.post(deployMessage(this.plan));
    else if (m.type === 'rendered') log().info(`deploy ${basename(this.plan.adapterPath)}: rendered ${m.sections} options, ${m.rows} sized rows (base ${this.plan.base.status})`);
    else await this.act(m.action);
  }

  private async act(action: DeployAction): Promise<void> {
    try {
      log().info(`deploy ${basename(this.plan.adapterPath)}: ${action.kind === 'copy' ? 'copy' : JSON.stringify(action)}`);
      const changed = await runAction(this.plan, action);
      if (action.kind === 'copy') this.post({ type: 'copied', text: action.text });
      if (changed) this.show(await planOf(this.plan.adapterPath));
    } catch (err) {
      await reportError(vscode.l10n.t('Plan Deployment'), err);
    }
  }
}

export function registerDeployPlan(context: vscode.ExtensionContext, index: CheckpointIndex): void {
  const panels = new Map<string, DeployPanel>();
  context.subscriptions.push({ dispose: () => panels.forEach((p) => p.panel.dispose()) });
  context.subscriptions.push(registerCommand(PLAN_DEPLOYMENT_COMMAND, vscode.l10n.t('Plan Deployment'), async (arg) => {
    if (arg !== undefined && !index.ready) await index.refresh();
    const adapter = adapterFolderOf(arg, index) ?? await pickAdapter(index, vscode.l10n.t('Plan the deployment of which checkpoint or adapter?'));
    if (!adapter) return undefined;
    const plan = await planOf(adapter);
    const open = panels.get(plan.adapterPath);
    if (open) open.show(plan);
    else panels.set(plan.adapterPath, new DeployPanel(plan, context.extensionUri, () => panels.delete(plan.adapterPath)));
    return plan;
  }));
}
