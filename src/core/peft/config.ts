// PEFT adapter_config.json as a typed, normalised object, plus the per-module rank/alpha/scaling rules PEFT applies.
// Reference: huggingface/peft src/peft/tuners/lora/{config,model,layer}.py (LoraConfig, _create_and_replace, get_pattern_key).
// Parsing with source ranges (for diagnostics) lives in peft/parse.ts; this module works on plain values.

export type AdapterFormat = 'peft' | 'mlx' | 'unknown';
export type LoraVariant = 'lora' | 'rslora' | 'dora' | 'other';

/** Normalised view of a PEFT LoraConfig (fields PEFT itself reads; unknown keys are kept in `raw`). */
export interface PeftConfig {
  readonly format: AdapterFormat;
  /** peft_type as written, e.g. 'LORA'. */
  readonly peftType: string | null;
  readonly taskType: string | null;
  readonly baseModel: string | null;
  readonly revision: string | null;
  readonly r: number;
  readonly loraAlpha: number;
  readonly useRslora: boolean;
  readonly useDora: boolean;
  /** A list of module name suffixes, a regex string (re.fullmatch on the module path), 'all-linear', or null. */
  readonly targetModules: readonly string[] | string | null;
  readonly excludeModules: readonly string[] | string | null;
  readonly modulesToSave: readonly string[];
  readonly fanInFanOut: boolean;
  readonly bias: 'none' | 'all' | 'lora_only';
  readonly loraBias: boolean;
  /** Insertion-ordered: PEFT takes the first matching key. */
  readonly rankPattern: ReadonlyArray<readonly [string, number]>;
  readonly alphaPattern: ReadonlyArray<readonly [string, number]>;
  readonly layersToTransform: readonly number[] | null;
  readonly layersPattern: readonly string[] | string | null;
  readonly layerReplication: unknown;
  readonly peftVersion: string | null;
  readonly raw: Readonly<Record<string, unknown>>;
}

export function variantOf(c: PeftConfig): LoraVariant {
  if (c.peftType !== null && c.peftType.toUpperCase() !== 'LORA') return 'other';
  if (c.useDora) return 'dora';
  if (c.useRslora) return 'rslora';
  return 'lora';
}

/** Recognise the config family from its keys: MLX-LM writes fine_tune_type / lora_parameters, not peft_type. */
export function detectAdapterFormat(raw: Record<string, unknown>): AdapterFormat {
  if (typeof raw.peft_type === 'string') return 'peft';
  if ('fine_tune_type' in raw || 'lora_parameters' in raw) return 'mlx';
  return 'unknown';
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function strList(v: unknown): string[] | string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return null;
}

function patternEntries(v: unknown): Array<[string, number]> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number');
}

/** Build a PeftConfig from parsed JSON. Missing fields take PEFT's defaults (r=8, lora_alpha=8, bias='none'). */
export function normalizePeftConfig(raw: Record<string, unknown>): PeftConfig {
  const layers = raw.layers_to_transform;
  const bias = raw.bias === 'all' || raw.bias === 'lora_only' ? raw.bias : 'none';
  return {
    format: detectAdapterFormat(raw),
    peftType: str(raw.peft_type),
    taskType: str(raw.task_type),
    baseModel: str(raw.base_model_name_or_path),
    revision: str(raw.revision),
    r: num(raw.r, 8),
    loraAlpha: num(raw.lora_alpha, 8),
    useRslora: raw.use_rslora === true,
    useDora: raw.use_dora === true,
    targetModules: strList(raw.target_modules),
    excludeModules: strList(raw.exclude_modules),
    modulesToSave: Array.isArray(raw.modules_to_save) ? raw.modules_to_save.filter((x): x is string => typeof x === 'string') : [],
    fanInFanOut: raw.fan_in_fan_out === true,
    bias,
    loraBias: raw.lora_bias === true,
    rankPattern: patternEntries(raw.rank_pattern),
    alphaPattern: patternEntries(raw.alpha_pattern),
    layersToTransform: typeof layers === 'number' ? [layers] : Array.isArray(layers) ? layers.filter((x): x is number => typeof x === 'number') : null,
    layersPattern: strList(raw.layers_pattern),
    layerReplication: raw.layer_replication ?? null,
    peftVersion: str(raw.peft_version),
    raw,
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The first pattern key matching `moduleName` in dict order, PEFT's get_pattern_key: a key matches when the module
 * name ends with it at a '.' boundary, i.e. re.match(rf"(.*\.)?({key})$", name). Keys are regexes in PEFT.
 */
export function matchPatternKey(patterns: ReadonlyArray<readonly [string, number]>, moduleName: string): readonly [string, number] | null {
  for (const entry of patterns) {
    let re: RegExp;
    try {
      re = new RegExp(`^(.*\\.)?(${entry[0]})$`);
    } catch {
      re = new RegExp(`^(.*\\.)?(${escapeRegExp(entry[0])})$`);
    }
    if (re.test(moduleName)) return entry;
  }
  return null;
}

export interface ModuleScaling {
  readonly r: number;
  readonly alpha: number;
  /** alpha / r, or alpha / sqrt(r) with use_rslora. */
  readonly scaling: number;
}

/**
 * r, alpha and scaling for one adapted module. `moduleName` is the module path inside the model without the PEFT
 * prefix, e.g. 'model.layers.0.self_attn.q_proj'.
 */
export function moduleScaling(c: PeftConfig, moduleName: string): ModuleScaling {
  const r = matchPatternKey(c.rankPattern, moduleName)?.[1] ?? c.r;
  const alpha = matchPatternKey(c.alphaPattern, moduleName)?.[1] ?? c.loraAlpha;
  const scaling = c.useRslora ? alpha / Math.sqrt(r) : alpha / r;
  return { r, alpha, scaling };
}
