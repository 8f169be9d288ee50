// "Diagnose Base Model" on checkpoints and adapters (Checkpoints view, Explorer folders with adapter_config.json,
// palette): runs the base-model diagnosis and, when something is wrong, opens adapter_config.json with the most severe
// problem selected and its hover shown; when the config is fine, lists the findings in a notification (issue 13).

import * as vscode from 'vscode';
import type { Diagnosis } from '../../core/basemodel/diagnose';
import { valueRange } from '../../core/peft/parse';
import type { Problem } from '../../core/peft/problems';
import { absolutePath } from '../../node/nodeFs';
import { adapterFolderOf } from '../commands/merge';
import { registerCommand } from '../commands/funnel';
import type { CheckpointIndex } from '../views/checkpointIndex';
import { toVsRange, type AdapterDiagnostics } from './adapterDiagnostics';
import { targetConfig } from './baseCommands';
import { localize } from '../platform/l10n';

export const DIAGNOSE_BASE_COMMAND = 'loraWorkbench.diagnoseBaseModel';

/** What the command did, for tests and other callers. */
export interface DiagnoseBaseResult {
  readonly config: string;
  readonly compatible: boolean | null;
  readonly revealed: string | null;
}

const RANK: Record<Problem['severity'], number> = { error: 0, warning: 1, info: 2 };

/** The problem to reveal: the worst one, on base_model_name_or_path when it ties. Null when nothing is wrong. */
function problemToReveal(d: Diagnosis): Problem | null {
  const onBase = valueRange(d.parsed, ['base_model_name_or_path']).offset;
  const serious = d.problems.filter((p) => p.severity !== 'info');
  serious.sort((a, b) => RANK[a.severity] - RANK[b.severity] || Number(b.range.offset === onBase) - Number(a.range.offset === onBase));
  return serious[0] ?? null;
}

function findings(d: Diagnosis): string {
  const fit = d.compat ? vscode.l10n.t('{0}/{1} adapter tensors fit', d.compat.matched, d.compat.total) : vscode.l10n.t('tensors not compared');
  const head = d.base.resolved
    ? vscode.l10n.t('The base model of {0} is fine: {1} ({2}).', vscode.workspace.asRelativePath(d.adapterDir), d.base.resolved, fit)
    : vscode.l10n.t('Nothing to fix in {0}.', vscode.workspace.asRelativePath(d.configPath));
  return [head, ...d.problems.map((p) => `[${p.code}] ${localize(p)}`)].join(' ');
}

export function registerDiagnoseCommand(diagnostics: AdapterDiagnostics, index: CheckpointIndex): vscode.Disposable {
  return registerCommand(DIAGNOSE_BASE_COMMAND, vscode.l10n.t('Diagnose Base Model'), async (arg): Promise<DiagnoseBaseResult | undefined> => {
    if (arg !== undefined && !index.ready) await index.refresh();
    const folder = arg === undefined ? undefined : adapterFolderOf(arg, index);
    const uri = targetConfig(folder ? vscode.Uri.file(folder) : undefined);
    if (!uri) throw new Error(vscode.l10n.t('Choose a checkpoint or adapter, or open an adapter_config.json first.'));
    const d = await diagnostics.diagnose(uri);
    diagnostics.schedule(uri, 0);
    const reveal = problemToReveal(d);
    const result = { config: absolutePath(uri.fsPath), compatible: d.compatible, revealed: reveal?.code ?? null };
    if (!reveal) {
      const open = vscode.l10n.t('Open adapter_config.json');
      void vscode.window.showInformationMessage(findings(d), open).then(async (c) => {
        if (c === open) await vscode.window.showTextDocument(uri);
      });
      return result;
    }
    const editor = await vscode.window.showTextDocument(uri, { preview: false });
    const range = toVsRange(editor.document.getText(), reveal.range);
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    // The diagnostic's hover explains the problem and offers its quick fixes.
    await vscode.commands.executeCommand('editor.action.showHover');
    return result;
  });
}
