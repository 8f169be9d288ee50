// Inspect one adapter folder or full-model folder found by the scan: config fields, header-derived size and dtype,
// and artifact health. Reads configs and safetensors headers only.

import { CoreError } from '../errors';
import { normalizePeftConfig, variantOf, type AdapterFormat, type LoraVariant } from '../peft/config';
import type { FsPort } from '../ports';
import { basename, joinPath } from '../paths';
import { readFully } from '../safetensors/header';
import { readModelWeights, detectWeightsLayout } from '../safetensors/modelWeights';
import { numel } from '../tensor/dtype';
import type { Adapter, Health, HealthCode, MergeProvenance, ModelInfo, WeightsFile } from './model';
import { checkSafetensors, checkTorchBin, MAX_SCAN_HEADER_BYTES } from './weightsHealth';
import { errorTextFields, tr, textFields } from '../text';

export type JsonRead = { ok: true; value: unknown } | { ok: false; health: Health };

/**
 * Read a JSON file strictly: UTF-8 (a BOM is tolerated, Windows editors add one), size-capped so a huge file is a
 * finding and not a stall. `code` is the health code used for a bad file.
 */
export async function readJsonFile(fs: FsPort, file: string, maxBytes: number, code: HealthCode, severity: Health['severity'] = 'error'): Promise<JsonRead> {
  let bytes: Uint8Array;
  try {
    // open() + one read: a scan reads thousands of small JSON files, and stat + readFile would double the syscalls.
    const src = await fs.open(file);
    try {
      if (src.size > maxBytes) {
        return { ok: false, health: { code: 'too-large', severity: 'warning', ...textFields(tr`${file}: ${src.size} bytes is larger than the ${maxBytes}-byte limit; not read.`), file } };
      }
      bytes = new Uint8Array(src.size);
      await readFully(src, 0, bytes);
    } finally {
      await src.close();
    }
  } catch (e) {
    if (e instanceof CoreError && e.code === 'not-found') return { ok: false, health: { code, severity, ...textFields(tr`${file}: the file is missing (a dangling link?).`), file } };
    return { ok: false, health: { code: 'unreadable', severity, ...(e instanceof CoreError ? errorTextFields(e) : textFields(tr`${file}: cannot be read (${(e as Error).message}).`)), file } };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, health: { code, severity, ...textFields(tr`${file}: is not UTF-8 text (saved in another encoding, or a binary file).`), file } };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const hint = text.startsWith('version https://git-lfs') ? tr` It is a Git LFS pointer: run git lfs pull.` : '';
    return { ok: false, health: { code, severity, ...textFields(tr`${file}: is not valid JSON (${(e as Error).message}).${hint}`), file } };
  }
}

const WEIGHT_FILES: readonly WeightsFile[] = ['adapter_model.safetensors', 'adapter_model.bin', 'adapters.safetensors'];

export function isAdapterFolder(files: readonly string[]): boolean {
  return files.includes('adapter_config.json') || files.includes('adapter_model.safetensors') || files.includes('adapter_model.bin');
}

