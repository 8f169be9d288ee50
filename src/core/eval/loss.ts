// Token-level cross-entropy of tokenized examples under the model's current adapters, chunk by chunk through the KV
// cache (never more than one chunk of logits held), log-softmax in float64; and the summary over examples: mean token
// loss, perplexity, and a 95% bootstrap interval with a fixed seed.

import { CoreError, throwIfAborted } from '../errors';
import { logSumExp } from '../model/fidelity';
import type { LlamaModel } from '../model/llama/model';
import { createRng } from '../sampling/rng';
import { tr } from '../text';
import type { TokenizedExample } from './tokenize';

export interface ExampleLoss {
  /** Sum of -log p(target) over the example's scored tokens. */
  readonly nll: number;
  readonly tokens: number;
}

/** -log softmax(row)[target] in float64. */
function tokenNll(logits: Float32Array, offset: number, vocab: number, target: number): number {
  return logSumExp(logits, offset, vocab) - logits[offset + target]!;
}

/** Whether any input position in [start, end) predicts a scored token. */
function chunkScored(ex: TokenizedExample, start: number, end: number): boolean {
  for (let p = start; p < end; p++) if (ex.target[p + 1]) return true;
  return false;
}

/** Loss of one example: inputs ids[0..n-2] predict ids[1..n-1], only scored targets counted. */
export async function exampleLoss(model: LlamaModel, ex: TokenizedExample, signal?: AbortSignal): Promise<ExampleLoss> {
  const vocab = model.vocabSize;
  const inputs = ex.ids.length - 1;
  let nll = 0;
  let tokens = 0;
  for (let start = 0; start < inputs; start += model.prefillBatch) {
    throwIfAborted(signal);
    const end = Math.min(inputs, start + model.prefillBatch);
    const scored = chunkScored(ex, start, end);
    // Chunks without targets still fill the KV cache; their logits (last row only) are dropped.
    const logits = await model.forward(ex.ids.slice(start, end), start, { allLogits: scored, signal });
    if (!scored) continue;
    for (let p = start; p < end; p++) {
      if (!ex.target[p + 1]) continue;
      const id = ex.ids[p + 1]!;
      if (id >= vocab) throw new CoreError('incompatible', tr`line ${ex.line}: token id ${id} is outside the model's vocabulary (${vocab}).`);
      nll += tokenNll(logits, (p - start) * vocab, vocab, id);
      tokens++;
    }
  }
  return { nll, tokens };
}

export interface LossSummary {
  /** Mean loss per scored token (total NLL / total tokens), in nats. */
  readonly loss: number;
  readonly perplexity: number;
  /** 95% percentile bootstrap interval of the mean token loss, resampling examples (1000 draws, seed 0). */
  readonly lossCi95: readonly [number, number];
  readonly perplexityCi95: readonly [number, number];
  readonly tokens: number;
  /** Examples with at least one scored token. */
  readonly examples: number;
}

export const BOOTSTRAP_DRAWS = 1000;

/**
 * Mean token loss over examples with a bootstrap interval: examples (not tokens) are resampled, because tokens of one
 * example are not independent, and each draw's statistic is its own token-weighted mean (ratio of sums).
 */
export function summarizeLosses(losses: readonly ExampleLoss[]): LossSummary {
  const kept = losses.filter((l) => l.tokens > 0);
  if (kept.length === 0) throw new CoreError('bad-format', tr`No example has a token to score (all prompts, empty or cut by the context length).`);
  const ratio = (xs: readonly ExampleLoss[]): number => xs.reduce((a, x) => a + x.nll, 0) / xs.reduce((a, x) => a + x.tokens, 0);
  const loss = ratio(kept);
  const rng = createRng(0);
  const draws = new Float64Array(BOOTSTRAP_DRAWS);
  for (let d = 0; d < BOOTSTRAP_DRAWS; d++) {
    let nll = 0;
    let tokens = 0;
    for (let i = 0; i < kept.length; i++) {
      const x = kept[Math.floor(rng.next() * kept.length)]!;
      nll += x.nll;
      tokens += x.tokens;
    }
    draws[d] = nll / tokens;
  }
  draws.sort();
  const lo = draws[Math.floor(0.025 * BOOTSTRAP_DRAWS)]!;
  const hi = draws[Math.ceil(0.975 * BOOTSTRAP_DRAWS) - 1]!;
  return {
    loss, perplexity: Math.exp(loss), lossCi95: [lo, hi], perplexityCi95: [Math.exp(lo), Math.exp(hi)],
    tokens: kept.reduce((a, x) => a + x.tokens, 0), examples: kept.length,
  };
}
