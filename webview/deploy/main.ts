// Deployment-plan webview: the three deployment options of an adapter side by side (shared base, merged safetensors,
// GGUF), each with its sizes, the weights at load time, its command line and buttons that run the existing commands.

import type { DeployAction, DeployDataMessage, DeployRow, DeploySection, DeployToHost, HostToDeploy } from './messages';
import { DEPLOY_CSS } from './styles';
import { h, mountPage } from '../shared/page';

interface VsCodeApi {
  postMessage(msg: DeployToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = mountPage(DEPLOY_CSS);
let data: DeployDataMessage | null = null;

function button(title: string, action: DeployAction, id: string, primary = false): HTMLButtonElement {
  const b = h('button', primary ? 'primary' : undefined, title);
  b.dataset.action = id;
  b.addEventListener('click', () => vscode.postMessage({ type: 'action', action }));
  return b;
}

function copyButton(d: DeployDataMessage, command: string, id: string): HTMLButtonElement {
  const b = button(d.labels.copy, { kind: 'copy', text: command }, id);
  b.dataset.command = command;
  return b;
}

function rowCells(r: DeployRow, d: DeployDataMessage): HTMLTableRowElement {
  const tr = h('tr');
  tr.id = r.id;
  if (r.bytes !== null) tr.dataset.bytes = String(r.bytes);
  const name = h('td', 'name', r.label);
  if (r.badge) name.append(h('span', 'badge', r.badge));
  tr.append(name);
  if (r.error !== null) {
    const td = h('td', 'error', `${d.labels.cannot}: ${r.error}`);
    td.colSpan = 3;
    tr.append(td);
    return tr;
  }
  const act = h('td', 'act');
  if (r.action) act.append(button(r.action.title, r.action.action, r.id));
  act.append(copyButton(d, r.command, `copy-${r.id}`));
  tr.append(h('td', 'size', r.size ?? ''), h('td', 'load', r.load ?? ''), act);
  return tr;
}

/** Show the row's command line under its table and mark it; clicking a row selects it. */
function select(el: HTMLElement, r: DeployRow): void {
  for (const row of Array.from(el.querySelectorAll('tr[aria-selected="true"]'))) row.setAttribute('aria-selected', 'false');
  el.querySelector(`tr#${CSS.escape(r.id)}`)?.setAttribute('aria-selected', 'true');
  const code = el.querySelector('code.cmd');
  if (code) code.textContent = r.command;
}

function table(s: DeploySection, d: DeployDataMessage, el: HTMLElement): HTMLTableElement {
  const t = h('table', 'rows');
  t.createTHead().insertRow().append(h('th'), h('th', undefined, d.labels.size), h('th', undefined, d.labels.load), h('th'));
  const body = t.createTBody();
  for (const r of s.rows) {
    const row = rowCells(r, d);
    row.title = r.command;
    if (r.error === null) row.addEventListener('click', () => select(el, r));
    body.append(row);
  }
  return t;
}

function section(s: DeploySection, d: DeployDataMessage): HTMLElement {
  const el = h('section', 'option');
  el.id = `option-${s.id}`;
  el.append(h('h2', undefined, s.title), h('p', 'note', s.note));
  const facts = h('dl', 'facts');
  for (const f of s.facts) {
    const dd = h('dd', undefined, f.value);
    if (f.bytes !== undefined && f.bytes !== null) dd.dataset.bytes = String(f.bytes);
    facts.append(h('dt', undefined, f.label), dd);
  }
  el.append(facts);
  if (s.command) el.append(h('code', 'cmd', s.command));
  if (s.rows.length) el.append(table(s, d, el), h('code', 'cmd'));
  const first = s.rows.find((r) => r.id === s.selected && r.error === null) ?? s.rows.find((r) => r.error === null);
  if (first) select(el, first);
  if (s.actions.length) {
    const bar = h('div', 'actions');
    bar.append(...s.actions.map((a, i) => button(a.title, a.action, `${s.id}-${a.action.kind}-${i}`, true)));
    if (s.command) bar.append(copyButton(d, s.command, `copy-${s.id}`));
    el.append(bar);
  }
  return el;
}

function render(): void {
  if (!data) return;
  const d = data;
  const header = h('header');
  header.append(h('h1', undefined, d.title), h('div', 'subtitle', d.subtitle));
  const parts: HTMLElement[] = [header];
  if (d.baseProblem) {
    const p = h('div', 'problem', d.baseProblem);
    p.id = 'base-problem';
    const bar = h('div', 'actions');
    bar.append(...d.baseActions.map((a) => button(a.title, a.action, `base-${a.action.kind}`, true)));
    p.append(bar);
    parts.push(p);
  }
  const grid = h('div', 'options');
  grid.append(...d.sections.map((s) => section(s, d)));
  parts.push(grid);
  app.replaceChildren(...parts);
  vscode.postMessage({ type: 'rendered', sections: d.sections.length, rows: d.sections.reduce((n, s) => n + s.rows.filter((r) => r.bytes !== null).length, 0) });
}

/** Briefly confirm a copy on the buttons that copy that command line. */
function showCopied(text: string): void {
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-action^="copy-"]'))) {
    if (b.dataset.command !== text || !data) continue;
    b.textContent = data.labels.copied;
    setTimeout(() => { if (data) b.textContent = data.labels.copy; }, 1500);
  }
}

window.addEventListener('message', (ev: MessageEvent<HostToDeploy>) => {
  if (ev.data?.type === 'data') {
    data = ev.data;
    render();
  } else if (ev.data?.type === 'copied') {
    showCopied(ev.data.text);
  }
});
vscode.postMessage({ type: 'ready' });
