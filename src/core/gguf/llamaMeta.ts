// GGUF metadata for a LLaMA-family checkpoint, key for key and in the order convert_hf_to_gguf.py writes it:
// general.* (name from the folder, size label from the parameter count), llama.* hyperparameters from config.json, the
// SentencePiece vocabulary as tokenizer.ggml.* (tokens, scores, token types with tokenizer_config.json's added tokens),
// special token ids (tokenizer.json added tokens, then config.json), add_bos/add_eos and the chat template.
// llama-quantize then moves general.quantization_version and general.file_type to the end (quantizedKvOrder).

import { CoreError } from '../errors';
import { readJsonObject } from '../jsonFile';
import type { FsPort } from '../ports';
import { joinPath } from '../paths';
import { tr } from '../text';
import { PieceType, parseSentencePieceModel } from '../tokenizer/sentencePiece';
import { authorshipKvs, readModelCard } from './modelCard';
import { FILE_TYPE, GGML_QUANT_VERSION, type ExportType, type GgufKv, type GgufValue } from './format';

type Json = Record<string, unknown>;

const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const f32 = (value: number): GgufValue => ({ type: 'f32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });
const bool = (value: boolean): GgufValue => ({ type: 'bool', value });

/** llama.cpp token types (enum llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface LlamaHparams {
  readonly nLayer: number;
  readonly nHead: number;
  readonly nKvHead: number;
  readonly vocabSize: number;
}

/** First key of `keys` present in the config (find_hparam). */
function find(cfg: Json, keys: readonly string[]): unknown {
  for (const k of keys) if (k in cfg) return cfg[k];
  return undefined;
}

function num(cfg: Json, keys: readonly string[], file: string, required: boolean): number | undefined {
  const v = find(cfg, keys);
  if (v === undefined || v === null) {
    if (required) throw new CoreError('bad-format', tr`${file}: config.json has no ${keys[0]!}, which the GGUF export needs.`, file);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CoreError('bad-format', tr`${file}: config.json's ${keys[0]!} is not a number.`, file);
  return v;
}

export function llamaHparams(cfg: Json, file: string): LlamaHparams {
  const nHead = num(cfg, ['num_attention_heads', 'n_head', 'n_heads'], file, true)!;
  return {
    nLayer: num(cfg, ['n_layers', 'num_hidden_layers', 'n_layer', 'num_layers'], file, true)!,
    nHead,
    nKvHead: num(cfg, ['num_key_value_heads', 'n_kv_heads'], file, false) ?? nHead,
    vocabSize: num(cfg, ['vocab_size'], file, true)!,
  };
}

/** gguf-py's size label: the parameter count with two significant digits at least (293K, 1.1B, 7B). */
export function sizeLabel(params: number): string {
  const [scaled, suffix] = params > 1e12 ? [params * 1e-12, 'T'] : params > 1e9 ? [params * 1e-9, 'B'] : params > 1e6 ? [params * 1e-6, 'M'] : [params * 1e-3, 'K'];
  const fix = Math.max(2 - String(roundHalfEven(scaled)).replace(/^0+/, '').length, 0);
  // Python formats exact ties to even; toFixed rounds them up (the only case where the two differ).
  const tie = (scaled * 10 ** fix) % 1 === 0.5;
  return `${tie ? (roundHalfEven(scaled * 10 ** fix) / 10 ** fix).toFixed(fix) : scaled.toFixed(fix)}${suffix}`;
}

/** Python's round(): exact halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function samplingKvs(gen: Json | null): GgufKv[] {
  if (!gen) return [];
  const out: GgufKv[] = [];
  const add = (key: string, v: unknown, type: 'i32' | 'f32'): void => {
    if (typeof v === 'number') out.push({ key: `general.sampling.${key}`, value: { type, value: v } });
  };
  add('top_k', gen.top_k, 'i32');
  add('top_p', gen.top_p, 'f32');
  add('min_p', gen.min_p, 'f32');
  add('temp', gen.temperature, 'f32');
  add('penalty_repeat', gen.penalty_repeat ?? gen.repetition_penalty, 'f32');
  return out;
}

function ropeKvs(cfg: Json, file: string): GgufKv[] {
  const rope = (cfg.rope_parameters ?? cfg.rope_scaling ?? {}) as Json;
  const type = (rope.rope_type ?? rope.type) as string | undefined;
  const out: GgufKv[] = [];
  if (type !== undefined && type !== 'default') {
    if (type !== 'linear' || typeof rope.factor !== 'number') {
      throw new CoreError('unsupported', tr`${file}: rope_scaling type '${String(type)}' is not supported by the GGUF export yet (linear is).`, file);
    }
    out.push({ key: 'llama.rope.scaling.type', value: str('linear') }, { key: 'llama.rope.scaling.factor', value: f32(rope.factor) });
  }
  const theta = rope.rope_theta ?? find(cfg, ['global_rope_theta', 'rope_global_theta', 'rope_theta_global', 'rope_theta', 'rotary_emb_base']);
  if (typeof theta === 'number') out.push({ key: 'llama.rope.freq_base', value: f32(theta) });
  return out;
}

function hparamKvs(cfg: Json, hp: LlamaHparams, file: string, ftype: number): GgufKv[] {
  const opt = (key: string, keys: readonly string[]): GgufKv[] => {
    const v = num(cfg, keys, file, false);
    return v === undefined ? [] : [{ key, value: u32(v) }];
  };
  const out: GgufKv[] = [
    { key: 'llama.block_count', value: u32(hp.nLayer) },
    ...opt('llama.context_length', ['max_position_embeddings', 'n_ctx', 'n_positions', 'max_length', 'max_sequence_length', 'model_max_length']),
    ...opt('llama.embedding_length', ['hidden_size', 'n_embd', 'dim']),
    ...opt('llama.feed_forward_length', ['prefix_dense_intermediate_size', 'dense_intermediate_size', 'intermediate_size', 'n_inner', 'hidden_dim']),
    ...opt('llama.attention.head_count', ['num_attention_heads', 'n_head', 'n_heads']),
    ...opt('llama.attention.head_count_kv', ['num_key_value_heads', 'n_kv_heads']),
    ...ropeKvs(cfg, file),
  ];
  const eps = num(cfg, ['rms_norm_eps', 'norm_eps'], file, false);
  if (eps !== undefined) out.push({ key: 'llama.attention.layer_norm_rms_epsilon', value: f32(eps) });
  const headDim = num(cfg, ['head_dim'], file, false);
  if (headDim !== undefined) out.push({ key: 'llama.attention.key_length', value: u32(headDim) }, { key: 'llama.attention.value_length', value: u32(headDim) });
  const hidden = num(cfg, ['hidden_size'], file, true)!;
  out.push(
    { key: 'general.file_type', value: u32(ftype) },
    { key: 'llama.vocab_size', value: u32(hp.vocabSize) },
    { key: 'llama.rope.dimension_count', value: u32(headDim ?? Math.floor(hidden / hp.nHead)) },
  );
  return out;
}

/** The few tokens convert_hf_to_gguf treats as control tokens even when not marked special. */
function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) || (t.startsWith('<|') && t.endsWith('|>'))
    || (t.startsWith('<｜') && t.endsWith('｜>')) || (t.startsWith('<unused') && t.endsWith('>'));
}

interface Vocab { tokens: string[]; scores: number[]; types: number[] }

function sentencePieceVocab(model: Uint8Array, file: string, vocabSize: number): Vocab {
  const sp = parseSentencePieceModel(model, file);
  const tokens = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const scores = new Array<number>(vocabSize).fill(-10000);
  const types = new Array<number>(vocabSize).fill(TOKEN_TYPE.unused);
  sp.pieces.slice(0, vocabSize).forEach((p, id) => {
    tokens[id] = p.piece;
    scores[id] = p.score;
    types[id] = p.type === PieceType.Unknown ? TOKEN_TYPE.unknown : p.type === PieceType.Control ? TOKEN_TYPE.control
      : p.type === PieceType.Unused ? TOKEN_TYPE.unused : p.type === PieceType.Byte ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
  });
  return { tokens, scores, types };
}

function applyAddedTokens(v: Vocab, added: Json | null, tokCfg: Json | null): void {
  for (const [content, id] of Object.entries(added ?? {})) {
    if (typeof id !== 'number' || id >= v.tokens.length) continue;
    v.tokens[id] = content;
    v.scores[id] = -1000;
    v.types[id] = TOKEN_TYPE.userDefined;
  }
  const decoder = (tokCfg?.added_tokens_decoder ?? {}) as Record<string, { content?: unknown; special?: unknown }>;
  for (const [key, data] of Object.entries(decoder)) {
    const id = Number(key);
    if (!(id < v.tokens.length) || typeof data?.content !== 'string') continue;
    const special = data.special === true || looksSpecial(data.content);
    v.types[id] = special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
    v.tokens[id] = special ? data.content : data.content.replaceAll('\u2581', ' ');
    v.scores[id] = -1000;
  }
}

const SPECIAL_TYPES = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const;
const ID_KEYS: Partial<Record<string, string>> = {
  bos: 'bos_token_id', eos: 'eos_token_id', unk: 'unknown_token_id', sep: 'seperator_token_id', pad: 'padding_token_id', mask: 'mask_token_id',
};
const ADD_KEYS: Partial<Record<string, string>> = { bos: 'add_bos_token', eos: 'add_eos_token', sep: 'add_sep_token' };

function tokenContent(entry: unknown): string | null {
  if (typeof entry === 'string') return entry;
  const c = (entry as { content?: unknown } | null)?.content;
  return typeof c === 'string' ? c : null;
}

/** gguf-py's SpecialVocab for a SentencePiece model: ids, add_* flags, chat template, in its insertion order. */
function specialKvs(tokJson: Json | null, tokCfg: Json | null, cfg: Json, chatAlt: string | null, nVocab: number): GgufKv[] {
  const ids = new Map<string, number>();
  const adds = new Map<string, boolean>();
  const setId = (typ: string, id: unknown): void => {
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < nVocab && !ids.has(typ)) ids.set(typ, id);
  };
  const added = (Array.isArray(tokJson?.added_tokens) ? tokJson.added_tokens : []) as Array<{ id?: unknown; content?: unknown }>;
  if (tokJson && tokCfg) templateAdds(tokJson, tokCfg, adds);
  let chat: unknown = null;
  if (tokCfg) {
    chat = tokCfg.chat_template ?? chatAlt;
    for (const typ of SPECIAL_TYPES) {
      const add = tokCfg[`add_${typ}_token`];
      if (typeof add === 'boolean') adds.set(typ, add);
      const content = tokenContent(tokCfg[`${typ}_token`]);
      if (content !== null) setId(typ, added.find((a) => a.content === content)?.id);
    }
  }
  for (const typ of SPECIAL_TYPES) setId(typ, cfg[`${typ}_token_id`]);
  const out: GgufKv[] = [];
  for (const [typ, id] of ids) if (ID_KEYS[typ]) out.push({ key: `tokenizer.ggml.${ID_KEYS[typ]}`, value: u32(id) });
  for (const [typ, v] of adds) if (ADD_KEYS[typ]) out.push({ key: `tokenizer.ggml.${ADD_KEYS[typ]}`, value: bool(v) });
  if (typeof chat === 'string' && chat) out.push({ key: 'tokenizer.chat_template', value: str(chat) });
  return out;
}

