// Header-only adapter <-> base compatibility: every adapter tensor maps to a base tensor, LoRA A/B shapes agree with
// the base in/out dims (Linear [out,in] vs GPT-2 Conv1D [in,out]), r agrees with config/rank_pattern, fan_in_fan_out
// agrees with the real layout, modules_to_save rows vs base vocab vs the adapter's tokenizer, target modules and
// layers_to_transform exist. Reference: huggingface/peft src/peft/tuners/lora/{layer,model}.py, utils/save_and_load.py.

import { moduleScaling, type PeftConfig } from '../peft/config';
import type { ProblemCode, Severity } from '../peft/problems';
import type { BaseModelInfo } from './inspect';
import { tr, textFields, type Text } from '../text';

export interface AdapterTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/** A compatibility finding, attached to a config key (its JSON path) by the caller. */
export interface Finding {
  readonly code: ProblemCode;
  readonly severity: Severity;
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
  /** The message as a Text to translate. */
  readonly text?: Text;
}

export interface CompatReport {
  /** Adapter tensors considered (LoRA factors, DoRA magnitudes, biases, modules_to_save tensors). */
  readonly total: number;
  /** Of those, how many map to a base tensor with agreeing shapes. */
  readonly matched: number;
  /** How many map to a base tensor at all (shape agreement aside): the ranking key for candidates. */
  readonly mapped: number;
  readonly adaptedModules: number;
  /** True when no finding is an error. */
  readonly compatible: boolean;
  readonly findings: readonly Finding[];
  /** Rows of the saved embed_tokens / lm_head, when modules_to_save carries them. */
  readonly adapterVocab: number | null;
}

const BASE_KEY = ['base_model_name_or_path'];
const PREFIX = 'base_model.model.';

type Role = 'A' | 'B' | 'embA' | 'embB' | 'magnitude' | 'loraBias' | 'full';

/** Split a saved adapter key into the adapted module path and the role of the tensor. */
export function parseAdapterKey(key: string): { module: string; role: Role; suffix: string } {
  let k = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
  // Adapter names survive in keys saved by some tools ('lora_A.default.weight'); PEFT strips them.
  k = k.replace(/\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)\.default(?=\.|$)/, '.$1');
  let m = /^(.*)\.(lora_A|lora_B)\.(weight|bias)$/.exec(k);
  if (m) return { module: m[1]!, role: m[3] === 'bias' ? 'loraBias' : m[2] === 'lora_A' ? 'A' : 'B', suffix: m[3]! };
  m = /^(.*)\.(lora_embedding_A|lora_embedding_B)(?:\.weight)?$/.exec(k);
  if (m) return { module: m[1]!, role: m[2] === 'lora_embedding_A' ? 'embA' : 'embB', suffix: 'weight' };
  m = /^(.*)\.lora_magnitude_vector(?:\.weight)?$/.exec(k);
  if (m) return { module: m[1]!, role: 'magnitude', suffix: 'weight' };
  m = /^(.*)\.(weight|bias)$/.exec(k);
  if (m) return { module: m[1]!, role: 'full', suffix: m[2]! };
  return { module: k, role: 'full', suffix: '' };
}

/**
 * Finds the base tensor for `module.suffix`, tolerating prefix differences between the wrapped model and the saved
 * checkpoint (GPT-2 saves 'h.0...' while the model path is 'transformer.h.0...'). Learns the working rewrite once.
 */
class BaseLookup {
  private rewrite: ((n: string) => string) | null = null;
  private readonly rewrites: Array<(n: string) => string> = [
    (n) => n,
    (n) => n.slice(n.indexOf('.') + 1),
    (n) => 'model.' + n,
    (n) => n.replace(/^model\./, 'model.language_model.'),
    (n) => n.replace(/^model\.language_model\./, 'model.'),
    (n) => 'transformer.' + n,
  ];

  constructor(private readonly names: ReadonlyMap<string, { shape: readonly number[] }>) {}

