// Quantized comparison in a real VS Code (issue 16): a q8_0 GGUF export of the demo base (written by the CLI next to
// the model), added to the model's preview with "Compare with Quantized Exports...", runs on the same prompt as the
// 16-bit model, shows what `generate --model <file.gguf>` prints, and gets its fidelity line against the model; a
// merged export of a checkpoint is measured against Base + that checkpoint, and much further from the plain Base.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Locator } from 'playwright-core';
import { CHECKPOINTS_VIEW, Workbench, commandTitle, e2eEnv, waitForLog } from '../support/workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MODEL = 'models/stories260K';
const EXPORT = 'models/stories260K-q8_0.gguf';
const CHECKPOINT = 'runs/stories-lora/checkpoint-200';
const MERGED_EXPORT = 'runs/stories-lora/checkpoint-200-q8_0.gguf';
const PROMPT = 'Once upon a time';
const N = 40;

describe('quantized comparison', () => {
  let wb: Workbench;
  let ws: string;

  before(async function () {
    this.timeout(300_000);
    ws = e2eEnv().workspace;
    execFileSync(process.execPath, [CLI, 'gguf', path.join(ws, MODEL), '--out', path.join(ws, EXPORT), '--type', 'q8_0'], { timeout: 120_000 });
    execFileSync(process.execPath, [CLI, 'gguf', path.join(ws, CHECKPOINT), '--base', path.join(ws, MODEL), '--out', path.join(ws, MERGED_EXPORT), '--type', 'q8_0'], { timeout: 120_000 });
    wb = await Workbench.open();
    await wb.openContainer();
    await wb.runCommand(commandTitle('loraWorkbench.refreshCheckpoints'));
  });
  after(async () => {
    await wb?.close();
    // Later suites count the workspace's GGUF files: leave the copy as it was.
    for (const f of [EXPORT, MERGED_EXPORT]) fs.rmSync(path.join(ws, f), { force: true });
  });

  /** "Compare with Quantized Exports...", accepting the picker with the export next to the target checked. */
  const addExport = async (view: FrameLocator, file: string): Promise<Locator> => {
    await view.locator('#add-models').click();
    const row = wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: file }).first();
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await row.getAttribute('aria-checked'), 'true', 'the export next to the target is preselected');
    await wb.page.keyboard.press('Enter');
    const column = view.locator('section.column[data-kind="model"]');
    await column.waitFor({ timeout: 15_000 });
    assert.equal((await column.locator('h2').textContent())?.trim(), file);
    return column;
  };
  /** Run greedy and wait for the model column's fidelity line; returns it with its numbers. */
  const runAndMeasure = async (view: FrameLocator, column: Locator): Promise<{ line: string; agreement: number; meanKl: number }> => {
    const before = Number((await view.locator('#app').getAttribute('data-last-run')) ?? '0');
    await view.locator('#run').click();
    await view.locator(`#app[data-last-run="${before + 1}"]`).waitFor({ timeout: 120_000 });
    const line = (await column.locator('.fidelity').textContent()) ?? '';
    return { line, agreement: Number(await column.getAttribute('data-agreement')), meanKl: Number(await column.getAttribute('data-mean-kl')) };
  };

  it('puts the q8_0 export beside the model on one prompt and shows its greedy agreement and mean KL against it', async () => {
    await wb.runCommand(commandTitle('loraWorkbench.previewGeneration'));
    await wb.page.locator('.quick-input-widget input').fill(MODEL);
    const target = wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: MODEL }).first();
    await target.waitFor({ timeout: 30_000 });
    await target.click();
    const view = wb.webview();
    await view.locator('#status[data-state="ready"]').waitFor({ timeout: 60_000 });

    const quantized = await addExport(view, 'stories260K-q8_0.gguf');
    // Measured against the previewed model by default (the column's reference picker says so).
    const reference = quantized.locator('.reference-row vscode-single-select');
    assert.equal(await reference.evaluate((e) => (e as HTMLElement & { value: string }).value), 'base');

    await view.locator('#prompt textarea').fill(PROMPT);
    await view.locator('#maxNewTokens input').fill(String(N));
    await view.locator('#temperature input').fill('0');
    const before = Number((await view.locator('#app').getAttribute('data-last-run')) ?? '0');
    await view.locator('#run').click();
    const fidelity = quantized.locator('.fidelity');
    await fidelity.filter({ hasText: /greedy agreement/ }).waitFor({ timeout: 120_000 });
    await view.locator('#app').and(view.locator(`[data-last-run="${before + 1}"]`)).waitFor({ timeout: 30_000 });

    const expected = JSON.parse(execFileSync(process.execPath, [CLI, 'generate', '--model', path.join(ws, EXPORT), '--prompt', PROMPT,
      '--temperature', '0', '--max-new-tokens', String(N), '--json'], { encoding: 'utf8', timeout: 60_000 })) as { text: string };
    assert.equal(await quantized.locator('.output').textContent(), expected.text, 'the column runs the GGUF file itself');
    const line = (await fidelity.textContent()) ?? '';
    assert.match(line, /^vs Model: \d+(\.\d)?% greedy agreement, mean KL (0|\d\S*) nats, (first divergence at token \d+|no divergence)$/);
    const agreement = Number(await quantized.getAttribute('data-agreement'));
    const meanKl = Number(await quantized.getAttribute('data-mean-kl'));
    assert.ok(agreement > 0.5 && agreement <= 1, `agreement ${agreement}`);
    assert.ok(meanKl > 0 && meanKl < 0.5, `a q8_0 export is close to its f32 model: mean KL ${meanKl}`);
    await waitForLog(/preview: stories260K-q8_0\.gguf vs Model: \d+\/\d+ greedy agreement/);
    // The 16-bit column itself has no fidelity line.
    assert.equal(await view.locator('section.column[data-kind="base"] .fidelity').textContent(), '');
    await wb.screenshot('preview-quantized');
  });

  it('measures a merged export of a checkpoint against Base + that checkpoint, and can be measured against Base instead', async () => {
    await wb.runCommand('View: Close All Editors');
    await wb.contextMenu(wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-200').first(), 'Preview Generation...');
    const view = wb.webview();
    await view.locator('#status[data-state="ready"]').waitFor({ timeout: 60_000 });
    const merged = await addExport(view, 'checkpoint-200-q8_0.gguf');
    await view.locator('#prompt textarea').fill(PROMPT);
    await view.locator('#maxNewTokens input').fill(String(N));
    await view.locator('#temperature input').fill('0');
    const vsAdapter = await runAndMeasure(view, merged);
    assert.match(vsAdapter.line, /^vs Base \+ checkpoint-200: \d+(\.\d)?% greedy agreement, mean KL \S+ nats/);
    assert.ok(vsAdapter.meanKl > 0 && vsAdapter.meanKl < 0.5, `the merged q8_0 export is close to Base + checkpoint-200: ${vsAdapter.meanKl}`);
    // Measured against the plain base, the merge's own change shows up as a much larger distance.
    await merged.locator('.reference-row vscode-single-select').evaluate((e) => {
      (e as HTMLElement & { value: string }).value = 'base';
      e.dispatchEvent(new Event('change'));
    });
    const vsBase = await runAndMeasure(view, merged);
    assert.match(vsBase.line, /^vs Base: /);
    assert.ok(vsBase.meanKl > 10 * vsAdapter.meanKl, `vs Base ${vsBase.meanKl} nats, vs Base + checkpoint-200 ${vsAdapter.meanKl}`);
    await wb.screenshot('preview-quantized-merged');
  });
});
