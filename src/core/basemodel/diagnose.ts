// diagnoseAdapter: the one entry point the CLI, the editor diagnostics, the Checkpoints view (base-status icon), the
// merge dialog (pre-filled base) and the preview use. Parses adapter_config.json with ranges, resolves the base model,
// checks adapter<->base compatibility from headers only, and returns Problems with stable codes and fixes.
// Reference: DOMAIN.md §2, §3, §5; issue 4.

import { CoreError } from '../errors';
import { normalizePeftConfig, type AdapterFormat, type PeftConfig } from '../peft/config';
import { MAX_CONFIG_BYTES, parseAdapterConfig, positionAt, valueRange, type ParsedAdapterConfig } from '../peft/parse';
import { problem, type Fix, type Problem, type ProblemCode, type Severity } from '../peft/problems';
import { validateAdapterConfig } from '../peft/validate';
import { basename, dirname, isInside, joinPath, normalizePath, relativePath } from '../paths';
import type { FsPort } from '../ports';
import { readSafetensorsHeader } from '../safetensors/header';
import type { BinHeaderReader } from '../safetensors/modelWeights';
import { readTorchBinTensors } from '../torchpickle/binReader';
import { hfCacheRoots, isHubOffline, safeStat } from './caches';
import { findCandidates, type Candidate } from './candidates';
import { isCommitHash, originLabel, type BaseKind, type ForeignOrigin } from './classify';
import { checkCompatibility, type AdapterTensor, type CompatReport } from './compat';
import { BaseModelCache, type BaseModelInfo } from './inspect';
import { quantizedBaseIssue } from './quantizedName';
import { resolveBaseModel, type BaseResolution, type RelativeHit, type ResolvedVia } from './resolve';
import { readTokenizerSize, type TokenizerSize } from './tokenizerSize';
import { joinText, renderText, tr, type Text } from '../text';

export interface DiagnoseOptions {
  /** Check against this folder instead of the recorded value (CLI --base, "Choose base model folder..."). */
  readonly base?: string;
  /** Unsaved editor contents; read from disk when absent. */
  readonly text?: string;
  readonly workspaceFolders?: readonly string[];
  /** loraWorkbench.modelSearchPaths. */
  readonly searchPaths?: readonly string[];
  /** 'when-broken' (default) searches only when the base is unresolved or incompatible. */
  readonly candidates?: 'never' | 'when-broken' | 'always';
  /** Share one across calls: base headers are then read once per change of the base files. */
  readonly cache?: BaseModelCache;
  /** Reads tensor headers of pytorch .bin files; default: the restricted torch.save reader (never executes pickles). */
  readonly binReader?: BinHeaderReader;
}

export interface BaseDiagnosis {
  readonly raw: string | null;
  readonly kind: BaseKind;
  readonly resolved: string | null;
  readonly via: ResolvedVia | null;
  readonly origin: ForeignOrigin | null;
  readonly hubId: string | null;
  /** The revision PEFT would apply to the base (the config's `revision`). */
  readonly revision: string | null;
  readonly resolution: BaseResolution | null;
  readonly info: BaseModelInfo | null;
  readonly candidates: readonly Candidate[];
}

export interface AdapterWeightsInfo {
  readonly file: string | null;
  readonly tensors: readonly AdapterTensor[] | null;
  readonly error: string | null;
  readonly tokenizer: TokenizerSize | null;
}

export interface Diagnosis {
  readonly configPath: string;
  readonly adapterDir: string;
  readonly parsed: ParsedAdapterConfig;
  readonly format: AdapterFormat;
  readonly config: PeftConfig | null;
  readonly base: BaseDiagnosis;
  readonly adapter: AdapterWeightsInfo;
  readonly compat: CompatReport | null;
  /**
   * THE compatibility judgement (issue 13), shared by the CLI, the editor, the Checkpoints view, merge, preview and
   * "Add Checkpoint...": false when the base cannot be loaded, the adapter weights cannot be read, or a header check
   * fails; true once a base was compared and fits; null when nothing could be compared (no base folder, no tensors).
   */
  readonly compatible: boolean | null;
  /** The error problems that make `compatible` false, in source order (empty otherwise): the reasons to show. */
  readonly incompatibilities: readonly Problem[];
  readonly problems: readonly Problem[];
}

