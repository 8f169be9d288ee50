// Adapter anatomy: per adapted module, the size of the update ||s B A||_F, its singular values and effective rank, all
// from r x r Gram matrices (B A is never formed), relative to the base weight's norm when the base is given; DoRA's
// magnitude change; and the same for the difference of two adapters' updates via stacked factors [s1 B1, -s2 B2][A1; A2].

import { CoreError, throwIfAborted } from '../errors';
import type { FsPort, ProgressFn } from '../ports';
import { tr } from '../text';
import { readAdapterFactors, readBaseNorms, type BaseWeightNorms, type ModuleFactors } from './factors';
import { gramColumns, gramRows, lowRankSingularValues, traceOfProduct } from './linalg';

export interface DoraAnatomy {
  /** ||m||_2 of the adapter (of m1 - m2 when comparing). */
  readonly magnitudeNorm: number;
  /** What the magnitude is compared with: the base rows' norms (DoRA's initial m), the other adapter's m, or nothing. */
  readonly reference: 'base' | 'against' | null;
  /** ||m - reference||_2, null without a reference. */
  readonly change: number | null;
  /** change / ||reference||_2. */
  readonly relativeChange: number | null;
}

export interface ModuleAnatomy {
  /** e.g. 'model.layers.0.self_attn.q_proj' */
  readonly module: string;
  /** Decoder layer index, null for modules outside the layers (lm_head, embed_tokens). */
  readonly layer: number | null;
  /** Column of the heatmap: the module's last name part inside a layer ('q_proj'), else its whole path. */
  readonly target: string;
  /** Rank of the factors (r1 + r2 when comparing). */
  readonly r: number;
  /** ||scale * B A||_F */
  readonly norm: number;
  /** ||W||_F of the base weight, null without a base. */
  readonly baseNorm: number | null;
  /** norm / baseNorm. */
  readonly relative: number | null;
  /** Singular values of scale * B A, descending (r of them). */
  readonly singularValues: readonly number[];
  /** exp of the entropy of the normalised singular values (Roy & Vetterli 2007): 1 for rank one, r for a flat spectrum. */
  readonly effectiveRank: number;
  readonly dora: DoraAnatomy | null;
}

export interface AdapterAnatomy {
  readonly adapter: string;
  readonly against: string | null;
  readonly base: string | null;
  readonly variant: string;
  /** Sorted layer indices and target names: the heatmap's rows and columns. */
  readonly layers: readonly number[];
  readonly targets: readonly string[];
  readonly modules: readonly ModuleAnatomy[];
  /** Tensors the adapter saves whole (modules_to_save, trained biases): replaced, not low-rank, so not in the heatmap. */
  readonly savedTensors: readonly string[];
}

export interface AnatomyOptions {
  /** Base model folder: adds ||W||_F, relative sizes and DoRA's magnitude change against the base rows. */
  readonly base?: string;
  /** Another adapter: the anatomy of (this update - that update). */
  readonly against?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressFn;
  /** Called between modules so a host thread (the extension host) stays responsive on large adapters. */
  readonly yieldToEvents?: () => Promise<void>;
}

/** A low-rank update scale * B A as factors: B (out, r), A (r, in). */
interface LowRank {
  readonly b: ArrayLike<number>;
  readonly a: ArrayLike<number>;
  readonly r: number;
  readonly outDim: number;
  readonly inDim: number;
  readonly scale: number;
}

/** Size and spectrum of scale * B A from G_B = B^T B and G_A = A A^T: ||BA||_F^2 = trace(G_B G_A). */
export function lowRankSpectrum(u: LowRank): { norm: number; singularValues: number[] } {
  const gB = gramColumns(u.b, u.outDim, u.r);
  const gA = gramRows(u.a, u.r, u.inDim);
  const s = Math.abs(u.scale);
  const norm = s * Math.sqrt(Math.max(traceOfProduct(gB, gA), 0));
  const singularValues = [...lowRankSingularValues(gB, gA)].map((x) => s * x);
  return { norm, singularValues };
}

/** Roy & Vetterli's effective rank exp(H(p)), p_i = sigma_i / sum(sigma); 0 for a zero update. */
export function effectiveRank(singularValues: readonly number[]): number {
  const total = singularValues.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return 0;
  let h = 0;
  for (const s of singularValues) if (s > 0) h -= (s / total) * Math.log(s / total);
  return Math.exp(h);
}

/** The difference s1 B1 A1 - s2 B2 A2 as one factor pair [s1 B1, -s2 B2] (out, r1+r2) times [A1; A2] (r1+r2, in). */
export function stackedDifference(x: ModuleFactors, y: ModuleFactors): LowRank {
  if (x.outDim !== y.outDim || x.inDim !== y.inDim) {
    throw new CoreError('incompatible', tr`'${x.module}' is [${x.outDim}, ${x.inDim}] in one adapter and [${y.outDim}, ${y.inDim}] in the other: they are for different base models.`);
  }
  const r = x.r + y.r;
  const b = new Float64Array(x.outDim * r);
  for (let i = 0; i < x.outDim; i++) {
    for (let k = 0; k < x.r; k++) b[i * r + k] = x.scaling * x.b[i * x.r + k]!;
    for (let k = 0; k < y.r; k++) b[i * r + x.r + k] = -y.scaling * y.b[i * y.r + k]!;
  }
  const a = new Float64Array(r * x.inDim);
  a.set(x.a, 0);
  a.set(y.a, x.r * x.inDim);
  return { b, a, r, outDim: x.outDim, inDim: x.inDim, scale: 1 };
}

