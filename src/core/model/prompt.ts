// Prompt formats: raw text, the Chinese-LLaMA-Alpaca-2 (Llama-2 chat) template, and the model's own Jinja
// chat_template rendered with @huggingface/jinja as transformers' apply_chat_template does (add_generation_prompt).

import { Template } from '@huggingface/jinja';
import { CoreError } from '../errors';
import type { Tokenizer } from '../tokenizer/tokenizer';

export type PromptFormat = 'raw' | 'alpaca2' | 'chat';

/** Chinese-LLaMA-Alpaca-2's default system prompt (scripts/inference/inference_hf.py). */
export const ALPACA2_DEFAULT_SYSTEM = 'You are a helpful assistant. 你是一个乐于助人的助手。';

export function alpaca2Prompt(instruction: string, system = ALPACA2_DEFAULT_SYSTEM): string {
  return `[INST] <<SYS>>\n${system}\n<</SYS>>\n\n${instruction} [/INST]`;
}

/** Switches a chat template may read besides the messages. */
export interface ChatOptions {
  /** Qwen3's enable_thinking: false renders an empty <think></think> block so the model answers directly. */
  readonly thinking?: boolean;
}

/**
 * Render the tokenizer's chat_template for one user turn (and an optional system turn) with add_generation_prompt, as
 * transformers' apply_chat_template does: bos/eos tokens (@huggingface/jinja itself provides strftime_now, which
 * Llama 3.1+ date headers call, and raise_exception), and enable_thinking only when the caller sets it (templates
 * test `enable_thinking is defined`).
 */
export function renderChatTemplate(tokenizer: Tokenizer, user: string, system?: string, options: ChatOptions = {}): string {
  const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: user }];
  return renderChatMessages(tokenizer, messages, true, options);
}

/** One turn of a conversation as chat templates read it. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** Render the chat_template over a whole conversation; `addGenerationPrompt` opens the assistant's next turn. */
export function renderChatMessages(tokenizer: Tokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean, options: ChatOptions = {}): string {
  const source = tokenizer.chatTemplate;
  if (!source) throw new CoreError('unsupported', 'this model has no chat_template in tokenizer_config.json; use the raw or alpaca2 format.');
  try {
    return new Template(source).render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenizer.bosToken ?? '',
      eos_token: tokenizer.eosToken ?? '',
      ...(options.thinking !== undefined ? { enable_thinking: options.thinking } : {}),
    });
  } catch (e) {
    throw new CoreError('bad-format', `chat_template failed to render: ${(e as Error).message}`);
  }
}

/**
 * Token ids of a text prompt in the given format. Chat templates write BOS themselves, so they are tokenized without
 * special tokens (as apply_chat_template does); raw and alpaca2 text get BOS/EOS as the tokenizer config says.
 */
export function encodePrompt(tokenizer: Tokenizer, text: string, format: PromptFormat = 'raw', system?: string, chat: ChatOptions = {}): number[] {
  switch (format) {
    case 'raw':
      return tokenizer.encode(text).ids;
    case 'alpaca2':
      return tokenizer.encode(alpaca2Prompt(text, system)).ids;
    case 'chat':
      return tokenizer.encode(renderChatTemplate(tokenizer, text, system, chat), { addSpecialTokens: false }).ids;
  }
}
