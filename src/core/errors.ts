// CoreError: every failure the core reports carries a stable `code` that front ends map to a readable message.
// The message itself is already user-facing English and names the file and what is wrong; built from a Text (core/text)
// it also carries that Text, so front ends can show it in the user's language.

import { isText, renderText, tr, type Text } from './text';

/** Stable error codes shared by the CLI, the engine worker and the extension. */
export type CoreErrorCode =
  | 'usage'
  | 'io'
  | 'not-found'
  | 'bad-format'
  | 'unsupported'
  | 'incompatible'
  | 'non-finite'
  | 'cancelled'
  | 'no-space'
  | 'exists'
  | 'untrusted'
  /** The engine worker thread died (uncaught error, out of memory, exit) while the request was in flight. */
  | 'worker-died'
  | 'internal';

export class CoreError extends Error {
  /** The message as a Text to translate, when it was built as one. */
  readonly text?: Text;

  constructor(
    readonly code: CoreErrorCode,
    message: string | Text,
    /** The file the error is about, when there is one. */
    readonly file?: string,
  ) {
    super(isText(message) ? renderText(message) : message);
    if (isText(message)) this.text = message;
    this.name = 'CoreError';
  }
}

/** Wrap any thrown value as a CoreError without losing an existing code. */
export function toCoreError(err: unknown): CoreError {
  if (err instanceof CoreError) return err;
  if (isAbortError(err)) return new CoreError('cancelled', tr`Cancelled.`);
  const message = err instanceof Error ? err.message : String(err);
  return new CoreError('internal', message);
}

export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'AbortError';
}

/** Throw the standard cancellation error when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CoreError('cancelled', tr`Cancelled.`);
}