function asLowRank(f: ModuleFactors): LowRank {
  return { b: f.b, a: f.a, r: f.r, outDim: f.outDim, inDim: f.inDim, scale: f.scaling };
}

/** The negated update of a module only the other adapter has (its difference is -s B A). */
function negated(f: ModuleFactors): LowRank {
  return { ...asLowRank(f), scale: -f.scaling };
}

function vectorNorm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! ** 2;
  return Math.sqrt(s);
}

function differenceNorm(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
  return Math.sqrt(s);
}

/** DoRA's magnitude against the base rows' norms (single adapter) or the other adapter's magnitude (comparing). */
function doraAnatomy(m: Float32Array | null, other: Float32Array | null, base: BaseWeightNorms | undefined, comparing: boolean): DoraAnatomy | null {
  if (comparing) {
    if (!m || !other) return null;
    const change = differenceNorm(m, other);
    return { magnitudeNorm: change, reference: 'against', change, relativeChange: change / vectorNorm(other) };
  }
  if (!m) return null;
  if (!base || base.rowNorms.length !== m.length) return { magnitudeNorm: vectorNorm(m), reference: null, change: null, relativeChange: null };
  const change = differenceNorm(m, base.rowNorms);
  return { magnitudeNorm: vectorNorm(m), reference: 'base', change, relativeChange: change / vectorNorm(base.rowNorms) };
}

/** Heatmap coordinates of a module path: its decoder layer and its target name. */
export function moduleCoordinates(module: string): { layer: number | null; target: string } {
  const m = /\.layers\.(\d+)\.(?:.*\.)?([^.]+)$/.exec(module);
  return m ? { layer: Number(m[1]), target: m[2]! } : { layer: null, target: module };
}

function moduleAnatomy(module: string, update: LowRank, dora: DoraAnatomy | null, base: BaseWeightNorms | undefined): ModuleAnatomy {
  const { norm, singularValues } = lowRankSpectrum(update);
  const baseNorm = base?.norm ?? null;
  return {
    module, ...moduleCoordinates(module), r: update.r, norm, baseNorm,
    relative: baseNorm !== null && baseNorm > 0 ? norm / baseNorm : null,
    singularValues, effectiveRank: effectiveRank(singularValues), dora,
  };
}

/** Keys of the adapter that are neither LoRA factors nor DoRA magnitudes. */
function savedWhole(keys: Iterable<string>): string[] {
  return [...keys].filter((k) => !/\.(lora_[AB]\.(weight|bias)|lora_embedding_[AB]|lora_magnitude_vector(\.weight)?)$/.test(k)).sort();
}

/** The usual order of a decoder layer's projections, so heatmap columns read attention first, then the MLP. */
const TARGET_ORDER = ['q_proj', 'k_proj', 'v_proj', 'qkv_proj', 'o_proj', 'gate_proj', 'up_proj', 'gate_up_proj', 'down_proj'];

function sortTargets(targets: ReadonlySet<string>): string[] {
  const rank = (t: string): number => (TARGET_ORDER.includes(t) ? TARGET_ORDER.indexOf(t) : TARGET_ORDER.length);
  return [...targets].sort((p, q) => rank(p) - rank(q) || p.localeCompare(q));
}

/** The anatomy of the adapter in `folder` (or of its difference from `options.against`). */
export async function adapterAnatomy(fs: FsPort, folder: string, options: AnatomyOptions = {}): Promise<AdapterAnatomy> {
  const own = await readAdapterFactors(fs, folder, options.signal);
  const other = options.against ? await readAdapterFactors(fs, options.against, options.signal) : null;
  const byModule = new Map(own.modules.map((f) => [f.module, f]));
  const otherBy = new Map((other?.modules ?? []).map((f) => [f.module, f]));
  const names = [...new Set([...byModule.keys(), ...otherBy.keys()])].sort();
  const base = options.base ? await readBaseNorms(fs, options.base, names, options.signal) : new Map<string, BaseWeightNorms>();
  const modules: ModuleAnatomy[] = [];
  for (const [i, name] of names.entries()) {
    options.onProgress?.('anatomy', i, names.length, name);
    await options.yieldToEvents?.();
    throwIfAborted(options.signal);
    const x = byModule.get(name);
    const y = otherBy.get(name);
    const update = x && y ? stackedDifference(x, y) : x ? asLowRank(x) : negated(y!);
    modules.push(moduleAnatomy(name, update, doraAnatomy(x?.magnitude ?? null, y?.magnitude ?? null, base.get(name), other !== null), base.get(name)));
  }
  options.onProgress?.('anatomy', names.length, names.length);
  return {
    adapter: folder, against: options.against ?? null, base: options.base ?? null, variant: own.index.variant,
    layers: [...new Set(modules.flatMap((m) => (m.layer === null ? [] : [m.layer])))].sort((p, q) => p - q),
    targets: sortTargets(new Set(modules.flatMap((m) => (m.layer === null ? [] : [m.target])))),
    savedTensors: savedWhole(own.index.byKey.keys()),
    modules,
  };
}
