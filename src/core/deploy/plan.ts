// planDeployment: the three ways to deploy a LoRA adapter (the seed article's options, DOMAIN.md section 1), with real
// numbers for this adapter and its base, from headers and file sizes only: (a) the adapter alone on a shared base,
// (b) a merged safetensors model per dtype (planMerge's output tensors and shards), (c) a GGUF file per type
// (planGgufExport's layout). Each option carries the lora-workbench command line that produces it in a container build.

import { diagnoseAdapter, locateAdapterConfig, type Diagnosis } from '../basemodel/diagnose';
import { findRunAdapters } from '../basemodel/relink';
import { CoreError, toCoreError } from '../errors';
import type { ExportType } from '../gguf/format';
import { ggufTensorBytes, ggufTypesOf, planGgufTypes, type GgufTypePlan } from '../gguf/typeSizes';
import { BASE_EXTRA_FILES, planMerge, readAdapterWeights, TOKENIZER_FILES, type MergePlan } from '../merge/plan';
import { basename, dirname, joinPath, relativePath } from '../paths';
import type { FsPort } from '../ports';
import { buildShardIndex } from '../safetensors/writer';
import { BIN_INDEX, SAFETENSORS_INDEX, type BinHeaderReader, type ModelWeights } from '../safetensors/modelWeights';
import { isFloatDType, numel, type DType, type FloatDType } from '../tensor/dtype';
import { errorTextFields, textFields, tr, type HasText } from '../text';
import { readTorchBinTensors } from '../torchpickle/binReader';
import { BASE_PLACEHOLDER, diagnoseLine, ggufLine, mergeLine } from './commandLine';

export type MergeDtype = 'float32' | 'float16' | 'bfloat16';
export const MERGE_DTYPES: readonly MergeDtype[] = ['float32', 'float16', 'bfloat16'];
const DTYPE_SUFFIX: Readonly<Record<MergeDtype, string>> = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' };

export interface DeployFile {
  /** Path relative to its folder. */
  readonly name: string;
  readonly bytes: number;
}

export interface DeployBase {
  /** ok: resolved and fits; missing: not found; incompatible: found but the adapter does not fit it. */
  readonly status: 'ok' | 'missing' | 'incompatible';
  /** base_model_name_or_path as written in adapter_config.json. */
  readonly recorded: string | null;
  /** The base folder (the one to share), null when missing. */
  readonly path: string | null;
  /** Why the base is missing or does not fit. */
  readonly reason: HasText | null;
  /** What a loader needs from the base folder: weights (and index), config, tokenizer, generation config. */
  readonly files: readonly DeployFile[];
  readonly bytes: number | null;
  /** Tensor data of the base's weights. */
  readonly weightsBytes: number | null;
  /** The dtype most of the base's parameters are stored in. */
  readonly dtype: FloatDType | null;
}

export interface SharedBaseOption {
  /** The adapter's own deployable files: config, weights, a tokenizer shipped beside them. */
  readonly adapterFiles: readonly DeployFile[];
  readonly adapterBytes: number;
  /** Tensor data of the adapter weights. */
  readonly adapterWeightsBytes: number;
  /** Adapters of this run that record the same base (this one included): all can share one copy of it. */
  readonly runAdapters: number;
  /** Whether base_model_name_or_path already names the base folder as an absolute path. */
  readonly recordsSharedPath: boolean;
  /** Weights in memory at load time: the base's plus this adapter's (applied unmerged). */
  readonly loadBytes: number | null;
  /** Disk for N adapters on one base next to N merged models (in the base's dtype). */
  readonly sharing: ReadonlyArray<{ readonly adapters: number; readonly sharedBytes: number | null; readonly mergedBytes: number | null }>;
  readonly command: string;
}

interface Sized {
  readonly outPath: string;
  /** Bytes on disk of the output, null when it cannot be written (see error). */
  readonly bytes: number | null;
  /** Weights in memory at load time (tensor data). */
  readonly loadBytes: number | null;
  readonly tensors: number | null;
  readonly command: string;
  readonly error: HasText | null;
}

export interface MergedOption extends Sized {
  readonly dtype: MergeDtype;
  /** The .safetensors shards alone. */
  readonly weightsFileBytes: number | null;
  readonly shards: number | null;
  /** Whether the base already stores this dtype (what --dtype auto keeps). */
  readonly isBaseDtype: boolean;
}

export interface GgufOption extends Sized {
  readonly type: ExportType;
}

export interface DeployPlan {
  readonly adapterPath: string;
  readonly configPath: string;
  readonly base: DeployBase;
  readonly shared: SharedBaseOption;
  readonly merged: readonly MergedOption[];
  readonly gguf: readonly GgufOption[];
}

export interface DeployOptions {
  /** Plan against this base folder instead of the recorded one. */
  readonly base?: string;
  readonly workspaceFolders?: readonly string[];
  readonly searchPaths?: readonly string[];
  readonly binReader?: BinHeaderReader;
}

