// A health finding's message for places that already show its file (the Problems row, the tree row under the file):
// in the display language, without the leading "<file>: " the core puts first.

import type { Health } from '../../core/checkpoints/model';
import { localize } from '../platform/l10n';

export function healthMessageWithoutFile(h: Health): string {
  const m = localize(h);
  return m.startsWith(h.file) ? m.slice(h.file.length).replace(/^[:：]\s*/, '') : m;
}
