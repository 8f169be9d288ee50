// Adapter-anatomy webview: a layers x target-modules heatmap of the update's size (relative to the base weight when
// known), its effective rank, or DoRA's magnitude change, with a legend; each cell's tooltip has the numbers.

import type { AnatomyCell, AnatomyDataMessage, AnatomyMetric, AnatomyToHost, HostToAnatomy } from './messages';
import { ANATOMY_CSS } from './styles';
import { h, mountPage } from '../shared/page';

interface VsCodeApi {
  postMessage(msg: AnatomyToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const app = mountPage(ANATOMY_CSS);

let metric: AnatomyMetric = ((vscode.getState() as { metric?: AnatomyMetric } | undefined)?.metric) ?? 'size';
let data: AnatomyDataMessage | null = null;

function valueOf(c: AnatomyCell, m: AnatomyMetric): number | null {
  if (m === 'rank') return c.effectiveRank;
  if (m === 'dora') return c.doraChange;
  return c.relative ?? c.norm;
}

function format(v: number, m: AnatomyMetric, relative: boolean): string {
  if (m === 'rank') return v.toFixed(1);
  if (m === 'dora' || relative) return `${(100 * v).toPrecision(3)}%`;
  return v.toPrecision(3);
}

function tooltip(c: AnatomyCell, d: AnatomyDataMessage): string {
  const lines = [c.module, `||s·BA||_F = ${c.norm.toPrecision(4)}`];
  if (c.relative !== null) lines.push(`/ ||W||_F = ${(100 * c.relative).toPrecision(3)}%`);
  lines.push(`${d.labels.rank}: ${c.effectiveRank.toFixed(2)} / r=${c.r}`, `σ: ${c.topSingularValues.map((s) => s.toPrecision(3)).join(', ')}`);
  if (c.doraChange !== null) lines.push(`${d.labels.dora}: ${(100 * c.doraChange).toPrecision(3)}%`);
  return lines.join('\n');
}

/** The cell's shade: the share of the chart colour, 8% (smallest) to 100% (largest) on a linear scale from 0. */
function shade(v: number, max: number): string {
  const pct = max > 0 ? Math.round(8 + 92 * (v / max)) : 8;
  return `color-mix(in srgb, var(--vscode-charts-blue) ${pct}%, var(--vscode-editor-background))`;
}

function heatmap(d: AnatomyDataMessage, max: number): HTMLTableElement {
  const table = h('table', 'heatmap');
  table.id = 'heatmap';
  const head = table.createTHead().insertRow();
  head.append(h('th', undefined, d.labels.layer), ...d.grid.targets.map((t) => h('th', undefined, t)));
  const body = table.createTBody();
  for (const layer of d.grid.layers) {
    const row = body.insertRow();
    row.append(h('th', undefined, String(layer)));
    for (const t of d.grid.targets) {
      const c = d.grid.cells.find((x) => x.layer === layer && x.target === t);
      const v = c ? valueOf(c, metric) : null;
      const td = h('td', v === null ? 'empty' : 'cell', v === null ? '·' : format(v, metric, d.relative));
      if (c && v !== null) {
        td.style.background = shade(v, max);
        td.title = tooltip(c, d);
        td.dataset.module = c.module;
        td.dataset.value = String(v);
        // Dark text on light shades, the theme's foreground on strong ones.
        if (max > 0 && v / max > 0.6) td.style.color = 'var(--vscode-button-foreground)';
      }
      row.append(td);
    }
  }
  return table;
}

function metricButtons(d: AnatomyDataMessage): HTMLElement {
  const bar = h('div', 'metrics');
  const choices: AnatomyMetric[] = d.hasDora ? ['size', 'rank', 'dora'] : ['size', 'rank'];
  for (const m of choices) {
    const b = h('button', undefined, d.labels[m]);
    b.id = `metric-${m}`;
    b.setAttribute('aria-pressed', String(m === metric));
    b.addEventListener('click', () => {
      metric = m;
      vscode.setState({ metric });
      render();
    });
    bar.append(b);
  }
  return bar;
}

function render(): void {
  if (!data) return;
  const d = data;
  if (metric === 'dora' && !d.hasDora) metric = 'size';
  const values = d.grid.cells.map((c) => valueOf(c, metric)).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = values.length ? Math.max(...values) : 0;
  const header = h('header');
  header.append(h('h1', undefined, d.title), h('div', 'subtitle', d.subtitle));
  const legend = h('div', 'legend');
  legend.id = 'legend';
  legend.append(h('span', undefined, d.labels.legend), h('span', undefined, format(0, metric, d.relative)), h('span', 'bar'), h('span', undefined, format(max, metric, d.relative)));
  const note = h('p', 'note', metric === 'size' ? (d.relative ? d.labels.relativeNote : d.labels.absoluteNote) : '');
  const outside = d.grid.cells.filter((c) => c.layer === null);
  const extra = h('div', 'outside');
  if (outside.length) extra.append(h('span', 'note', `${d.labels.outside}: `), ...outside.map((c) => h('span', undefined, `${c.module} ${format(valueOf(c, metric) ?? 0, metric, d.relative)}  `)));
  app.replaceChildren(header, metricButtons(d), heatmap(d, max), legend, note, extra);
  vscode.postMessage({ type: 'rendered', cells: d.grid.cells.filter((c) => c.layer !== null).length, metric });
}

window.addEventListener('message', (ev: MessageEvent<HostToAnatomy>) => {
  if (ev.data?.type === 'data') {
    data = ev.data;
    render();
  }
});
vscode.postMessage({ type: 'ready' });
