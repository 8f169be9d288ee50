// Generation-preview webview: prompt editor, format and sampling settings, and one column per model variant (Base,
// Base + adapter, added checkpoints) into which the host streams tokens. Built with @vscode-elements/elements; all
// strings come from the host's `init` message; every message from the host is validated (messages.ts) before use.

import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import {
  LIMITS, fidelityLine, firstDivergence, parseHostMessage,
  type ColumnInfo, type DiagnosisView, type FidelityView, type HostToWebview, type InitMessage, type PanelState, type PreviewLabels, type PreviewSettings,
  type PromptFormat, type StopReason, type WebviewToHost,
} from './messages';
import { PREVIEW_CSS } from './styles';
import { mountPage } from '../shared/page';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

type ValueElement = HTMLElement & { value: string; disabled: boolean; invalid?: boolean };

interface ColumnView {
  info: ColumnInfo;
  root: HTMLElement;
  output: HTMLElement;
  stats: HTMLElement;
  state: HTMLElement;
  divergence: HTMLElement;
  /** A model column's line against the reference column (agreement, mean KL, first divergence). */
  fidelity: HTMLElement;
  /** A model column's choice of reference column. */
  reference: ValueElement | null;
  scale: HTMLInputElement | null;
  scaleOut: HTMLOutputElement | null;
  copy: ValueElement;
  remove: ValueElement | null;
  tokens: Array<{ id: number; span: HTMLSpanElement }>;
  ids: number[] | null;
  done: boolean;
}

const vscode = acquireVsCodeApi();
const app = mountPage(PREVIEW_CSS);

