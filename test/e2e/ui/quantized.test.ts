// Quantized comparison in a real VS Code (issue 16): a q8_0 GGUF export of the demo base (written by the CLI next to
// the model), added to the model's preview with "Compare with Quantized Exports...", runs on the same prompt as the
// 16-bit model, shows what `generate --model <file.gguf>` prints, and gets its fidelity line against the model.

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Workbench, commandTitle, e2eEnv, waitForLog } from '../support/workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MODEL = 'models/stories260K';
const EXPORT = 'models/stories260K-q8_0.gguf';
const PROMPT = 'Once upon a time';
const N = 40;

describe('quantized comparison', () => {
  let wb: Workbench;
  let ws: string;

  before(async function () {
    this.timeout(300_000);
    ws = e2eEnv().workspace;
    execFileSync(process.execPath, [CLI, 'gguf', path.join(ws, MODEL), '--out', path.join(ws, EXPORT), '--type', 'q8_0'], { timeout: 120_000 });
    wb = await Workbench.open();
    await wb.openContainer();
    await wb.runCommand(commandTitle('loraWorkbench.refreshCheckpoints'));
  });
  after(async () => {
    await wb?.close();
    // Later suites count the workspace's GGUF files: leave the copy as it was.
    fs.rmSync(path.join(ws, EXPORT), { force: true });
  });

  it('puts the q8_0 export beside the model on one prompt and shows its greedy agreement and mean KL against it', async () => {
    await wb.runCommand(commandTitle('loraWorkbench.previewGeneration'));
    await wb.page.locator('.quick-input-widget input').fill(MODEL);
    const target = wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: MODEL }).first();
    await target.waitFor({ timeout: 30_000 });
    await target.click();
    const view = wb.webview();
    await view.locator('#status[data-state="ready"]').waitFor({ timeout: 60_000 });

    await view.locator('#add-models').click();
    // The export next to the model is listed and already checked: accepting the picker adds it.
    const row = wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'stories260K-q8_0.gguf' }).first();
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await row.getAttribute('aria-checked'), 'true', 'the export next to the model is preselected');
    await wb.page.keyboard.press('Enter');
    const quantized = view.locator('section.column[data-kind="model"]');
    await quantized.waitFor({ timeout: 15_000 });
    assert.equal((await quantized.locator('h2').textContent())?.trim(), 'stories260K-q8_0.gguf');
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
});
