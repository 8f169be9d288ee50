// The Problem model shared by the CLI, the editor diagnostics and the Checkpoints view: stable kebab codes, a severity,
// the exact source range, a user-facing message, and fix descriptors the editor turns into quick fixes.

import type { SourceRange } from './parse';
import { renderText, type Text } from '../text';

export type Severity = 'error' | 'warning' | 'info';

/** Stable problem codes. Never rename one: users filter on them and the code actions key on them. */
export type ProblemCode =
  | 'json-syntax'
  | 'not-peft-config'
  | 'config-unreadable'
  | 'unknown-key'
  | 'legacy-key'
  | 'invalid-value'
  | 'layer-replication'
  | 'base-model-null'
  | 'base-model-missing'
  | 'base-model-foreign-path'
  | 'base-model-relative-ambiguous'
  | 'base-model-relative'
  | 'base-model-home-path'
  | 'base-model-cache-path'
  | 'base-model-not-cached'
  | 'base-model-incomplete'
  | 'base-model-unreadable'
  | 'base-model-quantized'
  | 'adapter-weights-missing'
  | 'adapter-weights-unreadable'
  | 'adapter-base-missing-module'
  | 'adapter-base-shape-mismatch'
  | 'rank-mismatch'
  | 'vocab-mismatch'
  | 'vocab-resized'
  | 'fan-in-fan-out-mismatch'
  | 'target-module-not-found'
  | 'layers-out-of-range'
  | 'revision-suspicious';

/** What a quick fix does; the editor maps each kind to a command or an edit. */
export type Fix =
  /** Pick a folder, check compatibility, then write it. */
  | { readonly kind: 'choose-base' }
  /** Write a found compatible model (path as it should be written). */
  | {
    readonly kind: 'use-candidate';
    /** The value written into base_model_name_or_path (absolute, workspace-relative or a hub id). */
    readonly path: string;
    readonly matched: number;
    readonly total: number;
    readonly source: CandidateSource;
    /** The model folder it names, when `path` is not itself that absolute folder. */
    readonly folder?: string;
  }
  /** Replace a cache snapshot path by hub id + revision. */
  | { readonly kind: 'rewrite-hub-id'; readonly hubId: string; readonly revision: string | null }
  /** A pre-quantized base: point base_model_name_or_path at its 16-bit original (what a QLoRA adapter merges into). */
  | { readonly kind: 'use-original'; readonly hubId: string }
  | { readonly kind: 'make-relative'; readonly value: string }
  | { readonly kind: 'make-absolute'; readonly value: string }
  | { readonly kind: 'remove-revision' }
  /** Set the same base on every adapter of the run that shares the current value. */
  | { readonly kind: 'relink-run' };

export type CandidateSource = 'workspace' | 'hf-cache' | 'modelscope-cache' | 'search-path' | 'adapter-folder' | 'chosen';

export interface Problem {
  readonly code: ProblemCode;
  readonly severity: Severity;
  readonly range: SourceRange;
  /** English, for the CLI's --json and logs. */
  readonly message: string;
  /** The same message as a Text, for front ends that show it in the user's language. */
  readonly text?: Text;
  readonly fixes: readonly Fix[];
}

export function problem(code: ProblemCode, severity: Severity, range: SourceRange, message: string | Text, fixes: readonly Fix[] = []): Problem {
  if (typeof message === 'string') return { code, severity, range, message, fixes };
  return { code, severity, range, message: renderText(message), text: message, fixes };
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}
