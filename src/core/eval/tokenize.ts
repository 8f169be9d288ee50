// Examples -> token ids and a target mask, as supervised fine-tuning computes its loss: instruction data is scored on
// the response only (the prompt, rendered with the preview's template code, is masked), chat data on the assistant
// turns, plain text on every token. Reference: Chinese-LLaMA-Alpaca-2 build_dataset.py (source and target tokenized
// apart, target + EOS scored), TRL's assistant-only loss (chat template rendered turn by turn).

import { CoreError } from '../errors';
import { encodePrompt, renderChatMessages, type ChatMessage, type PromptFormat } from '../model/prompt';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { tr } from '../text';
import type { EvalExample } from './dataset';

export interface TokenizedExample {
  /** Line of the example in the data file. */
  readonly line: number;
  readonly ids: readonly number[];
  /** target[t] = 1 when ids[t] is scored (predicted from ids[0..t-1]); target[0] is always 0. */
  readonly target: Uint8Array;
  /** Cut to the context length. */
  readonly truncated: boolean;
}

export interface TokenizeOptions {
  readonly format: PromptFormat;
  /** System prompt for alpaca2 / chat when the example has none. */
  readonly system?: string;
  /** Longest sequence the model takes; longer examples are cut (their tail is not scored). */
  readonly contextLength: number;
  /** For messages naming the data file. */
  readonly path: string;
}

/** Token ids and target mask of one example. */
export function tokenizeExample(tok: Tokenizer, ex: EvalExample, o: TokenizeOptions): TokenizedExample {
  const { ids, target } = ex.kind === 'text' ? textTokens(tok, ex.text)
    : ex.kind === 'instruction' ? instructionTokens(tok, ex.prompt, ex.response, ex.system, ex.line, o)
      : chatTokens(tok, ex.messages, ex.line, o);
  target[0] = 0; // the first token has no context to be predicted from
  const truncated = ids.length > o.contextLength;
  return { line: ex.line, ids: truncated ? ids.slice(0, o.contextLength) : ids, target: truncated ? target.slice(0, o.contextLength) : target, truncated };
}

function eosOf(tok: Tokenizer): number[] {
  return tok.eosId === null ? [] : [tok.eosId];
}

/** Plain text: BOS (when the tokenizer adds it) + text + EOS, every token scored, as causal-LM training on the demo. */
function textTokens(tok: Tokenizer, text: string): { ids: number[]; target: Uint8Array } {
  const ids = tok.encode(text).ids;
  if (!tok.addEos) ids.push(...eosOf(tok));
  return { ids, target: new Uint8Array(ids.length).fill(1) };
}

/**
 * Instruction data in the raw or alpaca2 format: the prompt as the preview encodes it, then the response tokenized on
 * its own (no special tokens) + EOS; only response and EOS are scored. In the chat format: a one-turn conversation.
 */
function instructionTokens(tok: Tokenizer, prompt: string, response: string, system: string | undefined, line: number, o: TokenizeOptions): { ids: number[]; target: Uint8Array } {
  const sys = system ?? o.system;
  if (o.format === 'chat') {
    return chatTokens(tok, [...(sys ? [{ role: 'system', content: sys }] : []), { role: 'user', content: prompt }, { role: 'assistant', content: response }], line, o);
  }
  const source = encodePrompt(tok, prompt, o.format, sys);
  if (tok.addEos && source[source.length - 1] === tok.eosId) source.pop(); // a prompt does not end the sequence
  const answer = [...tok.encode(response, { addSpecialTokens: false }).ids, ...eosOf(tok)];
  const target = new Uint8Array(source.length + answer.length);
  target.fill(1, source.length);
  return { ids: [...source, ...answer], target };
}

/** Length of the common prefix of two id lists. */
function commonPrefix(x: readonly number[], y: readonly number[]): number {
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}

/** End-of-turn markers of the families' chat templates (Llama 3, ChatML/Qwen, Gemma, Phi-3, Llama 2, GPT-style). */
const END_OF_TURN = ['<|eot_id|>', '<|im_end|>', '<end_of_turn>', '<|end|>', '</s>', '<|endoftext|>'];

/** [start, end) in the rendered text of an assistant turn: its content and the end-of-turn marker right after it. */
function turnSpan(tok: Tokenizer, full: string, from: number, content: string, line: number, o: TokenizeOptions): [number, number] {
  const body = content.trim(); // templates commonly trim the content
  const at = full.indexOf(body, from);
  if (at < 0) throw new CoreError('bad-format', tr`${o.path}:${line}: the chat_template does not render an assistant turn's content verbatim, so it cannot be scored.`, o.path);
  const end = at + body.length;
  const marker = [tok.eosToken, ...END_OF_TURN].find((m) => m && full.startsWith(m, end));
  return [at, end + (marker?.length ?? 0)];
}

/**
 * A conversation through the model's chat_template, each assistant turn's content and its end-of-turn marker scored
 * (the model must learn to stop), found in the rendered text after the rendering up to that turn's generation prompt.
 * Text positions become token positions through the common prefix of the whole conversation's tokens and the tokens
 * of the text before the position (a token straddling the boundary counts as scored). The raw and alpaca2 formats
 * take one-turn conversations only.
 */
function chatTokens(tok: Tokenizer, messages: readonly ChatMessage[], line: number, o: TokenizeOptions): { ids: number[]; target: Uint8Array } {
  if (o.format !== 'chat') return oneTurn(tok, messages, line, o);
  if (!messages.some((m) => m.role === 'assistant')) throw new CoreError('bad-format', tr`${o.path}:${line}: the conversation has no assistant turn to score.`, o.path);
  const encode = (text: string): number[] => tok.encode(text, { addSpecialTokens: false }).ids;
  const full = renderChatMessages(tok, messages, false);
  const ids = encode(full);
  const target = new Uint8Array(ids.length);
  let cursor = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const prompt = renderChatMessages(tok, messages.slice(0, i), true);
    const [start, end] = turnSpan(tok, full, full.startsWith(prompt) ? Math.max(cursor, prompt.length) : cursor, m.content, line, o);
    target.fill(1, commonPrefix(ids, encode(full.slice(0, start))), end >= full.length ? ids.length : commonPrefix(ids, encode(full.slice(0, end))));
    cursor = end;
  });
  return { ids, target };
}

function oneTurn(tok: Tokenizer, messages: readonly ChatMessage[], line: number, o: TokenizeOptions): { ids: number[]; target: Uint8Array } {
  const system = messages.find((m) => m.role === 'system')?.content;
  const rest = messages.filter((m) => m.role !== 'system');
  if (rest.length !== 2 || rest[0]!.role !== 'user' || rest[1]!.role !== 'assistant') {
    throw new CoreError('bad-format', tr`${o.path}:${line}: the ${o.format} format takes one user turn and one assistant reply; use --format chat for longer conversations.`, o.path);
  }
  return instructionTokens(tok, rest[0]!.content, rest[1]!.content, system, line, o);
}
