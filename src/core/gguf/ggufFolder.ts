// A GGUF file seen as a Hugging Face model folder, so the engine's loader, tokenizer and adapters work on it unchanged:
// `<file.gguf>/config.json` from the llama.* metadata, `tokenizer.model` (a SentencePiece ModelProto) and
// `tokenizer_config.json` from tokenizer.ggml.*, and `model.safetensors` whose header names the tensors as checkpoints
// do and whose bytes come from the GGUF: q/k rows un-permuted back to HF's layout, quantized blocks dequantized to
// F32. A file with quantized weights is then loaded as q8_0 (loadAsQ8), its Q8_0 blocks as they are and its Q4_0 and
// Q4_K tensors as the engine's q4 (their own values, re-laid out) where the backend has q4 kernels (blockReader:
// straight from the file, no f32 pass); the other 4/5/6-bit types are requantized to q8_0 blocks (each value moves by
// at most 1/254 of its block's max, far less than its own 5-6 bit step). Every other path goes to `fs`.

import { CoreError } from '../errors';
import type { ByteSource, DirEntry, FileStat, FsPort } from '../ports';
import { joinPath, normalizePath } from '../paths';
import { readFully } from '../safetensors/header';
import { tr, type Text } from '../text';
import { decodeTensor } from './encode';
import { Q4_GGUF_TYPES, q4FromGguf, type Q4GgufType } from './q4Blocks';
import type { BlockReader, BlockRowReader, BlockSource } from '../tensor/blockSource';
import { q4Bytes } from '../tensor/q4';
import { plainValue, readGguf, type GgufFile, type GgufTensorInfo } from './reader';
import { hfNameOf, permuteHeads, permutedRow } from './llamaTensors';

type Json = Record<string, unknown>;

function meta(g: GgufFile, key: string): unknown {
  const v = g.meta.get(key);
  return v === undefined ? undefined : plainValue(v);
}

/** A metadata value of the expected kind, or undefined when absent; a value of another kind is a malformed file. */
function typed<T>(g: GgufFile, key: string, is: (v: unknown) => v is T, kind: Text): T | undefined {
  const v = meta(g, key);
  if (v === undefined || is(v)) return v;
  throw new CoreError('bad-format', tr`${g.path}: GGUF metadata ${key} should be ${kind}.`, g.path);
}

// 64-bit integers arrive as bigint: a valid count or id fits a double.
const isNumber = (v: unknown): v is number | bigint => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'bigint' && Number.isSafeInteger(Number(v)));
const isNumbers = (v: unknown): v is Array<number | bigint> => Array.isArray(v) && v.every(isNumber);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const A_NUMBER = tr`a number`;
const NUMBERS = tr`an array of numbers`;
const STRINGS = tr`an array of strings`;

function metaNumber(g: GgufFile, key: string): number | undefined {
  const v = typed(g, key, isNumber, A_NUMBER);
  return v === undefined ? undefined : Number(v);
}

const metaNumbers = (g: GgufFile, key: string): number[] => (typed(g, key, isNumbers, NUMBERS) ?? []).map(Number);

/** tokenizer.ggml.tokens: the vocabulary, required wherever a tokenizer is built from the metadata. */
function metaTokens(g: GgufFile): string[] {
  const tokens = typed(g, 'tokenizer.ggml.tokens', isStrings, STRINGS);
  if (!tokens) throw new CoreError('bad-format', tr`${g.path}: the GGUF metadata has no value for ${'tokenizer.ggml.tokens'}.`, g.path);
  return tokens;
}

function configOf(g: GgufFile): Json {
  const n = (k: string): number | undefined => metaNumber(g, `llama.${k}`);
  const heads = n('attention.head_count');
  const cfg: Json = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: n('embedding_length'), intermediate_size: n('feed_forward_length'),
    num_hidden_layers: n('block_count'), num_attention_heads: heads, num_key_value_heads: n('attention.head_count_kv') ?? heads,
    rms_norm_eps: n('attention.layer_norm_rms_epsilon'), rope_theta: n('rope.freq_base') ?? 10000, max_position_embeddings: n('context_length'),
    vocab_size: n('vocab_size') ?? typed(g, 'tokenizer.ggml.tokens', isStrings, STRINGS)?.length,
    tie_word_embeddings: !g.tensors.some((t) => t.name === 'output.weight'),
    bos_token_id: metaNumber(g, 'tokenizer.ggml.bos_token_id'), eos_token_id: metaNumber(g, 'tokenizer.ggml.eos_token_id'),
  };
  if (n('attention.key_length') !== undefined) cfg.head_dim = n('attention.key_length');
  if (meta(g, 'llama.rope.scaling.type') === 'linear') cfg.rope_scaling = { rope_type: 'linear', factor: n('rope.scaling.factor') };
  for (const [k, v] of Object.entries(cfg)) if (v === undefined) throw new CoreError('bad-format', tr`${g.path}: the GGUF metadata has no value for ${k}.`, g.path);
  // Every block has tensors in a model file: a block count the tensors do not back would size per-layer tables alone.
  const blocks = new Set(g.tensors.map((t) => /^blk\.(\d+)\./.exec(t.name)?.[1]).filter((b) => b !== undefined)).size;
  if (cfg.num_hidden_layers !== blocks) {
    throw new CoreError('bad-format', tr`${g.path}: llama.block_count is ${String(cfg.num_hidden_layers)}, but the file holds tensors for ${blocks} blocks.`, g.path);
  }
  return cfg;
}

