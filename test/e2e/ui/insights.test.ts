// Checkpoint insights in a real VS Code (issue 20): "Evaluate Checkpoints..." on the demo run with the committed
// demo/data/eval.jsonl -> the training-curves panel gains a loss-on-your-data chart with one point per checkpoint and
// the best ringed, the tree marks it; "Show Adapter Anatomy" and "Compare Adapter Anatomy..." render the heatmap.

import * as assert from 'node:assert/strict';
import { CHECKPOINTS_VIEW, Workbench, waitForLog } from '../support/workbench';

const RUN = 'runs/stories-lora';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Answer the quick pick titled `title` with `text` (typed to filter) and Enter. */
async function answerPick(wb: Workbench, title: RegExp, text: string): Promise<void> {
  const widget = wb.page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: title }).waitFor({ timeout: 30_000 });
  if (text) await wb.page.keyboard.type(text);
  await sleep(500);
  await wb.page.keyboard.press('Enter');
  await sleep(500);
}

describe('checkpoint insights', () => {
  let wb: Workbench;

  before(async () => {
    wb = await Workbench.open();
    await wb.openContainer();
    await wb.treeRows(CHECKPOINTS_VIEW, RUN).first().waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await wb.close();
  });

  it('evaluates the demo run on eval.jsonl: one point per checkpoint, the best ringed and marked in the tree', async function () {
    this.timeout(180_000);
    await wb.contextMenu(wb.treeRows(CHECKPOINTS_VIEW, RUN).first(), 'Evaluate Checkpoints');
    await answerPick(wb, /Evaluate Checkpoints \(1\/2\)/, 'eval.jsonl');
    await answerPick(wb, /Evaluate Checkpoints \(2\/2\)/, '');
    const done = await wb.waitForNotification(/Best on eval\.jsonl/, 120_000);
    assert.match(done, /Best on eval\.jsonl: checkpoint-50 \(loss 0\.95\d\d, base 1\.71\d\d\)/);
    const log = await waitForLog(/eval .*stories-lora on .*eval\.jsonl: base=/);
    assert.match(log, /best checkpoint-50/);
    const view = wb.webview();
    await view.locator('#chart-data svg.chart').waitFor({ timeout: 30_000 });
    const steps = await view.locator('#chart-data circle.dot.series-dataLoss').count();
    assert.equal(steps, 4, 'checkpoint-50, -100, -150, -200');
    assert.equal(await view.locator('#chart-data line.whisker').count(), 4);
    assert.equal(await view.locator('#chart-data circle.best-ring[data-step="50"]').count(), 1);
    assert.equal(await view.locator('#chart-data path.series-dataBase.dashed').count(), 1);
    assert.match((await view.locator('#chart-data .data-best').textContent()) ?? '', /best on eval\.jsonl: checkpoint-50/);
    const row = wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-50').first();
    await row.locator('.label-description', { hasText: 'best on your data' }).waitFor({ timeout: 15_000 });
    await wb.page.mouse.move(1270, 790);
    await wb.screenshot('insights-eval-chart');
  });

  it('shows the adapter anatomy heatmap of a checkpoint: 5 layers x 7 modules, a legend, switchable metric', async () => {
    await wb.runCommand('View: Close All Editors');
    await wb.contextMenu(wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-100').first(), 'Show Adapter Anatomy');
    const view = wb.webview();
    await view.locator('table#heatmap').waitFor({ timeout: 30_000 });
    assert.equal(await view.locator('#heatmap td.cell').count(), 35);
    const heads = (await view.locator('#heatmap thead th').allTextContents()).map((t) => t.trim());
    assert.deepEqual(heads.slice(1), ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    assert.match((await view.locator('h1').textContent()) ?? '', /Anatomy of checkpoint-100/);
    assert.match((await view.locator('.subtitle').textContent()) ?? '', /base models\/stories260K/);
    assert.match((await view.locator('#heatmap td.cell').first().textContent()) ?? '', /%$/, 'relative to ||W||_F');
    assert.ok(await view.locator('#legend .bar').isVisible());
    const shade = await view.locator('#heatmap td.cell').first().evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.match(shade, /^(rgb|color)\(/);
    await waitForLog(/anatomy checkpoint-100: rendered 35 cells \(size\)/);
    await wb.screenshot('insights-anatomy');
    await view.locator('#metric-rank').click();
    await waitForLog(/anatomy checkpoint-100: rendered 35 cells \(rank\)/);
    assert.match((await view.locator('#heatmap td.cell').first().textContent()) ?? '', /^\d\.\d$/);
  });

  it('compares two checkpoints: the heatmap of their difference', async () => {
    await wb.runCommand('View: Close All Editors');
    await wb.contextMenu(wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-200').first(), 'Compare Adapter Anatomy');
    const widget = wb.page.locator('.quick-input-widget');
    await widget.waitFor({ timeout: 30_000 });
    await wb.page.keyboard.type('checkpoint-100');
    await sleep(500);
    await wb.page.keyboard.press('Enter');
    const view = wb.webview();
    await view.locator('table#heatmap').waitFor({ timeout: 30_000 });
    assert.match((await view.locator('h1').textContent()) ?? '', /checkpoint-200 minus checkpoint-100/);
    assert.equal(await view.locator('#heatmap td.cell').count(), 35);
    await waitForLog(/anatomy checkpoint-200 - checkpoint-100: rendered 35 cells/);
    await wb.screenshot('insights-anatomy-compare');
  });
});