/** One line each on when an option fits, after the seed article. */
export const OPTION_NOTES = {
  shared: tr`Fits when several adapters share one base: the base is stored once (on shared storage or a volume), each adapter adds only its own size; the base must be reachable where the adapter is loaded.`,
  merged: tr`Simplest to serve: one standalone model that loads without PEFT or the base; the image grows by the whole model for each adapter.`,
  gguf: tr`For llama.cpp, Ollama and LM Studio: one file; the quantized types are smaller and lossy.`,
};

async function sizeOf(fs: FsPort, folder: string, name: string): Promise<DeployFile | null> {
  const st = await fs.stat(joinPath(folder, name));
  return st?.kind === 'file' ? { name, bytes: st.size } : null;
}

/** The files of `names` that exist in `folder`, with their sizes. */
async function sizesOf(fs: FsPort, folder: string, names: readonly string[]): Promise<DeployFile[]> {
  const found = await Promise.all(names.map((n) => sizeOf(fs, folder, n)));
  return found.filter((f): f is DeployFile => f !== null);
}

const total = (files: readonly DeployFile[]): number => files.reduce((s, f) => s + f.bytes, 0);

/** The config must be a PEFT adapter config that parses; anything else is refused naming the file. */
function checkAdapterConfig(d: Diagnosis): void {
  // PEFT's json.load fails on a syntax error, so a plan of what the tolerant parser recovered would mislead.
  const syntax = d.problems.find((p) => p.code === 'json-syntax');
  if (d.format === 'peft' && d.config && !syntax) return;
  const why = d.format === 'mlx' ? tr`it is an MLX-LM adapter config, not PEFT` : syntax?.text ?? d.problems.find((p) => p.severity === 'error')?.text ?? tr`it is not a PEFT adapter config`;
  throw new CoreError('bad-format', tr`${d.configPath}: cannot plan a deployment: ${why}.`, d.configPath);
}

function dominantDtype(weights: ModelWeights): FloatDType | null {
  const byDtype = new Map<DType, number>();
  for (const t of weights.tensors.values()) byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0) + numel(t.shape));
  const top = [...byDtype].sort((a, b) => b[1] - a[1])[0]?.[0];
  return top && isFloatDType(top) ? top : null;
}

function baseReason(d: Diagnosis): HasText {
  const p = d.incompatibilities[0] ?? d.problems.find((x) => x.code.startsWith('base-model') && x.severity === 'error');
  if (p) return p;
  return textFields(d.base.raw === null
    ? tr`adapter_config.json records no base model (base_model_name_or_path is empty).`
    : tr`The base model ${d.base.raw} was not found.`);
}

function unresolvedBase(d: Diagnosis, status: DeployBase['status']): DeployBase {
  return { status, recorded: d.base.raw, path: status === 'missing' ? null : d.base.resolved, reason: baseReason(d), files: [], bytes: null, weightsBytes: null, dtype: null };
}

async function baseOf(fs: FsPort, d: Diagnosis): Promise<DeployBase> {
  const weights = d.base.info?.weights;
  if (!d.base.resolved || !weights) return unresolvedBase(d, 'missing');
  if (d.compatible === false) return unresolvedBase(d, 'incompatible');
  const index = weights.layout === 'safetensors-sharded' ? [SAFETENSORS_INDEX] : weights.layout === 'bin-sharded' ? [BIN_INDEX] : [];
  const names = [...weights.files.map((f) => relativePath(weights.folder, f)), ...index, 'config.json', ...BASE_EXTRA_FILES, ...TOKENIZER_FILES];
  const files = await sizesOf(fs, weights.folder, names);
  return { status: 'ok', recorded: d.base.raw, path: d.base.resolved, reason: null, files, bytes: total(files), weightsBytes: weights.totalBytes, dtype: dominantDtype(weights) };
}

/** The base argument of the printed command lines: a placeholder until a base that fits is known. */
const baseArg = (base: DeployBase): string => (base.status === 'ok' && base.path ? base.path : BASE_PLACEHOLDER);

/** Bytes merge writes for this plan: shards, index, config, tokenizer and extra files (merge_manifest.json aside). */
async function mergedOutputBytes(fs: FsPort, plan: MergePlan): Promise<number> {
  const utf8 = (s: string): number => new TextEncoder().encode(s).length;
  const shards = plan.shards.reduce((s, x) => s + x.size, 0);
  const config = plan.outConfig ? utf8(JSON.stringify(plan.outConfig, null, 2) + '\n') : 0;
  const tokSource = plan.tokenizerFrom === 'adapter' ? plan.inputs.adapterPath : plan.inputs.basePath;
  const copied = total([...await sizesOf(fs, tokSource, plan.tokenizerFiles), ...await sizesOf(fs, plan.inputs.basePath, plan.extraFiles)]);
  return shards + utf8(buildShardIndex(plan.shards)) + config + copied;
}

