// Training-curves webview: loss + eval loss, learning rate and grad norm against step, from the host's
// CurvesDataMessage; checkpoints drawn as dashed markers, the best one starred. Clean SVG (chart.ts), no chart library.

import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import { renderChart, type ChartMarker, type ChartOptions, type ChartSeries } from './chart';
import type { CurvesDataMessage, CurvesToHost, DataEvalMessage, HostToCurves } from './messages';
import { CURVES_CSS } from './styles';
import { h, mountPage } from '../shared/page';

interface VsCodeApi {
  postMessage(msg: CurvesToHost): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  logY: boolean;
  smoothing: number;
}

const vscode = acquireVsCodeApi();
const app = mountPage(CURVES_CSS);

const saved = vscode.getState() as Partial<ViewState> | undefined;
const state: ViewState = { logY: saved?.logY ?? false, smoothing: saved?.smoothing ?? 0 };
let data: CurvesDataMessage | null = null;
let reported = false;

function render(): void {
  if (!data) return;
  const d = data;
  app.replaceChildren();
  const header = h('header');
  header.append(h('h1', undefined, d.title));
  header.append(h('span', 'source', `${d.source} · ${d.rows.toLocaleString()} ${d.labels.rows}`));
  const controls = h('div', 'controls');
  const log = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean; label: string };
  log.id = 'log-scale';
  log.label = d.labels.logScale;
  log.checked = state.logY;
  log.addEventListener('change', () => {
    state.logY = log.checked;
    vscode.setState(state);
    draw();
  });
  const smoothLabel = h('label', undefined, `${d.labels.smoothing} `);
  const smooth = h('input');
  smooth.type = 'range';
  smooth.id = 'smoothing';
  smooth.min = '0';
  smooth.max = '0.99';
  smooth.step = '0.01';
  smooth.value = String(state.smoothing);
  smooth.addEventListener('input', () => {
    state.smoothing = Number(smooth.value);
    vscode.setState(state);
    draw();
  });
  smoothLabel.append(smooth);
  controls.append(log, smoothLabel);
  header.append(controls);
  app.append(header);

  const legend = h('div', 'legend');
  for (const [key, label] of [['loss', d.labels.loss], ['evalLoss', d.labels.evalLoss], ['learningRate', d.labels.learningRate], ['gradNorm', d.labels.gradNorm]] as const) {
    if (d.series[key].length === 0) continue;
    const item = h('span');
    item.append(h('span', `swatch series-${key}`), document.createTextNode(label));
    legend.append(item);
  }
  app.append(legend);

  const hosts = ['loss', ...(d.dataEval ? ['data'] : []), 'lr', 'grad'].map((id) => {
    const div = h('div', 'chart-host');
    div.id = `chart-${id}`;
    app.append(div);
    return div;
  });

  const all = [...d.series.loss, ...d.series.evalLoss, ...d.series.learningRate, ...d.series.gradNorm].map((p) => p[0]);
  const steps = [...all, ...d.checkpoints.map((c) => c.step), ...(d.dataEval?.points.map((p) => p[0]) ?? [])];
  const xDomain: [number, number] = steps.length > 0 ? [Math.min(0, ...steps), Math.max(...steps)] : [0, 1];
  const markers: ChartMarker[] = d.checkpoints.map((c) => ({ step: c.step, best: c.best, label: `${c.name}${c.best ? ` (${d.labels.best})` : ''}` }));
  const onMarkerClick = (step: number): void => vscode.postMessage({ type: 'openCheckpoint', step });

  function draw(): void {
    const width = Math.max(240, app.clientWidth - 4);
    const common = { width, xDomain, markers, noData: d.labels.noData, onMarkerClick, smoothing: state.smoothing, xTitle: d.labels.step };
    const lossSeries: ChartSeries[] = [
      { key: 'loss', label: d.labels.loss, points: d.series.loss },
      { key: 'evalLoss', label: d.labels.evalLoss, points: d.series.evalLoss, dots: true },
    ];
    const [lossHost, dataHost, lrHost, gradHost] = d.dataEval ? hosts : [hosts[0], null, hosts[1], hosts[2]];
    const drawn = {
      ...renderChart(lossHost!, lossSeries, { ...common, title: `${d.labels.loss} / ${d.labels.evalLoss}`, yTitle: d.labels.lossAxis, height: 260, logY: state.logY }),
      ...(dataHost && d.dataEval ? drawDataEval(dataHost, d.dataEval, { ...common, smoothing: 0 }, xDomain) : {}),
      ...renderChart(lrHost!, [{ key: 'learningRate', label: d.labels.learningRate, points: d.series.learningRate }], { ...common, title: d.labels.learningRate, yTitle: d.labels.learningRate, height: 160, logY: false, smoothing: 0 }),
      ...renderChart(gradHost!, [{ key: 'gradNorm', label: d.labels.gradNorm, points: d.series.gradNorm }], { ...common, title: d.labels.gradNorm, yTitle: d.labels.gradNorm, height: 160, logY: state.logY }),
    };
    if (!reported) {
      reported = true;
      vscode.postMessage({ type: 'rendered', series: drawn });
    }
  }
  draw();
  lastDraw = draw;
}

/** The loss-on-your-data chart: a dot (with its 95% interval) per checkpoint, the best ringed, the base dashed. */
function drawDataEval(host: HTMLElement, e: DataEvalMessage, common: Omit<ChartOptions, 'title' | 'yTitle' | 'height' | 'logY'>, xDomain: [number, number]): Record<string, number> {
  const series: ChartSeries[] = [{ key: 'dataLoss', label: e.labels.series, points: e.points, dots: true, whiskers: e.whiskers, highlight: e.bestStep }];
  if (e.base !== null) series.push({ key: 'dataBase', label: e.labels.base, points: [[xDomain[0], e.base], [xDomain[1], e.base]], dashed: true });
  const drawn = renderChart(host, series, { ...common, title: e.title, yTitle: e.labels.series, height: 200, logY: false });
  const note = document.createElement('p');
  note.className = 'data-best';
  note.textContent = [`★ ${e.labels.best}`, ...(e.base !== null ? [`- - ${e.labels.base} ${e.base.toFixed(4)}`] : []), `| ${e.labels.interval}`].join(' · ');
  host.prepend(note);
  return drawn;
}

let lastDraw: (() => void) | null = null;
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => lastDraw?.(), 100);
}).observe(document.body);

window.addEventListener('message', (ev: MessageEvent<HostToCurves>) => {
  if (ev.data?.type === 'data') {
    data = ev.data;
    render();
  }
});
vscode.postMessage({ type: 'ready' });