/** add_bos/add_eos from a tokenizer.json TemplateProcessing post-processor (its single-sequence template). */
function templateAdds(tokJson: Json, tokCfg: Json, adds: Map<string, boolean>): void {
  const post = tokJson.post_processor as Json | null | undefined;
  if (!post) return;
  const procs = (Array.isArray(post.processors) ? post.processors : [post]) as Json[];
  for (const p of procs) {
    if (p.type === 'RobertaProcessing') {
      adds.set('bos', true); adds.set('eos', true); adds.set('sep', true);
      continue;
    }
    if (p.type !== 'TemplateProcessing') continue;
    const single = (Array.isArray(p.single) ? p.single : []) as Array<{ SpecialToken?: { id?: string } }>;
    if (single.length <= 1) continue;
    const first = single[0]?.SpecialToken?.id;
    const last = single[single.length - 1]?.SpecialToken?.id;
    if (first) adds.set('bos', first === tokenContent(tokCfg.bos_token) || first === tokenContent(tokCfg.cls_token));
    if (last) adds.set('eos', last === tokenContent(tokCfg.eos_token));
  }
}

async function readChatAlt(fs: FsPort, folder: string): Promise<string | null> {
  const jinja = joinPath(folder, 'chat_template.jinja');
  if ((await fs.stat(jinja))?.kind === 'file') return fs.readText(jinja);
  const json = await readJsonObject(fs, joinPath(folder, 'chat_template.json'), false);
  return typeof json?.chat_template === 'string' ? json.chat_template : null;
}