async function mergedOption(fs: FsPort, adapter: string, base: DeployBase, dtype: MergeDtype, binReader: BinHeaderReader): Promise<MergedOption> {
  const outPath = joinPath(dirname(adapter), `${basename(adapter)}-merged-${DTYPE_SUFFIX[dtype]}`);
  const isBaseDtype = base.dtype !== null && DTYPE_SUFFIX[dtype] === base.dtype.toLowerCase();
  const none = { dtype, outPath, command: mergeLine(adapter, baseArg(base), outPath, dtype), isBaseDtype, bytes: null, loadBytes: null, tensors: null, weightsFileBytes: null, shards: null };
  if (base.status !== 'ok' || !base.path) return { ...none, error: base.reason };
  try {
    const plan = await planMerge(fs, { baseGiven: base.path, basePath: base.path, adapterGiven: adapter, adapterPath: adapter, dtype }, binReader);
    return {
      ...none, bytes: await mergedOutputBytes(fs, plan), loadBytes: plan.shards.reduce((s, x) => s + x.dataBytes, 0), tensors: plan.tensors.length,
      weightsFileBytes: plan.shards.reduce((s, x) => s + x.size, 0), shards: plan.shards.length, error: null,
    };
  } catch (e) {
    return { ...none, error: errorTextFields(toCoreError(e)) };
  }
}

function ggufOption(adapter: string, base: string, p: GgufTypePlan): GgufOption {
  const outPath = joinPath(dirname(adapter), `${basename(adapter)}-${p.type}.gguf`);
  const plan = p.plan;
  return {
    type: p.type, outPath, command: ggufLine(adapter, base, outPath, p.type), error: p.error,
    bytes: plan?.layout.fileSize ?? null, loadBytes: plan ? ggufTensorBytes(plan) : null, tensors: plan?.tensors.length ?? null,
  };
}

async function ggufOptions(fs: FsPort, adapter: string, base: DeployBase, binReader: BinHeaderReader): Promise<GgufOption[]> {
  const form = { modelPath: baseArg(base), adapterPath: adapter };
  const planned = base.status === 'ok'
    ? await planGgufTypes(fs, form, binReader)
    : ggufTypesOf(form).map((type): GgufTypePlan => ({ type, plan: null, error: base.reason }));
  return planned.map((p) => ggufOption(adapter, form.modelPath, p));
}

interface AdapterFacts {
  readonly files: readonly DeployFile[];
  /** Tensor data of the adapter weights. */
  readonly weightsBytes: number;
}

/** The adapter's weights (missing or unreadable ones are refused here, naming the file) and deployable files. */
async function adapterFacts(fs: FsPort, folder: string, binReader: BinHeaderReader): Promise<AdapterFacts> {
  const weights = await readAdapterWeights(fs, folder, binReader);
  const files = await sizesOf(fs, folder, ['adapter_config.json', basename(weights.file), ...TOKENIZER_FILES]);
  return { files, weightsBytes: [...weights.tensors.values()].reduce((s, t) => s + (t.end - t.begin), 0) };
}

async function sharedOption(fs: FsPort, d: Diagnosis, adapter: AdapterFacts, base: DeployBase, merged: readonly MergedOption[]): Promise<SharedBaseOption> {
  const adapterBytes = total(adapter.files);
  const runAdapters = Math.max(1, (await findRunAdapters(fs, d.adapterDir, d.base.raw)).length);
  const asBase = merged.find((m) => m.isBaseDtype)?.bytes ?? null;
  const sharing = [...new Set([1, runAdapters, 10])].sort((a, b) => a - b).map((n) => ({
    adapters: n, sharedBytes: base.bytes === null ? null : base.bytes + n * adapterBytes, mergedBytes: asBase === null ? null : n * asBase,
  }));
  return {
    adapterFiles: adapter.files, adapterBytes, adapterWeightsBytes: adapter.weightsBytes, runAdapters,
    recordsSharedPath: base.status === 'ok' && d.base.raw === base.path,
    loadBytes: base.weightsBytes === null ? null : base.weightsBytes + adapter.weightsBytes, sharing,
    command: diagnoseLine(d.adapterDir, baseArg(base)),
  };
}

/**
 * Plan the deployment of the adapter in `adapterPath` (a folder or its adapter_config.json). Throws CoreError naming
 * the file when the adapter itself cannot be read; a base that is missing or does not fit gives a plan with the
 * adapter's numbers only and `base.reason`.
 */
export async function planDeployment(fs: FsPort, adapterPath: string, opts: DeployOptions = {}): Promise<DeployPlan> {
  const binReader = opts.binReader ?? readTorchBinTensors;
  const configPath = await locateAdapterConfig(fs, adapterPath);
  const d = await diagnoseAdapter(fs, configPath, { base: opts.base, workspaceFolders: opts.workspaceFolders, searchPaths: opts.searchPaths, binReader, candidates: 'never' });
  checkAdapterConfig(d);
  const adapter = await adapterFacts(fs, d.adapterDir, binReader);
  const base = await baseOf(fs, d);
  const merged = await Promise.all(MERGE_DTYPES.map((dtype) => mergedOption(fs, d.adapterDir, base, dtype, binReader)));
  const shared = await sharedOption(fs, d, adapter, base, merged);
  const gguf = await ggufOptions(fs, d.adapterDir, base, binReader);
  return { adapterPath: d.adapterDir, configPath, base, shared, merged, gguf };
}
