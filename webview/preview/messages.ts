// Typed messages between the generation-preview webview (webview/preview/main.ts) and its host
// (src/extension/preview/previewPanel.ts), with validators both sides run on receipt: a message that does not match
// its declared shape is rejected, never half-used. Pure data, no DOM and no vscode, so Node unit tests cover it.

import type { PromptFormat } from '../../src/engine/protocol';

export type { PromptFormat };

export const PROMPT_FORMATS: readonly PromptFormat[] = ['raw', 'alpaca2', 'chat'];

/** Bounds the host enforces on every run; the webview uses the same ones for its inputs. */
export const LIMITS = {
  maxNewTokens: { min: 1, max: 4096 },
  temperature: { min: 0, max: 5 },
  topK: { min: 0, max: 1_000_000 },
  topP: { min: 0, max: 1 },
  repetitionPenalty: { min: 0.5, max: 3 },
  seed: { min: 0, max: 0xffffffff },
  scale: { min: 0, max: 2 },
  /** Characters; far above any context a preview can hold, it only stops a runaway paste from crossing IPC. */
  promptChars: 200_000,
} as const;

/** What one Run uses: the prompt and the sampling settings shared by every column. */
export interface PreviewSettings {
  readonly prompt: string;
  readonly format: PromptFormat;
  /** Optional system prompt (Alpaca-2 and chat formats); '' for none. */
  readonly system: string;
  readonly maxNewTokens: number;
  /** 0 = greedy. */
  readonly temperature: number;
  /** 0 = off. */
  readonly topK: number;
  /** 1 = off. */
  readonly topP: number;
  /** 1 = off. */
  readonly repetitionPenalty: number;
  readonly seed: number;
}

export const DEFAULT_SETTINGS: PreviewSettings = {
  prompt: 'Once upon a time',
  format: 'raw',
  system: '',
  maxNewTokens: 64,
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 42,
};

/**
 * One output column: the base alone, the base with one adapter at a scale, or another model file (a quantized GGUF
 * export, another model folder) run on the same prompt.
 */
export type ColumnKind = 'base' | 'adapter' | 'model';
export interface ColumnInfo {
  readonly id: string;
  readonly kind: ColumnKind;
  /** "Base", "Base + checkpoint-200". */
  readonly title: string;
  /** Workspace-relative folder or file, for the tooltip. */
  readonly detail: string;
  /** Adapter scale (1 = as trained); ignored for the base column. */
  readonly scale: number;
  readonly removable: boolean;
  /** A model column's reference (the column it is measured against); absent or null for other columns. */
  readonly reference?: string | null;
}

export interface ColumnStats {
  /** Time to first token, ms, measured in the engine from the start of the request (prefill included). */
  readonly ttftMs: number;
  readonly tokensPerSecond: number;
  readonly count: number;
}

/** A model column against the reference column, teacher-forced on the reference's tokens (engine/fidelity). */
export interface FidelityView {
  readonly positions: number;
  /** Greedy agreement in [0, 1]; null when nothing was compared. */
  readonly agreement: number | null;
  /** Mean KL(p_ref || p_model) of the next-token distributions, nats. */
  readonly meanKl: number | null;
  /** 0-based index of the first generated token where the argmax differs; null: none. */
  readonly firstDivergence: number | null;
  /** Only the first `positions` generated tokens were compared (the engine's memory cap). */
  readonly truncated?: boolean;
}

export type StopReason = 'eos' | 'max-tokens' | 'stop-string' | 'cancelled';

export type PanelState = 'idle' | 'diagnosing' | 'loading' | 'ready' | 'running' | 'error' | 'untrusted';

export interface DiagnosisView {
  readonly title: string;
  readonly problems: ReadonlyArray<{ readonly severity: 'error' | 'warning' | 'info'; readonly code: string; readonly message: string }>;
  /** Fix actions shown as buttons; the webview answers with `fix {actionId}`. */
  readonly actions: ReadonlyArray<{ readonly id: string; readonly title: string }>;
}

