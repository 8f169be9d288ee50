// The extension's single engine worker: started lazily on first use, logs forwarded to the LogOutputChannel. A worker
// that dies is reported once here (with "Show Log"); features that hold engine state (loaded models) listen to
// onWorkerDied and drop it, and the next request starts a fresh worker.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEVICE_LOST_WARNING, type LogMessage } from '../engine/protocol';
import { EngineClient, type WorkerDeath } from '../node/engineClient';
import { localize } from './platform/l10n';
import { log } from './platform/log';

export class EngineHost implements vscode.Disposable {
  private client: EngineClient | undefined;
  private readonly died = new vscode.EventEmitter<WorkerDeath>();
  /** Fires once per worker death, after the notification was shown and the in-flight requests were rejected. */
  readonly onWorkerDied = this.died.event;

  constructor(private readonly extensionPath: string) {}

  get(): EngineClient {
    if (!this.client) {
      this.client = new EngineClient({
        workerPath: path.join(this.extensionPath, 'dist', 'engineWorker.js'),
        onLog: (m) => forwardLog(m),
      });
      this.client.onWorkerDied((d) => {
        void notifyWorkerDied(d);
        this.died.fire(d);
      });
    }
    return this.client;
  }

  dispose(): void {
    void this.client?.dispose();
    this.client = undefined;
    this.died.dispose();
  }
}

function forwardLog(m: LogMessage): void {
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
}

/** The one message of a death: every request it failed carries the same 'worker-died' error, which the funnel keeps quiet. */
async function notifyWorkerDied(d: WorkerDeath): Promise<void> {
  const showLog = vscode.l10n.t('Show Log');
  const choice = await vscode.window.showErrorMessage(localize(d.error), showLog);
  if (choice === showLog) log().show();
}
