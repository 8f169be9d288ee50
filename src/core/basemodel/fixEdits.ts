// Turn a Fix (from a Problem or a refactor) into minimal text edits on adapter_config.json. Commands that need user
// input first (choose-base, relink-run) get their value from the caller and come here as a plain base value.

import { editBaseModel, setTopLevel, type TextEdit } from '../peft/edit';
import type { ParsedAdapterConfig } from '../peft/parse';
import type { Fix } from '../peft/problems';

/** Edits for a fix, or null for fixes that need user input first (choose-base, relink-run). */
export function editsForFix(parsed: ParsedAdapterConfig, fix: Fix): TextEdit[] | null {
  switch (fix.kind) {
    case 'use-candidate':
    case 'make-relative':
    case 'make-absolute':
      return setTopLevel(parsed, 'base_model_name_or_path', fix.kind === 'use-candidate' ? fix.path : fix.value);
    case 'rewrite-hub-id':
      return editBaseModel(parsed, fix.hubId, fix.revision ?? undefined);
    case 'use-original':
      return editBaseModel(parsed, fix.hubId, undefined);
    case 'remove-revision':
      // PEFT writes "revision": null; keep the key (minimal edit) but make it null.
      return setTopLevel(parsed, 'revision', null);
    case 'choose-base':
    case 'relink-run':
      return null;
  }
}

/** Edits that set the base to a folder the user chose. */
export function editsForBase(parsed: ParsedAdapterConfig, value: string): TextEdit[] {
  return setTopLevel(parsed, 'base_model_name_or_path', value);
}
