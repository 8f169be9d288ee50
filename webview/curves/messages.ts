// Messages between the training-curves webview and its host (src/extension/views/curvesPanel.ts). Plain data only.

export type Point = readonly [step: number, value: number];

export interface CurvesLabels {
  readonly loss: string;
  readonly evalLoss: string;
  readonly learningRate: string;
  readonly gradNorm: string;
  readonly step: string;
  /** The y-axis title of the loss chart (its series are training and eval loss). */
  readonly lossAxis: string;
  readonly best: string;
  readonly logScale: string;
  readonly smoothing: string;
  readonly noData: string;
  readonly checkpoint: string;
  readonly rows: string;
}

export interface CurvesCheckpoint {
  readonly step: number;
  readonly name: string;
  readonly best: boolean;
}

/** The run's latest "Evaluate Checkpoints..." result: loss on the user's data per checkpoint step. */
export interface DataEvalMessage {
  readonly title: string;
  readonly points: readonly Point[];
  /** [step, lo, hi] of each point's 95% interval. */
  readonly whiskers: ReadonlyArray<readonly [number, number, number]>;
  /** The base model's loss on the same data, drawn as a flat line; null when not evaluated. */
  readonly base: number | null;
  readonly bestStep: number | null;
  readonly labels: { readonly series: string; readonly base: string; readonly best: string; readonly interval: string };
}

/** Host -> webview: everything needed to draw (sent again whenever trainer_state.json changes). */
export interface CurvesDataMessage {
  readonly type: 'data';
  readonly title: string;
  readonly source: string;
  readonly rows: number;
  readonly series: {
    readonly loss: readonly Point[];
    readonly evalLoss: readonly Point[];
    readonly learningRate: readonly Point[];
    readonly gradNorm: readonly Point[];
  };
  readonly checkpoints: readonly CurvesCheckpoint[];
  readonly bestStep: number | null;
  readonly labels: CurvesLabels;
  /** Absent or null until the run is evaluated on a data file. */
  readonly dataEval?: DataEvalMessage | null;
}

export type HostToCurves = CurvesDataMessage;

/** Webview -> host: `ready` after load (the host then sends data), `openCheckpoint` when a marker is clicked. */
export type CurvesToHost = { readonly type: 'ready' } | { readonly type: 'openCheckpoint'; readonly step: number } | { readonly type: 'rendered'; readonly series: Readonly<Record<string, number>> };
