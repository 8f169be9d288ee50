// Messages between the adapter-anatomy webview and its host (src/extension/views/anatomyPanel.ts). Plain data only.

/** One heatmap cell: a module of one decoder layer. */
export interface AnatomyCell {
  readonly layer: number | null;
  readonly target: string;
  readonly module: string;
  /** ||s B A||_F */
  readonly norm: number;
  /** norm / ||W||_F, null without the base. */
  readonly relative: number | null;
  readonly effectiveRank: number;
  readonly r: number;
  /** The largest singular values (at most 4). */
  readonly topSingularValues: readonly number[];
  /** DoRA: relative magnitude change (null without a reference), or null for plain LoRA. */
  readonly doraChange: number | null;
}

export type AnatomyMetric = 'size' | 'rank' | 'dora';

/** The page's texts in the display language, from the host's l10n bundle. */
export type AnatomyLabels = Readonly<Record<'size' | 'rank' | 'dora' | 'layer' | 'legend' | 'outside' | 'relativeNote' | 'absoluteNote', string>>;

export interface AnatomyDataMessage {
  readonly type: 'data';
  /** 'Anatomy of checkpoint-100', or 'checkpoint-200 minus checkpoint-100' when comparing. */
  readonly title: string;
  /** Paths, variant and base. */
  readonly subtitle: string;
  /** Heatmap rows (decoder layers) and columns (target modules) in display order, and the cells. */
  readonly grid: { readonly layers: readonly number[]; readonly targets: readonly string[]; readonly cells: readonly AnatomyCell[] };
  /** Whether sizes are relative to the base weights. */
  readonly relative: boolean;
  readonly hasDora: boolean;
  readonly labels: AnatomyLabels;
}

export type HostToAnatomy = AnatomyDataMessage;

export type AnatomyToHost = { readonly type: 'ready' } | { readonly type: 'rendered'; readonly cells: number; readonly metric: AnatomyMetric };
