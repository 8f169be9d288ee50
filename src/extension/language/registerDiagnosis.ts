// Wires base-model diagnosis into VS Code: live diagnostics on adapter_config.json, hovers, quick fixes and their
// commands. The JSON schema comes from package.json (contributes.jsonValidation). activate() calls this once; the
// returned AdapterDiagnostics is the shared service other features can ask for a file's latest Diagnosis.

import * as vscode from 'vscode';
import { registerCommand } from '../commands/funnel';
import { AdapterCodeActions } from './adapterCodeActions';
import { ADAPTER_CONFIG_SELECTOR, AdapterDiagnostics } from './adapterDiagnostics';
import { AdapterHover } from './adapterHover';
import { registerBaseCommands, targetConfig } from './baseCommands';

export function registerDiagnosis(context: vscode.ExtensionContext): AdapterDiagnostics {
  const diagnostics = new AdapterDiagnostics();
  context.subscriptions.push(
    diagnostics,
    vscode.languages.registerHoverProvider(ADAPTER_CONFIG_SELECTOR, new AdapterHover(diagnostics)),
    vscode.languages.registerCodeActionsProvider(ADAPTER_CONFIG_SELECTOR, new AdapterCodeActions(diagnostics), { providedCodeActionKinds: AdapterCodeActions.kinds }),
    ...registerBaseCommands(diagnostics),
    // Run after a quick-fix edit so the Problems view updates without waiting for the debounce.
    registerCommand('loraWorkbench.rediagnose', vscode.l10n.t('Diagnose Base Model'), (arg) => {
      const uri = targetConfig(arg);
      if (uri) diagnostics.schedule(uri, 0);
    }),
  );
  return diagnostics;
}
