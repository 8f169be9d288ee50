// CancellationToken -> AbortSignal at the boundary, so core and engine code see only AbortSignal.

import type * as vscode from 'vscode';

export function toAbortSignal(token: vscode.CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}