/** Every user-visible string of the webview, localized by the host (vscode.l10n) and sent in `init`. */
export const LABEL_KEYS = [
  'prompt', 'promptPlaceholder', 'format', 'formatRaw', 'formatAlpaca2', 'formatChat', 'formatChatUnavailable', 'system',
  'systemPlaceholder', 'parameters', 'maxNewTokens', 'temperature', 'temperatureHint', 'topK', 'topKHint', 'topP', 'repetitionPenalty', 'seed', 'run', 'stop',
  'runHint', 'addCheckpoint', 'removeColumn', 'scale', 'copy', 'openMarkdown', 'recentPrompts', 'recentNone', 'ttft',
  'tokensPerSecond', 'ms', 'tokens', 'stopped', 'finishedEos', 'finishedMax', 'finishedStop', 'waiting', 'generating', 'loading',
  'diagnosing', 'ready', 'untrusted', 'manageTrust', 'divergence', 'divergenceNone', 'retry', 'columns', 'greedy',
  'copied', 'error', 'addModels', 'fidelity', 'fidelityAgrees', 'fidelityNothing', 'fidelityTruncated', 'reference',
] as const;
export type LabelKey = (typeof LABEL_KEYS)[number];
export type PreviewLabels = Readonly<Record<LabelKey, string>>;

// ---- host -> webview --------------------------------------------------------------------------------------------
export interface InitMessage {
  readonly type: 'init';
  readonly title: string;
  readonly labels: PreviewLabels;
  readonly settings: PreviewSettings;
  readonly columns: readonly ColumnInfo[];
  readonly recentPrompts: readonly string[];
  /** Whether the model ships a chat_template (the "chat" format needs one). */
  readonly chatTemplate: boolean;
  readonly trusted: boolean;
  readonly isMac: boolean;
}

export type HostToWebview =
  | InitMessage
  | { readonly type: 'columns'; readonly columns: readonly ColumnInfo[] }
  | { readonly type: 'status'; readonly state: PanelState; readonly message: string; readonly progress: { readonly done: number; readonly total: number } | null }
  | { readonly type: 'diagnosis'; readonly diagnosis: DiagnosisView | null }
  | { readonly type: 'recentPrompts'; readonly prompts: readonly string[] }
  /** Sent once the model is loaded: whether its tokenizer has a chat_template (enables the "chat" format). */
  | { readonly type: 'chatTemplate'; readonly available: boolean }
  | { readonly type: 'runStarted'; readonly runId: number; readonly columnIds: readonly string[]; readonly greedy: boolean }
  | { readonly type: 'columnStarted'; readonly runId: number; readonly columnId: string }
  | { readonly type: 'tokens'; readonly runId: number; readonly columnId: string; readonly tokens: ReadonlyArray<{ readonly id: number; readonly text: string }> }
  | { readonly type: 'columnDone'; readonly runId: number; readonly columnId: string; readonly ids: readonly number[]; readonly text: string; readonly stopReason: StopReason; readonly stats: ColumnStats }
  | { readonly type: 'columnError'; readonly runId: number; readonly columnId: string; readonly message: string }
  /** A model column's fidelity against the reference column: the numbers, or why they could not be computed. */
  | { readonly type: 'fidelity'; readonly runId: number; readonly columnId: string; readonly reference: string; readonly result: FidelityView | null; readonly message: string }
  | { readonly type: 'runDone'; readonly runId: number; readonly cancelled: boolean }
  | { readonly type: 'notice'; readonly message: string };