/** The CLI's --json shape (issue 4). */
export interface DiagnosisJson {
  config: string;
  format: AdapterFormat;
  base: { raw: string | null; kind: BaseKind; resolved: string | null; candidates: string[] };
  compatible: boolean | null;
  problems: Array<{ code: ProblemCode; severity: Severity; message: string; line: number; column: number }>;
}

const BOGUS_REVISIONS = new Set(['unsloth', 'peft', 'lora', 'trl', 'axolotl', 'llamafactory', 'llama-factory', 'transformers', 'none', 'null', 'true', 'false']);

/** Folder and config path from a folder or an adapter_config.json path. */
export async function locateAdapterConfig(fs: FsPort, target: string): Promise<string> {
  const p = normalizePath(target);
  const st = await fs.stat(p);
  if (!st) throw new CoreError('not-found', `${p}: not found.`, p);
  if (st.kind === 'dir') {
    const c = joinPath(p, 'adapter_config.json');
    const cs = await fs.stat(c);
    if (cs?.kind !== 'file') throw new CoreError('not-found', `${p}: no adapter_config.json in this folder.`, p);
    return c;
  }
  return p;
}

async function readAdapterWeights(fs: FsPort, dir: string, binReader?: BinHeaderReader): Promise<Omit<AdapterWeightsInfo, 'tokenizer'>> {
  const st = joinPath(dir, 'adapter_model.safetensors');
  const stStat = await safeStat(fs, st);
  if (stStat.kind === 'file') {
    try {
      const src = await fs.open(st);
      try {
        const h = await readSafetensorsHeader(src);
        return { file: st, tensors: h.tensors.map((t) => ({ name: t.name, shape: t.shape })), error: null };
      } finally {
        await src.close();
      }
    } catch (e) {
      return { file: st, tensors: null, error: (e as Error).message };
    }
  }
  const bin = joinPath(dir, 'adapter_model.bin');
  if ((await safeStat(fs, bin)).kind === 'file') {
    if (!binReader) return { file: bin, tensors: null, error: null };
    try {
      return { file: bin, tensors: (await binReader(fs, bin)).map((t) => ({ name: t.name, shape: t.shape })), error: null };
    } catch (e) {
      return { file: bin, tensors: null, error: (e as Error).message };
    }
  }
  return { file: null, tensors: null, error: stStat.error ?? null };
}

/**
 * Diagnose one adapter: parse, resolve the base, compare headers, collect problems. Throws only when the config
 * itself cannot be read (CoreError 'not-found' / 'io'); everything else becomes a Problem.
 */
