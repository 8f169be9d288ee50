// HF LlamaTokenizer semantics over a SentencePiece model: added/special tokens split out of the text first, BOS/EOS as
// tokenizer_config.json says, and the `legacy` switch. Reference: transformers tokenization_llama.py and
// tokenization_utils.py (PreTrainedTokenizer.tokenize, the added-tokens trie with lstrip/rstrip).

import { PieceType, SentencePieceProcessor, SPACE_SYMBOL, utf8SequenceLength, type SentencePieceModel } from './sentencePiece';
import type { AddedTokenSpec, StreamDecoder, Tokenizer, TokenizerConfig } from './tokenizer';

export class SentencePieceTokenizer implements Tokenizer {
  readonly kind = 'sentencepiece';
  readonly sp: SentencePieceProcessor;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly chatTemplate: string | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  private readonly legacy: boolean;
  private readonly addPrefixSpace: boolean;
  /** content -> spec, longest first for leftmost-longest splitting. */
  private readonly added: AddedTokenSpec[];
  private readonly addedById = new Map<number, AddedTokenSpec>();
  private readonly unkPrefixLength: number;

  constructor(model: SentencePieceModel, config: TokenizerConfig) {
    this.legacy = config.legacy;
    // transformers loads the model with add_dummy_prefix=false when legacy=false and adds '▁' itself.
    this.sp = new SentencePieceProcessor(model, this.legacy ? {} : { addDummyPrefix: false });
    this.addPrefixSpace = config.addPrefixSpace ?? true;
    const pieceId = (content: string | null): number | null => {
      if (content === null) return null;
      const a = config.addedTokens.find((t) => t.content === content);
      if (a) return a.id;
      const id = this.sp.pieceToId(content);
      return id === this.sp.unkId && content !== this.sp.idToPiece(this.sp.unkId) ? null : id;
    };
    this.bosToken = config.bosToken ?? (model.bosId >= 0 ? this.sp.idToPiece(model.bosId) : null);
    this.eosToken = config.eosToken ?? (model.eosId >= 0 ? this.sp.idToPiece(model.eosId) : null);
    this.bosId = pieceId(this.bosToken);
    this.eosId = pieceId(this.eosToken);
    this.addBos = config.addBosToken ?? true;
    this.addEos = config.addEosToken ?? false;
    this.chatTemplate = config.chatTemplate;
    // transformers registers bos/eos/unk/pad as special added tokens even when the config does not list them, so
    // "</s>" typed in a prompt becomes the EOS id rather than its characters.
    const addedTokens = [...config.addedTokens];
    for (const content of [this.bosToken, this.eosToken, config.unkToken ?? this.sp.idToPiece(this.sp.unkId), config.padToken]) {
      if (content === null || addedTokens.some((t) => t.content === content)) continue;
      const id = this.sp.pieceToId(content);
      if (this.sp.idToPiece(id) === content) addedTokens.push({ id, content, special: true, lstrip: false, rstrip: false });
    }
    this.added = addedTokens.filter((t) => t.content.length > 0).sort((a, b) => b.content.length - a.content.length);
    for (const t of addedTokens) this.addedById.set(t.id, t);
    let maxId = this.sp.vocabSize - 1;
    for (const t of addedTokens) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.unkPrefixLength = this.sp.encode(config.unkToken ?? this.sp.idToPiece(this.sp.unkId)).ids.length;
  }

  idToPiece(id: number): string {
    return this.addedById.get(id)?.content ?? this.sp.idToPiece(id);
  }

  isSpecial(id: number): boolean {
    const a = this.addedById.get(id);
    if (a) return a.special;
    const t = this.sp.typeOf(id);
    return t === PieceType.Control || t === PieceType.Unknown;
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): { ids: number[]; pieces: string[] } {
    const ids: number[] = [];
    const pieces: string[] = [];
    const addSpecial = options.addSpecialTokens ?? true;
    if (addSpecial && this.addBos && this.bosId !== null) {
      ids.push(this.bosId);
      pieces.push(this.idToPiece(this.bosId));
    }
    let body = text;
    if (!this.legacy && body.length > 0) {
      body = body.replaceAll(SPACE_SYMBOL, ' ');
      if (this.addPrefixSpace) body = SPACE_SYMBOL + body;
    }
    const segments = this.splitAdded(body);
    const out: Array<[number, string]> = [];
    for (const seg of segments) {
      if (typeof seg !== 'string') {
        out.push([seg.id, seg.content]);
        continue;
      }
      if (seg.length === 0) continue;
      const enc = this.encodeSegment(seg);
      enc.ids.forEach((id, i) => out.push([id, enc.pieces[i]!]));
    }
    // legacy=false: a lone '▁' in front of a leading special token is dropped (LlamaTokenizer.tokenize).
    if (!this.legacy && out.length > 1 && out[0]![1] === SPACE_SYMBOL && this.addedById.has(out[1]![0])) out.shift();
    for (const [id, piece] of out) {
      ids.push(id);
      pieces.push(piece);
    }
    if (addSpecial && this.addEos && this.eosId !== null) {
      ids.push(this.eosId);
      pieces.push(this.idToPiece(this.eosId));
    }
    return { ids, pieces };
  }