/** Which tool's layout a folder's name and config point to. */
function layoutOf(dir: string, format: AdapterFormat, baseModel: string | null): string | null {
  const name = basename(dir);
  if (format === 'mlx') return 'mlx-lm';
  if (name === 'sft_lora_model' || name === 'pt_lora_model') return 'chinese-llama-alpaca-2';
  if (/\/saves\/[^/]+\/[^/]+\/[^/]+(?:\/checkpoint-\d+)?$/.test(dir)) return 'llama-factory';
  if (name === 'lora_model' || baseModel?.startsWith('unsloth/')) return 'unsloth';
  return null;
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function patternRecord(entries: ReadonlyArray<readonly [string, number]>): Record<string, number> {
  return Object.fromEntries(entries);
}

/** Inspect an adapter folder given the file names the walk listed. */
export async function inspectAdapter(fs: FsPort, dir: string, files: readonly string[]): Promise<Adapter> {
  const health: Health[] = [];
  const configPath = joinPath(dir, 'adapter_config.json');
  let raw: Record<string, unknown> | null = null;
  if (files.includes('adapter_config.json')) {
    const r = await readJsonFile(fs, configPath, MAX_SCAN_HEADER_BYTES, 'bad-config');
    if (!r.ok) health.push(r.health);
    else if (typeof r.value !== 'object' || r.value === null || Array.isArray(r.value)) {
      health.push({ code: 'bad-config', severity: 'error', ...textFields(tr`${configPath}: is not a JSON object.`), file: configPath });
    } else raw = r.value as Record<string, unknown>;
  }

  let format: AdapterFormat = 'unknown';
  let peftType: string | null = null;
  let variant: LoraVariant | null = null;
  let r: number | null = null;
  let alpha: number | null = null;
  let scaling: number | null = null;
  let targetModules: readonly string[] | string | null = null;
  let modulesToSave: readonly string[] = [];
  let baseModel: string | null = null;
  let rankPattern: Record<string, number> = {};
  let alphaPattern: Record<string, number> = {};
  let peft: ReturnType<typeof normalizePeftConfig> | null = null;
  if (raw !== null) {
    const c = normalizePeftConfig(raw);
    format = c.format;
    if (format === 'mlx') {
      // MLX-LM: {fine_tune_type, lora_parameters: {rank, scale, dropout, keys}, model, num_layers}; scale IS the scaling.
      const lp = (raw.lora_parameters ?? {}) as Record<string, unknown>;
      const ft = typeof raw.fine_tune_type === 'string' ? raw.fine_tune_type : 'lora';
      variant = ft === 'dora' ? 'dora' : ft === 'lora' ? 'lora' : 'other';
      r = numOrNull(lp.rank);
      scaling = numOrNull(lp.scale);
      targetModules = Array.isArray(lp.keys) ? lp.keys.filter((k): k is string => typeof k === 'string') : null;
      baseModel = typeof raw.model === 'string' ? raw.model : null;
      health.push({ code: 'mlx-adapter', severity: 'info', ...textFields(tr`${configPath}: MLX adapter (not PEFT): MLX-LM's own format; PEFT tools cannot load it without conversion.`), file: configPath });
    } else {
      peft = c;
      peftType = c.peftType;
      variant = variantOf(c);
      r = c.r;
      alpha = c.loraAlpha;
      scaling = c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
      targetModules = c.targetModules;
      modulesToSave = c.modulesToSave;
      baseModel = c.baseModel;
      rankPattern = patternRecord(c.rankPattern);
      alphaPattern = patternRecord(c.alphaPattern);
      if (format === 'unknown') {
        health.push({ code: 'unknown-format', severity: 'warning', ...textFields(tr`${configPath}: has no "peft_type": not a PEFT adapter config PEFT can load.`), file: configPath });
      }
    }
  }

  const weightsFile = WEIGHT_FILES.find((w) => files.includes(w)) ?? null;
  let weightsBytes: number | null = null;
  let params: number | null = null;
  let dtype: string | null = null;
  let dtypes: string[] = [];
  let tensorCount: number | null = null;
  if (weightsFile !== null) {
    const wpath = joinPath(dir, weightsFile);
    const check = weightsFile.endsWith('.bin') ? await checkTorchBin(fs, wpath) : await checkSafetensors(fs, wpath);
    health.push(...check.health);
    weightsBytes = check.size;
    if (check.header) {
      const h = check.header;
      params = h.params;
      tensorCount = h.tensorCount;
      dtypes = [...h.dtypeElems.keys()].sort();
      dtype = [...h.dtypeElems].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
      if (peft !== null && check.health.length === 0) {
        const mismatch = rankMismatch(peft.r, peft.rankPattern, h.loraARanks);
        if (mismatch) health.push({ code: 'rank-mismatch', severity: 'warning', ...textFields(tr`${wpath}: ${mismatch}`), file: wpath });
      }
    }
  }

  if (raw === null && weightsFile !== null && !health.some((h) => h.code === 'bad-config' || h.code === 'unreadable')) {
    health.push({ code: 'missing-config', severity: 'error', ...textFields(tr`${dir}: has ${weightsFile} but no adapter_config.json; PEFT cannot load weights without their config.`), file: joinPath(dir, weightsFile) });
  }
  if (files.includes('adapter_config.json') && weightsFile === null) {
    health.push({ code: 'missing-weights', severity: 'error', ...textFields(tr`${configPath}: no adapter weights next to it (adapter_model.safetensors or adapter_model.bin).`), file: configPath });
  }

  return {
    path: dir,
    format,
    peftType,
    variant,
    r,
    alpha,
    scaling,
    targetModules,
    modulesToSave,
    baseModel,
    weightsFile,
    weightsBytes,
    params,
    dtype,
    dtypes,
    tensorCount,
    rankPattern,
    alphaPattern,
    layout: layoutOf(dir, format, baseModel),
    health,
  };
}

/** A lora_A whose first dimension disagrees with the config's r (rank_pattern aware): a config from another run. */
function rankMismatch(r: number, rankPattern: ReadonlyArray<readonly [string, number]>, loraARanks: ReadonlyArray<readonly [string, number]>): string | null {
  if (rankPattern.length > 0) return null; // per-module ranks: checking each needs the pattern matcher per key; left to diagnose
  for (const [name, rank] of loraARanks) {
    if (rank !== r) return `tensor '${name}' has rank ${rank} but adapter_config.json says r=${r}: the config does not belong to these weights.`;
  }
  return null;
}

const MODEL_WEIGHT_NAME = /^(?:model(?:-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|pytorch_model(?:-\d+-of-\d+)?\.bin|pytorch_model\.bin\.index\.json)$/;

export function isModelFolder(files: readonly string[]): boolean {
  return files.includes('config.json') && files.some((f) => MODEL_WEIGHT_NAME.test(f));
}

/** Inspect a full-model folder (config.json + weights). Returns null when config.json is not a transformers config. */
export async function inspectModel(fs: FsPort, dir: string): Promise<ModelInfo | null> {
  const configPath = joinPath(dir, 'config.json');
  const health: Health[] = [];
  const r = await readJsonFile(fs, configPath, MAX_SCAN_HEADER_BYTES, 'bad-config');
  let cfg: Record<string, unknown> = {};
  if (!r.ok) health.push(r.health);
  else if (typeof r.value === 'object' && r.value !== null && !Array.isArray(r.value)) cfg = r.value as Record<string, unknown>;
  if (r.ok && !('model_type' in cfg) && !('architectures' in cfg)) return null;
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.filter((a): a is string => typeof a === 'string') : [];
  const dtypeRaw = cfg.torch_dtype ?? cfg.dtype;
  let params: number | null = null;
  let weightsBytes: number | null = null;
  const found = await detectWeightsLayout(fs, dir);
  let layout: string = found?.layout ?? 'none';
  if (found && found.layout.startsWith('safetensors')) {
    try {
      const w = await readModelWeights(fs, dir);
      params = 0;
      for (const t of w.tensors.values()) params += numel(t.shape);
      weightsBytes = w.totalBytes;
    } catch (e) {
      const msg = (e as Error).message;
      const file = e instanceof CoreError && e.file ? e.file : found.entry;
      const code: HealthCode = /Git LFS/.test(msg) ? 'lfs-pointer' : /truncated/.test(msg) ? 'truncated' : 'malformed';
      health.push({ code, severity: 'error', ...errorTextFields(e), file });
    }
  } else if (found) {
    const st = await fs.stat(found.entry).catch(() => null);
    weightsBytes = st?.size ?? null;
  } else {
    layout = 'none';
  }
  return {
    path: dir,
    architecture: archs[0] ?? null,
    modelType: typeof cfg.model_type === 'string' ? cfg.model_type : null,
    dtype: typeof dtypeRaw === 'string' ? dtypeRaw : null,
    params,
    weightsBytes,
    layout,
    health,
    mergedFrom: await readMergeProvenance(fs, dir, health),
  };
}

/** Where a merged model came from: our merge writes merge_manifest.json beside the weights. */
async function readMergeProvenance(fs: FsPort, dir: string, health: Health[]): Promise<MergeProvenance | null> {
  const file = joinPath(dir, 'merge_manifest.json');
  if ((await fs.stat(file))?.kind !== 'file') return null;
  const r = await readJsonFile(fs, file, MAX_SCAN_HEADER_BYTES, 'bad-config', 'warning');
  if (!r.ok) {
    health.push(r.health);
    return null;
  }
  const m = (r.value && typeof r.value === 'object' ? r.value : {}) as { adapter?: { resolved?: unknown; variant?: unknown }; base?: { resolved?: unknown }; tool?: unknown };
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const tool = m.tool && typeof m.tool === 'object' ? (m.tool as { name?: unknown; version?: unknown }) : null;
  return {
    adapter: str(m.adapter?.resolved),
    base: str(m.base?.resolved),
    variant: str(m.adapter?.variant),
    tool: tool ? [str(tool.name), str(tool.version)].filter(Boolean).join(' ') || null : str(m.tool),
  };
}
