// Commands behind the base-model quick fixes: "Choose base model folder..." (checks compatibility before writing),
// applying a fix from a hover link, and "Relink all adapters of this run to...". Edits are minimal (jsonc modify) and
// keep the file's formatting and line endings; nothing is written without the user's action.
// Test hook (the e2e tests cannot drive a native folder dialog): when the extension host's environment names a folder in
// LORA_WORKBENCH_TEST_PICK_FOLDER - or, under the e2e runner (LORA_E2E_PHASE set), the first workspace folder holds a file
// `.lora-workbench-test-pick` naming one - the picker is skipped and that folder is used (relative to the first
// workspace folder when relative). Neither exists in normal use.

import * as vscode from 'vscode';
import { editsForBase, editsForFix } from '../../core/basemodel/fixEdits';
import { findRunAdapters } from '../../core/basemodel/relink';
import type { TextEdit } from '../../core/peft/edit';
import { parseAdapterConfig, positionAt } from '../../core/peft/parse';
import type { Fix } from '../../core/peft/problems';
import { absolutePath } from '../../node/nodeFs';
import { registerCommand } from '../commands/funnel';
import { showBaseFolderDialog } from '../platform/baseFolderDialog';
import { isAdapterConfig, type AdapterDiagnostics } from './adapterDiagnostics';
import { localize } from '../platform/l10n';

export const CHOOSE_BASE = 'loraWorkbench.chooseBaseModel';
export const APPLY_BASE_FIX = 'loraWorkbench.applyBaseFix';
export const RELINK_RUN = 'loraWorkbench.relinkRunBase';
export const TEST_PICK_FOLDER_ENV = 'LORA_WORKBENCH_TEST_PICK_FOLDER';
export const TEST_PICK_FOLDER_FILE = '.lora-workbench-test-pick';

/** The adapter_config.json a command is about: an argument (Uri, string, adapter folder) or the active editor. */
export function targetConfig(arg: unknown): vscode.Uri | undefined {
  let uri: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) uri = arg;
  else if (typeof arg === 'string') uri = arg.includes('://') ? vscode.Uri.parse(arg) : vscode.Uri.file(arg);
  else if (arg && typeof arg === 'object' && 'path' in arg && typeof (arg as { path: unknown }).path === 'string') uri = vscode.Uri.file((arg as { path: string }).path);
  else uri = vscode.window.activeTextEditor?.document.uri;
  if (!uri) return undefined;
  return isAdapterConfig(uri) ? uri : vscode.Uri.joinPath(uri, 'adapter_config.json');
}

async function configText(uri: vscode.Uri): Promise<string> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (doc) return doc.getText();
  return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
}

function toWorkspaceEdit(edit: vscode.WorkspaceEdit, uri: vscode.Uri, text: string, edits: readonly TextEdit[]): void {
  for (const e of edits) {
    const a = positionAt(text, e.offset);
    const b = positionAt(text, e.offset + e.length);
    edit.replace(uri, new vscode.Range(a.line, a.character, b.line, b.character), e.content);
  }
}

/** A WorkspaceEdit for a fix that needs no input, against the file's current text. */
export async function workspaceEditForFix(uri: vscode.Uri, fix: Fix): Promise<vscode.WorkspaceEdit | undefined> {
  const text = await configText(uri);
  const edits = editsForFix(parseAdapterConfig(text), fix);
  if (!edits) return undefined;
  const we = new vscode.WorkspaceEdit();
  toWorkspaceEdit(we, uri, text, edits);
  return we;
}

async function testPick(diagnostics: AdapterDiagnostics): Promise<string | undefined> {
  const first = diagnostics.workspaceFolders()[0];
  let hook = process.env[TEST_PICK_FOLDER_ENV];
  if (!hook && process.env.LORA_E2E_PHASE && first) {
    try {
      hook = (await diagnostics.fs.readText(`${first}/${TEST_PICK_FOLDER_FILE}`, 4096)).trim();
    } catch {
      hook = undefined;
    }
  }
  return hook ? absolutePath(hook, first ?? diagnostics.fs.env.cwd) : undefined;
}

async function pickFolder(title: string, diagnostics: AdapterDiagnostics): Promise<string | undefined> {
  const hook = await testPick(diagnostics);
  if (hook) return hook;
  return showBaseFolderDialog({ title, openLabel: vscode.l10n.t('Use as Base Model') });
}

