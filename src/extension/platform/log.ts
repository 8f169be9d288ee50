// The one LogOutputChannel "LoRA Workbench", created in activate and shared by everything (worker logs included).

import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function createLog(): vscode.LogOutputChannel {
  channel = vscode.window.createOutputChannel('LoRA Workbench', { log: true });
  return channel;
}

export function log(): vscode.LogOutputChannel {
  if (!channel) throw new Error('log channel used before activate');
  return channel;
}
