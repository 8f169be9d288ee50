// The seed's scenario (issue 13, Chinese-LLaMA-Alpaca-2), in order, on the demo's runs/chinese-alpaca2-lora: the run
// and its checkpoints with a healthy base; adapter_config.json without an error, the resized vocabulary explained; the
// base moved away -> error, Problems row, "holds only the adapter" hover, relinked by a quick fix (then restored for
// the other tests of this workspace copy); merged from the context menu into a model with vocab_size 667 and the
// adapter's tokenizer; the preview's Base + adapter column writes the Chinese text, and the merged model alone the same.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Locator } from 'playwright-core';
import { CHECKPOINTS_VIEW, Workbench, acceptMergePrompts, commandTitle, e2eEnv } from '../support/workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUN = 'runs/chinese-alpaca2-lora';
const FINAL = 'sft_lora_model';
const CONFIG = `${RUN}/${FINAL}/adapter_config.json`;
const MERGED = `${RUN}/${FINAL}-merged`;
interface Golden { name: string; text: string; new_token_ids: number[] }
const GOLDENS = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/demo-cla2-goldens.json'), 'utf8')) as { prompt: string; vocab_size: number; max_new_tokens: number; cases: Golden[] };
const FINAL_GOLDEN = GOLDENS.cases.find((c) => c.name === `${path.basename(RUN)}/${FINAL}`)!;

