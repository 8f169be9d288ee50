// How many token ids a tokenizer folder defines, without building a tokenizer: tokenizer.json (vocab + added_tokens),
// tokenizer.model (SentencePiece ModelProto: count of repeated field 1 `pieces`, a tiny protobuf walk) and
// added_tokens.json. Used for the embedding-rows vs tokenizer check (Chinese-LLaMA-Alpaca-2: 55296 vs 32000).
// The protobuf walk is the tokenizer module's reader (core/tokenizer/protobuf.ts); no pieces are decoded.
// Reference: google/sentencepiece src/sentencepiece_model.proto; huggingface/tokenizers tokenizer.json layout.

import { joinPath } from '../paths';
import { readFields } from '../tokenizer/protobuf';
import type { FsPort } from '../ports';

export interface TokenizerSize {
  /** Number of ids (max id + 1). */
  readonly size: number;
  /** File the number came from. */
  readonly source: string;
}

/** Tokenizer files larger than this are not parsed for a diagnosis (real ones are < 40 MB). */
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/** Count `pieces` (field 1, length-delimited) in a SentencePiece ModelProto, without decoding them. Throws on malformed bytes. */
export function countSentencePieces(bytes: Uint8Array, what = 'tokenizer.model'): number {
  let count = 0;
  for (const f of readFields(bytes, what)) if (f.num === 1 && f.bytes !== null) count++;
  return count;
}

/** Number of ids in a parsed tokenizer.json: max over model.vocab ids and added_tokens ids, plus one. */
export function tokenizerJsonSize(json: unknown): number | null {
  const j = json as { model?: { vocab?: unknown }; added_tokens?: unknown };
  let max = -1;
  const vocab = j?.model?.vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1; // Unigram: [[piece, score], ...] indexed by id
  else if (vocab && typeof vocab === 'object') {
    for (const id of Object.values(vocab as Record<string, unknown>)) if (typeof id === 'number' && id > max) max = id;
  }
  if (Array.isArray(j?.added_tokens)) {
    for (const t of j.added_tokens as Array<{ id?: unknown }>) if (typeof t?.id === 'number' && t.id > max) max = t.id;
  }
  return max >= 0 ? max + 1 : null;
}

async function tryStatFile(fs: FsPort, p: string): Promise<boolean> {
  try {
    return (await fs.stat(p))?.kind === 'file';
  } catch {
    return false;
  }
}

/** The tokenizer size of a folder, or null when it has no tokenizer files (or none readable). Never throws. */
export async function readTokenizerSize(fs: FsPort, folder: string): Promise<TokenizerSize | null> {
  const tj = joinPath(folder, 'tokenizer.json');
  if (await tryStatFile(fs, tj)) {
    try {
      const n = tokenizerJsonSize(JSON.parse(await fs.readText(tj, MAX_TOKENIZER_BYTES)));
      if (n !== null) return { size: n, source: tj };
    } catch {
      // fall through to tokenizer.model
    }
  }
  let size: number | null = null;
  let source = '';
  const tm = joinPath(folder, 'tokenizer.model');
  if (await tryStatFile(fs, tm)) {
    try {
      const n = countSentencePieces(await fs.readFile(tm, MAX_TOKENIZER_BYTES), tm);
      if (n > 0) {
        size = n;
        source = tm;
      }
    } catch {
      size = null;
    }
  }
  const at = joinPath(folder, 'added_tokens.json');
  if (await tryStatFile(fs, at)) {
    try {
      const added = JSON.parse(await fs.readText(at, 16 * 1024 * 1024)) as Record<string, unknown>;
      let max = -1;
      for (const id of Object.values(added)) if (typeof id === 'number' && id > max) max = id;
      if (max >= 0 && (size === null || max + 1 > size)) {
        size = max + 1;
        source = source ? `${source} + ${at}` : at;
      }
    } catch {
      // unreadable added_tokens.json: keep what tokenizer.model said
    }
  }
  return size === null ? null : { size, source };
}
