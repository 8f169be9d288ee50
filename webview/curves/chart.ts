// A small SVG line chart for training curves: min/max decimation per pixel column (so 10,000+ rows stay readable and
// light in the DOM), nice ticks, optional log scale, EMA smoothing, checkpoint markers and a hover readout.
// Colours come from VS Code theme CSS variables set in curves.css.

import type { Point } from './messages';

const SVG = 'http://www.w3.org/2000/svg';

export interface ChartSeries {
  readonly key: string;
  readonly label: string;
  readonly points: readonly Point[];
  /** Draw each point as a dot too (sparse series such as eval loss). */
  readonly dots?: boolean;
  /** Vertical interval bars [step, lo, hi] (a point's confidence interval). */
  readonly whiskers?: ReadonlyArray<readonly [number, number, number]>;
  /** Step of the point to ring as the best one. */
  readonly highlight?: number | null;
  /** Dashed (a reference line such as the base model's loss). */
  readonly dashed?: boolean;
}

export interface ChartMarker {
  readonly step: number;
  readonly label: string;
  readonly best: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly logY: boolean;
  /** TensorBoard-style EMA weight in [0, 1); 0 draws the raw series only. */
  readonly smoothing: number;
  readonly xDomain: readonly [number, number];
  readonly markers: readonly ChartMarker[];
  readonly noData: string;
  /** Axis titles: the x axis (step) below the ticks, the y axis (what is plotted) rotated at the left edge. */
  readonly xTitle: string;
  readonly yTitle: string;
  readonly onMarkerClick?: (step: number) => void;
}

const M = { left: 68, right: 12, top: 22, bottom: 36 };

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

/** 1-2-5 ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** Keep first, last, min and max of every pixel column: the shape of a 10k-point series survives at ~4 points/px. */
export function decimate(points: readonly Point[], x: (s: number) => number, width: number): Point[] {
  if (points.length <= width * 2) return [...points];
  const out: Point[] = [];
  let col = -1;
  let first: Point | null = null;
  let min: Point | null = null;
  let max: Point | null = null;
  let last: Point | null = null;
  const flush = (): void => {
    if (!first) return;
    const group = [first, min!, max!, last!].filter((p, i, a) => a.indexOf(p) === i).sort((a, b) => a[0] - b[0]);
    out.push(...group);
  };
  for (const p of points) {
    const c = Math.floor(x(p[0]));
    if (c !== col) {
      flush();
      col = c;
      first = min = max = last = p;
      continue;
    }
    if (p[1] < min![1]) min = p;
    if (p[1] > max![1]) max = p;
    last = p;
  }
  flush();
  return out;
}

export function ema(points: readonly Point[], weight: number): Point[] {
  if (weight <= 0) return [...points];
  const out: Point[] = [];
  let last = 0;
  let debias = 0;
  for (const [s, v] of points) {
    last = last * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    out.push([s, last / debias]);
  }
  return out;
}

function nearest(points: readonly Point[], step: number): Point | null {
  if (points.length === 0) return null;
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]![0] < step) lo = mid + 1;
    else hi = mid;
  }
  const a = points[lo]!;
  const b = points[lo - 1];
  return b && Math.abs(b[0] - step) < Math.abs(a[0] - step) ? b : a;
}

function drawAxisTitles(svg: SVGSVGElement, o: ChartOptions, plotW: number, plotH: number): void {
  el('text', { x: M.left + plotW / 2, y: o.height - 4, 'text-anchor': 'middle', class: 'axis-title x-title' }, svg).textContent = o.xTitle;
  const cy = M.top + plotH / 2;
  el('text', { x: 12, y: cy, 'text-anchor': 'middle', transform: `rotate(-90 12 ${cy})`, class: 'axis-title y-title' }, svg).textContent = o.yTitle;
}

/** A series' interval bars and its best-point ring. */
function drawExtras(body: SVGGElement, s: ChartSeries, x: (v: number) => number, y: (v: number) => number): void {
  for (const [st, lo, hi] of s.whiskers ?? []) el('line', { x1: x(st), x2: x(st), y1: y(lo), y2: y(hi), class: `whisker series-${s.key}`, 'data-step': st }, body);
  const best = s.highlight !== undefined && s.highlight !== null ? s.points.find((p) => p[0] === s.highlight) : undefined;
  if (best) el('circle', { cx: x(best[0]), cy: y(best[1]), r: 6, class: `best-ring series-${s.key}`, 'data-step': best[0] }, body);
}

