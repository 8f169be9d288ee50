// The latest "Evaluate Checkpoints..." results per run, shared by the training-curves panel (the loss-on-your-data
// chart) and the Checkpoints tree (the best-on-your-data mark). In memory; the numbers themselves persist in the
// run's eval cache, so evaluating again is instant.

import * as vscode from 'vscode';

export interface EvalPoint {
  readonly label: string;
  /** Adapter folder; null for the base. */
  readonly path: string | null;
  readonly step: number | null;
  readonly final: boolean;
  readonly loss: number;
  readonly lossCi95: readonly [number, number];
  readonly perplexity: number;
  readonly tokens: number;
}

export interface RunEvaluation {
  readonly runPath: string;
  readonly dataPath: string;
  readonly format: string;
  readonly examples: number;
  /** The base first, then the checkpoints in step order. */
  readonly points: readonly EvalPoint[];
  /** The checkpoint with the lowest loss (the base is not a candidate), or null. */
  readonly best: EvalPoint | null;
}

export class EvalResults implements vscode.Disposable {
  private readonly byRun = new Map<string, RunEvaluation>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires with the run's path. */
  readonly onDidChange = this.changed.event;

  set(e: RunEvaluation): void {
    this.byRun.set(e.runPath, e);
    this.changed.fire(e.runPath);
  }

  get(runPath: string): RunEvaluation | undefined {
    return this.byRun.get(runPath);
  }

  /** Whether `checkpointPath` is the best-on-your-data checkpoint of its run's latest evaluation. */
  isBest(runPath: string, checkpointPath: string): boolean {
    return this.byRun.get(runPath)?.best?.path === checkpointPath;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
