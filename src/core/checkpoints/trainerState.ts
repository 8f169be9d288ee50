// trainer_state.json (HF Trainer TrainerState.save_to_json): log history, best checkpoint, step counts.
// Reference: huggingface/transformers src/transformers/trainer_callback.py (TrainerState).

import { CoreError } from '../errors';
import { basename } from '../paths';
import { tr } from '../text';
import type { CheckpointMetrics } from './model';

export interface LogRow {
  readonly step: number;
  readonly epoch: number | null;
  readonly loss: number | null;
  readonly evalLoss: number | null;
  readonly learningRate: number | null;
  readonly gradNorm: number | null;
}

export interface TrainerState {
  readonly globalStep: number | null;
  readonly maxSteps: number | null;
  readonly epoch: number | null;
  readonly bestMetric: number | null;
  /** As written: an absolute path from the training machine. */
  readonly bestModelCheckpoint: string | null;
  /** best_global_step (newer transformers), else the step in best_model_checkpoint's folder name. */
  readonly bestStep: number | null;
  readonly logHistory: readonly LogRow[];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Step number of a `checkpoint-N` (or DeepSpeed `global_stepN`) folder name, else null. */
export function stepFromName(name: string): number | null {
  const m = /^(?:checkpoint-|global_step)(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Normalise a parsed trainer_state.json. Throws only for a value that is not an object. */
export function parseTrainerState(json: unknown): TrainerState {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new CoreError('bad-format', tr`trainer_state.json is not a JSON object`);
  const o = json as Record<string, unknown>;
  const rows: LogRow[] = [];
  if (Array.isArray(o.log_history)) {
    for (const r of o.log_history) {
      if (!r || typeof r !== 'object') continue;
      const x = r as Record<string, unknown>;
      const step = num(x.step);
      if (step === null) continue;
      rows.push({
        step,
        epoch: num(x.epoch),
        loss: num(x.loss),
        evalLoss: num(x.eval_loss),
        learningRate: num(x.learning_rate),
        gradNorm: num(x.grad_norm),
      });
    }
  }
  const bestModelCheckpoint = typeof o.best_model_checkpoint === 'string' ? o.best_model_checkpoint : null;
  // The path may come from Windows: take the last segment on either separator.
  const bestFromPath = bestModelCheckpoint !== null ? stepFromName(basename(bestModelCheckpoint.replace(/\\/g, '/'))) : null;
  return {
    globalStep: num(o.global_step),
    maxSteps: num(o.max_steps),
    epoch: num(o.epoch),
    bestMetric: num(o.best_metric),
    bestModelCheckpoint,
    bestStep: num(o.best_global_step) ?? bestFromPath,
    logHistory: rows,
  };
}

/**
 * Metrics shown for the checkpoint at `step`: training loss, learning rate and grad norm from the last logged row at
 * or before the step (logging_steps need not divide save_steps); eval loss only when evaluated at exactly that step,
 * so an old evaluation is never shown as the checkpoint's.
 */
export function metricsAt(state: TrainerState | null, step: number | null): CheckpointMetrics {
  const none: CheckpointMetrics = { loss: null, evalLoss: null, epoch: null, learningRate: null, gradNorm: null };
  if (state === null || step === null) return none;
  let loss: LogRow | null = null;
  let evalLoss: number | null = null;
  let epoch: number | null = null;
  for (const r of state.logHistory) {
    if (r.step > step) continue;
    if (r.loss !== null && (loss === null || r.step >= loss.step)) loss = r;
    if (r.step === step && r.evalLoss !== null) evalLoss = r.evalLoss;
    if (r.step === step && r.epoch !== null) epoch = r.epoch;
  }
  return {
    loss: loss?.loss ?? null,
    evalLoss,
    epoch: epoch ?? loss?.epoch ?? null,
    learningRate: loss?.learningRate ?? null,
    gradNorm: loss?.gradNorm ?? null,
  };
}

/** The best step among `steps`: the state's own record when it names one of them, else the lowest eval loss. */
export function bestStepOf(state: TrainerState | null, steps: readonly number[]): number | null {
  if (state === null) return null;
  if (state.bestStep !== null && steps.includes(state.bestStep)) return state.bestStep;
  let best: number | null = null;
  let bestLoss = Infinity;
  for (const r of state.logHistory) {
    if (r.evalLoss !== null && steps.includes(r.step) && r.evalLoss < bestLoss) {
      bestLoss = r.evalLoss;
      best = r.step;
    }
  }
  return best;
}

/** Series for the training-curves view, each sorted by step. */
export interface CurveData {
  readonly loss: ReadonlyArray<readonly [number, number]>;
  readonly evalLoss: ReadonlyArray<readonly [number, number]>;
  readonly learningRate: ReadonlyArray<readonly [number, number]>;
  readonly gradNorm: ReadonlyArray<readonly [number, number]>;
}

export function curvesOf(state: TrainerState): CurveData {
  const loss: Array<[number, number]> = [];
  const evalLoss: Array<[number, number]> = [];
  const learningRate: Array<[number, number]> = [];
  const gradNorm: Array<[number, number]> = [];
  for (const r of state.logHistory) {
    if (r.loss !== null) loss.push([r.step, r.loss]);
    if (r.evalLoss !== null) evalLoss.push([r.step, r.evalLoss]);
    if (r.learningRate !== null) learningRate.push([r.step, r.learningRate]);
    if (r.gradNorm !== null) gradNorm.push([r.step, r.gradNorm]);
  }
  const byStep = (a: readonly [number, number], b: readonly [number, number]): number => a[0] - b[0];
  return { loss: loss.sort(byStep), evalLoss: evalLoss.sort(byStep), learningRate: learningRate.sort(byStep), gradNorm: gradNorm.sort(byStep) };
}