/** Render one chart into `host` (replacing its content). Returns the number of path points drawn per series. */
export function renderChart(host: HTMLElement, series: readonly ChartSeries[], o: ChartOptions): Record<string, number> {
  host.replaceChildren();
  const svg = el('svg', { width: o.width, height: o.height, viewBox: `0 0 ${o.width} ${o.height}`, class: 'chart', role: 'img', 'aria-label': o.title });
  host.appendChild(svg);
  el('text', { x: M.left, y: 14, class: 'chart-title' }, svg).textContent = o.title;
  const drawn: Record<string, number> = {};
  const plotW = o.width - M.left - M.right;
  const plotH = o.height - M.top - M.bottom;
  const values = series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.whiskers ?? []).flatMap((w) => [w[1], w[2]])]).filter((v) => Number.isFinite(v) && (!o.logY || v > 0));
  if (values.length === 0 || plotW <= 10 || plotH <= 10) {
    el('text', { x: o.width / 2, y: o.height / 2, class: 'no-data', 'text-anchor': 'middle' }, svg).textContent = o.noData;
    return drawn;
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v);
  const tlo = ty(lo);
  const thi = ty(hi);
  const pad = (thi - tlo) * 0.05;
  const [x0, x1] = o.xDomain[1] > o.xDomain[0] ? o.xDomain : [o.xDomain[0] - 1, o.xDomain[0] + 1];
  const x = (s: number): number => M.left + ((s - x0) / (x1 - x0)) * plotW;
  const y = (v: number): number => M.top + plotH - ((ty(v) - (tlo - pad)) / (thi - tlo + 2 * pad)) * plotH;

  const grid = el('g', { class: 'grid' }, svg);
  const yTicks = o.logY
    ? niceTicks(Math.floor(tlo), Math.ceil(thi), 4).filter((t) => Number.isInteger(t)).map((t) => 10 ** t).filter((v) => ty(v) >= tlo - pad && ty(v) <= thi + pad)
    : niceTicks(lo, hi, 4);
  for (const t of yTicks) {
    el('line', { x1: M.left, x2: M.left + plotW, y1: y(t), y2: y(t) }, grid);
    el('text', { x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, svg).textContent = formatValue(t);
  }
  for (const t of niceTicks(x0, x1, Math.max(2, Math.floor(plotW / 90)))) {
    el('text', { x: x(t), y: M.top + plotH + 14, 'text-anchor': 'middle', class: 'tick' }, svg).textContent = String(t);
  }
  drawAxisTitles(svg, o, plotW, plotH);
  el('rect', { x: M.left, y: M.top, width: plotW, height: plotH, class: 'frame' }, svg);

  const markers = el('g', { class: 'markers' }, svg);
  for (const m of o.markers) {
    if (m.step < x0 || m.step > x1) continue;
    const line = el('line', { x1: x(m.step), x2: x(m.step), y1: M.top, y2: M.top + plotH, class: m.best ? 'ckpt best' : 'ckpt', 'data-step': m.step }, markers);
    el('title', {}, line).textContent = m.label;
    if (m.best) {
      const star = el('text', { x: x(m.step), y: M.top - 4, 'text-anchor': 'middle', class: 'best-star', 'data-step': m.step }, markers);
      star.textContent = '★';
      el('title', {}, star).textContent = m.label;
    }
    if (o.onMarkerClick) line.addEventListener('click', () => o.onMarkerClick!(m.step));
  }

  const clip = `clip-${Math.random().toString(36).slice(2)}`;
  el('rect', { x: M.left, y: M.top, width: plotW, height: plotH }, el('clipPath', { id: clip }, el('defs', {}, svg)));
  const body = el('g', { 'clip-path': `url(#${clip})` }, svg);
  const pathOf = (pts: readonly Point[]): string => {
    let d = '';
    let pen = false;
    for (const [s, v] of pts) {
      if (!Number.isFinite(v) || (o.logY && v <= 0)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(s).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    return d;
  };
  for (const s of series) {
    if (s.points.length === 0) continue;
    const smoothed = o.smoothing > 0 && !s.dots;
    const raw = decimate(s.points, x, plotW);
    el('path', { d: pathOf(raw), class: `series series-${s.key}${smoothed ? ' raw' : ''}${s.dashed ? ' dashed' : ''}`, 'data-points': raw.length, 'data-rows': s.points.length }, body);
    drawExtras(body, s, x, y);
    if (smoothed) el('path', { d: pathOf(decimate(ema(s.points, o.smoothing), x, plotW)), class: `series series-${s.key} smooth` }, body);
    if (s.dots && s.points.length <= plotW) {
      for (const [st, v] of s.points) if (Number.isFinite(v) && (!o.logY || v > 0)) el('circle', { cx: x(st), cy: y(v), r: 2.5, class: `dot series-${s.key}` }, body);
    }
    drawn[s.key] = raw.length;
  }

  // Hover: a crosshair and the nearest logged value of each series.
  const cross = el('line', { y1: M.top, y2: M.top + plotH, class: 'crosshair', visibility: 'hidden' }, svg);
  const readout = document.createElement('div');
  readout.className = 'readout';
  readout.hidden = true;
  host.appendChild(readout);
  svg.addEventListener('mousemove', (ev) => {
    const rect = svg.getBoundingClientRect();
    const px = ((ev.clientX - rect.left) / rect.width) * o.width;
    if (px < M.left || px > M.left + plotW) {
      cross.setAttribute('visibility', 'hidden');
      readout.hidden = true;
      return;
    }
    const step = x0 + ((px - M.left) / plotW) * (x1 - x0);
    cross.setAttribute('x1', String(px));
    cross.setAttribute('x2', String(px));
    cross.setAttribute('visibility', 'visible');
    const lines: string[] = [];
    for (const s of series) {
      const p = nearest(s.points, step);
      if (p) lines.push(`${s.label} @ ${p[0]}: ${formatValue(p[1])}`);
    }
    readout.textContent = lines.join('\n');
    readout.hidden = lines.length === 0;
    readout.style.left = `${Math.min(px + 12, o.width - 180)}px`;
  });
  svg.addEventListener('mouseleave', () => {
    cross.setAttribute('visibility', 'hidden');
    readout.hidden = true;
  });
  return drawn;
}