// ---- tokenizer.model: a SentencePiece ModelProto from tokenizer.ggml.* ----------------------------------------------

class Proto {
  private parts: number[] = [];
  varint(field: number, v: number): this { this.key(field, 0); this.raw(v); return this; }
  bytes(field: number, b: Uint8Array): this { this.key(field, 2); this.raw(b.length); this.parts.push(...b); return this; }
  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }
  float(field: number, x: number): this {
    this.key(field, 5);
    const b = new Uint8Array(new Float32Array([x]).buffer);
    this.parts.push(...b);
    return this;
  }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
  private key(field: number, wire: number): void { this.raw(field * 8 + wire); }
  private raw(v: number): void {
    while (v >= 0x80) { this.parts.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
    this.parts.push(v);
  }
}

const UNKNOWN = 2;
const BYTE = 6;

function tokenizerModel(g: GgufFile): Uint8Array {
  if (meta(g, 'tokenizer.ggml.model') !== 'llama') {
    throw new CoreError('unsupported', tr`${g.path}: tokenizer.ggml.model '${String(meta(g, 'tokenizer.ggml.model'))}' is not supported yet (SentencePiece 'llama' is).`, g.path);
  }
  const tokens = metaTokens(g);
  const scores = metaNumbers(g, 'tokenizer.ggml.scores');
  const types = metaNumbers(g, 'tokenizer.ggml.token_type');
  const unk = metaNumber(g, 'tokenizer.ggml.unknown_token_id') ?? Math.max(0, types.indexOf(UNKNOWN));
  const p = new Proto();
  tokens.forEach((piece, i) => {
    // The converter marks <unk> CONTROL when tokenizer_config lists it as special; SentencePiece needs it UNKNOWN.
    p.bytes(1, new Proto().string(1, piece).float(2, scores[i] ?? 0).varint(3, i === unk ? UNKNOWN : types[i] ?? 1).done());
  });
  const spec = new Proto().varint(3, 2).varint(35, types.includes(BYTE) ? 1 : 0).varint(40, unk);
  for (const [field, key] of [[41, 'bos'], [42, 'eos']] as const) {
    const id = metaNumber(g, `tokenizer.ggml.${key}_token_id`);
    if (id !== undefined) spec.varint(field, id);
  }
  p.bytes(2, spec.done());
  const addPrefix = meta(g, 'tokenizer.ggml.add_space_prefix');
  // llama.cpp's SentencePiece tokenizer keeps runs of spaces; the dummy prefix as the metadata says (default on).
  p.bytes(3, new Proto().string(1, 'identity').varint(3, addPrefix === false ? 0 : 1).varint(4, 0).varint(5, 1).done());
  return p.done();
}

function tokenizerConfig(g: GgufFile): Json {
  const tokens = metaTokens(g);
  const piece = (key: string): string | null => {
    const id = metaNumber(g, `tokenizer.ggml.${key}_token_id`);
    return id !== undefined ? tokens[id] ?? null : null;
  };
  return {
    add_bos_token: meta(g, 'tokenizer.ggml.add_bos_token') ?? true, add_eos_token: meta(g, 'tokenizer.ggml.add_eos_token') ?? false,
    bos_token: piece('bos'), eos_token: piece('eos'), unk_token: piece('unknown'), legacy: true,
    chat_template: meta(g, 'tokenizer.chat_template') ?? null,
  };
}

// ---- model.safetensors: the tensors under checkpoint names -------------------------------------------------------

interface VirtualTensor {
  readonly info: GgufTensorInfo;
  /** Offsets in the virtual file. */
  readonly begin: number;
  readonly end: number;
  readonly rows: number;
  /** Output bytes per row (F32 when dequantized). */
  readonly rowBytes: number;
  readonly dequantize: boolean;
  /** For q/k: gguf row holding HF row r. */
  readonly srcRow: Int32Array | null;
}

const KEPT = new Set(['F32', 'F16', 'BF16']);

