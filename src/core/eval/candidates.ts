// Which adapters an evaluation of a run compares: every checkpoint of the run that holds an adapter, in step order,
// the final output last; plus the best-on-this-data pick over the results.

import type { Run } from '../checkpoints/model';

export interface RunCandidate {
  /** Checkpoint folder name ('checkpoint-100', or the run's own name for its final output). */
  readonly label: string;
  readonly path: string;
  readonly step: number | null;
  readonly final: boolean;
}

/** The run's checkpoints that hold a usable adapter. */
export function runCandidates(run: Run): RunCandidate[] {
  return run.checkpoints
    .filter((c) => c.adapter !== null && c.adapter.weightsFile !== null && c.adapter.format === 'peft')
    .map((c) => ({ label: c.name, path: c.adapter!.path, step: c.step, final: c.final }));
}

/** Index of the lowest loss among results, or -1 for none. Ties keep the first (the earlier checkpoint). */
export function bestIndex(results: ReadonlyArray<{ readonly loss: number }>): number {
  let best = -1;
  results.forEach((r, i) => {
    if (Number.isFinite(r.loss) && (best < 0 || r.loss < results[best]!.loss)) best = i;
  });
  return best;
}
