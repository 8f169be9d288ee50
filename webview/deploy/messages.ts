// Messages between the deployment-plan webview and its host (src/extension/views/deployPanel.ts). Plain data only:
// the host formats every number and translates every label, the page lays them out.

/** What a button asks the host to do; the host runs the existing command with the plan's arguments. */
export type DeployAction =
  | { readonly kind: 'merge'; readonly dtype: 'float32' | 'float16' | 'bfloat16' }
  | { readonly kind: 'gguf'; readonly type: string }
  | { readonly kind: 'relink' }
  | { readonly kind: 'chooseBase' }
  | { readonly kind: 'copy'; readonly text: string };

/** One line of an option's table: a dtype or GGUF type with its sizes, or why it cannot be written. */
export interface DeployRow {
  /** Stable id for tests and state, e.g. 'merged-float16', 'gguf-q4_k_m'. */
  readonly id: string;
  readonly label: string;
  /** Formatted size on disk, null when it cannot be written. */
  readonly size: string | null;
  readonly bytes: number | null;
  readonly load: string | null;
  readonly command: string;
  readonly error: string | null;
  /** Marks the row that keeps the base's dtype. */
  readonly badge: string | null;
  readonly action: { readonly title: string; readonly action: DeployAction } | null;
}

export interface DeployFact {
  readonly label: string;
  readonly value: string;
  /** A raw byte count for tests, when the value is a size. */
  readonly bytes?: number | null;
}

export interface DeploySection {
  readonly id: 'shared' | 'merged' | 'gguf';
  readonly title: string;
  /** When this option fits (one line, after the seed article). */
  readonly note: string;
  readonly facts: readonly DeployFact[];
  readonly rows: readonly DeployRow[];
  /** Buttons of the section itself (Relink to Shared Path). */
  readonly actions: ReadonlyArray<{ readonly title: string; readonly action: DeployAction }>;
  /** The command line of the section when it has no rows (the shared base's check). */
  readonly command: string | null;
  /** The row whose command line the section shows first (the others' show when their row is clicked). */
  readonly selected: string | null;
}

export interface DeployLabels {
  readonly size: string;
  readonly load: string;
  readonly copy: string;
  readonly copied: string;
  readonly cannot: string;
}

export interface DeployDataMessage {
  readonly type: 'data';
  readonly title: string;
  readonly subtitle: string;
  /** Why the base is missing or does not fit (only the adapter's numbers are given then); null when it fits. */
  readonly baseProblem: string | null;
  readonly baseActions: ReadonlyArray<{ readonly title: string; readonly action: DeployAction }>;
  readonly sections: readonly DeploySection[];
  readonly labels: DeployLabels;
}

export type HostToDeploy = DeployDataMessage | { readonly type: 'copied'; readonly text: string };

export type DeployToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'action'; readonly action: DeployAction }
  | { readonly type: 'rendered'; readonly sections: number; readonly rows: number };