/** Check `folder` against the adapter; ask before writing an incompatible one. Returns false when the user declines. */
async function confirmCompatible(diagnostics: AdapterDiagnostics, uri: vscode.Uri, folder: string): Promise<{ ok: boolean; summary: string }> {
  const d = await diagnostics.diagnose(uri, { base: folder, candidates: 'never' });
  const errors = d.incompatibilities;
  const summary = d.compat ? vscode.l10n.t('{0}/{1} adapter tensors fit', d.compat.matched, d.compat.total) : vscode.l10n.t('tensors not compared');
  if (d.compatible !== false) return { ok: true, summary };
  const writeAnyway = vscode.l10n.t('Write Anyway');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t('{0} does not fit this adapter: {1}', folder, localize(errors[0]!)), { modal: true, detail: errors.slice(1, 4).map((p) => localize(p)).join('\n') }, writeAnyway);
  return { ok: answer === writeAnyway, summary };
}

export function registerBaseCommands(diagnostics: AdapterDiagnostics): vscode.Disposable[] {
  return [
    registerCommand(CHOOSE_BASE, vscode.l10n.t('Choose Base Model Folder...'), async (arg) => {
      const uri = targetConfig(arg);
      if (!uri) throw new Error(vscode.l10n.t('Open an adapter_config.json first.'));
      const folder = await pickFolder(vscode.l10n.t('Base model for {0}', vscode.workspace.asRelativePath(uri)), diagnostics);
      if (!folder) return false;
      const { ok, summary } = await confirmCompatible(diagnostics, uri, folder);
      if (!ok) return false;
      const text = await configText(uri);
      const we = new vscode.WorkspaceEdit();
      toWorkspaceEdit(we, uri, text, editsForBase(parseAdapterConfig(text), folder));
      const applied = await vscode.workspace.applyEdit(we);
      if (applied) {
        diagnostics.schedule(uri, 0);
        void vscode.window.showInformationMessage(vscode.l10n.t('Base model set to {0} ({1}).', folder, summary));
      }
      return applied;
    }),
    registerCommand(APPLY_BASE_FIX, vscode.l10n.t('Apply Base Model Fix'), async (arg, fixArg) => {
      const uri = targetConfig(arg);
      const fix = fixArg as Fix | undefined;
      if (!uri || !fix) return false;
      if (fix.kind === 'choose-base') return vscode.commands.executeCommand(CHOOSE_BASE, uri);
      if (fix.kind === 'relink-run') return vscode.commands.executeCommand(RELINK_RUN, uri);
      const we = await workspaceEditForFix(uri, fix);
      if (!we) return false;
      const applied = await vscode.workspace.applyEdit(we);
      if (applied) diagnostics.schedule(uri, 0);
      return applied;
    }),
    // folderArg: a base folder chosen already (the deployment plan's "Relink to Shared Path"); the user still confirms.
    registerCommand(RELINK_RUN, vscode.l10n.t('Relink All Adapters of This Run...'), async (arg, folderArg) => {
      const uri = targetConfig(arg);
      if (!uri) throw new Error(vscode.l10n.t('Open an adapter_config.json first.'));
      const text = await configText(uri);
      const parsed = parseAdapterConfig(text);
      const rawValue = parsed.value?.base_model_name_or_path;
      const raw = typeof rawValue === 'string' ? rawValue : null;
      const adapterDir = absolutePath(vscode.Uri.joinPath(uri, '..').fsPath);
      const files = await findRunAdapters(diagnostics.fs, adapterDir, raw);
      const self = absolutePath(uri.fsPath);
      if (!files.includes(self)) files.unshift(self);
      const folder = typeof folderArg === 'string' ? absolutePath(folderArg) : await pickFolder(vscode.l10n.t('Base model for {0} adapters', files.length), diagnostics);
      if (!folder) return 0;
      const { ok } = await confirmCompatible(diagnostics, uri, folder);
      if (!ok) return 0;
      const relink = vscode.l10n.t('Relink');
      if (!(await testPick(diagnostics))) {
        const answer = await vscode.window.showWarningMessage(
          vscode.l10n.t('Set the base model of {0} adapters (all that record {1}) to {2}? The files are saved.', files.length, JSON.stringify(raw), folder),
          { modal: true, detail: files.map((f) => vscode.workspace.asRelativePath(f)).join('\n') }, relink);
        if (answer !== relink) return 0;
      }
      const we = new vscode.WorkspaceEdit();
      const uris: vscode.Uri[] = [];
      for (const f of files) {
        const fu = vscode.Uri.file(f);
        const t = await configText(fu);
        toWorkspaceEdit(we, fu, t, editsForBase(parseAdapterConfig(t), folder));
        uris.push(fu);
      }
      if (!(await vscode.workspace.applyEdit(we))) return 0;
      // The user confirmed a bulk change across files: save them rather than leaving a pile of dirty editors.
      for (const fu of uris) {
        const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === fu.toString());
        if (doc?.isDirty) await doc.save();
        diagnostics.schedule(fu, 0);
      }
      void vscode.window.showInformationMessage(vscode.l10n.t('Relinked {0} adapters to {1}.', uris.length, folder));
      return uris.length;
    }),
  ];
}
