// The decoder-only architectures the engine runs and how each departs from LlamaForCausalLM, read from config.json
// with the defaults of transformers' configuration_{qwen3,gemma2,gemma3,phi3}.py. The forward pass (model.ts) follows
// `DecoderVariant`; nothing else about an architecture is special-cased.

import { CoreError } from '../../errors';

export type FamilyKind = 'llama' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3';

export interface Family {
  readonly kind: FamilyKind;
  /** config.json model_type values (the first is the canonical one). */
  readonly modelTypes: readonly string[];
  /** Qwen2: q/k/v biases without attention_bias in the config. */
  readonly qkvBias: boolean;
  /** Gemma: tie_word_embeddings defaults to true and lm_head.weight is not stored. */
  readonly tiedByDefault: boolean;
  /** Mistral/Qwen/Phi-3 sliding_window applies to every layer (the context is capped at it). */
  readonly slidingEveryLayer: boolean;
}

const family = (kind: FamilyKind, modelTypes: string[], extra: Partial<Family> = {}): Family =>
  ({ kind, modelTypes, qkvBias: false, tiedByDefault: false, slidingEveryLayer: false, ...extra });

/** Supported architectures (config.json `architectures`). */
export const ARCHITECTURES: Readonly<Record<string, Family>> = {
  LlamaForCausalLM: family('llama', ['llama']),
  MistralForCausalLM: family('llama', ['mistral'], { slidingEveryLayer: true }),
  Qwen2ForCausalLM: family('llama', ['qwen2'], { qkvBias: true, slidingEveryLayer: true }),
  Qwen3ForCausalLM: family('qwen3', ['qwen3'], { slidingEveryLayer: true }),
  Gemma2ForCausalLM: family('gemma2', ['gemma2'], { tiedByDefault: true }),
  Gemma3ForCausalLM: family('gemma3', ['gemma3_text'], { tiedByDefault: true }),
  Gemma3ForConditionalGeneration: family('gemma3', ['gemma3'], { tiedByDefault: true }),
  Phi3ForCausalLM: family('phi3', ['phi3'], { slidingEveryLayer: true }),
};

export function familyOf(architecture: string): Family {
  return ARCHITECTURES[architecture]!;
}

/** How one architecture's decoder differs from Llama's (all false/null for Llama, Mistral, Qwen2). */
export interface DecoderVariant {
  readonly kind: FamilyKind;
  /** Qwen3, Gemma 3: self_attn.q_norm / k_norm, an RMSNorm over each head of q and k before RoPE. */
  readonly qkNorm: boolean;
  /** Gemma: every RMSNorm scales by (1 + weight) (the stored weight is an offset from 1). */
  readonly normPlusOne: boolean;
  /** Gemma 2/3: post_attention_layernorm normalizes the attention output; pre/post_feedforward_layernorm wrap the MLP. */
  readonly sandwichNorms: boolean;
  readonly activation: 'silu' | 'gelu_tanh';
  /** Gemma: embeddings are multiplied by sqrt(hidden_size), rounded to the weights' dtype first. */
  readonly embedScale: boolean;
  /** q·k multiplier query_pre_attn_scalar^-0.5 (Gemma); null: 1/sqrt(head_dim). */
  readonly attnScale: number | null;
  /** attn_logit_softcapping (Gemma 2), or null. */
  readonly attnSoftcap: number | null;
  /** final_logit_softcapping (Gemma 2), or null. */
  readonly finalSoftcap: number | null;
  /** Per layer: its sliding window (Gemma's local layers), or null for global attention. */
  readonly layerWindows: readonly (number | null)[];
  /** Gemma 3: RoPE base of the sliding layers (rope_local_base_freq, no scaling); null: all layers share one RoPE. */
  readonly localRopeTheta: number | null;
  /** Phi-3: self_attn.qkv_proj and mlp.gate_up_proj hold q|k|v and gate|up stacked by rows. */
  readonly fused: boolean;
  /** Gemma3ForConditionalGeneration: the weights are the language model's inside a multimodal checkpoint. */
  readonly multimodal: boolean;
}

const numOrNull = (v: unknown, fallback: number | null): number | null =>
  v === null ? null : typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;

/** Gemma3TextConfig defaults for what a multimodal checkpoint's text_config may leave out. */
const GEMMA3_TEXT_DEFAULTS: Readonly<Record<string, unknown>> = {
  vocab_size: 262208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8,
  num_key_value_heads: 4, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh', max_position_embeddings: 131072,
  rms_norm_eps: 1e-6, rope_theta: 1000000, query_pre_attn_scalar: 256, sliding_window: 4096, rope_local_base_freq: 10000,
  sliding_window_pattern: 6, tie_word_embeddings: true, model_type: 'gemma3_text',
};