export interface LlamaMetaInputs {
  readonly config: Json;
  readonly configFile: string;
  /** Where tokenizer.model, tokenizer_config.json... come from. */
  readonly tokenizerFolder: string;
  /** Folder whose generation_config.json is read. */
  readonly modelFolder: string;
  /** The folder name the converter derives general.name and its parts from. */
  readonly name: string;
  /** The folder whose README.md front matter (the model card) adds authorship keys; null when there is none. */
  readonly cardFolder: string | null;
  readonly totalParams: number;
  readonly exportType: ExportType;
}

/** The tokenizer.* keys of a SentencePiece LLaMA tokenizer. */
async function tokenizerKvs(fs: FsPort, folder: string, cfg: Json, vocabSize: number): Promise<GgufKv[]> {
  const modelFile = joinPath(folder, 'tokenizer.model');
  if ((await fs.stat(modelFile))?.kind !== 'file') {
    throw new CoreError('unsupported', tr`${folder}: no tokenizer.model; the GGUF export supports SentencePiece (LLaMA/Mistral) tokenizers so far, not tokenizer.json-only BPE vocabularies.`, folder);
  }
  const tokCfg = await readJsonObject(fs, joinPath(folder, 'tokenizer_config.json'), false);
  const tokJson = await readJsonObject(fs, joinPath(folder, 'tokenizer.json'), false);
  const vocab = sentencePieceVocab(await fs.readFile(modelFile), modelFile, vocabSize);
  applyAddedTokens(vocab, await readJsonObject(fs, joinPath(folder, 'added_tokens.json'), false), tokCfg);
  const out: GgufKv[] = [];
  if (typeof tokCfg?.add_prefix_space === 'boolean') out.push({ key: 'tokenizer.ggml.add_space_prefix', value: bool(tokCfg.add_prefix_space) });
  out.push(
    { key: 'tokenizer.ggml.model', value: str('llama') },
    { key: 'tokenizer.ggml.pre', value: str('default') },
    { key: 'tokenizer.ggml.tokens', value: { type: 'array', itemType: 'string', values: vocab.tokens } },
    { key: 'tokenizer.ggml.scores', value: { type: 'array', itemType: 'f32', values: vocab.scores } },
    { key: 'tokenizer.ggml.token_type', value: { type: 'array', itemType: 'i32', values: vocab.types } },
    ...specialKvs(tokJson, tokCfg, cfg, tokCfg ? await readChatAlt(fs, folder) : null, vocabSize),
  );
  return out;
}

