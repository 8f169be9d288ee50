// config.json -> LlamaConfig for LlamaForCausalLM and the decoder-only architectures that share its skeleton (Mistral,
// Qwen2/3, Gemma 2/3, Phi-3): what differs is described by `variant` (families.ts). A multimodal Gemma 3 checkpoint's
// nested text_config is read as its language model. Reference: transformers configuration_*.py (defaults).

import { CoreError } from '../../errors';
import { tr } from '../../text';
import { ARCHITECTURES, familyOf, parseVariant, textConfigOf, type DecoderVariant } from './families';

export type { DecoderVariant } from './families';

export interface LlamaConfig {
  readonly architecture: string;
  readonly modelType: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** num_key_value_heads: == numHeads (MHA), 1 (MQA) or a divisor (GQA). */
  readonly numKvHeads: number;
  /** head_dim, default hidden_size / num_attention_heads (Gemma and Qwen3 set it independently). */
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: Readonly<Record<string, unknown>> | null;
  readonly partialRotaryFactor: number;
  readonly maxPositionEmbeddings: number;
  /** max_position_embeddings as configured (maxPositionEmbeddings may be capped at a sliding window); longrope's factor. */
  readonly ropeMaxPositions: number;
  /** Phi-3 longrope: the pretrained context (original_max_position_embeddings), else null. */
  readonly originalMaxPositionEmbeddings: number | null;
  readonly tieWordEmbeddings: boolean;
  /** q/k/v/o biases (attention_bias, or Qwen2's q/k/v biases: detected from the weights at load). */
  readonly attentionBias: boolean;
  readonly mlpBias: boolean;
  readonly bosTokenId: number | null;
  /** eos_token_id may be a list (Llama 3, Gemma 3). */
  readonly eosTokenIds: readonly number[];
  readonly torchDtype: string | null;
  /** How this architecture's decoder layer departs from Llama's. */
  readonly variant: DecoderVariant;
}

/** Far above any released decoder (Llama 3.1 405B has 126 layers). */
const MAX_LAYERS = 4096;

function int(v: unknown, what: string, path: string, fallback?: number): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new CoreError('bad-format', `${path}: '${what}' is missing.`, path);
  }
  throw new CoreError('bad-format', `${path}: '${what}' must be a positive integer, got ${JSON.stringify(v)}.`, path);
}

function idList(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
  return [];
}

const numOr = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

/** The architecture this engine runs for `raw`, or a CoreError('unsupported') naming it and what is supported. */
function pickArchitecture(raw: Record<string, unknown>, path: string): string {
  const archs = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : '';
  const byType = Object.entries(ARCHITECTURES).find(([, f]) => f.modelTypes.includes(modelType))?.[0];
  const architecture = archs.find((a) => a in ARCHITECTURES) ?? (archs.length === 0 ? byType : undefined);
  if (architecture === undefined) {
    const named = archs.length > 0 ? archs.join(', ') : modelType || 'no architecture';
    throw new CoreError('unsupported',
      `${path}: the preview engine runs ${Object.keys(ARCHITECTURES).join(', ')} models; this model is ${named}.`, path);
  }
  return architecture;
}

function refuseQuantized(raw: Record<string, unknown>, path: string): void {
  if (typeof raw.quantization_config === 'object' && raw.quantization_config !== null) {
    const method = (raw.quantization_config as { quant_method?: unknown }).quant_method;
    throw new CoreError('unsupported', `${path}: pre-quantized weights (${String(method ?? 'unknown method')}) are not supported; use the 16-bit base model.`, path);
  }
}

/** Parse and validate a model's config.json. Throws CoreError('unsupported') naming the architecture it cannot run. */
export function parseLlamaConfig(outer: Record<string, unknown>, path = 'config.json'): LlamaConfig {
  const architecture = pickArchitecture(outer, path);
  refuseQuantized(outer, path);
  const family = familyOf(architecture);
  // Gemma3ForConditionalGeneration: the language model's fields live in text_config, with Gemma3TextConfig defaults.
  const raw = textConfigOf(architecture, outer);
  const hiddenSize = int(raw.hidden_size, 'hidden_size', path);
  const numHeads = int(raw.num_attention_heads, 'num_attention_heads', path);
  const numKvHeads = int(raw.num_key_value_heads, 'num_key_value_heads', path, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new CoreError('bad-format', `${path}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads}).`, path);
  }
  const headDim = int(raw.head_dim, 'head_dim', path, Math.floor(hiddenSize / numHeads));
  const numLayers = int(raw.num_hidden_layers, 'num_hidden_layers', path);
  // Per-layer tables are sized by it: a damaged value must not allocate gigabytes (the deepest models have ~130).
  if (numLayers > MAX_LAYERS) throw new CoreError('bad-format', tr`${path}: num_hidden_layers is ${numLayers}, more than any model has (at most ${MAX_LAYERS} are accepted).`, path);
  const maxPositionEmbeddings = int(raw.max_position_embeddings, 'max_position_embeddings', path, 2048);
  const variant = parseVariant(architecture, raw, { numLayers, path });
  // Sliding windows on every layer (Mistral, Qwen2, Phi-3): the engine attends over the whole cache, which is the same
  // computation as long as the context stays within the window, so the context is capped at the window.
  const sliding = family.slidingEveryLayer && raw.use_sliding_window !== false ? raw.sliding_window : null;
  const ropeScaling = raw.rope_scaling && typeof raw.rope_scaling === 'object' && !Array.isArray(raw.rope_scaling)
    ? raw.rope_scaling as Record<string, unknown> : null;
  return {
    architecture,
    modelType: typeof raw.model_type === 'string' ? raw.model_type : family.modelTypes[0]!,
    vocabSize: int(raw.vocab_size, 'vocab_size', path),
    hiddenSize,
    intermediateSize: int(raw.intermediate_size, 'intermediate_size', path),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: numOr(raw.rms_norm_eps, 1e-6),
    ropeTheta: numOr(raw.rope_theta, 10000),
    ropeScaling,
    partialRotaryFactor: numOr(raw.partial_rotary_factor, 1),
    maxPositionEmbeddings: typeof sliding === 'number' && sliding > 0 ? Math.min(maxPositionEmbeddings, sliding) : maxPositionEmbeddings,
    ropeMaxPositions: maxPositionEmbeddings,
    originalMaxPositionEmbeddings: typeof raw.original_max_position_embeddings === 'number' ? raw.original_max_position_embeddings : null,
    tieWordEmbeddings: raw.tie_word_embeddings === true || (raw.tie_word_embeddings === undefined && family.tiedByDefault),
    attentionBias: raw.attention_bias === true || family.qkvBias,
    mlpBias: raw.mlp_bias === true,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    eosTokenIds: idList(outer.eos_token_id ?? raw.eos_token_id),
    torchDtype: typeof (outer.torch_dtype ?? raw.torch_dtype) === 'string' ? String(outer.torch_dtype ?? raw.torch_dtype) : null,
    variant,
  };
}