export async function diagnoseAdapter(fs: FsPort, configPathOrFolder: string, opts: DiagnoseOptions = {}): Promise<Diagnosis> {
  const configPath = opts.text !== undefined ? normalizePath(configPathOrFolder) : await locateAdapterConfig(fs, configPathOrFolder);
  const adapterDir = dirname(configPath);
  let text = opts.text;
  if (text === undefined) {
    const st = await fs.stat(configPath);
    if (st && st.size > MAX_CONFIG_BYTES) {
      throw new CoreError('bad-format', `${configPath}: ${st.size} bytes is far too large for an adapter config (limit ${MAX_CONFIG_BYTES}).`, configPath);
    }
    text = await fs.readText(configPath, MAX_CONFIG_BYTES);
  }
  const parsed = parseAdapterConfig(text);
  const problems: Problem[] = validateAdapterConfig(parsed);
  const cache = opts.cache ?? new BaseModelCache();
  const binReader = opts.binReader ?? readTorchBinTensors;
  const ws = (opts.workspaceFolders ?? []).map(normalizePath);
  const searchPaths = opts.searchPaths ?? [];
  const config = parsed.value ? normalizePeftConfig(parsed.value) : null;
  const baseRange = valueRange(parsed, ['base_model_name_or_path']);
  const emptyBase: BaseDiagnosis = {
    raw: config?.baseModel ?? null, kind: 'null', resolved: null, via: null, origin: null, hubId: null, revision: config?.revision ?? null,
    resolution: null, info: null, candidates: [],
  };
  const noWeights: AdapterWeightsInfo = { file: null, tensors: null, error: null, tokenizer: null };
  if (!config || parsed.format !== 'peft') {
    return { configPath, adapterDir, parsed, format: parsed.format, config, base: emptyBase, adapter: noWeights, compat: null, compatible: null, incompatibilities: [], problems };
  }

  // Independent reads run concurrently: adapter header, adapter tokenizer, base resolution (stats only).
  const rawValue = parsed.value?.base_model_name_or_path;
  const raw = typeof rawValue === 'string' ? rawValue : null;
  const [weightsRead, tokenizer, resolution] = await Promise.all([
    readAdapterWeights(fs, adapterDir, binReader),
    readTokenizerSize(fs, adapterDir),
    resolveBaseModel(fs, rawValue ?? null, { adapterDir, workspaceFolders: ws, searchPaths, revision: config.revision }),
  ]);
  const adapter: AdapterWeightsInfo = { ...weightsRead, tokenizer };
  const docStart = { offset: parsed.root?.offset ?? 0, length: 1 };
  if (adapter.error) {
    problems.push(problem('adapter-weights-unreadable', 'error', docStart, tr`The adapter weights cannot be read: ${adapter.error}`));
  } else if (!adapter.file) {
    problems.push(problem('adapter-weights-missing', 'warning', docStart,
      tr`No adapter_model.safetensors or adapter_model.bin next to this config: there is nothing to load, and tensor checks are skipped.`));
  }

  // Resolve: the override folder, else the recorded value.
  const cls = resolution.classification;
  let resolved = resolution.resolved;
  let via = resolution.via;
  if (opts.base !== undefined) {
    resolved = normalizePath(opts.base);
    via = 'override';
  }
  const fixesBroken: Fix[] = [{ kind: 'choose-base' }];
  const baseProblems: Array<{ code: ProblemCode; severity: Severity; message: string | Text; fixes: Fix[] }> = [];
  const baseIssue = (code: ProblemCode, severity: Severity, message: string | Text, fixes: Fix[] = []): void => {
    baseProblems.push({ code, severity, message, fixes });
  };
  for (const e of resolution.errors) {
    if (!baseProblems.some((b) => renderText(b.message).includes(e))) baseIssue('base-model-unreadable', 'error', tr`The base model path cannot be accessed: ${e}`, fixesBroken);
  }

  if (opts.base === undefined) resolutionProblems(resolution, raw, hfCacheRoots(fs.env), baseIssue, fixesBroken, isHubOffline(fs.env));

  // Inspect what it resolves to, and compare.
  let info: BaseModelInfo | null = null;
  let compat: CompatReport | null = null;
  if (resolved) {
    const st = await safeStat(fs, resolved);
    if (st.error) baseIssue('base-model-unreadable', 'error', tr`${resolved}: ${st.error}`, fixesBroken);
    else if (st.kind !== 'dir') baseIssue('base-model-missing', 'error', tr`${resolved} is ${st.kind === null ? 'gone' : 'not a folder'}.`, fixesBroken);
    else {
      info = await cache.get(fs, resolved, binReader);
      const where = via === 'override' ? resolved : `${resolved} (${viaLabel(via)})`;
      if (info.configError) baseIssue('base-model-incomplete', 'error', tr`The base at ${where} has an unreadable config.json: ${info.configError}`, fixesBroken);
      else if (!info.hasConfig) baseIssue('base-model-incomplete', 'error', tr`The base at ${where} has no config.json: transformers cannot load it as a model.`, fixesBroken);
      if (!info.layout) {
        baseIssue('base-model-incomplete', 'error',
          tr`The base at ${where} has no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin or its index): is the download or copy incomplete?`, fixesBroken);
      } else if (info.weightsError) {
        baseIssue('base-model-incomplete', 'error', tr`The base weights at ${where} are unusable: ${info.weightsError}`, fixesBroken);
      }
      if (info.weights && adapter.tensors) {
        compat = checkCompatibility({ config, adapterTensors: adapter.tensors, base: info, adapterTokenizer: adapter.tokenizer });
        for (const f of compat.findings) {
          const range = f.path[0] === 'base_model_name_or_path' ? baseRange : valueRange(parsed, f.path);
          const onBase = f.path[0] === 'base_model_name_or_path' && (f.code === 'adapter-base-missing-module' || f.code === 'adapter-base-shape-mismatch');
          problems.push(problem(f.code, f.severity, range, f.text ?? f.message, onBase ? fixesBroken : []));
        }
      }
    }
  }
  const quantized = quantizedBaseIssue(raw, info?.quantization ?? null);
  if (quantized) baseIssue('base-model-quantized', 'warning', quantized.message, quantized.fixes);
  // Errors that break loading this adapter on this base; validation findings (json-syntax, invalid-value) are not among them.
  const breaking = new Set<ProblemCode>([
    'adapter-weights-unreadable',
    ...[...(compat?.findings ?? []), ...baseProblems].filter((f) => f.severity === 'error').map((f) => f.code),
  ]);
  const breaks = (p: { code: ProblemCode; severity: Severity }): boolean => p.severity === 'error' && breaking.has(p.code);
  // false as soon as something fails to load or fit; null when nothing could be compared (no base, no tensors).
  const compatible: boolean | null = problems.some(breaks) || baseProblems.some(breaks) ? false : compat ? true : null;

  // Candidates for broken or incompatible bases.
  const want = opts.candidates ?? 'when-broken';
  let candidates: Candidate[] = [];
  if (adapter.tensors && (want === 'always' || (want === 'when-broken' && compatible !== true))) {
    candidates = await findCandidates(fs, { config, adapterTensors: adapter.tensors, adapterTokenizer: adapter.tokenizer }, {
      workspaceFolders: ws, searchPaths, raw, exclude: resolved ? [resolved] : [], cache, binReader,
    });
    candidates = candidates.filter((c) => c.report.compatible);
  }
  const useFixes = await candidateFixes(fs, candidates.slice(0, 3), adapterDir, ws);
  for (const b of baseProblems) {
    const broken = b.fixes.some((f) => f.kind === 'choose-base');
    problems.push(problem(b.code, b.severity, baseRange, b.message, broken ? [...useFixes, ...b.fixes, { kind: 'relink-run' }] : b.fixes));
  }
  // Compat errors on the base value get the candidates too.
  for (let i = 0; i < problems.length; i++) {
    const p = problems[i]!;
    if ((p.code === 'adapter-base-missing-module' || p.code === 'adapter-base-shape-mismatch') && useFixes.length > 0) {
      problems[i] = { ...p, fixes: [...useFixes, ...p.fixes, { kind: 'relink-run' }] };
    }
  }
  revisionProblems(parsed, config, resolution, problems);
  const sorted = sortProblems(problems);

  const base: BaseDiagnosis = {
    raw, kind: opts.base !== undefined && cls.kind === 'null' ? 'null' : resolution.kind, resolved, via, origin: cls.origin ?? null,
    hubId: cls.hubId ?? null, revision: config.revision, resolution, info, candidates,
  };
  return { configPath, adapterDir, parsed, format: parsed.format, config, base, adapter, compat, compatible, incompatibilities: sorted.filter(breaks), problems: sorted };
}