/** The config a family's language model reads: text_config (with defaults) for Gemma 3 multimodal, else config.json. */
export function textConfigOf(architecture: string, raw: Record<string, unknown>): Record<string, unknown> {
  if (familyOf(architecture).kind !== 'gemma3') return raw;
  const nested = architecture === 'Gemma3ForConditionalGeneration' && raw.text_config && typeof raw.text_config === 'object'
    ? raw.text_config as Record<string, unknown> : raw;
  const merged: Record<string, unknown> = { ...GEMMA3_TEXT_DEFAULTS };
  for (const [k, v] of Object.entries(nested)) if (v !== undefined) merged[k] = v;
  return merged;
}

/** layer_types (newer configs) or the family's alternation: which layers attend through a sliding window. */
function slidingLayers(kind: FamilyKind, raw: Record<string, unknown>, numLayers: number): boolean[] {
  if (Array.isArray(raw.layer_types) && raw.layer_types.length === numLayers) return raw.layer_types.map((t) => t === 'sliding_attention');
  if (kind === 'gemma2') return Array.from({ length: numLayers }, (_, l) => l % 2 === 0);
  const pattern = numOrNull(raw.sliding_window_pattern ?? raw._sliding_window_pattern, 6)!;
  return Array.from({ length: numLayers }, (_, l) => (l + 1) % pattern !== 0);
}

function activationOf(kind: FamilyKind, raw: Record<string, unknown>, path: string): DecoderVariant['activation'] {
  const gemma = kind === 'gemma2' || kind === 'gemma3';
  const act = String((gemma ? raw.hidden_activation ?? raw.hidden_act : raw.hidden_act) ?? (gemma ? 'gelu_pytorch_tanh' : 'silu'));
  if (!gemma && act === 'silu') return 'silu';
  if (gemma && (act === 'gelu_pytorch_tanh' || act === 'gelu_tanh')) return 'gelu_tanh';
  throw new CoreError('unsupported', `${path}: hidden_act '${act}' is not supported (${gemma ? 'gelu_pytorch_tanh' : 'silu'} only).`, path);
}

/** Read the variant of `family` from its (text) config. */
export function parseVariant(architecture: string, raw: Record<string, unknown>, dims: { numLayers: number; path: string }): DecoderVariant {
  const fam = familyOf(architecture);
  const kind = fam.kind;
  const gemma = kind === 'gemma2' || kind === 'gemma3';
  const activation = activationOf(kind, raw, dims.path);
  const window = gemma ? numOrNull(raw.sliding_window, 4096) : null;
  const sliding = gemma ? slidingLayers(kind, raw, dims.numLayers) : [];
  return {
    kind,
    qkNorm: kind === 'qwen3' || kind === 'gemma3',
    normPlusOne: gemma,
    sandwichNorms: gemma,
    activation,
    embedScale: gemma,
    attnScale: gemma ? numOrNull(raw.query_pre_attn_scalar, 256)! ** -0.5 : null,
    attnSoftcap: gemma ? numOrNull(raw.attn_logit_softcapping, kind === 'gemma2' ? 50 : null) : null,
    finalSoftcap: gemma ? numOrNull(raw.final_logit_softcapping, kind === 'gemma2' ? 30 : null) : null,
    layerWindows: Array.from({ length: dims.numLayers }, (_, l) => (window !== null && sliding[l] ? window : null)),
    localRopeTheta: kind === 'gemma3' ? numOrNull(raw.rope_local_base_freq, 10000) : null,
    fused: kind === 'phi3',
    multimodal: architecture === 'Gemma3ForConditionalGeneration',
  };
}

/**
 * A Gemma3ForConditionalGeneration tensor name as its language model's own ('model.layers...', 'lm_head.weight'), or
 * null for the vision tower and projector, which text generation never runs. Both layouts: before transformers 4.52
 * `language_model.model.*` / `language_model.lm_head.*`, since then `model.language_model.*` / `lm_head.*`.
 * Other names pass through, so this is safe on any checkpoint or adapter.
 */
export function languageModelName(name: string): string | null {
  if (/^(model\.)?(vision_tower|multi_modal_projector)\./.test(name)) return null;
  if (name.startsWith('language_model.model.')) return name.slice('language_model.'.length);
  if (name.startsWith('language_model.lm_head.')) return name.slice('language_model.'.length);
  if (name.startsWith('model.language_model.')) return 'model.' + name.slice('model.language_model.'.length);
  return name;
}
