// Core messages (core/text: English template + args) in the display language: the template is looked up in the
// extension's l10n bundle, which VS Code loaded for that language, exactly as vscode.l10n.t looks up its strings.

import * as vscode from 'vscode';
import { localizedMessage, renderText, type HasText, type TextArg, type Translate } from '../../core/text';

/** The active bundle's translation of a core template; undefined (English) when there is none. */
export const translateCore: Translate = (template) => vscode.l10n.bundle?.[template];

/** A finding's or an error's message in the display language (its Text when it has one, else its English message). */
export function localize(x: HasText): string {
  return localizedMessage(x, translateCore);
}

/** A core Text (or plain string) in the display language. */
export function localizeText(value: TextArg): string {
  return renderText(value, translateCore);
}
