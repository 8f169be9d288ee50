// The tokenizer contract the engine uses, plus the tokenizer_config.json fields that steer it (BOS/EOS, added tokens,
// legacy, chat_template). Implementations: sentencePieceTokenizer.ts (tokenizer.model), jsonTokenizer.ts (tokenizer.json).

/** A token HF keeps outside the model vocabulary's merge rules (tokenizer_config added_tokens_decoder, added_tokens.json). */
export interface AddedTokenSpec {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
}

/** Incremental id -> text: returns only text that can no longer change (partial UTF-8 is held back). */
export interface StreamDecoder {
  push(id: number): string;
  /**
   * Whatever is still held when the stream ends. A trailing sequence that more bytes would have completed (generation
   * stopped at max tokens inside a character) is dropped, never shown as U+FFFD; invalid bytes before it still are.
   */
  flush(): string;
}

export interface Tokenizer {
  /** 'sentencepiece' (tokenizer.model) or 'tokenizer.json'. */
  readonly kind: 'sentencepiece' | 'tokenizer.json';
  /** Highest id + 1, added tokens included. */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Jinja chat_template from tokenizer_config.json (the default one when it ships several), or null. */
  readonly chatTemplate: string | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** Text -> ids; `addSpecialTokens` (default true) adds BOS/EOS as the tokenizer config says. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): { ids: number[]; pieces: string[] };
  /** Ids -> text; `skipSpecialTokens` drops control/special tokens (default true). */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  idToPiece(id: number): string;
  isSpecial(id: number): boolean;
  /**
   * A streaming decoder for generated ids that follow `previous` (the prompt's ids): a leading space is dropped only
   * when the stream starts the text (no previous ids, or only BOS before it), as llama2.c and sentencepiece do.
   */
  streamDecoder(previous: readonly number[]): StreamDecoder;
}

/** The subset of tokenizer_config.json the engine reads. Unknown or malformed fields take HF's defaults. */
export interface TokenizerConfig {
  readonly addBosToken: boolean | null;
  readonly addEosToken: boolean | null;
  /** LlamaTokenizer `legacy` (absent: true, as transformers warns and keeps). */
  readonly legacy: boolean;
  readonly addPrefixSpace: boolean | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly unkToken: string | null;
  readonly padToken: string | null;
  readonly chatTemplate: string | null;
  readonly tokenizerClass: string | null;
  readonly addedTokens: readonly AddedTokenSpec[];
}

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/**
 * Read tokenizer_config.json (and added_tokens.json, which older saves write instead of added_tokens_decoder). Either
 * may be null when the file is absent.
 */
export function parseTokenizerConfig(config: Record<string, unknown> | null, addedTokensJson: Record<string, unknown> | null): TokenizerConfig {
  const c = config ?? {};
  const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
  const added = new Map<number, AddedTokenSpec>();
  if (addedTokensJson) {
    for (const [content, id] of Object.entries(addedTokensJson)) {
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0) added.set(id, { id, content, special: false, lstrip: false, rstrip: false });
    }
  }
  const decoder = c.added_tokens_decoder;
  if (decoder && typeof decoder === 'object' && !Array.isArray(decoder)) {
    for (const [key, v] of Object.entries(decoder as Record<string, unknown>)) {
      const id = Number(key);
      const content = tokenContent(v);
      if (!Number.isInteger(id) || id < 0 || content === null) continue;
      const o = v as Record<string, unknown>;
      added.set(id, { id, content, special: o.special === true, lstrip: o.lstrip === true, rstrip: o.rstrip === true });
    }
  }
  let chatTemplate: string | null = null;
  const ct = c.chat_template;
  if (typeof ct === 'string') chatTemplate = ct;
  else if (Array.isArray(ct)) {
    // Newer saves list named templates; 'default' is the one apply_chat_template uses.
    const entries = ct.filter((e): e is { name: string; template: string } =>
      !!e && typeof e === 'object' && typeof (e as { template?: unknown }).template === 'string');
    chatTemplate = (entries.find((e) => e.name === 'default') ?? entries[0])?.template ?? null;
  }
  return {
    addBosToken: bool(c.add_bos_token),
    addEosToken: bool(c.add_eos_token),
    legacy: c.legacy !== false,
    addPrefixSpace: bool(c.add_prefix_space),
    bosToken: tokenContent(c.bos_token),
    eosToken: tokenContent(c.eos_token),
    unkToken: tokenContent(c.unk_token),
    padToken: tokenContent(c.pad_token),
    chatTemplate,
    tokenizerClass: typeof c.tokenizer_class === 'string' ? c.tokenizer_class : null,
    addedTokens: [...added.values()].sort((a, b) => a.id - b.id),
  };
}

/**
 * Generic streaming decoder for tokenizers that can only decode whole sequences: decode everything seen so far and
 * emit the new suffix, holding back a trailing U+FFFD (an incomplete UTF-8 sequence) until later ids complete it.
 * A few ids of context before the stream make the first token render as a continuation (its space kept).
 */
export class DiffStreamDecoder implements StreamDecoder {
  private readonly ids: number[];
  private emitted: number;

  constructor(private readonly decodeAll: (ids: readonly number[]) => string, context: readonly number[] = []) {
    this.ids = [...context];
    this.emitted = context.length > 0 ? decodeAll(this.ids).replace(/\uFFFD+$/, '').length : 0;
  }

  push(id: number): string {
    this.ids.push(id);
    let text = this.decodeAll(this.ids);
    if (text.endsWith('\uFFFD')) text = text.replace(/\uFFFD+$/, '');
    if (text.length <= this.emitted) return '';
    const out = text.slice(this.emitted);
    this.emitted = text.length;
    return out;
  }

  flush(): string {
    // Trailing U+FFFD here is an unfinished character (push held it back for the same reason): dropped at the end.
    const text = this.decodeAll(this.ids).replace(/\uFFFD+$/, '');
    const out = text.length > this.emitted ? text.slice(this.emitted) : '';
    this.emitted = text.length;
    return out;
  }
}