describe('the seed\'s story: a Chinese-LLaMA-Alpaca-2 adapter with a resized vocabulary', () => {
  let wb: Workbench;
  let ws: string;
  const squiggles = (): ReturnType<Workbench['page']['locator']> => wb.page.locator('.editor-instance .monaco-editor .squiggly-error');
  const token = (text: RegExp): ReturnType<Workbench['page']['locator']> => wb.page.locator('.editor-instance .monaco-editor .view-lines span', { hasText: text }).first();

  before(async function () {
    this.timeout(300_000);
    ws = e2eEnv().workspace;
    wb = await Workbench.open();
    await wb.openContainer();
    await wb.treeRows(CHECKPOINTS_VIEW, RUN).first().waitFor({ timeout: 180_000 });
  });
  after(async () => {
    await wb?.close();
  });

  it('1. shows the run with its checkpoints and a healthy base status', async () => {
    await wb.treeRows(CHECKPOINTS_VIEW, FINAL).first().waitFor({ timeout: 30_000 });
    const all = await wb.treeLabels(CHECKPOINTS_VIEW);
    const run = all.findIndex((r) => r.label === RUN);
    assert.ok(run >= 0, JSON.stringify(all));
    assert.deepEqual(all.slice(run + 1, run + 4).map((r) => r.label), ['checkpoint-80', 'checkpoint-160', FINAL]);
    for (const r of all.slice(run + 1, run + 4)) assert.ok(!r.description.includes('base ✗'), `${r.label}: ${r.description}`);
    const hover = wb.page.locator('.monaco-hover:visible');
    let text = '';
    for (let attempt = 0; attempt < 8 && !/Base status/.test(text); attempt++) {
      await wb.page.mouse.move(0, 0);
      await wb.treeRows(CHECKPOINTS_VIEW, FINAL).first().locator('.label-name').hover();
      await wb.page.waitForTimeout(1500);
      text = (await hover.allTextContents()).join('\n');
    }
    // Healthy: found and compatible. A relative base reference is a warning until issue 14 decides how healthy runs record it.
    assert.match(text, /Base status\s*\S*\s*base (found and compatible|has warnings)/, text);
    await wb.dismissTransient();
  });

  it('2. opens adapter_config.json without an error; the hover explains the resized vocabulary', async () => {
    await wb.openFile(CONFIG);
    await token(/^"embed_tokens"/).waitFor({ timeout: 30_000 });
    await wb.page.waitForTimeout(3000); // the diagnosis runs on open
    assert.equal(await squiggles().count(), 0);
    const text = await wb.hover(token(/^"embed_tokens"/), { until: /vocabulary is resized/ });
    assert.match(text, /512 -> 667/);
    assert.match(text, /uses the adapter's tokenizer/);
    assert.match(text, /writes vocab_size=667/);
    await wb.screenshot('seed-vocab-resized');
    await wb.dismissTransient();
  });

  it('3. moving the base away: error within seconds, "only the adapter" hover, relinked by a quick fix', async function () {
    this.timeout(240_000);
    const base = path.join(ws, 'models/stories260K');
    const moved = path.join(ws, 'moved-models/stories260K');
    const configPath = path.join(ws, CONFIG);
    const original = fs.readFileSync(configPath, 'utf8');
    fs.mkdirSync(path.dirname(moved), { recursive: true });
    fs.renameSync(base, moved);
    try {
      const t0 = Date.now();
      await squiggles().first().waitFor({ timeout: 30_000 });
      console.log(`      error squiggle ${Date.now() - t0} ms after the base moved`);
      const problems = await wb.problems('only the adapter');
      assert.ok(problems.some((p) => /holds only the adapter/.test(p) && /stories260K/.test(p)), problems.join('\n'));
      const text = await wb.hover(token(/^"models\/stories260K"/), { until: /holds only the adapter/ });
      assert.match(text, /expected at .*models\/stories260K/);
      await wb.screenshot('seed-base-moved');
      await wb.dismissTransient();
      fs.writeFileSync(path.join(ws, '.lora-workbench-test-pick'), 'moved-models/stories260K\n');
      const item = wb.page.locator('.action-widget .monaco-list-row', { hasText: /Choose base model folder/ }).first();
      for (let attempt = 1; !(await item.isVisible()); attempt++) {
        if (attempt > 3) throw new Error('the "Choose base model folder..." quick fix was not offered');
        await token(/^"models\/stories260K"/).click();
        await wb.page.keyboard.press('Control+.');
        await item.waitFor({ timeout: 10_000 }).catch(() => undefined);
      }
      await wb.page.waitForTimeout(250);
      await item.click();
      await token(/moved-models\/stories260K"/).waitFor({ timeout: 30_000 });
      await squiggles().first().waitFor({ state: 'detached', timeout: 30_000 });
    } finally {
      fs.rmSync(path.join(ws, '.lora-workbench-test-pick'), { force: true });
      fs.renameSync(moved, base);
      fs.writeFileSync(configPath, original);
      await wb.runCommand('File: Revert File');
    }
    await token(/^"models\/stories260K"/).waitFor({ timeout: 30_000 });
    await squiggles().first().waitFor({ state: 'detached', timeout: 30_000 });
  });

  /**
   * The "Full models" row's child `label`. A refresh re-renders the tree, which can collapse the group again right
   * after a click expanded it: keep expanding until the row shows.
   */
  async function revealFullModel(label: string): Promise<Locator> {
    const row = wb.treeRows(CHECKPOINTS_VIEW, label).first();
    for (const deadline = Date.now() + 60_000; ;) {
      const models = wb.treeRows(CHECKPOINTS_VIEW, /^Full models/).first();
      await models.waitFor({ timeout: 30_000 });
      if ((await models.getAttribute('aria-expanded')) !== 'true') await models.locator('.monaco-tl-twistie').click().catch(() => undefined);
      if (await row.waitFor({ timeout: 3000 }).then(() => true, () => false)) return row;
      if (Date.now() > deadline) throw new Error(`${label} never appeared under Full models`);
    }
  }

  it('4. merges from the context menu: the merged model has vocab_size 667, the adapter\'s tokenizer and its provenance', async function () {
    this.timeout(240_000);
    await wb.runCommand('View: Close All Editors');
    await wb.openContainer();
    const row = wb.treeRows(CHECKPOINTS_VIEW, FINAL).first();
    await wb.contextMenu(row, 'Merge into Base Model');
    await acceptMergePrompts(wb, FINAL, wb.notifications(/Merged \d+ tensors/));
    assert.match(await wb.waitForNotification(/Merged \d+ tensors/, 120_000), /verified/);
    const out = path.join(ws, MERGED);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { vocab_size: number };
    assert.equal(config.vocab_size, GOLDENS.vocab_size);
    assert.ok(fs.readFileSync(path.join(out, 'tokenizer.model')).equals(fs.readFileSync(path.join(ws, RUN, FINAL, 'tokenizer.model'))), 'the adapter\'s tokenizer');
    await wb.runCommand(commandTitle('loraWorkbench.refreshCheckpoints'));
    const merged = await revealFullModel(MERGED);
    assert.match((await merged.locator('.label-description').textContent()) ?? '', /merged from .*sft_lora_model/);
  });

  it('5. preview: Base + adapter writes the Chinese text; the merged model alone produces the same greedy tokens', async function () {
    this.timeout(300_000);
    const generated = FINAL_GOLDEN.text.slice(GOLDENS.prompt.length);
    const adapterOut = await runPreview(FINAL, 'adapter');
    assert.equal(adapterOut.text, generated);
    assert.match(adapterOut.text, /[\u4e00-\u9fff]{10}/);
    const modelOut = await runPreview(MERGED, 'base');
    assert.equal(modelOut.text, adapterOut.text);
    assert.equal(modelOut.count, adapterOut.count);
    await wb.screenshot('seed-preview-merged');
  });

  /** Preview Generation on a Checkpoints row, greedy run of the goldens' prompt; the text and token count of a column. */
  async function runPreview(label: string | RegExp, kind: 'base' | 'adapter'): Promise<{ text: string; count: string }> {
    await wb.runCommand('View: Close All Editors'); // one webview at a time: wb.webview() finds the active one
    await wb.openContainer();
    const row = label === MERGED ? await revealFullModel(MERGED) : wb.treeRows(CHECKPOINTS_VIEW, label).first();
    await wb.contextMenu(row, 'Preview Generation...');
    const view: FrameLocator = wb.webview();
    const column = view.locator(`section.column[data-kind="${kind}"]`).first();
    await column.waitFor({ timeout: 60_000 });
    await view.locator('#status[data-state="ready"]').waitFor({ timeout: 60_000 });
    for (const [id, value] of [['prompt', GOLDENS.prompt], ['maxNewTokens', String(GOLDENS.max_new_tokens)], ['temperature', '0']]) {
      await view.locator(`#${id} input, #${id} textarea`).first().fill(value!);
    }
    const before = Number((await view.locator('#app').getAttribute('data-last-run')) ?? '0');
    await view.locator('#prompt textarea').press('Control+Enter');
    for (const deadline = Date.now() + 90_000; Number((await view.locator('#app').getAttribute('data-last-run')) ?? '0') <= before;) {
      if (Date.now() > deadline) throw new Error('the preview run did not finish');
      await wb.page.waitForTimeout(200);
    }
    return {
      text: (await column.locator('.output').textContent()) ?? '',
      count: (await column.locator('.stats .count').getAttribute('data-value')) ?? '',
    };
  }
});