/** Why a missing base matters: the seed's confusion (DOMAIN.md §1) - a LoRA checkpoint is not a model. */
function adapterOnly(expected: string): Text {
  return tr`This checkpoint holds only the adapter (its LoRA weights and this config), not the model: it is applied on top of the base it was trained on, which is expected at ${expected}. Put the base back, relink it, or merge the adapter into the base to get a model that stands alone.`;
}

function viaLabel(via: ResolvedVia | null): string {
  switch (via) {
    case 'path': return 'as written';
    case 'home': return '~ expanded';
    case 'workspace': return 'relative to the workspace folder';
    case 'run-cwd': return 'relative to a likely training working directory';
    case 'adapter-folder': return 'relative to the adapter folder';
    case 'hf-cache': return 'Hugging Face cache';
    case 'modelscope-cache': return 'ModelScope cache';
    case 'search-path': return 'loraWorkbench.modelSearchPaths';
    case 'override': return 'chosen folder';
    default: return 'unresolved';
  }
}

/** The value to write for a candidate: hub id for HF cache snapshots (portable), else its absolute path. */
export function candidateValue(c: Candidate): string {
  return c.source === 'hf-cache' && c.hubId ? c.hubId : c.path;
}

/**
 * "Use <candidate>" fixes, each with the exact value it writes. A candidate inside a workspace folder is also offered in
 * its workspace-relative form (first: it survives moving or cloning the project) when that form names this one model
 * from every likely working directory, i.e. when it would not itself be ambiguous.
 */