function layoutTensors(g: GgufFile, heads: number, kvHeads: number): { header: Uint8Array; tensors: VirtualTensor[] } {
  const entries: Array<{ hf: string; info: GgufTensorInfo }> = g.tensors.map((info) => {
    const hf = hfNameOf(info.name);
    if (!hf) throw new CoreError('unsupported', tr`${g.path}: tensor '${info.name}' has no checkpoint name the engine knows.`, g.path);
    return { hf, info };
  });
  const header: Json = {};
  const tensors: VirtualTensor[] = [];
  let off = 0;
  for (const { hf, info } of entries) {
    const shape = [...info.ne].reverse();
    const kept = KEPT.has(info.type.name);
    const elemBytes = kept ? info.type.typeSize : 4;
    const rows = shape[0]!; // a 1-D tensor (a q/k bias) permutes element by element
    const rowBytes = (info.ne.reduce((a, b) => a * b, 1) / rows) * elemBytes;
    const h = permuteHeads(hf, heads, kvHeads);
    const srcRow = h === null ? null : new Int32Array(rows);
    if (srcRow) for (let p = 0; p < rows; p++) srcRow[permutedRow(p, rows, h!)] = p;
    header[hf] = { dtype: kept ? info.type.name : 'F32', shape, data_offsets: [off, off + rows * rowBytes] };
    tensors.push({ info, begin: off, end: off + rows * rowBytes, rows, rowBytes, dequantize: !kept, srcRow });
    off += rows * rowBytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const bytes = new Uint8Array(8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(new TextEncoder().encode(json), 8);
  return { header: bytes, tensors: tensors.map((t) => ({ ...t, begin: t.begin + bytes.length, end: t.end + bytes.length })) };
}

/** Reads of the virtual safetensors file, row by row where rows move or are dequantized, straight through otherwise. */
class VirtualSafetensors implements ByteSource {
  readonly size: number;
  constructor(readonly path: string, private readonly src: ByteSource, private readonly header: Uint8Array, private readonly tensors: readonly VirtualTensor[]) {
    this.size = tensors.length ? tensors[tensors.length - 1]!.end : header.length;
  }

  async read(offset: number, into: Uint8Array): Promise<number> {
    const end = Math.min(this.size, offset + into.length);
    for (let pos = offset; pos < end;) {
      if (pos < this.header.length) {
        const n = Math.min(end, this.header.length) - pos;
        into.set(this.header.subarray(pos, pos + n), pos - offset);
        pos += n;
        continue;
      }
      const t = this.tensors.find((x) => pos >= x.begin && pos < x.end)!;
      const n = Math.min(end, t.end) - pos;
      await this.readTensor(t, pos - t.begin, into.subarray(pos - offset, pos - offset + n));
      pos += n;
    }
    return end - offset;
  }

  private async readTensor(t: VirtualTensor, at: number, into: Uint8Array): Promise<void> {
    if (!t.srcRow && !t.dequantize) return readFully(this.src, t.info.begin + at, into);
    const inRow = t.info.size / t.rows;
    const first = Math.floor(at / t.rowBytes);
    const end = Math.ceil((at + into.length) / t.rowBytes);
    // Rows in place are read and dequantized as one run; moved (q/k) rows one by one.
    const runs = t.srcRow ? Array.from({ length: end - first }, (_, i) => [first + i, 1] as const) : [[first, end - first] as const];
    let done = 0;
    for (const [r, n] of runs) {
      const raw = new Uint8Array(n * inRow);
      await readFully(this.src, t.info.begin + (t.srcRow ? t.srcRow[r]! : r) * inRow, raw);
      const rows = t.dequantize ? new Uint8Array(decodeTensor(raw, t.info.type.name, (n * t.rowBytes) / 4, this.path).buffer) : raw;
      const from = r === first ? at - first * t.rowBytes : 0;
      const len = Math.min(rows.length - from, into.length - done);
      into.set(rows.subarray(from, from + len), done);
      done += len;
    }
  }

  close(): Promise<void> {
    return this.src.close();
  }
}

/**
 * Rows of a Q8_0 tensor as its blocks, or of a Q4_0 / Q4_K one as q4 host blocks, through the q/k row order of the
 * virtual file.
 */
function blockRowsOf(src: () => Promise<ByteSource>, t: VirtualTensor): BlockRowReader {
  const inRow = t.info.size / t.rows;
  const cols = t.info.ne[0]!;
  const q8 = t.info.type.name === 'Q8_0';
  return async (row0, rows, into) => {
    const s = await src();
    try {
      // Rows in place are read as one run; moved (q/k) rows one by one.
      const runs = t.srcRow ? Array.from({ length: rows }, (_, i) => [row0 + i, 1] as const) : [[row0, rows] as const];
      let at = 0;
      for (const [r, n] of runs) {
        const raw = new Uint8Array(n * inRow);
        await readFully(s, t.info.begin + (t.srcRow ? t.srcRow[r]! : r) * inRow, raw);
        into.set(q8 ? raw : q4FromGguf(t.info.type.name as Q4GgufType, raw, n * cols), at);
        at += q8 ? raw.length : n * q4Bytes(cols);
      }
    } finally {
      await s.close();
    }
  };
}

/** The folder view; how to load its weights. */
export interface GgufFolderView extends FsPort, BlockSource {
  /** Every quantized weight is q8_0: loading as q8_0 keeps the stored blocks exactly. */
  readonly storedQ8: boolean;
  /** Some weights are quantized: load as q8_0 (exact for q8_0, requantized for the other types; see the top). */
  readonly loadAsQ8: boolean;
}

/** `fs` with the GGUF file `file` also visible as a model folder at the same path (see the module comment). */
export async function ggufFolderFs(fs: FsPort, file: string): Promise<GgufFolderView> {
  const root = normalizePath(file);
  const src = await fs.open(root);
  let g: GgufFile;
  try {
    g = await readGguf(src);
  } finally {
    await src.close();
  }
  if (meta(g, 'general.architecture') !== 'llama') throw new CoreError('unsupported', tr`${root}: GGUF architecture '${String(meta(g, 'general.architecture'))}' is not supported by the engine yet (llama is).`, root);
  if (meta(g, 'general.type') === 'adapter') throw new CoreError('usage', tr`${root}: this GGUF is a LoRA adapter, not a model.`, root);
  const config = configOf(g);
  const { header, tensors } = layoutTensors(g, config.num_attention_heads as number, config.num_key_value_heads as number);
  const text = new TextEncoder();
  const files = new Map<string, () => Uint8Array>([
    ['config.json', () => text.encode(JSON.stringify(config))],
    ['tokenizer.model', () => tokenizerModel(g)],
    ['tokenizer_config.json', () => text.encode(JSON.stringify(tokenizerConfig(g)))],
  ]);
  const virtualSize = tensors.length ? tensors[tensors.length - 1]!.end : header.length;
  const child = (p: string): string | null => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : null);
  const bytesOf = (name: string): Uint8Array | null => files.get(name)?.() ?? null;
  const quantized = g.tensors.filter((t) => !KEPT.has(t.type.name));
  const safetensorsPath = joinPath(root, 'model.safetensors');
  return {
    blockReader(t): BlockReader | null {
      if (t.file !== safetensorsPath) return null;
      const vt = tensors.find((x) => x.begin === t.begin && x.end === t.end);
      if (!vt || vt.info.ne.length !== 2) return null;
      const type = vt.info.type.name;
      if (type !== 'Q8_0' && !Q4_GGUF_TYPES.has(type)) return null;
      return { dtype: type === 'Q8_0' ? 'q8_0' : 'q4', read: blockRowsOf(() => fs.open(root), vt) };
    },
    // Requantizing dequantized q8_0 blocks gives the same blocks back (the scale is the block's max over 127).
    storedQ8: quantized.length > 0 && quantized.every((t) => t.type.name === 'Q8_0'),
    loadAsQ8: quantized.length > 0,
    env: fs.env,
    async stat(p: string): Promise<FileStat | null> {
      const n = normalizePath(p);
      if (n === root) return { kind: 'dir', size: 0, mtimeMs: 0 };
      const c = child(n);
      if (c === null) return fs.stat(p);
      if (c === 'model.safetensors') return { kind: 'file', size: virtualSize, mtimeMs: 0 };
      const b = bytesOf(c);
      return b ? { kind: 'file', size: b.length, mtimeMs: 0 } : null;
    },
    async readDir(p: string): Promise<DirEntry[]> {
      if (normalizePath(p) !== root) return fs.readDir(p);
      return [...files.keys(), 'model.safetensors'].map((name) => ({ name, kind: 'file' as const }));
    },
    async readFile(p: string, maxBytes?: number): Promise<Uint8Array> {
      const c = child(normalizePath(p));
      const b = c === null ? null : bytesOf(c);
      return b ?? fs.readFile(p, maxBytes);
    },
    async readText(p: string, maxBytes?: number): Promise<string> {
      const c = child(normalizePath(p));
      const b = c === null ? null : bytesOf(c);
      return b ? new TextDecoder().decode(b) : fs.readText(p, maxBytes);
    },
    async open(p: string): Promise<ByteSource> {
      const c = child(normalizePath(p));
      if (c === 'model.safetensors') return new VirtualSafetensors(safetensorsPath, await fs.open(root), header, tensors);
      return fs.open(p);
    },
    realpath: (p: string) => (normalizePath(p) === root || child(normalizePath(p)) !== null ? Promise.resolve(normalizePath(p)) : fs.realpath(p)),
  };
}
