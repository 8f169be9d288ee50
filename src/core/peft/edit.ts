// Minimal, format-preserving edits to adapter_config.json (jsonc-parser modify): only the touched value changes; the
// file's indentation and line endings are kept. The editor applies these as a WorkspaceEdit, the CLI never writes.

import { applyEdits, modify, type Edit, type FormattingOptions } from 'jsonc-parser';
import type { ParsedAdapterConfig } from './parse';

export interface TextEdit {
  readonly offset: number;
  readonly length: number;
  readonly content: string;
}

/** Indentation and EOL as the file already uses them (PEFT writes 2 spaces, "\n", sorted keys). */
export function formattingOf(text: string): FormattingOptions {
  const eol = /\r\n/.test(text) ? '\r\n' : '\n';
  const m = /\n([ \t]+)"/.exec(text);
  const indent = m?.[1] ?? '  ';
  return { insertSpaces: !indent.startsWith('\t'), tabSize: indent.startsWith('\t') ? 1 : indent.length, eol };
}

function toEdits(edits: Edit[]): TextEdit[] {
  return edits.map((e) => ({ offset: e.offset, length: e.length, content: e.content }));
}

/**
 * Edits that set top-level `key` to `value` (undefined removes the key). A new key goes where PEFT's sort_keys would
 * put it when the file is sorted, else at the end.
 */
export function setTopLevel(parsed: ParsedAdapterConfig, key: string, value: string | null | undefined): TextEdit[] {
  const keys = parsed.value ? Object.keys(parsed.value) : [];
  const sorted = keys.every((k, i) => i === 0 || keys[i - 1]! <= k);
  const exists = keys.includes(key);
  const insertAt = sorted ? keys.filter((k) => k < key).length : keys.length;
  return toEdits(modify(parsed.text, [key], value, {
    formattingOptions: formattingOf(parsed.text),
    getInsertionIndex: exists ? undefined : () => insertAt,
  }));
}

/** Edits that set the base model (and optionally the revision: a string sets it, null removes it, undefined keeps it). */
export function editBaseModel(parsed: ParsedAdapterConfig, base: string, revision?: string | null): TextEdit[] {
  const first = setTopLevel(parsed, 'base_model_name_or_path', base);
  if (revision === undefined) return first;
  // Apply the first edit, then compute the second against the result, and express both against the original text
  // only when they do not overlap (they never do: different properties). Simplest correct route: one combined edit.
  const mid = applyEdits(parsed.text, first);
  const midParsed = { ...parsed, text: mid, value: { ...(parsed.value ?? {}), base_model_name_or_path: base } };
  const revEdits = revision === null
    ? (parsed.value && 'revision' in parsed.value ? setTopLevel(midParsed, 'revision', undefined) : [])
    : setTopLevel(midParsed, 'revision', revision);
  const out = applyEdits(mid, revEdits);
  return [minimalDiff(parsed.text, out)];
}

/** One edit covering only the differing middle of two texts. */
export function minimalDiff(before: string, after: string): TextEdit {
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before.charCodeAt(endB - 1) === after.charCodeAt(endA - 1)) {
    endB--;
    endA--;
  }
  return { offset: start, length: endB - start, content: after.slice(start, endA) };
}

export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  return applyEdits(text, edits.map((e) => ({ ...e })));
}