  private encodeSegment(seg: string): { ids: number[]; pieces: string[] } {
    if (this.legacy || !(seg.startsWith(SPACE_SYMBOL) || seg.startsWith(' '))) return this.sp.encode(seg);
    // Encode "<unk>" + text and drop the unk pieces, so sentencepiece keeps the leading space as '▁' instead of
    // stripping it (LlamaTokenizer._tokenize).
    const unk = this.sp.idToPiece(this.sp.unkId);
    const enc = this.sp.encode(unk + seg);
    return { ids: enc.ids.slice(this.unkPrefixLength), pieces: enc.pieces.slice(this.unkPrefixLength) };
  }

  /** Split on added tokens, leftmost-longest (transformers' Trie.split), applying lstrip/rstrip to the neighbours. */
  private splitAdded(text: string): Array<string | AddedTokenSpec> {
    if (this.added.length === 0) return [text];
    const parts: Array<string | AddedTokenSpec> = [];
    let start = 0;
    for (let i = 0; i < text.length;) {
      const hit = this.added.find((t) => text.startsWith(t.content, i));
      if (!hit) {
        i++;
        continue;
      }
      parts.push(text.slice(start, i), hit);
      i += hit.content.length;
      start = i;
    }
    parts.push(text.slice(start));
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (typeof p === 'string') continue;
      const left = parts[i - 1];
      const right = parts[i + 1];
      if (p.rstrip && typeof right === 'string') parts[i + 1] = right.replace(/^\s+/, '');
      if (p.lstrip && typeof left === 'string') parts[i - 1] = left.replace(/\s+$/, '');
    }
    return parts;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const dec = this.makeStream(true, skip);
    let text = '';
    for (const id of ids) text += dec.push(id);
    // A whole sequence decodes as sentencepiece does: an unfinished trailing character is U+FFFD per byte.
    return text + dec.drainAll();
  }

  streamDecoder(previous: readonly number[]): StreamDecoder {
    const atStart = previous.every((id) => this.isSpecial(id));
    return this.makeStream(atStart, true);
  }

  private makeStream(atStartInit: boolean, skipSpecial: boolean): StreamDecoder & { drainAll(): string } {
    let atStart = atStartInit;
    let pending: number[] = [];
    const strip = this.legacy ? this.sp.addDummyPrefix : this.addPrefixSpace;
    /** `final`: the stream ends here; `dropIncomplete`: a valid but unfinished trailing sequence is dropped, not U+FFFD. */
    const drain = (final: boolean, dropIncomplete = false): string => {
      let out = '';
      while (pending.length > 0) {
        const len = utf8SequenceLength(pending, 0);
        if (len < 0 && final && dropIncomplete) {
          pending = [];
          break;
        }
        if (len < 0 && !final) break;
        if (len <= 0) {
          out += '\uFFFD';
          pending = pending.slice(1);
          continue;
        }
        out += new TextDecoder().decode(new Uint8Array(pending.slice(0, len)));
        pending = pending.slice(len);
      }
      return out;
    };
    return {
      push: (id: number): string => {
        const added = this.addedById.get(id);
        if (added && (id >= this.sp.vocabSize || this.sp.typeOf(id) !== PieceType.Byte)) {
          const out = drain(true);
          if (added.special && skipSpecial) return out;
          atStart = false;
          return out + added.content;
        }
        const b = this.sp.byteValue(id);
        if (b >= 0) {
          pending.push(b);
          atStart = false;
          return drain(false);
        }
        const out = drain(true);
        const t = this.sp.typeOf(id);
        if (t === PieceType.Control) return out;
        let piece = this.sp.pieceText(id, false);
        if (atStart && strip && t !== PieceType.Unknown && piece.startsWith(' ')) piece = piece.slice(1);
        atStart = false;
        return out + piece;
      },
      flush: (): string => drain(true, true),
      drainAll: (): string => drain(true),
    };
  }
}
