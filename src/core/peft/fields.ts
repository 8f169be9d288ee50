// Every adapter_config.json field PEFT's LoraConfig (and PeftConfig) knows, with the PEFT version that introduced it.
// The JSON schema (schemas/adapter_config.schema.json) documents the same table; a unit test keeps the two in sync.
// Reference: huggingface/peft src/peft/config.py, src/peft/tuners/lora/config.py and the release notes.

export interface PeftField {
  /** First PEFT release that writes/reads the field. */
  readonly since: string;
  /** Removed in this release (old configs still carry it). */
  readonly removedIn?: string;
}

export const PEFT_FIELDS: Readonly<Record<string, PeftField>> = {
  peft_type: { since: '0.2' },
  task_type: { since: '0.2' },
  base_model_name_or_path: { since: '0.2' },
  inference_mode: { since: '0.2' },
  r: { since: '0.2' },
  lora_alpha: { since: '0.2' },
  lora_dropout: { since: '0.2' },
  target_modules: { since: '0.2' },
  fan_in_fan_out: { since: '0.2' },
  bias: { since: '0.2' },
  modules_to_save: { since: '0.2' },
  merge_weights: { since: '0.2', removedIn: '0.3' },
  enable_lora: { since: '0.2', removedIn: '0.3' },
  init_lora_weights: { since: '0.3' },
  revision: { since: '0.4' },
  layers_to_transform: { since: '0.4' },
  layers_pattern: { since: '0.4' },
  auto_mapping: { since: '0.4' },
  rank_pattern: { since: '0.6' },
  alpha_pattern: { since: '0.6' },
  megatron_config: { since: '0.6' },
  megatron_core: { since: '0.6' },
  loftq_config: { since: '0.7' },
  use_rslora: { since: '0.8' },
  use_dora: { since: '0.9' },
  layer_replication: { since: '0.10' },
  runtime_config: { since: '0.12' },
  exclude_modules: { since: '0.14' },
  lora_bias: { since: '0.14' },
  eva_config: { since: '0.14' },
  corda_config: { since: '0.15' },
  trainable_token_indices: { since: '0.15' },
  use_qalora: { since: '0.17' },
  qalora_group_size: { since: '0.17' },
  target_parameters: { since: '0.17' },
  alora_invocation_tokens: { since: '0.17' },
  arrow_config: { since: '0.17' },
  peft_version: { since: '0.18' },
  ensure_weight_tying: { since: '0.18' },
};

export function isKnownPeftField(key: string): boolean {
  return Object.prototype.hasOwnProperty.call(PEFT_FIELDS, key);
}
