// tokenizer.json (HF tokenizers: byte-level BPE as in Llama 3 / Qwen2, SentencePiece-style BPE with Metaspace as in
// Llama 2 / Mistral) through @huggingface/tokenizers, the pure-JS port of the Rust library that transformers.js uses.
// Chosen over our own BPE because tokenizer.json also carries normalizers and regex pre-tokenizers we would re-derive.

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { CoreError } from '../errors';
import { DiffStreamDecoder, type StreamDecoder, type Tokenizer, type TokenizerConfig } from './tokenizer';

/** How many prompt ids of context the stream decoder decodes along (enough for any merge of spaces/bytes). */
const STREAM_CONTEXT = 4;

export class JsonTokenizer implements Tokenizer {
  readonly kind = 'tokenizer.json';
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly chatTemplate: string | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  private readonly tok: HfTokenizer;
  private readonly special = new Set<number>();

  constructor(json: Record<string, unknown>, config: TokenizerConfig, rawConfig: Record<string, unknown>, private readonly what: string) {
    // The library trusts the file's shape: whatever it throws while building from a damaged tokenizer.json (a
    // TypeError on a field of the wrong type) is that file's bad-format error.
    const built = this.guard(() => {
      const tok = new HfTokenizer(json, rawConfig);
      const vocab = tok.get_vocab(true);
      let maxId = -1;
      for (const id of vocab.values()) maxId = Math.max(maxId, id);
      const special = [...tok.get_added_tokens_decoder()].filter(([, t]) => (t as { special?: boolean }).special).map(([id]) => id);
      const bosId = config.bosToken !== null ? tok.token_to_id(config.bosToken) ?? null : null;
      const eosId = config.eosToken !== null ? tok.token_to_id(config.eosToken) ?? null : null;
      // BOS/EOS come from tokenizer.json's post_processor; the flags only report what it does.
      const probe = tok.encode('a', { add_special_tokens: true }).ids;
      return { tok, maxId, special, bosId, eosId, probe };
    }, 'cannot build the tokenizer');
    this.tok = built.tok;
    for (const id of built.special) this.special.add(id);
    for (const t of config.addedTokens) if (t.special) this.special.add(t.id);
    this.vocabSize = built.maxId + 1;
    this.bosToken = config.bosToken;
    this.eosToken = config.eosToken;
    this.bosId = built.bosId;
    this.eosId = built.eosId;
    this.addBos = this.bosId !== null && built.probe[0] === this.bosId;
    this.addEos = this.eosId !== null && built.probe[built.probe.length - 1] === this.eosId;
    this.chatTemplate = config.chatTemplate;
  }

  /** Run a library call; its failure becomes a CoreError naming this tokenizer.json. */
  private guard<T>(fn: () => T, doing: string): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof CoreError) throw e;
      throw new CoreError('bad-format', `${this.what}: ${doing} (${(e as Error)?.message ?? String(e)}).`, this.what);
    }
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): { ids: number[]; pieces: string[] } {
    const enc = this.guard(() => this.tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }), 'cannot encode text');
    return { ids: [...enc.ids], pieces: [...enc.tokens] };
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    // @huggingface/tokenizers throws on an empty list; an empty prompt or stream context decodes to ''.
    if (ids.length === 0) return '';
    return this.guard(() => this.tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true, clean_up_tokenization_spaces: false }), 'cannot decode ids');
  }

  idToPiece(id: number): string {
    return this.guard(() => this.tok.id_to_token(id) ?? '', 'cannot look up a token');
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  streamDecoder(previous: readonly number[]): StreamDecoder {
    return new DiffStreamDecoder((ids) => this.decode(ids), previous.slice(-STREAM_CONTEXT));
  }
}