  find(name: string): { name: string; shape: readonly number[] } | null {
    if (this.rewrite) {
      const n = this.rewrite(name);
      const t = this.names.get(n);
      if (t) return { name: n, shape: t.shape };
    }
    for (const rw of this.rewrites) {
      const n = rw(name);
      const t = this.names.get(n);
      if (t) {
        this.rewrite = rw;
        return { name: n, shape: t.shape };
      }
    }
    return null;
  }
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Models whose projection weights are GPT-2 Conv1D, stored [in, out]. */
function usesConv1D(base: BaseModelInfo): boolean {
  return base.modelType === 'gpt2' || (base.architecture ?? '').startsWith('GPT2');
}

function isEmbeddingModule(module: string): boolean {
  return /(^|\.)(embed_tokens|wte|word_embeddings|tok_embeddings|embed_in)$/.test(module);
}

function isLmHead(module: string): boolean {
  return /(^|\.)(lm_head|embed_out|output)$/.test(module);
}

export interface CompatInput {
  readonly config: PeftConfig;
  readonly adapterTensors: readonly AdapterTensor[] | null;
  readonly base: BaseModelInfo;
  /** Size of the tokenizer saved with the adapter, if any. */
  readonly adapterTokenizer: { size: number; source: string } | null;
}

/** Compare an adapter with a base model from headers. The base must have readable weights (base.weights != null). */
export function checkCompatibility(input: CompatInput): CompatReport {
  const { config, base } = input;
  const findings: Finding[] = [];
  const weights = base.weights;
  const names = weights?.tensors ?? new Map<string, { shape: readonly number[] }>();
  const lookup = new BaseLookup(names);
  const quantized = base.quantization !== null;
  let total = 0;
  let matched = 0;
  let mapped = 0;
  const modules = new Set<string>();
  const missing: string[] = [];
  const shapeErrors: string[] = [];
  const rankErrors: string[] = [];
  let linearVotes = 0;
  let convVotes = 0;
  const saved: SavedEmbedding[] = [];
  const conv = usesConv1D(base);

  const tensors = input.adapterTensors ?? [];
  for (const t of tensors) {
    const p = parseAdapterKey(t.name);
    if (p.suffix === '') continue; // not a module tensor (e.g. trainable token deltas): nothing to map
    total++;
    // LoRA factors, DoRA magnitudes and lora_B biases are checked against the base *weight* of their module.
    const baseT = lookup.find(`${p.module}.${p.role === 'full' ? p.suffix : 'weight'}`) ??
      (p.role === 'full' && isLmHead(p.module) ? embeddingTensor(names) : null); // tied embeddings store no lm_head
    if (!baseT) {
      missing.push(t.name);
      continue;
    }
    mapped++;
    modules.add(p.module);
    const w = baseT.shape;
    const a = t.shape;
    let ok = true;
    const bad = (why: string): void => {
      ok = false;
      shapeErrors.push(`${t.name} ${fmt(a)} vs base ${baseT.name} ${fmt(w)}: ${why}`);
    };
    if (quantized && p.role !== 'full') {
      // Packed 4/8-bit weights ([n, 1] uint8) carry no usable in/out dims; shape checks would be noise.
      matched++;
      continue;
    }
    const expectR = moduleScaling(config, p.module).r;
    switch (p.role) {
      case 'A':
      case 'B': {
        if (w.length !== 2 || a.length !== 2) {
          bad('expected 2-D tensors');
          break;
        }
        const lin = p.role === 'A' ? a[1] === w[1] : a[0] === w[0];
        const cv = p.role === 'A' ? a[1] === w[0] : a[0] === w[1];
        if (w[0] !== w[1]) {
          if (lin && !cv) linearVotes++;
          if (cv && !lin) convVotes++;
        }
        const expectedOk = conv ? cv : lin;
        if (!expectedOk && !(lin || cv)) bad(p.role === 'A' ? `lora_A's input dim ${a[1]} matches neither base dim` : `lora_B's output dim ${a[0]} matches neither base dim`);
        else if (!expectedOk) bad(`the dims only fit the ${conv ? 'Linear [out, in]' : 'Conv1D [in, out]'} layout, but the base is ${conv ? 'Conv1D' : 'Linear'}`);
        const rank = p.role === 'A' ? a[0] : a[1];
        if (rank !== expectR) rankErrors.push(`${t.name} has rank ${rank}, config says r=${expectR} for ${p.module}`);
        break;
      }
      case 'embA':
        if (w.length !== 2 || a.length !== 2 || a[1] !== w[0]) bad(`lora_embedding_A must be [r, ${w[0]}] (base vocabulary rows)`);
        else if (a[0] !== expectR) rankErrors.push(`${t.name} has rank ${a[0]}, config says r=${expectR}`);
        break;
      case 'embB':
        if (w.length !== 2 || a.length !== 2 || a[0] !== w[1]) bad(`lora_embedding_B must be [${w[1]}, r] (base embedding dim)`);
        break;
      case 'magnitude': {
        const out = conv ? w[1] : w[0];
        if (a.length !== 1 || a[0] !== out) bad(`the DoRA magnitude must have one entry per output feature (${out})`);
        break;
      }
      case 'loraBias': {
        const out = conv ? w[1] : w[0];
        if (a.length !== 1 || a[0] !== out) bad(`the bias must have ${out} entries`);
        break;
      }
      case 'full': {
        if ((isEmbeddingModule(p.module) || isLmHead(p.module)) && a.length === 2 && w.length === 2) {
          // Judged together below (vocab-resized / vocab-mismatch): the rows may differ, the hidden size may not.
          saved.push({ module: p.module, rows: a[0]!, hidden: a[1]!, baseRows: w[0]!, baseHidden: w[1]! });
          ok = a[1] === w[1];
        } else if (a.length !== w.length || a.some((d, i) => d !== w[i])) bad('the saved module has a different shape');
        break;
      }
    }
    if (ok) matched++;
  }

  if (missing.length > 0) {
    findings.push({
      code: 'adapter-base-missing-module', severity: 'error', path: BASE_KEY,
      ...textFields(tr`${missing.length} of ${total} adapter tensors have no counterpart in the base (e.g. ${missing.slice(0, 3).join(', ')}): this adapter was trained on a different architecture.`),
    });
  }
  if (shapeErrors.length > 0) {
    findings.push({
      code: 'adapter-base-shape-mismatch', severity: 'error', path: BASE_KEY,
      ...textFields(tr`${shapeErrors.length} adapter tensors do not fit the base's shapes (a different model size?): ${shapeErrors.slice(0, 2).join('; ')}${shapeErrors.length > 2 ? '; ...' : ''}`),
    });
  }
  if (rankErrors.length > 0) {
    findings.push({
      code: 'rank-mismatch', severity: 'error', path: config.rankPattern.length > 0 ? ['rank_pattern'] : ['r'],
      ...textFields(tr`${rankErrors.length} LoRA tensors disagree with the configured rank; PEFT builds layers from the config and loading fails with a size mismatch: ${rankErrors.slice(0, 2).join('; ')}`),
    });
  }

  // fan_in_fan_out: decide from the base layout, not the file (PEFT silently overrides the flag at load).
  if (!quantized && input.adapterTensors && weights) {
    const layoutConv = conv || (convVotes > 0 && linearVotes === 0);
    const layoutLinear = !conv && (linearVotes > 0 || convVotes === 0);
    if (config.fanInFanOut && layoutLinear) {
      findings.push({
        code: 'fan-in-fan-out-mismatch', severity: 'warning', path: ['fan_in_fan_out'],
        ...textFields(tr`fan_in_fan_out is true but the base stores its weights as nn.Linear [out, in]. PEFT forces it to false at load, but a tool that trusts the file transposes the delta: square q/k/v/o projections get silently wrong weights. Set it to false.`),
      });
    } else if (!config.fanInFanOut && layoutConv && mapped > 0) {
      // PEFT itself saves false here (it flips the flag in memory only), so this is common and merely informative.
      findings.push({
        code: 'fan-in-fan-out-mismatch', severity: 'info', path: ['fan_in_fan_out'],
        ...textFields(tr`fan_in_fan_out is false but the base uses GPT-2 Conv1D weights [in, out]. PEFT switches it to true at load (and saves false); a tool that trusts the file would compute transposed deltas for the square projections.`),
      });
    }
  }

  // Vocabulary: saved embedding rows vs base vocab vs the tokenizer shipped with the adapter.
  findings.push(...vocabFindings(saved, base.vocabSize ?? embeddingRows(names), input.adapterTokenizer, config.modulesToSave.length > 0));

  // Target modules that exist nowhere in the base (PEFT raises "Target modules ... not found in the base model").
  if (weights) {
    const moduleNames = new Set<string>();
    for (const n of names.keys()) moduleNames.add(n.slice(0, n.lastIndexOf('.')));
    const tm = config.targetModules;
    if (Array.isArray(tm)) {
      const notFound = tm.filter((t) => ![...moduleNames].some((m) => m === t || m.endsWith('.' + t)));
      if (notFound.length > 0) {
        findings.push({
          code: 'target-module-not-found', severity: 'error', path: ['target_modules'],
          ...textFields(tr`target_modules ${notFound.map((t) => `"${t}"`).join(', ')} match no module of the base (${base.architecture ?? 'unknown architecture'}): PEFT raises "Target modules not found" when loading.`),
        });
      }
    } else if (typeof tm === 'string' && tm !== 'all-linear') {
      let re: RegExp | null = null;
      try {
        re = new RegExp(`^(?:${tm})$`);
      } catch {
        re = null;
      }
      if (re && ![...moduleNames].some((m) => re!.test(m) || re!.test('base_model.model.' + m))) {
        findings.push({
          code: 'target-module-not-found', severity: 'error', path: ['target_modules'],
          ...textFields(tr`The target_modules regex matches no module path of the base (PEFT uses re.fullmatch).`),
        });
      }
    }
    const nLayers = base.numLayers ?? countLayers(names);
    if (nLayers !== null && config.layersToTransform) {
      const out = config.layersToTransform.filter((l) => l >= nLayers);
      if (out.length > 0) {
        findings.push({
          code: 'layers-out-of-range', severity: 'error', path: ['layers_to_transform'],
          ...textFields(tr`layers_to_transform names layer${out.length > 1 ? 's' : ''} ${out.join(', ')}, but the base has ${nLayers} layers (0-${nLayers - 1}).`),
        });
      }
    }
  }

  return {
    total, matched, mapped, adaptedModules: modules.size,
    compatible: !findings.some((f) => f.severity === 'error'),
    findings, adapterVocab: saved[0]?.rows ?? null,
  };
}

function embeddingTensor(names: ReadonlyMap<string, { shape: readonly number[] }>): { name: string; shape: readonly number[] } | null {
  for (const [n, t] of names) if (/(embed_tokens|wte|word_embeddings|tok_embeddings)\.weight$/.test(n) && t.shape.length === 2) return { name: n, shape: t.shape };
  return null;
}

function embeddingRows(names: ReadonlyMap<string, { shape: readonly number[] }>): number | null {
  return embeddingTensor(names)?.shape[0] ?? null;
}

function countLayers(names: ReadonlyMap<string, { shape: readonly number[] }>): number | null {
  let max = -1;
  for (const n of names.keys()) {
    const m = /(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\./.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max >= 0 ? max + 1 : null;
}

/** A saved embed_tokens / lm_head (modules_to_save) next to the base tensor it replaces. */
interface SavedEmbedding {
  readonly module: string;
  readonly rows: number;
  readonly hidden: number;
  readonly baseRows: number;
  readonly baseHidden: number;
}

const VOCAB_KEY = ['modules_to_save'];

/**
 * The vocabulary judgement (issue 13). A resized vocabulary the adapter carries itself - saved rows that agree with each
 * other and with the adapter's tokenizer, at the base's hidden size - loads and merges (Chinese-LLaMA-Alpaca-2:
 * 32000 -> 55296), so it is information; vocab-mismatch stays an error only where loading really breaks.
 */
function vocabFindings(saved: readonly SavedEmbedding[], baseVocab: number | null, tok: CompatInput['adapterTokenizer'], hasModulesToSave: boolean): Finding[] {
  const err = (message: Text): Finding[] => [{ code: 'vocab-mismatch', severity: 'error', path: VOCAB_KEY, ...textFields(message) }];
  const names = saved.map((s) => s.module).join(' and ');
  if (saved.length === 0) {
    if (!tok || baseVocab === null || tok.size <= baseVocab) return [];
    return [{
      code: 'vocab-mismatch', severity: 'error', path: hasModulesToSave ? VOCAB_KEY : BASE_KEY,
      ...textFields(tr`The adapter's tokenizer (${tok.source}) has ${tok.size} tokens but the base has ${baseVocab} embedding rows and the adapter saves no embed_tokens/lm_head: the added tokens have no trained embeddings (was modules_to_save lost?).`),
    }];
  }
  const wrongWidth = saved.find((s) => s.hidden !== s.baseHidden);
  if (wrongWidth) {
    return err(tr`The adapter saves ${wrongWidth.module} as [${wrongWidth.rows}, ${wrongWidth.hidden}] but the base's hidden size is ${wrongWidth.baseHidden}: the saved rows cannot replace the base's embeddings (was this adapter trained on another model size?).`);
  }
  const rows = saved[0]!.rows;
  const other = saved.find((s) => s.rows !== rows);
  if (other) {
    return err(tr`The saved ${saved[0]!.module} has ${rows} rows but the saved ${other.module} has ${other.rows}: one vocabulary cannot have both sizes, so loading fails with a size mismatch whichever size the base is resized to.`);
  }
  if (tok && tok.size > rows) {
    return err(tr`The adapter's tokenizer (${tok.source}) has ${tok.size} tokens but its saved ${names} have ${rows} rows: ids >= ${rows} index out of range.`);
  }
  const from = saved[0]!.baseRows;
  if (rows === from) return [];
  if (!tok) {
    return err(tr`The adapter saves ${names} with ${rows} rows but the base has ${from}, and no tokenizer is saved with the adapter: the vocabulary was resized for training, but the base's tokenizer does not know ids >= ${from}. Save the training tokenizer next to the adapter.`);
  }
  return [{
    code: 'vocab-resized', severity: 'info', path: VOCAB_KEY,
    ...textFields(tr`The vocabulary is resized: ${from} -> ${rows} (${names} saved in full, ${tok.size} tokens in the adapter's tokenizer ${tok.source}). Loading resizes the base's embeddings to ${rows} and uses the adapter's tokenizer; merging replaces the base's embeddings with the saved ones, writes vocab_size=${rows} to config.json and copies the adapter's tokenizer.`),
  }];
}
