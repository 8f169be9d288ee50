// Logit processors and samplers, composable into a chain like llama.cpp's llama_sampler_chain and transformers'
// LogitsProcessorList: repetition penalty -> temperature -> top-k -> top-p, then greedy or a seeded multinomial draw.
// Semantics follow transformers generation/logits_process.py (RepetitionPenalty, Temperature, TopK, TopP warpers).

import type { Rng } from './rng';

/** Edits logits in place. `history` holds prompt and generated ids so far. */
export interface LogitsProcessor {
  readonly name: string;
  process(logits: Float32Array, history: readonly number[]): void;
}

export interface TokenSampler {
  readonly name: string;
  sample(logits: Float32Array): number;
}

/** CTRL-style penalty over every id already seen: negative logits are multiplied, positive ones divided. */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  return {
    name: `repetition-penalty(${penalty})`,
    process(logits, history) {
      const seen = new Set(history);
      for (const id of seen) {
        if (id < 0 || id >= logits.length) continue;
        const v = logits[id]!;
        logits[id] = v < 0 ? v * penalty : v / penalty;
      }
    },
  };
}

export function temperature(t: number): LogitsProcessor {
  return {
    name: `temperature(${t})`,
    process(logits) {
      for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t;
    },
  };
}

/** Keep the k largest logits (ties at the k-th value kept, as torch.topk's threshold does), the rest to -inf. */
export function topK(k: number): LogitsProcessor {
  return {
    name: `top-k(${k})`,
    process(logits) {
      if (k <= 0 || k >= logits.length) return;
      const sorted = Float32Array.from(logits).sort();
      const threshold = sorted[logits.length - k]!;
      for (let i = 0; i < logits.length; i++) if (logits[i]! < threshold) logits[i] = -Infinity;
    },
  };
}

/**
 * Nucleus: keep the smallest set of most likely tokens whose probability reaches p (at least one). transformers
 * sorts ascending and drops tokens whose cumulative probability is <= 1 - p.
 */
export function topP(p: number): LogitsProcessor {
  return {
    name: `top-p(${p})`,
    process(logits) {
      if (p >= 1) return;
      const probs = softmax(logits);
      const order = Array.from(probs.keys()).sort((a, b) => probs[a]! - probs[b]! || b - a);
      let cum = 0;
      for (let i = 0; i < order.length - 1; i++) {
        cum += probs[order[i]!]!;
        if (cum > 1 - p) break;
        logits[order[i]!] = -Infinity;
      }
    },
  };
}

/** Softmax in float64 accumulation; -inf logits get probability 0. */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Highest logit, lowest id on ties (torch.argmax picks the first maximum too). */
export function greedy(): TokenSampler {
  return {
    name: 'greedy',
    sample(logits) {
      let best = 0;
      let bv = -Infinity;
      for (let i = 0; i < logits.length; i++) {
        if (logits[i]! > bv) {
          bv = logits[i]!;
          best = i;
        }
      }
      return best;
    },
  };
}

/** One draw from softmax(logits) with the seeded generator (inverse CDF in id order). */
export function multinomial(rng: Rng): TokenSampler {
  return {
    name: 'multinomial',
    sample(logits) {
      const probs = softmax(logits);
      const u = rng.next();
      let cum = 0;
      let last = 0;
      for (let i = 0; i < probs.length; i++) {
        if (probs[i]! <= 0) continue;
        cum += probs[i]!;
        last = i;
        if (u < cum) return i;
      }
      return last;
    },
  };
}

/** Processors in order, then a sampler. The input logits are copied, never modified. */
export class SamplerChain {
  constructor(readonly processors: readonly LogitsProcessor[], readonly sampler: TokenSampler) {}

  sample(logits: Float32Array, history: readonly number[]): number {
    const work = Float32Array.from(logits);
    for (const p of this.processors) p.process(work, history);
    return this.sampler.sample(work);
  }

  describe(): string {
    return [...this.processors.map((p) => p.name), this.sampler.name].join(' -> ');
  }
}
