// Quick fixes tied to the diagnosis codes (vscode-extension-samples code-actions-sample pattern): each Problem carries
// Fix descriptors; edits that need no input are attached directly (previewable), the rest run a command.
// Also offers base-value refactors (make relative/absolute, hub id + revision) without a problem.

import * as vscode from 'vscode';
import { baseValueRefactors, type Diagnosis } from '../../core/basemodel/diagnose';
import { valueRange } from '../../core/peft/parse';
import type { Fix } from '../../core/peft/problems';
import { DIAGNOSIS_SOURCE, toVsRange, type AdapterDiagnostics } from './adapterDiagnostics';
import { CHOOSE_BASE, RELINK_RUN, workspaceEditForFix } from './baseCommands';

/** User-facing title of a fix. */
export function fixTitle(fix: Fix, d: Diagnosis | undefined): string {
  switch (fix.kind) {
    case 'choose-base': return vscode.l10n.t('Choose base model folder...');
    case 'use-candidate':
      // The title shows exactly the value written (an absolute path stays absolute; the relative form is its own fix).
      return fix.total > 0
        ? vscode.l10n.t('Use {0} ({1}/{2} tensors match)', fix.path, fix.matched, fix.total)
        : vscode.l10n.t('Use {0}', fix.path);
    case 'rewrite-hub-id':
      return fix.revision ? vscode.l10n.t('Rewrite as hub id {0} + revision {1}', fix.hubId, fix.revision.slice(0, 12)) : vscode.l10n.t('Rewrite as hub id {0}', fix.hubId);
    case 'use-original': return vscode.l10n.t('Use the 16-bit original {0}', fix.hubId);
    case 'make-relative': return vscode.l10n.t('Make the base path relative ({0})', fix.value);
    case 'make-absolute': return vscode.l10n.t('Make the base path absolute ({0})', fix.value);
    case 'remove-revision': return vscode.l10n.t('Remove the revision "{0}"', d?.config?.revision ?? '');
    case 'relink-run': return vscode.l10n.t('Relink all adapters of this run to...');
  }
}

export class AdapterCodeActions implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix, vscode.CodeActionKind.RefactorRewrite];

  constructor(private readonly diagnostics: AdapterDiagnostics) {}

  async provideCodeActions(document: vscode.TextDocument, range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[]> {
    const out: vscode.CodeAction[] = [];
    const d = this.diagnostics.get(document.uri);
    const seen = new Set<string>();
    let preferred = false;
    const build = async (fix: Fix, kind: vscode.CodeActionKind, diag?: vscode.Diagnostic): Promise<void> => {
      const key = JSON.stringify(fix);
      if (seen.has(key)) return;
      seen.add(key);
      const action = new vscode.CodeAction(fixTitle(fix, d), kind);
      if (diag) action.diagnostics = [diag];
      if (fix.kind === 'choose-base') action.command = { command: CHOOSE_BASE, title: action.title, arguments: [document.uri] };
      else if (fix.kind === 'relink-run') action.command = { command: RELINK_RUN, title: action.title, arguments: [document.uri] };
      else {
        action.edit = await workspaceEditForFix(document.uri, fix);
        action.command = { command: 'loraWorkbench.rediagnose', title: '', arguments: [document.uri] };
      }
      if (!preferred && (fix.kind === 'use-candidate' || fix.kind === 'remove-revision') && diag) {
        action.isPreferred = true;
        preferred = true;
      }
      out.push(action);
    };
    for (const diag of context.diagnostics) {
      if (diag.source !== DIAGNOSIS_SOURCE) continue;
      const p = this.diagnostics.problemFor(document.uri, diag);
      for (const fix of p?.fixes ?? []) await build(fix, vscode.CodeActionKind.QuickFix, diag);
    }
    if (d && d.parsed.text === document.getText()) {
      const baseRange = toVsRange(d.parsed.text, valueRange(d.parsed, ['base_model_name_or_path']));
      if (baseRange.intersection(range)) for (const fix of baseValueRefactors(d)) await build(fix, vscode.CodeActionKind.RefactorRewrite);
    }
    return out;
  }
}