/** Every metadata key of the export, in the order llama.cpp's tools write them. */
export async function llamaMetadata(fs: FsPort, m: LlamaMetaInputs): Promise<GgufKv[]> {
  const hp = llamaHparams(m.config, m.configFile);
  const quantized = !['f32', 'f16', 'bf16'].includes(m.exportType);
  // A quantized export is llama-quantize over the converter's f32 file: the converter wrote file_type 0.
  const kvs: GgufKv[] = [
    { key: 'general.architecture', value: str('llama') },
    { key: 'general.type', value: str('model') },
    ...samplingKvs(await readJsonObject(fs, joinPath(m.modelFolder, 'generation_config.json'), false)),
    ...authorshipKvs(m.cardFolder ? await readModelCard(fs, m.cardFolder) : {}, m.config, m.name, m.totalParams, sizeLabel(m.totalParams)),
    ...hparamKvs(m.config, hp, m.configFile, quantized ? FILE_TYPE.f32 : FILE_TYPE[m.exportType]),
    { key: 'general.quantization_version', value: u32(GGML_QUANT_VERSION) },
    ...await tokenizerKvs(fs, m.tokenizerFolder, m.config, hp.vocabSize),
  ];
  return quantized ? quantizedKvOrder(kvs, FILE_TYPE[m.exportType]) : kvs;
}

/** llama-quantize keeps the input's keys and re-sets quantization_version and file_type, which moves them last. */
export function quantizedKvOrder(kvs: readonly GgufKv[], fileType: number): GgufKv[] {
  const rest = kvs.filter((kv) => kv.key !== 'general.quantization_version' && kv.key !== 'general.file_type');
  return [...rest, { key: 'general.quantization_version', value: u32(GGML_QUANT_VERSION) }, { key: 'general.file_type', value: u32(fileType) }];
}
