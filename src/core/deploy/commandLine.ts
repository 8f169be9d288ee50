// The lora-workbench command lines a deployment plan prints for each option, written so that they can be pasted into a
// shell or a Dockerfile RUN line as they are (POSIX single quotes where a path needs them).

import type { ExportType } from '../gguf/format';

/** Placeholder shown in place of a base model that could not be resolved. */
export const BASE_PLACEHOLDER = '<base model folder>';

/** A word as a POSIX shell reads it back: bare when it only holds safe characters, else single-quoted. */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function line(words: readonly string[]): string {
  return words.map((w) => (w === BASE_PLACEHOLDER ? w : shellWord(w))).join(' ');
}

/** Checks that the adapter fits the base at the shared path (exit 0 when it does). */
export function diagnoseLine(adapter: string, base: string): string {
  return line(['lora-workbench', 'diagnose', adapter, '--base', base]);
}

export function mergeLine(adapter: string, base: string, out: string, dtype: string): string {
  return line(['lora-workbench', 'merge', adapter, '--base', base, '--out', out, '--dtype', dtype]);
}

export function ggufLine(adapter: string, base: string, out: string, type: ExportType): string {
  return line(['lora-workbench', 'gguf', adapter, '--base', base, '--out', out, '--type', type]);
}
