// User-facing core messages as data: an English template with numbered holes ({0}, {1}...) and its arguments, so
// the front ends render them in the user's language (the extension through its l10n bundle, the CLI following LANG)
// while the core stays free of any UI API. The English template is the translation key, as with vscode.l10n.t.

/** A message: `template` is English with {n} holes; each arg is plain text, a number, or a message of its own. */
export interface Text {
  readonly template: string;
  readonly args: readonly TextArg[];
}

export type TextArg = string | number | Text;

/** Looks up the translation of a template; undefined keeps the English. */
export type Translate = (template: string) => string | undefined;

/**
 * Tagged template that builds a Text: tr applied to the template literal `The folder "${path}" does not exist.` has
 * the template 'The folder "{0}" does not exist.' and the args [path]. Nested tagged arguments are translated on their
 * own. (The l10n test finds every tagged template in src/core, so examples here are written untagged.)
 */
export function tr(strings: TemplateStringsArray, ...values: readonly unknown[]): Text {
  let template = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) template += `{${i}}${strings[i + 1] ?? ''}`;
  // Anything else renders as a template literal would have rendered it.
  const args = values.map((v): TextArg => (isText(v) || typeof v === 'number' ? v : String(v)));
  return { template, args };
}

/** A Text from a template string whose holes are already numbered (for messages chosen from a table). */
export function text(template: string, ...args: readonly TextArg[]): Text {
  return { template, args };
}

export function isText(x: unknown): x is Text {
  return typeof x === 'object' && x !== null && typeof (x as Text).template === 'string' && Array.isArray((x as Text).args);
}

/** Join messages (or plain strings) with a separator, as one Text whose parts are translated one by one. */
export function joinText(parts: readonly TextArg[], separator: string): Text {
  return { template: parts.map((_, i) => `{${i}}`).join(separator.replace(/[{}]/g, '')), args: parts };
}

/** Render to a string: the template translated when `translate` knows it, each hole filled with its rendered arg. */
export function renderText(value: TextArg, translate?: Translate): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  const template = translate?.(value.template) ?? value.template;
  return template.replace(/\{(\d+)\}/g, (hole, n: string) => {
    const arg = value.args[Number(n)];
    return arg === undefined ? hole : renderText(arg, translate);
  });
}

/** Something that carries a message in both forms: `message` in English, `text` (when built as a Text) to translate. */
export interface HasText {
  readonly message: string;
  readonly text?: Text;
}

/** The message of `x` in the language of `translate`: its Text when it has one, else the English message. */
export function localizedMessage(x: HasText, translate?: Translate): string {
  return x.text ? renderText(x.text, translate) : x.message;
}

/** `{message, text}` for a finding built as an object literal: `{ code, severity, ...textFields(<a tagged Text>), file }`. */
export function textFields(value: Text): { message: string; text: Text } {
  return { message: renderText(value), text: value };
}

/** `{message, text}` of a thrown error: its Text when it carries one (a CoreError built from a Text), else its message. */
export function errorTextFields(e: unknown): { message: string; text?: Text } {
  const message = e instanceof Error ? e.message : String(e);
  const text = (e as { text?: unknown } | null)?.text;
  return isText(text) ? { message, text } : { message };
}
