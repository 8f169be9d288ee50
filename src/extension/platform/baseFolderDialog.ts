// The one "choose a base model folder" dialog of the extension (quick fix, merge, preview): it opens where models are
// (core/basemodel/modelFolders), not in the adapter's folder, whose default ends in "... has no config.json".

import * as vscode from 'vscode';
import { baseDialogStartFolder } from '../../core/basemodel/modelFolders';
import { absolutePath, NodeFs } from '../../node/nodeFs';

export interface BaseFolderDialogOptions {
  readonly title?: string;
  readonly openLabel: string;
  /** Full-model folders the Checkpoints scan found, when the caller has them. */
  readonly knownModels?: readonly string[];
}

/** Ask for a base model folder; the absolute path, or undefined when the user cancels. */
export async function showBaseFolderDialog(opts: BaseFolderDialogOptions): Promise<string | undefined> {
  const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).map((f) => absolutePath(f.uri.fsPath));
  const searchPaths = vscode.workspace.getConfiguration('loraWorkbench').get<string[]>('modelSearchPaths', []);
  const start = await baseDialogStartFolder(new NodeFs(), { knownModels: opts.knownModels, searchPaths, workspaceFolders });
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
    defaultUri: start ? vscode.Uri.file(start) : undefined, title: opts.title, openLabel: opts.openLabel,
  });
  return picked?.[0] ? absolutePath(picked[0].fsPath) : undefined;
}
