// The fuzz targets: every parser of bytes a user's checkpoints bring in, each fed real seed files from the fixtures
// (and small hand-made ones where the fixtures have none), through the same entry points the scan, merge, preview
// and tokenizer use.

import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { curvesOf, parseTrainerState } from '../../src/core/checkpoints/trainerState';
import { CoreError } from '../../src/core/errors';
import { parseAdapterConfig } from '../../src/core/peft/parse';
import { validateAdapterConfig } from '../../src/core/peft/validate';
import type { DirEntry, FileStat, FsPort, HostEnv } from '../../src/core/ports';
import { readSafetensorsHeader } from '../../src/core/safetensors/header';
import { readShardIndex } from '../../src/core/safetensors/modelWeights';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import { parseSentencePieceModel } from '../../src/core/tokenizer/sentencePiece';
import { SentencePieceTokenizer } from '../../src/core/tokenizer/sentencePieceTokenizer';
import { parseTokenizerConfig } from '../../src/core/tokenizer/tokenizer';
import { readTorchBinFromSource } from '../../src/core/torchpickle/binReader';
import { restrictedUnpickle } from '../../src/core/torchpickle/unpickler';
import { memberDataOffset, readZipDirectory } from '../../src/core/torchpickle/zip';
import { mutatedBytes, mutatedJson, RecordingSource, type FuzzTarget } from './harness';

const FIX = path.resolve(__dirname, '..', 'fixtures');
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
  constructor(private readonly files: ReadonlyMap<string, Uint8Array>) {}
  async stat(p: string): Promise<FileStat | null> {
    const f = this.files.get(p);
    return f ? { kind: 'file', size: f.length, mtimeMs: 0 } : null;
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
  async open(p: string): Promise<RecordingSource> {
    return new RecordingSource(p, await this.readFile(p));
  }
  async realpath(p: string): Promise<string> {
    return p;
  }
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
  ];
}

/** Byte mutations of the serialized seeds and structural mutations of the parsed ones, half and half. */
function fuzzJson(parsed: readonly unknown[], raw: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(mutatedBytes(raw), mutatedJson(parsed));
}
