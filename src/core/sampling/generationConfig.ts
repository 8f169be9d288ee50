// Sampling settings: defaults from generation_config.json (transformers GenerationConfig semantics: do_sample=false
// means greedy), overridden per request; builds the sampler chain and the stopping rules.

import type { LlamaConfig } from '../model/llama/config';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { greedy, multinomial, repetitionPenalty, SamplerChain, temperature, topK, topP, type LogitsProcessor } from './processors';
import { createRng } from './rng';

export interface GenerationDefaults {
  /** 0 = greedy (do_sample false). */
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly repetitionPenalty: number;
  readonly maxNewTokens: number;
  /** Ids that end generation (generation_config eos_token_id, else config.json's, else the tokenizer's). */
  readonly eosIds: readonly number[];
}

export interface SamplingRequest {
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly repetitionPenalty?: number;
  readonly seed?: number;
  readonly maxNewTokens?: number;
}

function ids(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return [];
}

const numOr = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);

export function parseGenerationConfig(raw: Record<string, unknown> | null, config: Pick<LlamaConfig, 'eosTokenIds'>,
  tokenizer: Pick<Tokenizer, 'eosId'> | null): GenerationDefaults {
  const g = raw ?? {};
  const doSample = g.do_sample === true;
  let eosIds = ids(g.eos_token_id);
  if (eosIds.length === 0) eosIds = [...config.eosTokenIds];
  if (eosIds.length === 0 && tokenizer?.eosId != null) eosIds = [tokenizer.eosId];
  return {
    temperature: doSample ? numOr(g.temperature, 1) : 0,
    topK: doSample ? numOr(g.top_k, 50) : 0,
    topP: doSample ? numOr(g.top_p, 1) : 1,
    repetitionPenalty: numOr(g.repetition_penalty, 1),
    maxNewTokens: numOr(g.max_new_tokens, 64),
    eosIds,
  };
}

export interface ResolvedSampling {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly repetitionPenalty: number;
  readonly seed: number;
  readonly maxNewTokens: number;
}

/** Request values over generation_config defaults. A missing seed is 0 so output is reproducible unless asked. */
export function resolveSampling(req: SamplingRequest, d: GenerationDefaults): ResolvedSampling {
  return {
    temperature: req.temperature ?? d.temperature,
    topK: req.topK ?? d.topK,
    topP: req.topP ?? d.topP,
    repetitionPenalty: req.repetitionPenalty ?? d.repetitionPenalty,
    seed: req.seed ?? 0,
    maxNewTokens: req.maxNewTokens ?? d.maxNewTokens,
  };
}

/** repetition penalty -> temperature -> top-k -> top-p -> draw; temperature 0 is greedy (penalty still applies). */
export function buildSampler(s: ResolvedSampling): SamplerChain {
  const procs: LogitsProcessor[] = [];
  if (s.repetitionPenalty !== 1) procs.push(repetitionPenalty(s.repetitionPenalty));
  if (s.temperature <= 0) return new SamplerChain(procs, greedy());
  if (s.temperature !== 1) procs.push(temperature(s.temperature));
  if (s.topK > 0) procs.push(topK(s.topK));
  if (s.topP < 1) procs.push(topP(s.topP));
  return new SamplerChain(procs, multinomial(createRng(s.seed)));
}

/** Stop strings: finds the earliest occurrence in the generated text; the text is cut before it. */
export function findStopString(text: string, stops: readonly string[]): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const s of stops) {
    if (s.length === 0) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (best === null || i < best.index)) best = { index: i, stop: s };
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string (held back while streaming). */
export function partialStopSuffix(text: string, stops: readonly string[]): number {
  let keep = 0;
  for (const s of stops) {
    for (let len = Math.min(s.length - 1, text.length); len > keep; len--) {
      if (text.endsWith(s.slice(0, len))) {
        keep = len;
        break;
      }
    }
  }
  return keep;
}
