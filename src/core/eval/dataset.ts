// Evaluation data as training tools write it: JSONL with Alpaca records (instruction / input / output), ShareGPT
// (conversations: from / value) or OpenAI (messages: role / content) conversations, or plain `text`; or a plain text
// file, one example per blank-line-separated paragraph. Reference: tatsu-lab/stanford_alpaca, LLaMA-Factory data/README.

import { CoreError } from '../errors';
import type { ChatMessage } from '../model/prompt';
import { tr } from '../text';

export type EvalExample =
  | { readonly kind: 'instruction'; readonly line: number; readonly prompt: string; readonly response: string; readonly system?: string }
  | { readonly kind: 'chat'; readonly line: number; readonly messages: readonly ChatMessage[] }
  | { readonly kind: 'text'; readonly line: number; readonly text: string };

const SHAREGPT_ROLES: Readonly<Record<string, string>> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', system: 'system', chatgpt: 'assistant', bing: 'assistant', bard: 'assistant' };

/**
 * Parse an evaluation file: a JSON array of records (alpaca_data.json, LLaMA-Factory's *.json; `line` is then the
 * record's 1-based index), JSONL when the file is *.jsonl or starts with an object, else plain text split on blank
 * lines. Errors name the file and line.
 */
export function parseEvalData(path: string, content: string): EvalExample[] {
  const lines = content.split(/\r?\n/);
  const first = lines.find((l) => l.trim() !== '')?.trim() ?? '';
  const looksJsonl = /\.jsonl$/i.test(path) || first.startsWith('{');
  const examples = first.startsWith('[') ? parseJsonArray(path, content) : looksJsonl ? parseJsonl(path, lines) : parsePlainText(lines);
  if (examples.length === 0) throw new CoreError('bad-format', tr`${path}: holds no examples.`, path);
  return examples;
}

function parseJsonl(path: string, lines: readonly string[]): EvalExample[] {
  const out: EvalExample[] = [];
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (e) {
      throw new CoreError('bad-format', tr`${path}:${i + 1}: not valid JSON (${(e as Error).message}).`, path);
    }
    out.push(parseRecord(path, i + 1, record));
  });
  return out;
}

function parseJsonArray(path: string, content: string): EvalExample[] {
  let records: unknown;
  try {
    records = JSON.parse(content);
  } catch (e) {
    throw new CoreError('bad-format', tr`${path}: not valid JSON (${(e as Error).message}).`, path);
  }
  if (!Array.isArray(records)) throw new CoreError('bad-format', tr`${path}: expected a JSON array of records.`, path);
  return records.map((r, i) => parseRecord(path, i + 1, r));
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** One JSONL record as an example; which fields it has decides its kind. */
export function parseRecord(path: string, line: number, record: unknown): EvalExample {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new CoreError('bad-format', tr`${path}:${line}: expected a JSON object.`, path);
  }
  const r = record as Record<string, unknown>;
  if (str(r.instruction) !== null && str(r.output) !== null) {
    const input = str(r.input) ?? '';
    // Alpaca's own join: the input follows the instruction on a new line (LLaMA-Factory, Chinese-LLaMA-Alpaca-2).
    const prompt = input.trim() === '' ? r.instruction as string : `${r.instruction as string}\n${input}`;
    const system = str(r.system);
    return { kind: 'instruction', line, prompt, response: r.output as string, ...(system ? { system } : {}) };
  }
  const turns = Array.isArray(r.messages) ? r.messages : Array.isArray(r.conversations) ? r.conversations : null;
  if (turns) return { kind: 'chat', line, messages: turns.map((t, k) => chatTurn(path, line, k, t)) };
  if (str(r.text) !== null) return { kind: 'text', line, text: r.text as string };
  throw new CoreError('bad-format', tr`${path}:${line}: expected "instruction" + "output" (Alpaca), "messages" or "conversations" (chat), or "text".`, path);
}

function chatTurn(path: string, line: number, k: number, t: unknown): ChatMessage {
  const o = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
  const role = str(o.role) ?? SHAREGPT_ROLES[str(o.from) ?? ''] ?? null;
  const content = str(o.content) ?? str(o.value);
  if (role === null || content === null) {
    throw new CoreError('bad-format', tr`${path}:${line}: turn ${k + 1} needs "role" and "content" (or ShareGPT's "from" and "value").`, path);
  }
  return { role, content };
}

function parsePlainText(lines: readonly string[]): EvalExample[] {
  const out: EvalExample[] = [];
  let start = -1;
  const flush = (end: number): void => {
    if (start >= 0) out.push({ kind: 'text', line: start + 1, text: lines.slice(start, end).join('\n') });
    start = -1;
  };
  lines.forEach((l, i) => {
    if (l.trim() === '') flush(i);
    else if (start < 0) start = i;
  });
  flush(lines.length);
  return out;
}
