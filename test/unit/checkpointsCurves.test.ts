// Training curves: the series the webview draws from trainer_state.json, and the chart's pure helpers (decimation keeps
// a 10,000-row run readable and light, EMA smoothing, 1-2-5 ticks).

import * as assert from 'node:assert/strict';
import { curvesOf, parseTrainerState } from '../../src/core/checkpoints/trainerState';
import { decimate, ema, formatValue, niceTicks } from '../../webview/curves/chart';
import type { Point } from '../../webview/curves/messages';

function bigState(rows: number): unknown {
  const log: Record<string, number>[] = [];
  for (let s = 1; s <= rows; s++) {
    log.push({ step: s, loss: 2 / Math.sqrt(s) + (s % 97 === 0 ? 1 : 0), learning_rate: 1e-4 * (1 - s / rows), grad_norm: 1 + (s % 13) / 10, epoch: s / rows });
    if (s % 500 === 0) log.push({ step: s, eval_loss: 1 / Math.sqrt(s), eval_runtime: 1 });
  }
  log.push({ step: rows, train_loss: 0.5, train_runtime: 100 });
  return { global_step: rows, log_history: log, best_global_step: 9500 };
}

describe('training curves', () => {
  it('extracts loss, eval loss, learning rate and grad norm series sorted by step from 10,000 rows', () => {
    const c = curvesOf(parseTrainerState(bigState(10_000)));
    assert.equal(c.loss.length, 10_000);
    assert.equal(c.evalLoss.length, 20);
    assert.equal(c.learningRate.length, 10_000);
    assert.equal(c.gradNorm.length, 10_000);
    assert.deepEqual(c.evalLoss[0], [500, 1 / Math.sqrt(500)]);
    for (let i = 1; i < c.loss.length; i++) assert.ok(c.loss[i]![0] > c.loss[i - 1]![0]);
  });

  it('decimates 10,000 points to at most 4 per pixel column and keeps every spike (min/max per column)', () => {
    const pts = curvesOf(parseTrainerState(bigState(10_000))).loss;
    const width = 600;
    const x = (s: number): number => ((s - 1) / 9999) * width;
    const d = decimate(pts, x, width);
    assert.ok(d.length <= 4 * (width + 1), `${d.length} points`);
    assert.ok(d.length >= width, `${d.length} points`);
    // Spikes every 97 steps (loss + 1) survive: each column's max is kept.
    const spikes = pts.filter(([s]) => s % 97 === 0 && s > 200);
    for (const [s, v] of spikes) {
      const col = Math.floor(x(s));
      const colMax = Math.max(...d.filter(([t]) => Math.floor(x(t)) === col).map(([, y]) => y));
      assert.ok(colMax >= v, `spike at ${s} lost`);
    }
    assert.deepEqual(d[0], pts[0]);
    assert.deepEqual(d[d.length - 1], pts[pts.length - 1]);
    // Small series pass through unchanged.
    const few: Point[] = [[1, 1], [2, 3]];
    assert.deepEqual(decimate(few, x, width), few);
  });

  it('smooths with a debiased EMA and formats ticks', () => {
    assert.deepEqual(ema([[1, 2], [2, 2]], 0.9), [[1, 2], [2, 2]]);
    const s = ema([[1, 0], [2, 10]], 0.5);
    assert.ok(Math.abs(s[1]![1] - 10 * 0.5 / 0.75) < 1e-12);
    assert.deepEqual(niceTicks(0, 1, 4), [0, 0.5, 1]);
    assert.deepEqual(niceTicks(0.1, 0.45, 4), [0.1, 0.2, 0.3, 0.4]);
    assert.deepEqual(niceTicks(0, 10_000, 5), [0, 2000, 4000, 6000, 8000, 10000]);
    assert.equal(formatValue(0.000123), '1.2e-4');
    assert.equal(formatValue(1.23456), '1.23');
  });
});