// ---- webview -> host --------------------------------------------------------------------------------------------
export type WebviewToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'run'; readonly settings: PreviewSettings; readonly scales: ReadonlyArray<{ readonly columnId: string; readonly scale: number }> }
  | { readonly type: 'stop' }
  | { readonly type: 'addColumn' }
  /** "Compare with Quantized Exports...": pick GGUF exports or other models to add as model columns. */
  | { readonly type: 'addModels' }
  | { readonly type: 'removeColumn'; readonly columnId: string }
  | { readonly type: 'setScale'; readonly columnId: string; readonly scale: number }
  /** A model column's reference column (its fidelity line is measured against it). */
  | { readonly type: 'setReference'; readonly columnId: string; readonly referenceId: string }
  | { readonly type: 'copy'; readonly columnId: string }
  | { readonly type: 'openMarkdown' }
  | { readonly type: 'fix'; readonly actionId: string }
  | { readonly type: 'manageTrust' }
  | { readonly type: 'retry' };

// ---- validation -------------------------------------------------------------------------------------------------
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max = 10_000): v is string => typeof v === 'string' && v.length <= max;
const isNum = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
const isInt = (v: unknown, min: number, max: number): v is number => isNum(v, min, max) && Number.isInteger(v);
const isId = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v);
const isArr = (v: unknown, max = 100_000): v is unknown[] => Array.isArray(v) && v.length <= max;
const hasOnly = (o: Obj, keys: readonly string[]): boolean => Object.keys(o).every((k) => keys.includes(k));

/** Settings as a run may use them (ranges included); null when anything is off. */
export function validSettings(v: unknown): PreviewSettings | null {
  if (!isObj(v)) return null;
  const keys = ['prompt', 'format', 'system', 'maxNewTokens', 'temperature', 'temperatureHint', 'topK', 'topKHint', 'topP', 'repetitionPenalty', 'seed'];
  if (!hasOnly(v, keys)) return null;
  const L = LIMITS;
  const ok =
    isStr(v.prompt, L.promptChars) && PROMPT_FORMATS.includes(v.format as PromptFormat) && isStr(v.system, L.promptChars) &&
    isInt(v.maxNewTokens, L.maxNewTokens.min, L.maxNewTokens.max) && isNum(v.temperature, L.temperature.min, L.temperature.max) &&
    isInt(v.topK, L.topK.min, L.topK.max) && isNum(v.topP, L.topP.min, L.topP.max) && v.topP > 0 &&
    isNum(v.repetitionPenalty, L.repetitionPenalty.min, L.repetitionPenalty.max) && isInt(v.seed, L.seed.min, L.seed.max);
  return ok ? (v as unknown as PreviewSettings) : null;
}

const isScale = (v: unknown): v is number => isNum(v, LIMITS.scale.min, LIMITS.scale.max);

/** Validate a message from the webview (untrusted input: the host acts only on what passes). */
export function parseWebviewMessage(m: unknown): WebviewToHost | null {
  if (!isObj(m) || typeof m.type !== 'string') return null;
  switch (m.type) {
    case 'ready': case 'stop': case 'addColumn': case 'addModels': case 'openMarkdown': case 'manageTrust': case 'retry':
      return hasOnly(m, ['type']) ? (m as WebviewToHost) : null;
    case 'run': {
      if (!hasOnly(m, ['type', 'settings', 'scales']) || !validSettings(m.settings) || !isArr(m.scales, 256)) return null;
      const scalesOk = m.scales.every((s) => isObj(s) && hasOnly(s, ['columnId', 'scale']) && isId(s.columnId) && isScale(s.scale));
      return scalesOk ? (m as WebviewToHost) : null;
    }
    case 'removeColumn': case 'copy':
      return hasOnly(m, ['type', 'columnId']) && isId(m.columnId) ? (m as WebviewToHost) : null;
    case 'setScale':
      return hasOnly(m, ['type', 'columnId', 'scale']) && isId(m.columnId) && isScale(m.scale) ? (m as WebviewToHost) : null;
    case 'setReference':
      return hasOnly(m, ['type', 'columnId', 'referenceId']) && isId(m.columnId) && isId(m.referenceId) ? (m as WebviewToHost) : null;
    case 'fix':
      return hasOnly(m, ['type', 'actionId']) && isId(m.actionId) ? (m as WebviewToHost) : null;
    default:
      return null;
  }
}