async function candidateFixes(fs: FsPort, candidates: readonly Candidate[], adapterDir: string, ws: readonly string[]): Promise<Fix[]> {
  const out: Fix[] = [];
  for (const c of candidates) {
    const use = (path: string): Fix => ({
      kind: 'use-candidate', path, matched: c.report.matched, total: c.report.total, source: c.source, ...(path !== c.path ? { folder: c.path } : {}),
    });
    const value = candidateValue(c);
    const folder = ws.find((w) => isInside(c.path, w));
    if (folder && value === c.path) {
      const rel = relativePath(folder, c.path);
      const r = await resolveBaseModel(fs, rel, { adapterDir, workspaceFolders: ws });
      if (r.kind === 'relative' && r.relativeHits.length > 0 && r.relativeHits.every((h) => h.path === c.path)) out.push(use(rel));
    }
    out.push(use(value));
  }
  return out;
}

function resolutionProblems(
  r: BaseResolution, raw: string | null, cacheRoots: ReadonlyArray<{ path: string }>,
  issue: (code: ProblemCode, severity: Severity, message: string | Text, fixes?: Fix[]) => void, broken: Fix[], offline: boolean,
): void {
  const c = r.classification;
  const foundElsewhere = r.via === 'search-path' && r.resolved ? [{ kind: 'use-candidate', path: r.resolved, matched: 0, total: 0, source: 'search-path' } as Fix] : [];
  switch (r.kind) {
    case 'null':
      issue('base-model-null', 'error',
        raw === null ? tr`base_model_name_or_path is missing or null: PEFT cannot tell which model this adapter belongs to.` : tr`base_model_name_or_path is empty: PEFT cannot tell which model this adapter belongs to.`, broken);
      return;
    case 'absolute':
    case 'windows':
    case 'home':
    case 'modelscope-cache':
    case 'hf-cache-snapshot': {
      if (r.via === 'path') {
        if (r.kind === 'hf-cache-snapshot' && c.hubId) {
          issue('base-model-cache-path', 'info',
            tr`This is a Hugging Face cache snapshot of ${c.hubId}${c.snapshot ? tr` at commit ${c.snapshot.slice(0, 12)}` : ''}; "${c.hubId}" with that revision is portable across machines.`,
            [{ kind: 'rewrite-hub-id', hubId: c.hubId, revision: c.snapshot && isCommitHash(c.snapshot) ? c.snapshot : null }]);
        }
        return;
      }
      if (r.via === 'home') {
        issue('base-model-home-path', 'error',
          tr`transformers does not expand "~": "${raw}" is not a folder to it, so it is tried as a hub id and fails. The folder exists at ${r.resolved}.`,
          [{ kind: 'make-absolute', value: r.resolved! }]);
        return;
      }
      if (r.kind === 'hf-cache-snapshot' && c.hubId) {
        const rewrite: Fix = { kind: 'rewrite-hub-id', hubId: c.hubId, revision: c.snapshot && isCommitHash(c.snapshot) ? c.snapshot : null };
        const here = r.via === 'hf-cache' ? tr` The same snapshot is in your cache (${r.resolved}).` : tr` That snapshot is not in your cache; as a hub id it would be downloaded.`;
        issue(c.origin ? 'base-model-foreign-path' : 'base-model-missing', 'error',
          tr`This Hugging Face cache path does not exist here${c.origin ? tr` (it was recorded on ${originLabel(c.origin)})` : ''}.${here}`, [rewrite, ...broken]);
        return;
      }
      if (r.via === 'modelscope-cache') {
        issue('base-model-foreign-path', 'error', tr`This ModelScope cache path does not exist here; the same model is in your ModelScope cache at ${r.resolved}.`,
          [{ kind: 'make-absolute', value: r.resolved! }, ...broken]);
        return;
      }
      const where = c.origin ? tr` It was recorded on ${originLabel(c.origin)}.` : '';
      const also = r.via === 'search-path' ? tr` A model of the same name is at ${r.resolved}.` : '';
      issue(c.origin ? 'base-model-foreign-path' : 'base-model-missing', 'error',
        tr`The base model folder "${raw}" does not exist on this machine.${where}${also} Loading fails (a missing path is tried as a hub id: HFValidationError). ${adapterOnly(raw ?? '')}`,
        [...foundElsewhere, ...broken]);
      return;
    }
    case 'relative': {
      if (r.relativeHits.length === 0) {
        const also = r.via === 'search-path' ? tr` A model of that name is at ${r.resolved}.` : '';
        issue('base-model-missing', 'error',
          tr`The relative base path "${raw}" names no folder relative to the workspace, the run's likely working directories or the adapter folder.${also} PEFT resolves it against the process working directory at load time. ${adapterOnly(renderText(tr`${raw} under the training working directory`))}`, [...foundElsewhere, ...broken]);
        return;
      }
      const distinct = [...new Set(r.relativeHits.map((h) => h.path))];
      const fromWorkspace = r.relativeHits.find((h) => h.role === 'workspace');
      if (distinct.length === 1 && fromWorkspace) {
        // The project layout people train from (`python train.py` in the project root, models/ beside runs/): one
        // model, found from the workspace folder, so it is healthy here; a note says what it depends on.
        issue('base-model-relative', 'info',
          tr`"${raw}" is relative to the workspace folder (${fromWorkspace.against}) and names ${distinct[0]}. PEFT resolves it against the working directory: scripts started from the workspace folder load this model.`,
          [{ kind: 'make-absolute', value: r.resolved! }]);
        return;
      }
      const from = (h: RelativeHit): Text =>
        h.role === 'workspace' ? tr`from the workspace folder` : h.role === 'run-cwd' ? tr`from a likely training working directory` : tr`from the adapter folder`;
      const list = joinText(r.relativeHits.slice(0, 3).map((h) => tr`${h.path} (${from(h)})`), '; ');
      issue('base-model-relative-ambiguous', 'warning',
        tr`"${raw}" is relative: PEFT resolves it against the process working directory, not the adapter folder, so it works only when started from the right place. Found: ${list}${distinct.length > 1 ? tr`. Different working directories give different models.` : tr`.`} Make it absolute or a hub id to be safe.`,
        [{ kind: 'make-absolute', value: r.resolved! }]);
      return;
    }
    case 'hub-id': {
      if (r.via === 'hf-cache' && r.hfCache) {
        return;
      }
      const hub = c.hubId ?? raw ?? '';
      if (r.hfCache && !r.hfCache.snapshotDir) {
        issue('base-model-not-cached', offline ? 'error' : 'warning',
          tr`${hub} is in the Hugging Face cache (${r.hfCache.repoDir}) but not at revision "${r.hfCache.revision}"${r.hfCache.snapshots.length ? ` (snapshots: ${r.hfCache.snapshots.map((s) => s.slice(0, 8)).join(', ')})` : ''}: loading downloads it${offline ? tr`, which HF_HUB_OFFLINE forbids` : ''}.`,
          broken);
        return;
      }
      if (r.via === 'modelscope-cache') {
        issue('base-model-not-cached', 'warning',
          tr`${hub} is not in the Hugging Face cache but is in the ModelScope cache (${r.resolved}); transformers does not look there. Write the folder path instead.`,
          [{ kind: 'make-absolute', value: r.resolved! }, ...broken]);
        return;
      }
      if (r.via === 'search-path') {
        issue('base-model-not-cached', 'warning', tr`${hub} is not in the Hugging Face cache; a copy is in your model folders (${r.resolved}).`, [...foundElsewhere, ...broken]);
        return;
      }
      if (r.relativeParents && r.relativeParents.length > 0) {
        // "models/llama" next to an existing models/ folder: a relative path whose model has gone, not a hub id.
        issue('base-model-missing', 'error',
          tr`"${raw}" looks like a relative path (${r.relativeParents[0]} exists) but the model folder is not there; transformers then tries it as a hub id, which fails. Was the model moved or renamed? ${adapterOnly(joinPath(r.relativeParents[0]!, basename(raw ?? '')))}`, broken);
        return;
      }
      issue('base-model-not-cached', offline ? 'error' : 'warning',
        tr`${hub} is not in the Hugging Face cache (${cacheRoots.map((x) => x.path).join(', ')}) nor in your model folders: loading downloads it${offline ? tr`, which HF_HUB_OFFLINE forbids` : ''}, and compatibility cannot be checked.`,
        broken);
      return;
    }
  }
}