let L: PreviewLabels;
let init: InitMessage | null = null;
let panelState: PanelState = 'idle';
let running = false;
let greedy = true;
let currentRun = -1;
let noticeTimer: ReturnType<typeof setTimeout> | undefined;
const views = new Map<string, ColumnView>();
let columnsHost: HTMLElement;
const ui: Record<string, ValueElement> = {};

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function el(tag: string, attrs: Record<string, string> = {}, text?: string): ValueElement {
  const e = document.createElement(tag) as ValueElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(id: string, label: string, onClick: () => void, secondary = false): ValueElement {
  const b = el('vscode-button', { id, 'aria-label': label }, label);
  if (secondary) b.setAttribute('secondary', '');
  b.addEventListener('click', () => {
    if (!b.disabled) onClick();
  });
  return b;
}

/** A labelled control; a hint ("0 = greedy") goes on its own line below, so labels stay one line and inputs align. */
function field(id: string, label: string, control: ValueElement, hint?: string): HTMLElement {
  const wrap = h('div', { class: 'field' });
  const lab = h('label', { for: id, id: `${id}-label`, title: label }, label);
  control.id = id;
  control.setAttribute('aria-labelledby', `${id}-label`);
  control.setAttribute('label', hint ? `${label} (${hint})` : label); // vscode-elements forward `label` to the inner input's aria-label
  wrap.append(lab, control);
  if (hint) wrap.append(h('span', { class: 'hint', id: `${id}-hint` }, hint));
  return wrap;
}

function numberField(id: keyof PreviewSettings, label: string, value: number, min: number, max: number, step: string, hint?: string): HTMLElement {
  const f = el('vscode-textfield', { type: 'number', min: String(min), max: String(max), step });
  f.value = String(value);
  return field(id, label, f, hint);
}

function render(m: InitMessage): void {
  L = m.labels;
  app.replaceChildren();
  app.setAttribute('aria-busy', 'false');
  app.setAttribute('aria-label', m.title);
  app.append(h('h1', {}, m.title));

  // Restricted Mode: explained up front, with the way out.
  const trust = h('div', { id: 'trust', role: 'alert' });
  trust.hidden = m.trusted;
  trust.append(h('p', {}, L.untrusted));
  const trustActions = h('div', { class: 'actions' });
  trustActions.append(button('manage-trust', L.manageTrust, () => vscode.postMessage({ type: 'manageTrust' })));
  trust.append(trustActions);
  app.append(trust);

  const area = h('div', { class: 'prompt-area' });
  const promptBox = h('div', { class: 'field' });
  const prompt = el('vscode-textarea', { rows: '5', resize: 'vertical', placeholder: L.promptPlaceholder });
  prompt.value = m.settings.prompt;
  promptBox.append(field('prompt', L.prompt, prompt));
  const system = el('vscode-textarea', { rows: '2', resize: 'vertical', placeholder: L.systemPlaceholder });
  system.value = m.settings.system;
  promptBox.append(field('system', L.system, system));
  area.append(promptBox);

  const side = h('div', { class: 'side' });
  const format = el('vscode-single-select');
  const formats: Array<[PromptFormat, string]> = [['raw', L.formatRaw], ['alpaca2', L.formatAlpaca2], ['chat', L.formatChat]];
  for (const [value, label] of formats) {
    const o = el('vscode-option', { value }, label);
    if (value === 'chat' && !m.chatTemplate) {
      o.setAttribute('disabled', '');
      o.setAttribute('description', L.formatChatUnavailable);
    }
    format.append(o);
  }
  format.value = m.settings.format === 'chat' && !m.chatTemplate ? 'raw' : m.settings.format;
  side.append(field('format', L.format, format));
  const recent = el('vscode-single-select');
  side.append(field('recent', L.recentPrompts, recent));
  recent.addEventListener('change', () => {
    if (recent.value) {
      ui.prompt!.value = recent.value;
      ui.prompt!.focus();
    }
  });
  area.append(side);
  app.append(area);

  const params = h('div', { class: 'params', role: 'group', 'aria-label': L.parameters });
  const s = m.settings;
  params.append(
    numberField('maxNewTokens', L.maxNewTokens, s.maxNewTokens, LIMITS.maxNewTokens.min, LIMITS.maxNewTokens.max, '1'),
    numberField('temperature', L.temperature, s.temperature, LIMITS.temperature.min, LIMITS.temperature.max, '0.05', L.temperatureHint),
    numberField('topK', L.topK, s.topK, LIMITS.topK.min, LIMITS.topK.max, '1', L.topKHint),
    numberField('topP', L.topP, s.topP, 0.01, LIMITS.topP.max, '0.01'),
    numberField('repetitionPenalty', L.repetitionPenalty, s.repetitionPenalty, LIMITS.repetitionPenalty.min, LIMITS.repetitionPenalty.max, '0.05'),
    numberField('seed', L.seed, s.seed, LIMITS.seed.min, LIMITS.seed.max, '1'),
  );
  app.append(params);

  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': L.parameters });
  toolbar.append(
    button('run', L.run, run),
    button('stop', L.stop, () => vscode.postMessage({ type: 'stop' }), true),
    h('span', { class: 'hint' }, L.runHint),
    button('add-column', L.addCheckpoint, () => vscode.postMessage({ type: 'addColumn' }), true),
    button('add-models', L.addModels, () => vscode.postMessage({ type: 'addModels' }), true),
    button('open-markdown', L.openMarkdown, () => vscode.postMessage({ type: 'openMarkdown' }), true),
  );
  app.append(toolbar);

  const status = h('div', { id: 'status', role: 'status', 'aria-live': 'polite', 'data-state': 'idle' });
  app.append(status);
  const notice = h('div', { id: 'notice', role: 'status', 'aria-live': 'polite' });
  app.append(notice);
  const diagnosis = h('div', { id: 'diagnosis', role: 'alert' });
  diagnosis.hidden = true;
  app.append(diagnosis);

  columnsHost = h('div', { id: 'columns', role: 'region', 'aria-label': L.columns });
  app.append(columnsHost);

  for (const id of ['prompt', 'system', 'format', 'recent', 'maxNewTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'seed', 'run', 'stop', 'add-column', 'add-models', 'open-markdown']) {
    ui[id] = document.getElementById(id) as ValueElement;
  }
  setRecent(m.recentPrompts);
  setColumns(m.columns);
  updateControls();
}

function setRecent(prompts: readonly string[]): void {
  const recent = ui.recent!;
  recent.replaceChildren();
  const none = el('vscode-option', { value: '' }, prompts.length ? '—' : L.recentNone);
  recent.append(none);
  for (const p of prompts) {
    const line = p.replace(/\s+/g, ' ');
    recent.append(el('vscode-option', { value: p, description: p }, line.length > 60 ? `${line.slice(0, 57)}...` : line));
  }
  recent.value = '';
}

function readSettings(): PreviewSettings | null {
  const num = (id: string, min: number, max: number, int: boolean): number | null => {
    const f = ui[id]!;
    const v = Number(f.value);
    const ok = f.value.trim() !== '' && Number.isFinite(v) && v >= min && v <= max && (!int || Number.isInteger(v)) && !(id === 'topP' && v <= 0);
    f.invalid = !ok;
    return ok ? v : null;
  };
  const maxNewTokens = num('maxNewTokens', LIMITS.maxNewTokens.min, LIMITS.maxNewTokens.max, true);
  const temperature = num('temperature', LIMITS.temperature.min, LIMITS.temperature.max, false);
  const topK = num('topK', LIMITS.topK.min, LIMITS.topK.max, true);
  const topP = num('topP', LIMITS.topP.min, LIMITS.topP.max, false);
  const repetitionPenalty = num('repetitionPenalty', LIMITS.repetitionPenalty.min, LIMITS.repetitionPenalty.max, false);
  const seed = num('seed', LIMITS.seed.min, LIMITS.seed.max, true);
  if (maxNewTokens === null || temperature === null || topK === null || topP === null || repetitionPenalty === null || seed === null) return null;
  return {
    prompt: ui.prompt!.value, format: ui.format!.value as PromptFormat, system: ui.system!.value,
    maxNewTokens, temperature, topK, topP, repetitionPenalty, seed,
  };
}

function run(): void {
  if (running || panelState === 'untrusted' || panelState === 'diagnosing' || !init) return;
  const settings = readSettings();
  if (!settings) return;
  const scales = [...views.values()].filter((v) => v.scale).map((v) => ({ columnId: v.info.id, scale: Number(v.scale!.value) }));
  vscode.postMessage({ type: 'run', settings, scales });
}

function columnView(info: ColumnInfo): ColumnView {
  const root = h('section', { class: 'column', 'data-column-id': info.id, 'data-kind': info.kind, 'aria-label': info.title });
  const header = h('header');
  const title = h('h2', { title: info.detail }, info.title);
  header.append(title);
  let remove: ValueElement | null = null;
  if (info.removable) {
    remove = el('vscode-button', { class: 'remove', secondary: '', 'aria-label': `${L.removeColumn}: ${info.title}`, title: L.removeColumn }, '✕');
    remove.addEventListener('click', () => {
      if (!remove!.disabled) vscode.postMessage({ type: 'removeColumn', columnId: info.id });
    });
    header.append(remove);
  }
  root.append(header, h('div', { class: 'detail', title: info.detail }, info.detail));
  let scale: HTMLInputElement | null = null;
  let scaleOut: HTMLOutputElement | null = null;
  if (info.kind === 'adapter') {
    const row = h('div', { class: 'scale-row' });
    const id = `scale-${info.id}`;
    row.append(h('label', { for: id }, L.scale));
    scale = h('input', { type: 'range', id, class: 'scale', min: String(LIMITS.scale.min), max: String(LIMITS.scale.max), step: '0.05', 'aria-label': `${L.scale}: ${info.title}` });
    scale.value = String(info.scale);
    scaleOut = h('output', { for: id }, info.scale.toFixed(2));
    scale.addEventListener('input', () => {
      scaleOut!.textContent = Number(scale!.value).toFixed(2);
      vscode.postMessage({ type: 'setScale', columnId: info.id, scale: Number(scale!.value) });
    });
    row.append(scale, scaleOut);
    root.append(row);
  }
  const reference = info.kind === 'model' ? referencePicker(info, root) : null;
  const stats = h('div', { class: 'stats', 'aria-label': `${info.title}: ${L.tokens}` });
  const state = h('div', { class: 'state' });
  const divergence = h('div', { class: 'divergence' });
  const fidelity = h('div', { class: 'fidelity', role: 'status' });
  // The output is a focusable log region: keyboard users can scroll it and screen readers can read it.
  const output = h('pre', { class: 'output', tabindex: '0', role: 'log', 'aria-live': 'off', 'aria-label': info.title });
  const footer = h('footer');
  const copy = el('vscode-button', { class: 'copy', secondary: '', 'aria-label': `${L.copy}: ${info.title}` }, L.copy);
  copy.addEventListener('click', () => {
    if (!copy.disabled) vscode.postMessage({ type: 'copy', columnId: info.id });
  });
  footer.append(copy);
  root.append(stats, state, divergence, fidelity, output, footer);
  return { info, root, output, stats, state, divergence, fidelity, reference, scale, scaleOut, copy, remove, tokens: [], ids: null, done: false };
}

/** "Measured against [column]" on a model column: which column its fidelity line compares it with. */
function referencePicker(info: ColumnInfo, root: HTMLElement): ValueElement {
  const row = h('div', { class: 'reference-row' });
  const id = `reference-${info.id}`;
  const select = el('vscode-single-select', { id, 'aria-label': `${L.reference}: ${info.title}` });
  select.addEventListener('change', () => {
    if (select.value) vscode.postMessage({ type: 'setReference', columnId: info.id, referenceId: select.value });
  });
  row.append(h('label', { for: id }, L.reference), select);
  root.append(row);
  return select;
}

/** The reference choices of a model column: every column that is not a model column, the host's choice selected. */
function fillReferences(v: ColumnView, columns: readonly ColumnInfo[]): void {
  const select = v.reference!;
  const choices = columns.filter((c) => c.kind !== 'model');
  const key = choices.map((c) => `${c.id}\u0000${c.title}`).join('\u0001');
  if (select.dataset.choices !== key) {
    select.replaceChildren(...choices.map((c) => el('vscode-option', { value: c.id }, c.title)));
    select.dataset.choices = key;
  }
  const info = columns.find((c) => c.id === v.info.id);
  if (info?.reference) select.value = info.reference;
}

function setColumns(columns: readonly ColumnInfo[]): void {
  const keep = new Set(columns.map((c) => c.id));
  for (const [id, v] of views) {
    if (!keep.has(id)) {
      v.root.remove();
      views.delete(id);
    }
  }
  for (const c of columns) {
    let v = views.get(c.id);
    if (!v) {
      v = columnView(c);
      views.set(c.id, v);
    }
    columnsHost.append(v.root); // re-appending keeps the host's order
    if (v.reference) fillReferences(v, columns);
  }
  updateControls();
}

function setStats(v: ColumnView, s: { ttftMs: number; tokensPerSecond: number; count: number }): void {
  v.stats.replaceChildren(
    h('span', { class: 'ttft', 'data-value': s.ttftMs.toFixed(1) }, `${L.ttft} ${s.ttftMs.toFixed(0)} ${L.ms}`),
    h('span', { class: 'tps', 'data-value': s.tokensPerSecond.toFixed(1) }, `${s.tokensPerSecond.toFixed(1)} ${L.tokensPerSecond}`),
    h('span', { class: 'count', 'data-value': String(s.count) }, `${s.count} ${L.tokens}`),
  );
}

function stopLabel(r: StopReason): string {
  return r === 'eos' ? L.finishedEos : r === 'max-tokens' ? L.finishedMax : r === 'stop-string' ? L.finishedStop : L.stopped;
}

/** Greedy runs only: mark the first token where a column departs from the base, once both are complete. */
function updateDivergence(): void {
  const base = views.get('base');
  for (const v of views.values()) {
    v.divergence.textContent = '';
    for (const t of v.tokens) t.span.classList.remove('diverge');
    if (!greedy || v === base || !base?.done || !base.ids || !v.done || !v.ids) continue;
    let i = firstDivergence(base.ids, v.ids);
    // A stopped column (or base) is cut short: it ending first says nothing about the model.
    const cut = v.root.dataset.stopReason === 'cancelled' || base.root.dataset.stopReason === 'cancelled';
    if (cut && i !== null && i >= Math.min(base.ids.length, v.ids.length)) i = null;
    v.root.dataset.divergence = i === null ? 'none' : String(i);
    // A model column says how it departs in its fidelity line (against its reference): only its token is marked.
    const say = v.info.kind !== 'model';
    if (i === null) {
      if (!cut && say) v.divergence.textContent = L.divergenceNone;
      continue;
    }
    if (say) v.divergence.textContent = L.divergence.replace('{0}', String(i + 1));
    // The first token from i on that has visible text (a byte piece of a multi-byte character may render as '').
    const t = v.tokens.slice(i).find((x) => x.span.textContent !== '');
    if (t) {
      t.span.classList.add('diverge');
      t.span.title = L.divergence.replace('{0}', String(i + 1));
    }
  }
}

/** The fidelity line of a model column (null clears it); its numbers also go on data attributes for tests and tools. */
function showFidelity(v: ColumnView, f: { text: string; result: FidelityView | null } | null): void {
  v.fidelity.textContent = f?.text ?? '';
  v.fidelity.classList.toggle('error', f !== null && f.result === null);
  const d = v.root.dataset;
  delete d.agreement;
  delete d.meanKl;
  delete d.fidelityDivergence;
  if (!f?.result) return;
  if (f.result.agreement !== null) d.agreement = String(f.result.agreement);
  if (f.result.meanKl !== null) d.meanKl = String(f.result.meanKl);
  d.fidelityDivergence = f.result.firstDivergence === null ? 'none' : String(f.result.firstDivergence);
}

function setStatus(state: PanelState, message: string, progress: { done: number; total: number } | null): void {
  panelState = state;
  const status = document.getElementById('status');
  if (!status) return;
  status.dataset.state = state;
  status.replaceChildren();
  if (state === 'loading' || state === 'diagnosing' || state === 'running') {
    const bar = el('vscode-progress-bar', { 'aria-label': message });
    if (progress && progress.total > 0 && state === 'loading') {
      (bar as unknown as { value: number; max: number }).max = progress.total;
      (bar as unknown as { value: number; max: number }).value = progress.done;
    }
    status.append(bar);
  }
  status.append(h('span', { class: 'message' }, message));
  const trust = document.getElementById('trust');
  if (trust) trust.hidden = state !== 'untrusted';
  updateControls();
}

function showDiagnosis(d: DiagnosisView | null): void {
  const box = document.getElementById('diagnosis');
  if (!box) return;
  box.replaceChildren();
  box.hidden = d === null;
  if (!d) return;
  box.append(h('strong', {}, d.title));
  const list = h('ul');
  for (const p of d.problems) {
    const li = h('li', { class: p.severity });
    li.append(document.createTextNode(`${p.message} `), h('code', {}, p.code));
    list.append(li);
  }
  box.append(list);
  const actions = h('div', { class: 'actions' });
  for (const a of d.actions) actions.append(button(`fix-${a.id}`, a.title, () => vscode.postMessage({ type: 'fix', actionId: a.id }), actions.childElementCount > 0));
  actions.append(button('retry', L.retry, () => vscode.postMessage({ type: 'retry' }), true));
  box.append(actions);
}

function updateControls(): void {
  if (!ui.run) return;
  const blocked = panelState === 'untrusted' || panelState === 'diagnosing' || (panelState === 'error' && !document.getElementById('diagnosis')?.hidden);
  ui.run.disabled = running || blocked;
  ui.stop!.disabled = !running;
  ui['add-column']!.disabled = running || blocked || panelState === 'loading' || panelState === 'idle';
  ui['add-models']!.disabled = ui['add-column']!.disabled;
  for (const v of views.values()) {
    if (v.remove) v.remove.disabled = running;
    if (v.reference) v.reference.disabled = running;
    v.copy.disabled = v.output.textContent === '';
  }
}

function onMessage(m: HostToWebview): void {
  switch (m.type) {
    case 'init':
      init = m;
      render(m);
      return;
    case 'columns':
      setColumns(m.columns);
      return;
    case 'status':
      setStatus(m.state, m.message, m.progress);
      return;
    case 'diagnosis':
      showDiagnosis(m.diagnosis);
      updateControls();
      return;
    case 'recentPrompts':
      setRecent(m.prompts);
      return;
    case 'chatTemplate': {
      const chat = ui.format?.querySelector('vscode-option[value="chat"]');
      chat?.toggleAttribute('disabled', !m.available);
      if (m.available) chat?.removeAttribute('description');
      return;
    }
    case 'runStarted':
      currentRun = m.runId;
      running = true;
      greedy = m.greedy;
      for (const v of views.values()) {
        v.tokens = [];
        v.ids = null;
        v.done = false;
        v.output.replaceChildren();
        v.output.classList.remove('cursor');
        v.stats.replaceChildren();
        v.divergence.textContent = '';
        showFidelity(v, null);
        delete v.root.dataset.divergence;
        delete v.root.dataset.stopReason;
        v.root.dataset.state = m.columnIds.includes(v.info.id) ? 'waiting' : 'idle';
        v.state.textContent = m.columnIds.includes(v.info.id) ? L.waiting : '';
        v.state.classList.remove('error');
      }
      updateControls();
      return;
    case 'columnStarted': {
      const v = views.get(m.columnId);
      if (!v || m.runId !== currentRun) return;
      v.root.dataset.state = 'generating';
      v.state.textContent = L.generating;
      v.output.classList.add('cursor');
      v.output.setAttribute('aria-busy', 'true');
      return;
    }
    case 'tokens': {
      const v = views.get(m.columnId);
      if (!v || m.runId !== currentRun) return;
      for (const t of m.tokens) {
        const span = h('span', { class: 'tok' }, t.text);
        v.tokens.push({ id: t.id, span });
        v.output.append(span);
      }
      v.output.scrollTop = v.output.scrollHeight;
      v.copy.disabled = false;
      return;
    }
    case 'columnDone': {
      const v = views.get(m.columnId);
      if (!v || m.runId !== currentRun) return;
      // The result is authoritative: if the streamed pieces do not add up to it, show the result as one piece.
      if (v.tokens.map((t) => t.span.textContent).join('') !== m.text) {
        const span = h('span', { class: 'tok' }, m.text);
        v.output.replaceChildren(span);
        v.tokens = [{ id: -1, span }];
      }
      v.ids = [...m.ids];
      v.done = true;
      v.root.dataset.state = m.stopReason === 'cancelled' ? 'stopped' : 'done';
      v.root.dataset.stopReason = m.stopReason;
      v.state.textContent = stopLabel(m.stopReason);
      v.output.classList.remove('cursor');
      v.output.removeAttribute('aria-busy');
      setStats(v, m.stats);
      updateDivergence();
      updateControls();
      return;
    }
    case 'columnError': {
      const v = views.get(m.columnId);
      if (!v || m.runId !== currentRun) return;
      v.root.dataset.state = 'error';
      v.state.textContent = m.message;
      v.state.classList.add('error');
      v.output.classList.remove('cursor');
      v.output.removeAttribute('aria-busy');
      return;
    }
    case 'fidelity': {
      const v = views.get(m.columnId);
      if (!v || m.runId !== currentRun) return;
      showFidelity(v, m.result ? { text: fidelityLine(L, m.reference, m.result), result: m.result } : { text: m.message, result: null });
      return;
    }
    case 'runDone':
      if (m.runId !== currentRun) return;
      running = false;
      for (const v of views.values()) {
        if (v.root.dataset.state === 'waiting' || v.root.dataset.state === 'generating') {
          v.root.dataset.state = 'stopped';
          v.state.textContent = L.stopped;
          v.output.classList.remove('cursor');
          v.output.removeAttribute('aria-busy');
          // A column that never started has no timings to show; one cut short shows how far it got.
          if (v.tokens.length > 0) setStats(v, { ttftMs: 0, tokensPerSecond: 0, count: v.tokens.length });
        }
      }
      app.dataset.lastRun = String(m.runId);
      app.dataset.cancelled = String(m.cancelled);
      updateControls();
      return;
    case 'notice': {
      const n = document.getElementById('notice');
      if (!n) return;
      n.textContent = m.message;
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => (n.textContent = ''), 4000);
      return;
    }
  }
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = parseHostMessage(e.data);
  if (!m) {
    console.warn('preview: ignored a malformed host message', e.data);
    return;
  }
  onMessage(m);
});

// Ctrl/Cmd+Enter runs from anywhere in the panel (the prompt editor included); Escape stops a running generation.
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (init?.isMac ? e.metaKey : e.ctrlKey)) {
    e.preventDefault();
    run();
  } else if (e.key === 'Escape' && running) {
    e.preventDefault();
    vscode.postMessage({ type: 'stop' });
  }
});

vscode.postMessage({ type: 'ready' });
