// How far a model (a quantized export) is from a reference (the 16-bit model) on one token sequence, teacher-forced:
// both read the same prompt + reference tokens, and at every generated position we compare their next-token
// distributions: KL(p_ref || p_model) in float64 and whether their greedy (argmax) tokens agree.

import { CoreError, throwIfAborted } from '../errors';
import type { LlamaModel } from './llama/model';

/** The comparison of one model against the reference over the generated positions of a run. */
export interface Fidelity {
  /** Generated positions compared. */
  readonly positions: number;
  /** Positions where both argmax tokens are the same. */
  readonly agreed: number;
  /** agreed / positions, in [0, 1]; null when nothing was compared. */
  readonly agreement: number | null;
  /** Mean KL(p_ref || p_model) over the positions, in nats; null when nothing was compared. */
  readonly meanKl: number | null;
  readonly maxKl: number | null;
  /** 0-based index of the first generated token whose argmax differs; null when all agree. */
  readonly firstDivergence: number | null;
}

/** log sum exp of the `vocab` logits from `offset`, in float64 (max-shifted): softmax's log normaliser. */
export function logSumExp(logits: Float32Array, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i]! - max);
  return max + Math.log(sum);
}

/** log softmax of row `row` of `logits` (rows of `vocab`), in float64. */
export function logSoftmax(logits: Float32Array, row: number, vocab: number): Float64Array {
  const off = row * vocab;
  const logZ = logSumExp(logits, off, vocab);
  const out = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = logits[off + i]! - logZ;
  return out;
}

/**
 * KL(p || q) = sum p_i (log p_i - log q_i) from log-probabilities. Terms with p_i = 0 add nothing (0 log 0 = 0), so
 * identical rows give exactly 0 (every difference is 0), never a rounding residue.
 */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const p = Math.exp(logP[i]!);
    if (p > 0) kl += p * (logP[i]! - logQ[i]!);
  }
  // Rounding can leave a tiny negative sum for near-identical rows; KL itself is never negative.
  return Math.max(0, kl);
}

/** Index of the largest value of row `row` (the first one on ties, as greedy sampling picks). */
export function argmaxRow(logits: Float32Array, row: number, vocab: number): number {
  const off = row * vocab;
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[off + i]! > logits[off + best]!) best = i;
  return best;
}

/** Compare next-token logits row by row: `reference` and `model` hold the same positions, (positions, vocab). */
export function compareLogits(reference: Float32Array, model: Float32Array, vocab: number): Fidelity {
  if (reference.length !== model.length || reference.length % vocab !== 0) {
    throw new CoreError('usage', 'compareLogits: the two runs must cover the same positions over the same vocabulary.');
  }
  const positions = reference.length / vocab;
  let agreed = 0, klSum = 0, maxKl = 0;
  let firstDivergence: number | null = null;
  for (let r = 0; r < positions; r++) {
    const kl = klDivergence(logSoftmax(reference, r, vocab), logSoftmax(model, r, vocab));
    klSum += kl;
    maxKl = Math.max(maxKl, kl);
    if (argmaxRow(reference, r, vocab) === argmaxRow(model, r, vocab)) agreed++;
    else firstDivergence ??= r;
  }
  const any = positions > 0;
  return {
    positions, agreed, agreement: any ? agreed / positions : null, meanKl: any ? klSum / positions : null,
    maxKl: any ? maxKl : null, firstDivergence,
  };
}

/**
 * Teacher-forced next-token logits for the tokens ids[from..] (from >= 1): rows (ids.length - from, vocab), row j
 * predicting ids[from + j]. The prefix runs without logits (it only fills the KV cache); the rest is one prefill-style
 * forward with every position's logits.
 */
export async function nextTokenLogits(model: LlamaModel, ids: readonly number[], from: number, signal?: AbortSignal): Promise<Float32Array> {
  if (from < 1 || from > ids.length) throw new CoreError('usage', `nextTokenLogits: from must be in [1, ${ids.length}].`);
  if (from === ids.length) return new Float32Array(0);
  throwIfAborted(signal);
  if (from > 1) await model.forward(ids.slice(0, from - 1), 0, { signal });
  return model.forward(ids.slice(from - 1, ids.length - 1), from - 1, { allLogits: true, signal });
}