function revisionProblems(parsed: ParsedAdapterConfig, config: PeftConfig, r: BaseResolution, problems: Problem[]): void {
  const rev = config.revision;
  if (rev === null) return;
  const range = valueRange(parsed, ['revision']);
  const fixes: Fix[] = [{ kind: 'remove-revision' }];
  if (BOGUS_REVISIONS.has(rev.toLowerCase())) {
    problems.push(problem('revision-suspicious', 'warning', range,
      tr`revision "${rev}" is not a commit or branch of the base repo (tools write their own name here). AutoPeftModel applies it to the base model and loading fails (transformers#29849). Remove it.`, fixes));
    return;
  }
  const hit = r.hfCache;
  if ((r.kind === 'hub-id' || r.kind === 'hf-cache-snapshot') && hit && !isCommitHash(rev) && !hit.refs.includes(rev)) {
    problems.push(problem('revision-suspicious', 'warning', range,
      tr`revision "${rev}" is not a branch or tag of ${hit.hubId} in your cache (refs: ${hit.refs.join(', ') || 'none'}) nor a commit hash. AutoPeftModel applies it to the base model.`, fixes));
  } else if (!isCommitHash(rev) && /\s/.test(rev)) {
    problems.push(problem('revision-suspicious', 'warning', range, tr`revision "${rev}" contains whitespace: it cannot be a git ref.`, fixes));
  }
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

function sortProblems(ps: Problem[]): Problem[] {
  return ps.map((p, i) => [p, i] as const)
    .sort((a, b) => a[0].range.offset - b[0].range.offset || SEVERITY_ORDER[a[0].severity] - SEVERITY_ORDER[b[0].severity] || a[1] - b[1])
    .map(([p]) => p);
}

/** The CLI JSON (line/column 1-based). */
export function diagnosisToJson(d: Diagnosis): DiagnosisJson {
  return {
    config: d.configPath,
    format: d.format,
    base: { raw: d.base.raw, kind: d.base.kind, resolved: d.base.resolved, candidates: d.base.candidates.map((c) => c.path) },
    compatible: d.compatible,
    problems: d.problems.map((p) => {
      const pos = positionAt(d.parsed.text, p.range.offset);
      return { code: p.code, severity: p.severity, message: p.message, line: pos.line + 1, column: pos.character + 1 };
    }),
  };
}

/** Refactors on the base value that are useful even without a problem (make relative / absolute, hub id + revision). */
export function baseValueRefactors(d: Diagnosis): Fix[] {
  const out: Fix[] = [];
  const r = d.base.resolution;
  if (!r || !d.base.resolved) return out;
  if (r.kind === 'absolute' && r.via === 'path') {
    const rel = relativePath(d.adapterDir, d.base.resolved);
    if (!rel.startsWith('../../../../')) out.push({ kind: 'make-relative', value: rel });
  }
  if ((r.kind === 'relative' || r.kind === 'home') && d.base.resolved) out.push({ kind: 'make-absolute', value: d.base.resolved });
  if (r.kind === 'hf-cache-snapshot' && d.base.hubId) {
    out.push({ kind: 'rewrite-hub-id', hubId: d.base.hubId, revision: r.classification.snapshot && isCommitHash(r.classification.snapshot) ? r.classification.snapshot : null });
  }
  return out;
}

/** Short status for list views (the Checkpoints view's base icon). */
export type BaseStatus = 'ok' | 'warning' | 'error' | 'unknown';

export function baseStatusOf(d: Diagnosis): BaseStatus {
  if (d.format !== 'peft') return 'unknown';
  if (d.problems.some((p) => p.severity === 'error')) return 'error';
  if (d.problems.some((p) => p.severity === 'warning')) return 'warning';
  return d.compatible === true ? 'ok' : 'unknown';
}

/** Name of the base for display: hub id, or the folder name. */
export function baseDisplayName(d: Diagnosis): string {
  return d.base.hubId ?? (d.base.raw ? basename(d.base.raw.replace(/\\/g, '/').replace(/\/+$/, '')) : '(none)');
}