function validColumn(c: unknown): boolean {
  return isObj(c) && isId(c.id) && (c.kind === 'base' || c.kind === 'adapter' || c.kind === 'model') && isStr(c.title) && isStr(c.detail) && isScale(c.scale) && typeof c.removable === 'boolean' &&
    (c.reference === undefined || c.reference === null || isId(c.reference));
}
const validColumns = (v: unknown): boolean => isArr(v, 256) && v.every(validColumn);
const validStrings = (v: unknown, max = 200): boolean => isArr(v, max) && v.every((s) => isStr(s, LIMITS.promptChars));
const validIds = (v: unknown): boolean => isArr(v) && v.every((x) => isInt(x, 0, 0x7fffffff));
const STATES: readonly PanelState[] = ['idle', 'diagnosing', 'loading', 'ready', 'running', 'error', 'untrusted'];
const STOPS: readonly StopReason[] = ['eos', 'max-tokens', 'stop-string', 'cancelled'];

function validLabels(v: unknown): boolean {
  return isObj(v) && LABEL_KEYS.every((k) => isStr(v[k]));
}

function validDiagnosis(v: unknown): boolean {
  if (v === null) return true;
  if (!isObj(v) || !isStr(v.title) || !isArr(v.problems, 200) || !isArr(v.actions, 50)) return false;
  return v.problems.every((p) => isObj(p) && (p.severity === 'error' || p.severity === 'warning' || p.severity === 'info') && isStr(p.code) && isStr(p.message))
    && v.actions.every((a) => isObj(a) && isId(a.id) && isStr(a.title));
}

const isNullOr = (v: unknown, ok: (x: unknown) => boolean): boolean => v === null || ok(v);

function validFidelity(v: unknown): boolean {
  if (v === null) return true;
  return isObj(v) && isInt(v.positions, 0, Number.MAX_SAFE_INTEGER) && isNullOr(v.agreement, (x) => isNum(x, 0, 1)) &&
    isNullOr(v.meanKl, (x) => isNum(x, 0, Number.MAX_VALUE)) && isNullOr(v.firstDivergence, (x) => isInt(x, 0, Number.MAX_SAFE_INTEGER)) &&
    (v.truncated === undefined || typeof v.truncated === 'boolean');
}

