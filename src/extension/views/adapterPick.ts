// The quick pick of the workspace's PEFT adapters (checkpoints of runs and standalone adapters) that the panels opened
// from the palette ask with: anatomy, compare, deployment plan.

import * as vscode from 'vscode';
import { basename } from '../../core/paths';
import type { CheckpointIndex } from './checkpointIndex';

/** Every PEFT adapter the scan found: checkpoints of runs (named by run + checkpoint) and standalone adapters. */
function adapterItems(index: CheckpointIndex, except?: string): Array<vscode.QuickPickItem & { path: string }> {
  const items: Array<vscode.QuickPickItem & { path: string }> = [];
  const seen = new Set<string>();
  for (const run of index.result.runs) {
    for (const c of run.checkpoints) {
      if (!c.adapter || c.adapter.format !== 'peft' || seen.has(c.adapter.path)) continue;
      seen.add(c.adapter.path);
      items.push({ label: c.name, description: vscode.workspace.asRelativePath(vscode.Uri.file(run.path)), path: c.adapter.path });
    }
  }
  for (const a of index.result.adapters) {
    if (a.format !== 'peft' || seen.has(a.path)) continue;
    seen.add(a.path);
    items.push({ label: basename(a.path), description: vscode.workspace.asRelativePath(vscode.Uri.file(a.path)), path: a.path });
  }
  return items.filter((i) => i.path !== except);
}

export async function pickAdapter(index: CheckpointIndex, placeHolder: string, except?: string): Promise<string | undefined> {
  if (!index.ready) await index.refresh();
  return (await vscode.window.showQuickPick(adapterItems(index, except), { placeHolder, matchOnDescription: true }))?.path;
}
