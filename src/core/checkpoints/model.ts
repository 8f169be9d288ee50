// The checkpoint explorer's data model: what a scan of a workspace finds (runs, checkpoints, adapters, full models)
// and the health of their artifacts. This is also the `lora-workbench scan --json` shape (issue 3): fields may be
// added, never renamed.

import type { Leftover } from '../merge/partialOutput';
import type { AdapterFormat, LoraVariant } from '../peft/config';
import type { Text } from '../text';

export type HealthSeverity = 'error' | 'warning' | 'info';

/** Stable kebab-case codes; front ends key icons, diagnostics and messages on them. */
export type HealthCode =
  | 'lfs-pointer'
  | 'truncated'
  | 'malformed'
  | 'empty-tensors'
  | 'tiny-weights'
  | 'legacy-pickle'
  | 'rank-mismatch'
  | 'missing-weights'
  | 'missing-config'
  | 'missing-adapter'
  | 'bad-config'
  | 'unknown-format'
  | 'mlx-adapter'
  | 'bad-trainer-state'
  | 'too-large'
  | 'unreadable'
  | 'symlink-loop'
  | 'depth-limit';

export interface Health {
  readonly code: HealthCode;
  readonly severity: HealthSeverity;
  /** One user-facing English sentence naming what is wrong and, where there is one, the fix. */
  readonly message: string;
  /** The same message as a Text, for front ends that show it in the user's language. */
  readonly text?: Text;
  /** Absolute path of the file (or folder) the finding is about. */
  readonly file: string;
}

export type WeightsFile = 'adapter_model.safetensors' | 'adapter_model.bin' | 'adapters.safetensors';

export interface Adapter {
  /** Absolute folder path. */
  readonly path: string;
  readonly format: AdapterFormat;
  readonly peftType: string | null;
  readonly variant: LoraVariant | null;
  readonly r: number | null;
  /** lora_alpha; null for MLX adapters, which store the scaling itself. */
  readonly alpha: number | null;
  /** Effective scaling of the default rank: alpha / r, or alpha / sqrt(r) with rsLoRA (MLX: `scale`). */
  readonly scaling: number | null;
  readonly targetModules: readonly string[] | string | null;
  readonly modulesToSave: readonly string[];
  /** base_model_name_or_path exactly as written (MLX: `model`). */
  readonly baseModel: string | null;
  readonly weightsFile: WeightsFile | null;
  readonly weightsBytes: number | null;
  /** Total elements of the saved tensors (trainable parameters), from the safetensors header; null for .bin. */
  readonly params: number | null;
  /** Dominant tensor dtype from the header ('F32', 'BF16', ...; 'mixed' lists them in dtypes). */
  readonly dtype: string | null;
  readonly dtypes: readonly string[];
  readonly tensorCount: number | null;
  readonly rankPattern: Readonly<Record<string, number>>;
  readonly alphaPattern: Readonly<Record<string, number>>;
  /** Which tool's layout this folder follows when it can be told (e.g. 'unsloth', 'chinese-llama-alpaca-2'). */
  readonly layout: string | null;
  readonly health: readonly Health[];
}

export interface CheckpointMetrics {
  readonly loss: number | null;
  readonly evalLoss: number | null;
  readonly epoch: number | null;
  readonly learningRate: number | null;
  readonly gradNorm: number | null;
}

/** Files next to the adapter that tell the user what a checkpoint can be used for. */
export interface CheckpointFiles {
  readonly optimizer: boolean;
  readonly scheduler: boolean;
  readonly rngState: boolean;
  readonly scaler: boolean;
  readonly trainingArgs: boolean;
  readonly trainerState: boolean;
  readonly tokenizer: boolean;
  readonly readme: boolean;
  /** DeepSpeed `global_stepN/` folder name, when present. */
  readonly deepspeed: string | null;
  /** Full-model weights (a full fine-tune checkpoint, not an adapter). */
  readonly fullModel: boolean;
  /** Every file name in the folder (sorted), for tooltips. */
  readonly names: readonly string[];
}

export interface Checkpoint {
  /** Absolute folder path. */
  readonly path: string;
  /** Folder name, e.g. 'checkpoint-600' or 'sft_lora_model' for a final adapter. */
  readonly name: string;
  readonly step: number | null;
  /** The run's final output (adapter saved at the run root), not a checkpoint-N folder. */
  readonly final: boolean;
  readonly best: boolean;
  readonly metrics: CheckpointMetrics;
  readonly adapter: Adapter | null;
  readonly files: CheckpointFiles;
  /** Findings about this checkpoint, including its adapter's health (so the worst severity is one lookup). */
  readonly health: readonly Health[];
}

export type RunKind = 'hf-trainer' | 'llama-factory' | 'chinese-llama-alpaca-2' | 'axolotl' | 'deepspeed';

export interface Run {
  readonly path: string;
  readonly name: string;
  readonly kind: RunKind;
  /** The newest trainer_state.json (highest global_step), which the metrics and curves come from. */
  readonly trainerState: string | null;
  readonly globalStep: number | null;
  readonly maxSteps: number | null;
  readonly bestStep: number | null;
  /** best_metric as written (the metric named by metric_for_best_model, eval_loss by default). */
  readonly bestMetric: number | null;
  /** In numeric step order; the final output (step null or the run's last step) last. */
  readonly checkpoints: readonly Checkpoint[];
  /** axolotl `merged/` (a full model), when present. */
  readonly mergedModel: string | null;
  readonly health: readonly Health[];
}

export type { GgufInfo } from '../gguf/inspect';
import type { GgufInfo } from '../gguf/inspect';

export interface ModelInfo {
  readonly path: string;
  readonly architecture: string | null;
  readonly modelType: string | null;
  readonly dtype: string | null;
  readonly params: number | null;
  readonly weightsBytes: number | null;
  readonly layout: string;
  readonly health: readonly Health[];
  /** Provenance of a model written by our merge (from its merge_manifest.json), else null. */
  readonly mergedFrom: MergeProvenance | null;
}

export interface MergeProvenance {
  /** Adapter and base folders as the merge resolved them (absolute). */
  readonly adapter: string | null;
  readonly base: string | null;
  readonly variant: string | null;
  readonly tool: string | null;
}

export interface ScanResult {
  readonly roots: readonly string[];
  readonly runs: readonly Run[];
  /** Every adapter folder found, including those inside runs. */
  readonly adapters: readonly Adapter[];
  readonly models: readonly ModelInfo[];
  /** GGUF files (llama.cpp models and adapters), from their headers. */
  readonly gguf: readonly GgufInfo[];
  /** Findings not tied to a run/adapter/model: unreadable folders, symlink loops, depth limit. */
  readonly problems: readonly Health[];
  /** Temporary output folders of merges (`.<name>.partial-<id>`), with their size and owner: disk to reclaim. */
  readonly leftovers: readonly Leftover[];
  readonly stats: { readonly dirs: number; readonly files: number; readonly ms: number };
}

const RANK: Record<HealthSeverity, number> = { error: 3, warning: 2, info: 1 };

/** The most severe severity among findings, or null when there are none. */
export function worstSeverity(health: readonly Health[]): HealthSeverity | null {
  let worst: HealthSeverity | null = null;
  for (const h of health) if (worst === null || RANK[h.severity] > RANK[worst]) worst = h.severity;
  return worst;
}
