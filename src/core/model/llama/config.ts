// config.json -> LlamaConfig for LlamaForCausalLM and the architectures that share its forward pass (Mistral without
// a sliding window in reach, Qwen2 with q/k/v biases). Reference: transformers configuration_llama.py (defaults).

import { CoreError } from '../../errors';

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
  /** head_dim, default hidden_size / num_attention_heads. */
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: Readonly<Record<string, unknown>> | null;
  readonly partialRotaryFactor: number;
  readonly maxPositionEmbeddings: number;
  readonly tieWordEmbeddings: boolean;
  /** q/k/v/o biases (attention_bias, or Qwen2's q/k/v biases: detected from the weights at load). */
  readonly attentionBias: boolean;
  readonly mlpBias: boolean;
  readonly bosTokenId: number | null;
  /** eos_token_id may be a list (Llama 3). */
  readonly eosTokenIds: readonly number[];
  readonly torchDtype: string | null;
}

/** Architectures whose forward pass is LlamaForCausalLM's. */
const SUPPORTED: Readonly<Record<string, string>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
};

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

/** Parse and validate a model's config.json. Throws CoreError('unsupported') naming the architecture it cannot run. */
export function parseLlamaConfig(raw: Record<string, unknown>, path = 'config.json'): LlamaConfig {
  const archs = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : '';
  const architecture = archs.find((a) => a in SUPPORTED) ?? (archs.length === 0 && ['llama', 'mistral', 'qwen2'].includes(modelType) ? 'LlamaForCausalLM' : null);
  if (architecture === null) {
    const named = archs.length > 0 ? archs.join(', ') : modelType || 'no architecture';
    throw new CoreError('unsupported',
      `${path}: the preview engine runs ${Object.keys(SUPPORTED).join(', ')} models; this model is ${named}.`, path);
  }
  if (typeof raw.quantization_config === 'object' && raw.quantization_config !== null) {
    const method = (raw.quantization_config as { quant_method?: unknown }).quant_method;
    throw new CoreError('unsupported', `${path}: pre-quantized weights (${String(method ?? 'unknown method')}) are not supported; use the 16-bit base model.`, path);
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'silu') {
    throw new CoreError('unsupported', `${path}: hidden_act '${String(raw.hidden_act)}' is not supported (only silu).`, path);
  }
  const hiddenSize = int(raw.hidden_size, 'hidden_size', path);
  const numHeads = int(raw.num_attention_heads, 'num_attention_heads', path);
  const numKvHeads = int(raw.num_key_value_heads, 'num_key_value_heads', path, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new CoreError('bad-format', `${path}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads}).`, path);
  }
  const headDim = int(raw.head_dim, 'head_dim', path, Math.floor(hiddenSize / numHeads));
  const maxPositionEmbeddings = int(raw.max_position_embeddings, 'max_position_embeddings', path, 2048);
  // Mistral/Qwen2 sliding windows: the engine attends over the whole cache, which is the same computation as long as
  // the context stays within the window, so the context is capped at the window.
  const sliding = raw.use_sliding_window === false ? null : raw.sliding_window;
  const ropeScaling = raw.rope_scaling && typeof raw.rope_scaling === 'object' && !Array.isArray(raw.rope_scaling)
    ? raw.rope_scaling as Record<string, unknown> : null;
  const qwen2 = SUPPORTED[architecture] === 'qwen2';
  return {
    architecture,
    modelType: modelType || SUPPORTED[architecture]!,
    vocabSize: int(raw.vocab_size, 'vocab_size', path),
    hiddenSize,
    intermediateSize: int(raw.intermediate_size, 'intermediate_size', path),
    numLayers: int(raw.num_hidden_layers, 'num_hidden_layers', path),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: typeof raw.rms_norm_eps === 'number' ? raw.rms_norm_eps : 1e-6,
    ropeTheta: typeof raw.rope_theta === 'number' ? raw.rope_theta : 10000,
    ropeScaling,
    partialRotaryFactor: typeof raw.partial_rotary_factor === 'number' ? raw.partial_rotary_factor : 1,
    maxPositionEmbeddings: typeof sliding === 'number' && sliding > 0 ? Math.min(maxPositionEmbeddings, sliding) : maxPositionEmbeddings,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    attentionBias: raw.attention_bias === true || qwen2,
    mlpBias: raw.mlp_bias === true,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    eosTokenIds: idList(raw.eos_token_id),
    torchDtype: typeof raw.torch_dtype === 'string' ? raw.torch_dtype : null,
  };
}
