// The extension's single engine worker: started lazily on first use, logs forwarded to the LogOutputChannel.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEVICE_LOST_WARNING } from '../engine/protocol';
import { EngineClient } from '../node/engineClient';
import { log } from './platform/log';

export class EngineHost implements vscode.Disposable {
  private client: EngineClient | undefined;

  constructor(private readonly extensionPath: string) {}

  get(): EngineClient {
    if (!this.client) {
      this.client = new EngineClient({
        workerPath: path.join(this.extensionPath, 'dist', 'engineWorker.js'),
        onLog: (m) => {
          const channel = log();
          const line = `[engine] ${m.message}`;
          if (m.level === 'error') channel.error(line);
          else if (m.level === 'warn') {
            channel.warn(line);
            // Switching to WASM after a GPU failure changes speed for the rest of the session: say so where it is seen.
            if (m.message.startsWith(DEVICE_LOST_WARNING)) {
              void vscode.window.showWarningMessage(vscode.l10n.t('The GPU device was lost; LoRA Workbench reloads the model and continues on WASM. {0}', m.message));
            }
          }
          else if (m.level === 'debug') channel.debug(line);
          else if (m.level === 'trace') channel.trace(line);
          else channel.info(line);
        },
      });
    }
    return this.client;
  }

  dispose(): void {
    void this.client?.dispose();
    this.client = undefined;
  }
}
