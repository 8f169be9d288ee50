// One error funnel for every command (after VS Code's git extension createCommand): logs the failure, maps CoreError
// codes to a readable message, offers "Show Log", and refuses trust-requiring commands in Restricted Mode.

import * as vscode from 'vscode';
import { CoreError, toCoreError } from '../../core/errors';
import { log } from '../platform/log';
import { requiresTrust } from './trust';
import { localize } from '../platform/l10n';

export interface CommandOptions {
  /** Commands that write models or run them are refused in Restricted Mode. */
  readonly requiresTrust?: boolean;
}

export class UntrustedWorkspaceError extends CoreError {
  constructor(what: string) {
    super('untrusted', vscode.l10n.t('{0} is disabled in Restricted Mode: trust this workspace to merge or run models.', what));
  }
}

export function registerCommand(
  id: string,
  title: string,
  handler: (...args: unknown[]) => unknown,
  options: CommandOptions = {},
): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      if ((options.requiresTrust || requiresTrust(id)) && !vscode.workspace.isTrusted) throw new UntrustedWorkspaceError(title);
      return await handler(...args);
    } catch (err) {
      return reportError(title, err);
    }
  });
}

/** Show a command failure to the user once, with the log one click away. Cancellation and a worker death are silent. */
export async function reportError(title: string, err: unknown): Promise<undefined> {
  const e = toCoreError(err);
  if (e.code === 'cancelled') {
    log().info(`${title}: cancelled`);
    return undefined;
  }
  log().error(`${title}: [${e.code}] ${e.message}${err instanceof Error && e.code === 'internal' ? `\n${err.stack}` : ''}`);
  // The engine host has already shown the one notification of this death (EngineHost); a second would repeat it.
  if (e.code === 'worker-died') return undefined;
  const showLog = vscode.l10n.t('Show Log');
  const choice = await (e.code === 'untrusted'
    ? vscode.window.showWarningMessage(e.message, showLog)
    : vscode.window.showErrorMessage(vscode.l10n.t('{0} failed: {1}', title, localize(e)), showLog));
  if (choice === showLog) log().show();
  return undefined;
}
