// SentencePiece BPE from a `tokenizer.model` (protobuf ModelProto): parse, normalise, encode by piece scores, byte
// fallback, decode. Reference: google/sentencepiece src/{sentencepiece_model.proto, normalizer.cc, bpe_model.cc,
// model_interface.cc, sentencepiece_processor.cc}; behaviour pinned by golden tables from python3-sentencepiece.

import { CoreError } from '../errors';
import { decodeString, fixed32ToFloat, readFields, WireType } from './protobuf';

/** ModelProto.SentencePiece.Type. */
export const enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

/**
 * UTF-8 to string with one U+FFFD per byte that does not start a complete, valid sequence (sentencepiece's
 * DecodeUTF8 steps one byte on error; TextDecoder would fold a truncated sequence into one replacement character).
 */
export function decodeUtf8Lossy(bytes: ArrayLike<number>): string {
  let out = '';
  const n = bytes.length;
  for (let i = 0; i < n;) {
    const len = utf8SequenceLength(bytes, i);
    if (len <= 0) {
      out += '\uFFFD';
      i++;
      continue;
    }
    const b0 = bytes[i]!;
    let cp: number;
    if (len === 1) cp = b0;
    else if (len === 2) cp = ((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
    else if (len === 3) cp = ((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
    else cp = ((b0 & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
    out += String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/**
 * Length of the valid UTF-8 sequence starting at `i` (1-4), 0 when the bytes there are invalid, or -1 when they are a
 * valid but incomplete prefix (more bytes may complete it: what a streaming decoder must hold back).
 */
export function utf8SequenceLength(bytes: ArrayLike<number>, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  let len: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) len = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 === 0xe0) lo = 0xa0; // no overlongs
    if (b0 === 0xed) hi = 0x9f; // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f; // <= U+10FFFF
  } else return 0;
  for (let k = 1; k < len; k++) {
    if (i + k >= bytes.length) return -1;
    const b = bytes[i + k]!;
    if (b < (k === 1 ? lo : 0x80) || b > (k === 1 ? hi : 0xbf)) return 0;
  }
  return len;
}

export interface SentencePieceEntry {
  readonly piece: string;
  readonly score: number;
  readonly type: PieceType;
}

export interface SentencePieceModel {
  readonly pieces: readonly SentencePieceEntry[];
  /** TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char. */
  readonly modelType: number;
  readonly byteFallback: boolean;
  readonly treatWhitespaceAsSuffix: boolean;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly normalizerName: string;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
  readonly escapeWhitespaces: boolean;
  /** Non-empty for nmt_nfkc-style normalisers (compiled from ICU tables). */
  readonly hasCharsMap: boolean;
}

/** U+2581 LOWER ONE EIGHTH BLOCK: how SentencePiece writes a space inside pieces. */
export const SPACE_SYMBOL = '\u2581';

/** Parse a serialized ModelProto. `what` names the file in errors. */
export function parseSentencePieceModel(buf: Uint8Array, what = 'tokenizer.model'): SentencePieceModel {
  const pieces: SentencePieceEntry[] = [];
  // Proto2 defaults (sentencepiece_model.proto).
  let modelType = 1;
  let byteFallback = false;
  let treatWhitespaceAsSuffix = false;
  let unkId = 0;
  let bosId = 1;
  let eosId = 2;
  let padId = -1;
  let normalizerName = '';
  let addDummyPrefix = true;
  let removeExtraWhitespaces = true;
  let escapeWhitespaces = true;
  let hasCharsMap = false;
  const signed32 = (v: number): number => (v > 0x7fffffff ? v - 2 ** 64 : v) | 0;
  for (const f of readFields(buf, what)) {
    if (f.num === 1 && f.wire === WireType.Bytes) {
      let piece = '';
      let score = 0;
      let type = PieceType.Normal;
      for (const g of readFields(f.bytes!, what)) {
        if (g.num === 1 && g.wire === WireType.Bytes) piece = decodeString(g.bytes);
        else if (g.num === 2 && g.wire === WireType.Fixed32) score = fixed32ToFloat(g.int);
        else if (g.num === 3 && g.wire === WireType.Varint) type = g.int as PieceType;
      }
      pieces.push({ piece, score, type });
    } else if (f.num === 2 && f.wire === WireType.Bytes) {
      for (const g of readFields(f.bytes!, what)) {
        if (g.wire !== WireType.Varint) continue;
        switch (g.num) {
          case 3: modelType = g.int; break;
          case 24: treatWhitespaceAsSuffix = g.int !== 0; break;
          case 35: byteFallback = g.int !== 0; break;
          case 40: unkId = signed32(g.int); break;
          case 41: bosId = signed32(g.int); break;
          case 42: eosId = signed32(g.int); break;
          case 43: padId = signed32(g.int); break;
        }
      }
    } else if (f.num === 3 && f.wire === WireType.Bytes) {
      for (const g of readFields(f.bytes!, what)) {
        if (g.num === 1 && g.wire === WireType.Bytes) normalizerName = decodeString(g.bytes);
        else if (g.num === 2 && g.wire === WireType.Bytes) hasCharsMap = g.int > 0;
        else if (g.num === 3 && g.wire === WireType.Varint) addDummyPrefix = g.int !== 0;
        else if (g.num === 4 && g.wire === WireType.Varint) removeExtraWhitespaces = g.int !== 0;
        else if (g.num === 5 && g.wire === WireType.Varint) escapeWhitespaces = g.int !== 0;
      }
    }
  }
  if (pieces.length === 0) throw new CoreError('bad-format', `${what}: holds no pieces (is it a SentencePiece model?).`, what);
  return {
    pieces, modelType, byteFallback, treatWhitespaceAsSuffix, unkId, bosId, eosId, padId,
    normalizerName, addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces, hasCharsMap,
  };
}

/** Options that HF's LlamaTokenizer changes on the loaded model (legacy=false turns the dummy prefix off). */
export interface SentencePieceOptions {
  readonly addDummyPrefix?: boolean;
}

interface Symbol {
  piece: string;
  prev: number;
  next: number;
  /** User-defined symbols never merge. */
  freeze: boolean;
}

interface Candidate {
  readonly left: number;
  readonly right: number;
  readonly score: number;
  readonly piece: string;
}

/** Max-heap on score, then the leftmost pair first (bpe_model.cc SymbolPairComparator). */
class Agenda {
  private readonly items: Candidate[] = [];
  get size(): number {
    return this.items.length;
  }
  private before(a: Candidate, b: Candidate): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  push(c: Candidate): void {
    const h = this.items;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Candidate {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Encoder/decoder over one SentencePiece BPE model. Ids are positions in the model's piece list. */
export class SentencePieceProcessor {
  /** Normal, user-defined and unused pieces: what BPE may merge into (model_interface.cc pieces_). */
  private readonly mergeable = new Map<string, number>();
  /** Control, unknown and byte pieces (reserved_id_map_). */
  private readonly reserved = new Map<string, number>();
  private readonly userDefined: string[];
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** piece id -> byte value for byte pieces, else -1. */
  private readonly byteOf: Int16Array;
  readonly unkId: number;
  readonly addDummyPrefix: boolean;

  constructor(readonly model: SentencePieceModel, options: SentencePieceOptions = {}) {
    if (model.modelType !== 2) {
      const kind = ['', 'unigram', 'bpe', 'word', 'char'][model.modelType] ?? `type ${model.modelType}`;
      throw new CoreError('unsupported', `SentencePiece ${kind} models are not supported (only BPE, as LLaMA-family tokenizers use).`);
    }
    this.byteOf = new Int16Array(model.pieces.length).fill(-1);
    const user: string[] = [];
    let unk = -1;
    model.pieces.forEach((p, id) => {
      const normal = p.type === PieceType.Normal || p.type === PieceType.UserDefined || p.type === PieceType.Unused;
      const map = normal ? this.mergeable : this.reserved;
      if (!map.has(p.piece)) map.set(p.piece, id);
      if (p.type === PieceType.UserDefined) user.push(p.piece);
      if (p.type === PieceType.Unknown) unk = id;
      if (p.type === PieceType.Byte) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p.piece);
        if (m) {
          const b = parseInt(m[1]!, 16);
          this.byteIds[b] = id;
          this.byteOf[id] = b;
        }
      }
    });
    if (unk < 0) throw new CoreError('bad-format', 'tokenizer.model: has no unknown (<unk>) piece.');
    this.unkId = unk;
    // Longest first, so a prefix scan finds the longest user-defined symbol (PrefixMatcher semantics).
    this.userDefined = user.sort((a, b) => b.length - a.length);
    this.addDummyPrefix = options.addDummyPrefix ?? model.addDummyPrefix;
  }

  get vocabSize(): number {
    return this.model.pieces.length;
  }

  idToPiece(id: number): string {
    return this.model.pieces[id]?.piece ?? '';
  }

  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.mergeable.get(piece) ?? this.unkId;
  }

  typeOf(id: number): PieceType {
    return this.model.pieces[id]?.type ?? PieceType.Unknown;
  }

  /** The byte a `<0xNN>` piece stands for, or -1. */
  byteValue(id: number): number {
    return this.byteOf[id] ?? -1;
  }

  /** normalizer.cc Normalize: optional NFKC, whitespace cleanup, dummy prefix, spaces escaped as U+2581. */
  normalize(text: string): string {
    const m = this.model;
    // nmt_nfkc models carry a compiled ICU table; String.normalize('NFKC') is the same rule set for practical text.
    let s = m.hasCharsMap && m.normalizerName !== 'identity' ? text.normalize('NFKC') : text;
    if (m.removeExtraWhitespaces) s = s.replace(/^ +/, '').replace(/ {2,}/g, ' ');
    if (s.length === 0) return '';
    if (this.addDummyPrefix) s = m.treatWhitespaceAsSuffix ? s + ' ' : ' ' + s;
    if (m.escapeWhitespaces) s = s.replace(/ /g, SPACE_SYMBOL);
    if (m.removeExtraWhitespaces) {
      const ws = m.escapeWhitespaces ? SPACE_SYMBOL : ' ';
      while (s.endsWith(ws)) s = s.slice(0, -ws.length);
    }
    return s;
  }

  /** Encode text to pieces (strings) and ids: BPE merges by score, byte fallback for pieces outside the vocabulary. */
  encode(text: string): { ids: number[]; pieces: string[] } {
    const normalized = this.normalize(text);
    const ids: number[] = [];
    const pieces: string[] = [];
    if (normalized.length === 0) return { ids, pieces };

    // Split into characters, user-defined symbols kept whole.
    const symbols: Symbol[] = [];
    for (let i = 0; i < normalized.length;) {
      let len = 0;
      let freeze = false;
      for (const u of this.userDefined) {
        if (normalized.startsWith(u, i)) {
          len = u.length;
          freeze = true;
          break;
        }
      }
      if (len === 0) len = normalized.codePointAt(i)! > 0xffff ? 2 : 1;
      symbols.push({ piece: normalized.slice(i, i + len), prev: symbols.length - 1, next: symbols.length + 1, freeze });
      i += len;
    }
    symbols[symbols.length - 1]!.next = -1;

    const agenda = new Agenda();
    // Pieces of type UNUSED are merged through but then split back (resegmentation), as bpe_model.cc does.
    const revMerge = new Map<string, readonly [string, string]>();
    const addPair = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const l = symbols[left]!;
      const r = symbols[right]!;
      if (l.freeze || r.freeze) return;
      const piece = l.piece + r.piece;
      const id = this.mergeable.get(piece);
      if (id === undefined) return;
      agenda.push({ left, right, score: this.model.pieces[id]!.score, piece });
      if (this.model.pieces[id]!.type === PieceType.Unused) revMerge.set(piece, [l.piece, r.piece]);
    };
    for (let i = 1; i < symbols.length; i++) addPair(i - 1, i);

    while (agenda.size > 0) {
      const top = agenda.pop();
      const l = symbols[top.left]!;
      const r = symbols[top.right]!;
      // Stale entry: one side was merged away since it was queued.
      if (l.piece.length === 0 || r.piece.length === 0 || l.piece + r.piece !== top.piece) continue;
      l.piece = top.piece;
      r.piece = '';
      l.next = r.next;
      if (r.next >= 0) symbols[r.next]!.prev = top.left;
      addPair(l.prev, top.left);
      addPair(top.left, l.next);
    }

    const out: Array<[string, number]> = [];
    const resegment = (w: string): void => {
      const id = this.mergeable.get(w) ?? this.reserved.get(w);
      const split = id !== undefined && this.model.pieces[id]!.type === PieceType.Unused ? revMerge.get(w) : undefined;
      if (!split) {
        out.push([w, id ?? this.unkId]);
        return;
      }
      resegment(split[0]);
      resegment(split[1]);
    };
    for (let i = 0; i >= 0; i = symbols[i]!.next) resegment(symbols[i]!.piece);

    const enc = new TextEncoder();
    let prevUnk = false;
    for (const [w, id] of out) {
      const isUnk = id === this.unkId;
      if (isUnk && this.model.byteFallback) {
        for (const b of enc.encode(w)) {
          const bid = this.byteIds[b]!;
          ids.push(bid >= 0 ? bid : this.unkId);
          pieces.push(bid >= 0 ? this.idToPiece(bid) : w);
        }
        prevUnk = false;
        continue;
      }
      // Without byte fallback a run of unknown characters becomes one <unk> (sentencepiece_processor.cc).
      if (isUnk && prevUnk) {
        pieces[pieces.length - 1] += w;
        continue;
      }
      ids.push(id);
      pieces.push(w);
      prevUnk = isUnk;
    }
    return { ids, pieces };
  }

  /**
   * Decode ids as sentencepiece's DecodeIds does: control pieces vanish, <unk> shows as ' ⁇ ', byte pieces are joined
   * and read as UTF-8, U+2581 becomes a space, and the leading space is dropped while the output is still empty.
   */
  decode(ids: readonly number[]): string {
    let text = '';
    let bytes: number[] = [];
    // Only the first visible piece loses its dummy-prefix space; control pieces before it do not count.
    let atStart = true;
    const flush = (): void => {
      if (bytes.length === 0) return;
      text += decodeUtf8Lossy(bytes);
      bytes = [];
    };
    for (const id of ids) {
      const b = this.byteValue(id);
      if (b >= 0) {
        bytes.push(b);
        atStart = false;
        continue;
      }
      flush();
      text += this.pieceText(id, atStart);
      if (this.typeOf(id) !== PieceType.Control) atStart = false;
    }
    flush();
    return text;
  }

  /** Surface text of one non-byte piece; `atStart` drops the dummy-prefix space. */
  pieceText(id: number, atStart: boolean): string {
    const t = this.typeOf(id);
    if (t === PieceType.Control) return '';
    if (t === PieceType.Unknown) return ' \u2047 ';
    let piece = this.idToPiece(id);
    if (atStart && this.addDummyPrefix && !this.model.treatWhitespaceAsSuffix && piece.startsWith(SPACE_SYMBOL)) {
      piece = piece.slice(1);
    }
    return piece.replaceAll(SPACE_SYMBOL, ' ');
  }
}
