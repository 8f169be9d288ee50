// The generation loop: prefill the prompt, then sample one token at a time, streaming text as it becomes final
// (partial UTF-8 and possible stop-string prefixes are held back). Cancellation is checked before every token.

import { throwIfAborted } from '../errors';
import type { SamplerChain } from '../sampling/processors';
import { findStopString, partialStopSuffix } from '../sampling/generationConfig';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { LlamaModel } from './llama/model';

export type StopReason = 'eos' | 'max-tokens' | 'stop-string' | 'cancelled';

export interface GenerateOptions {
  readonly maxNewTokens: number;
  readonly sampler: SamplerChain;
  /** Empty: never stop on EOS. */
  readonly eosIds: readonly number[];
  readonly stopStrings?: readonly string[];
  readonly signal?: AbortSignal;
  /**
   * Lets the host's event loop run between tokens, so a cancel message can arrive (kernels complete synchronously
   * and resolved promises never yield to it). Default: setImmediate where the host has it, else a zero timeout.
   */
  readonly yieldToEvents?: () => Promise<void>;
  /** Default true: reuse the K/V of a leading part of the prompt that the model's cache already holds. */
  readonly reusePromptCache?: boolean;
  /** Called once per generated token with the text that became final with it (may be ''). */
  readonly onToken?: (id: number, text: string) => void;
}

export interface GenerateOutput {
  readonly promptIds: readonly number[];
  readonly ids: readonly number[];
  readonly text: string;
  readonly stopReason: StopReason;
  /** Top-10 [id, logit] of the last prompt position, highest first. */
  readonly logitsLast: Array<[number, number]>;
  readonly timings: {
    readonly prefillTokensPerSecond: number; readonly decodeTokensPerSecond: number; readonly firstTokenMs: number; readonly totalMs: number;
    /** Prompt tokens taken from the prompt cache instead of being run (not counted in prefillTokensPerSecond). */
    readonly cachedTokens: number;
  };
}

export function topLogits(logits: Float32Array, k: number): Array<[number, number]> {
  const idx = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  return idx.slice(0, k).map((i) => [i, logits[i]!]);
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** One event-loop turn, without setTimeout's >= 1 ms clamp (1-2% of a decode step) where setImmediate exists. */
function nextTurn(): Promise<void> {
  const host = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return new Promise((resolve) => (host.setImmediate ? host.setImmediate(resolve) : setTimeout(resolve, 0)));
}

export async function generate(model: LlamaModel, tokenizer: Tokenizer, promptIds: readonly number[], o: GenerateOptions): Promise<GenerateOutput> {
  const t0 = now();
  const stops = o.stopStrings ?? [];
  const eos = new Set(o.eosIds);
  throwIfAborted(o.signal);
  // The prompt cache: tokens whose K/V are already in place are not run again (same logits, see reusablePrefix).
  const cachedTokens = o.reusePromptCache === false ? 0 : model.reusablePrefix(promptIds);
  let logits = await model.forward(promptIds.slice(cachedTokens), cachedTokens, { signal: o.signal });
  const tPrefill = now();
  const logitsLast = topLogits(logits, 10);
  const history = [...promptIds];
  const ids: number[] = [];
  const decoder = tokenizer.streamDecoder(promptIds);
  let text = '';
  let emitted = 0;
  let stopReason: StopReason = 'max-tokens';
  const maxNew = Math.max(0, Math.min(o.maxNewTokens, model.contextLength - promptIds.length));
  let tFirst = tPrefill;
  let decodeSteps = 0;
  let tDecode0 = tPrefill;
  const yieldToEvents = o.yieldToEvents ?? nextTurn;
  while (ids.length < maxNew) {
    await yieldToEvents();
    if (o.signal?.aborted) {
      stopReason = 'cancelled';
      break;
    }
    const id = o.sampler.sample(logits, history);
    if (ids.length === 0) tFirst = now();
    if (eos.has(id)) {
      stopReason = 'eos';
      break;
    }
    ids.push(id);
    history.push(id);
    text += decoder.push(id);
    const hit = findStopString(text, stops);
    if (hit) {
      text = text.slice(0, hit.index);
      o.onToken?.(id, text.slice(emitted));
      emitted = text.length;
      stopReason = 'stop-string';
      break;
    }
    const safe = text.length - partialStopSuffix(text, stops);
    o.onToken?.(id, safe > emitted ? text.slice(emitted, safe) : '');
    emitted = Math.max(emitted, safe);
    if (ids.length >= maxNew) break;
    if (decodeSteps === 0) tDecode0 = now();
    try {
      logits = await model.forward([id], promptIds.length + ids.length - 1, { signal: o.signal });
    } catch (e) {
      if (o.signal?.aborted) {
        stopReason = 'cancelled';
        break;
      }
      throw e;
    }
    decodeSteps++;
  }
  if (stopReason !== 'stop-string') {
    text += decoder.flush();
    if (text.length > emitted && ids.length > 0) o.onToken?.(ids[ids.length - 1]!, text.slice(emitted));
  }
  const tEnd = now();
  const prefillS = (tPrefill - t0) / 1000;
  const decodeS = (tEnd - tDecode0) / 1000;
  return {
    promptIds: [...promptIds],
    ids,
    text,
    stopReason,
    logitsLast,
    timings: {
      prefillTokensPerSecond: prefillS > 0 ? (promptIds.length - cachedTokens) / prefillS : 0,
      decodeTokensPerSecond: decodeSteps > 0 && decodeS > 0 ? decodeSteps / decodeS : 0,
      firstTokenMs: tFirst - t0,
      totalMs: tEnd - t0,
      cachedTokens,
    },
  };
}