/** Validate a message from the host (the webview still checks: a stale or foreign message must not break the page). */
export function parseHostMessage(m: unknown): HostToWebview | null {
  if (!isObj(m) || typeof m.type !== 'string') return null;
  const run = isInt(m.runId, 0, Number.MAX_SAFE_INTEGER);
  switch (m.type) {
    case 'init':
      return isStr(m.title) && validLabels(m.labels) && validSettings(m.settings) && validColumns(m.columns) && validStrings(m.recentPrompts) &&
        typeof m.chatTemplate === 'boolean' && typeof m.trusted === 'boolean' && typeof m.isMac === 'boolean' ? (m as HostToWebview) : null;
    case 'columns':
      return validColumns(m.columns) ? (m as HostToWebview) : null;
    case 'status': {
      const p = m.progress;
      const progressOk = p === null || (isObj(p) && isNum(p.done, 0, Number.MAX_SAFE_INTEGER) && isNum(p.total, 0, Number.MAX_SAFE_INTEGER));
      return STATES.includes(m.state as PanelState) && isStr(m.message) && progressOk ? (m as HostToWebview) : null;
    }
    case 'diagnosis':
      return validDiagnosis(m.diagnosis) ? (m as HostToWebview) : null;
    case 'recentPrompts':
      return validStrings(m.prompts) ? (m as HostToWebview) : null;
    case 'chatTemplate':
      return typeof m.available === 'boolean' ? (m as HostToWebview) : null;
    case 'runStarted':
      return run && isArr(m.columnIds, 256) && m.columnIds.every(isId) && typeof m.greedy === 'boolean' ? (m as HostToWebview) : null;
    case 'columnStarted':
      return run && isId(m.columnId) ? (m as HostToWebview) : null;
    case 'tokens':
      return run && isId(m.columnId) && isArr(m.tokens) && m.tokens.every((t) => isObj(t) && isInt(t.id, 0, 0x7fffffff) && isStr(t.text, LIMITS.promptChars))
        ? (m as HostToWebview) : null;
    case 'columnDone': {
      const s = m.stats;
      const statsOk = isObj(s) && isNum(s.ttftMs, 0, Number.MAX_SAFE_INTEGER) && isNum(s.tokensPerSecond, 0, Number.MAX_SAFE_INTEGER) && isInt(s.count, 0, Number.MAX_SAFE_INTEGER);
      return run && isId(m.columnId) && validIds(m.ids) && isStr(m.text, 10 * LIMITS.promptChars) && STOPS.includes(m.stopReason as StopReason) && statsOk
        ? (m as HostToWebview) : null;
    }
    case 'columnError':
      return run && isId(m.columnId) && isStr(m.message) ? (m as HostToWebview) : null;
    case 'fidelity':
      return run && isId(m.columnId) && isStr(m.reference) && validFidelity(m.result) && isStr(m.message) ? (m as HostToWebview) : null;
    case 'runDone':
      return run && typeof m.cancelled === 'boolean' ? (m as HostToWebview) : null;
    case 'notice':
      return isStr(m.message) ? (m as HostToWebview) : null;
    default:
      return null;
  }
}

/**
 * Index of the first generated token where `ids` departs from the base column's `baseIds` (a different token, or one
 * of the two ending first); null when they agree over the whole of both. Only meaningful for greedy runs.
 */
export function firstDivergence(baseIds: readonly number[], ids: readonly number[]): number | null {
  const n = Math.min(baseIds.length, ids.length);
  for (let i = 0; i < n; i++) if (baseIds[i] !== ids[i]) return i;
  return baseIds.length === ids.length ? null : n;
}

/** A percentage that never rounds a disagreement up to 100% (99.96% shows as 99.9%). */
function percent(fraction: number): string {
  // The small offset keeps binary rounding from flooring an exact 57% (0.57 * 1000 = 569.99...) to 56.9%.
  return String(Math.floor(fraction * 1000 + 1e-6) / 10);
}

/** Nats with two significant digits (0.012, 1.3), tiny values in exponent form, exactly 0 as 0. */
export function formatNats(kl: number): string {
  if (kl === 0) return '0';
  return kl < 1e-3 ? kl.toExponential(1) : String(Number(kl.toPrecision(2)));
}

/** "vs Model: 97% greedy agreement, mean KL 0.012 nats, first divergence at token 14" in the labels' language. */
export function fidelityLine(labels: Pick<PreviewLabels, 'fidelity' | 'fidelityAgrees' | 'fidelityNothing' | 'fidelityTruncated'>, reference: string, f: FidelityView): string {
  const fill = (template: string, ...args: string[]): string => template.replace(/\{(\d)\}/g, (_, i: string) => args[Number(i)] ?? '');
  if (f.positions === 0 || f.agreement === null || f.meanKl === null) return fill(labels.fidelityNothing, reference);
  const agreement = percent(f.agreement), kl = formatNats(f.meanKl);
  const line = f.firstDivergence === null
    ? fill(labels.fidelityAgrees, reference, agreement, kl)
    : fill(labels.fidelity, reference, agreement, kl, String(f.firstDivergence + 1));
  return f.truncated ? `${line} ${fill(labels.fidelityTruncated, String(f.positions))}` : line;
}
