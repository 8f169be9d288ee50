// Checkpoint explorer in a real VS Code (issue 3): the demo run's checkpoints in step order with loss and the best
// marker, the context menu's commands, live appearance of a new checkpoint folder, health diagnostics for a broken
// adapter, and the training-curves webview (DOM + screenshot).

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHECKPOINTS_VIEW, Workbench, commandTitle, e2eEnv, waitForLog } from '../support/workbench';

const RUN = 'runs/stories-lora';

/** What the demo run holds on disk (the demo is regenerated from time to time: expectations come from its files). */
function demoRun(): { steps: number[]; best: number } {
  const dir = path.join(e2eEnv().workspace, RUN);
  const steps = fs.readdirSync(dir).map((n) => /^checkpoint-(\d+)$/.exec(n)?.[1]).filter((x): x is string => x !== undefined).map(Number).sort((a, b) => a - b);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as { best_global_step?: number; best_model_checkpoint?: string };
  const best = state.best_global_step ?? Number(/checkpoint-(\d+)/.exec(state.best_model_checkpoint ?? '')?.[1]);
  return { steps, best };
}

/** Labels and descriptions of the tree rows in one DOM read (the tree may re-render between per-row reads). */
async function rows(wb: Workbench): Promise<{ label: string; description: string }[]> {
  return wb.tree(CHECKPOINTS_VIEW).locator('[role="treeitem"]').evaluateAll((els) =>
    els.map((e) => ({
      label: e.querySelector('.label-name')?.textContent?.trim() ?? '',
      description: e.querySelector('.label-description')?.textContent?.trim() ?? '',
    })),
  );
}

/** Hover a tree row until its (lazily rendered) tooltip has text matching `want`. */
async function treeHover(wb: Workbench, label: string, want: RegExp): Promise<string> {
  const hover = wb.page.locator('.monaco-hover:visible');
  let text = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    await wb.page.mouse.move(0, 0);
    await wb.treeRows(CHECKPOINTS_VIEW, label).first().locator('.label-name').hover();
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      text = (await hover.allTextContents().catch(() => [])).join('\n');
      if (want.test(text)) return text;
      await wb.page.waitForTimeout(200);
    }
  }
  return text;
}

describe('checkpoint explorer', () => {
  let wb: Workbench;
  const created: string[] = [];

  beforeEach(async () => {
    // A hover or menu left open by a previous test would swallow the next click.
    await wb?.page.keyboard.press('Escape');
    await wb?.page.mouse.move(0, 0);
  });

  before(async function () {
    this.timeout(300_000); // a cold workbench on a loaded machine can take minutes to activate extensions
    wb = await Workbench.open();
    await wb.openContainer();
    await wb.treeRows(CHECKPOINTS_VIEW, RUN).first().waitFor({ timeout: 180_000 });
  });

  after(async () => {
    for (const p of created) fs.rmSync(p, { recursive: true, force: true });
    await wb?.close();
  });

  it('lists the demo run with its checkpoints in step order, loss, eval loss and the best marker', async () => {
    const { steps, best } = demoRun();
    assert.ok(steps.length >= 2 && Number.isFinite(best), `demo run: ${JSON.stringify({ steps, best })}`);
    const bestName = `checkpoint-${best}`;
    await wb.treeRows(CHECKPOINTS_VIEW, `checkpoint-${steps[steps.length - 1]}`).first().waitFor({ timeout: 30_000 });
    const all = await rows(wb);
    const run = all.findIndex((r) => r.label === RUN);
    assert.ok(run >= 0, JSON.stringify(all));
    assert.match(all[run]!.description, new RegExp(`HF Trainer · ${steps.length} checkpoints · best ${best}`));
    const ckpts = all.slice(run + 1).filter((r) => /^checkpoint-\d+$/.test(r.label)).slice(0, steps.length);
    assert.deepEqual(ckpts.map((r) => r.label), steps.map((s) => `checkpoint-${s}`));
    for (const r of ckpts) assert.match(r.description, /^step \d+ · loss [\d.]+ · eval [\d.]+/);
    assert.deepEqual(ckpts.filter((r) => r.description.includes('★ best')).map((r) => r.label), [bestName]);
    // The best checkpoint's icon is the star, visible without hovering.
    assert.equal(await wb.treeRows(CHECKPOINTS_VIEW, bestName).first().locator('.codicon-star-full').count(), 1);
    await wb.screenshot('checkpoints-tree');
    // The README's picture: the demo as a newcomer first sees it (this suite runs first, before any test relinks a base),
    // the sidebar wide enough for the descriptions and the Problems counts in the status bar.
    await wb.setSidebarWidth(520);
    await wb.page.waitForTimeout(1500);
    await wb.screenshot('readme-checkpoints');
  });

  it('shows a rich tooltip with variant, r, alpha, scaling, parameters and base model', async () => {
    const text = await treeHover(wb, 'checkpoint-100', /Effective scaling/);
    assert.match(text, /LoRA/);
    assert.match(text, /Effective scaling\s*2/);
    assert.match(text, /Trainable parameters/);
    assert.match(text, /models\/stories260K/);
    assert.match(text, /Base status/);
    // The whole tooltip fits its box: nothing (the base status once was) hidden below a scrollbar.
    const overflow = await wb.page.locator('.monaco-hover:visible .monaco-scrollable-element, .monaco-hover:visible .hover-contents').evaluateAll(
      (els) => els.map((e) => e.scrollHeight - e.clientHeight));
    assert.ok(overflow.length > 0 && overflow.every((d) => d <= 1), `tooltip scrolls by ${JSON.stringify(overflow)} px`);
    await wb.page.mouse.move(0, 0);
  });

  it('offers the checkpoint commands in the context menu; "Open adapter_config.json" opens it', async () => {
    const row = wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-150').first();
    await row.click({ button: 'right' });
    const items = wb.page.locator('.context-view .monaco-menu [role="menuitem"]');
    await items.first().waitFor();
    const labels = (await items.allTextContents()).map((s) => s.trim());
    for (const want of ['Show Training Curves', 'Open adapter_config.json', 'Reveal in Explorer View', 'Copy Path']) {
      assert.ok(labels.some((l) => l.includes(want)), `${want} missing from ${JSON.stringify(labels)}`);
    }
    await wb.page.keyboard.press('Escape');
    await wb.contextMenu(row, 'Open adapter_config.json');
    await wb.page.locator('.tabs-container .tab[data-resource-name="adapter_config.json"]').waitFor({ timeout: 15_000 });
    await wb.page.locator('.editor-instance .monaco-editor .view-lines span', { hasText: '"peft_type"' }).first().waitFor({ timeout: 15_000 });
  });

  it('shows a checkpoint folder created while the workbench is open, without a manual refresh', async () => {
    const ws = e2eEnv().workspace;
    const { steps } = demoRun();
    const last = steps[steps.length - 1]!;
    const name = `checkpoint-${last + 50}`;
    const target = path.join(ws, RUN, name);
    created.push(target);
    // Like Trainer: write into a temporary folder, then rename it into place.
    const tmp = path.join(ws, RUN, `tmp-${name}`);
    created.push(tmp);
    fs.cpSync(path.join(ws, RUN, `checkpoint-${last}`), tmp, { recursive: true });
    // Longer than the watchers' debounce and the 0.5 s run-folder poll: a folder being written must not show up.
    await wb.page.waitForTimeout(1500);
    const whileWriting = (await rows(wb)).map((r) => r.label);
    assert.ok(!whileWriting.some((l) => l.includes('tmp-checkpoint')), `a folder being written is listed: ${JSON.stringify(whileWriting)}`);
    const t0 = Date.now();
    fs.renameSync(tmp, target);
    // No Refresh click: the file watchers (and the run-folder poll) must bring it in. The 2 s is a latency
    // target, reported here and not asserted: a timed assertion flakes on a shared machine (speed lives in bench/).
    await wb.treeRows(CHECKPOINTS_VIEW, new RegExp(`^${name}$`)).first().waitFor({ timeout: 15_000 });
    const ms = Date.now() - t0;
    const loadPerCore = os.loadavg()[0]! / os.cpus().length;
    console.log(`      new ${name} appeared after ${ms} ms (target 2000 ms; load ${loadPerCore.toFixed(1)} per core)`);
    const labels = (await rows(wb)).map((r) => r.label);
    assert.ok(labels.indexOf(name) > labels.indexOf(`checkpoint-${last}`));
  });

  it('flags a broken adapter (Git LFS pointer) with an error icon and a diagnostic on the file', async () => {
    const dir = path.join(e2eEnv().workspace, 'e2e-broken-adapter');
    created.push(dir);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(e2eEnv().workspace, RUN, 'adapter_config.json'), path.join(dir, 'adapter_config.json'));
    fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), 'version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 190000\n');
    const row = wb.treeRows(CHECKPOINTS_VIEW, 'e2e-broken-adapter').first();
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.locator('.codicon-error').count(), 1);
    const problems = await wb.problems();
    assert.ok(problems.some((p) => /Git LFS pointer/.test(p)), JSON.stringify(problems));
  });

  it('opens the training curves webview from the run context menu and draws the series and markers', async () => {
    await wb.openContainer();
    await wb.contextMenu(wb.treeRows(CHECKPOINTS_VIEW, RUN).first(), 'Show Training Curves');
    const view = wb.webview();
    await view.locator('svg.chart').first().waitFor({ timeout: 30_000 });
    await view.locator('path.series-loss').first().waitFor();
    const lossPoints = Number(await view.locator('path.series-loss').first().getAttribute('data-rows'));
    assert.ok(lossPoints >= 20, `loss rows ${lossPoints}`);
    assert.ok((await view.locator('path.series-evalLoss').count()) >= 1);
    assert.ok((await view.locator('path.series-learningRate').count()) === 1);
    assert.ok((await view.locator('path.series-gradNorm').count()) === 1);
    const { steps, best } = demoRun();
    const marked = await view.locator('#chart-loss line.ckpt').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-step'))));
    assert.deepEqual(marked.filter((x) => steps.includes(x)), steps);
    assert.equal(await view.locator(`#chart-loss .best-star[data-step="${best}"]`).count(), 1);
    // Every chart names its axes: step below, what it plots at the left.
    const titles = await view.locator('svg.chart').evaluateAll((els) => els.map((e) => [e.querySelector('.x-title')?.textContent, e.querySelector('.y-title')?.textContent]));
    assert.deepEqual(titles, [['Step', 'Loss'], ['Step', 'Learning rate'], ['Step', 'Grad norm']]);
    await waitForLog(/curves stories-lora: rendered/);
    await wb.page.mouse.move(1270, 790); // no tree tooltip over the chart in the screenshot
    await wb.page.keyboard.press('Escape');
    await wb.page.waitForTimeout(300);
    await wb.screenshot('training-curves');
  });
  it('offers its commands on adapter folders in the file Explorer, and Reveal in Checkpoints View selects the row', async () => {
    await wb.openContainer('Explorer');
    const explorer = wb.page.locator('.part.sidebar .explorer-folders-view [role="treeitem"]');
    const row = (name: string) => explorer.filter({ has: wb.page.locator('.label-name', { hasText: new RegExp(`^${name}$`) }) }).first();
    for (const name of ['runs', 'stories-lora']) {
      await row(name).waitFor({ timeout: 30_000 });
      if ((await row(name).getAttribute('aria-expanded')) !== 'true') await row(name).click();
    }
    const { steps } = demoRun();
    const target = row(`checkpoint-${steps[0]}`);
    await target.waitFor({ timeout: 30_000 });
    await target.click({ button: 'right' });
    const items = wb.page.locator('.context-view .monaco-menu [role="menuitem"]');
    await items.first().waitFor();
    const labels = (await items.allTextContents()).map((x) => x.trim());
    for (const want of ['Open adapter_config.json', 'Show Training Curves', 'Reveal in Checkpoints View']) {
      assert.ok(labels.some((l) => l.includes(want)), `${want} missing from ${JSON.stringify(labels)}`);
    }
    await wb.page.keyboard.press('Escape');
    await wb.contextMenu(target, 'Reveal in Checkpoints View');
    const selected = wb.tree(CHECKPOINTS_VIEW).locator('[role="treeitem"][aria-selected="true"] .label-name');
    await selected.first().waitFor({ timeout: 15_000 });
    assert.equal((await selected.first().textContent())?.trim(), `checkpoint-${steps[0]}`);
  });

  it("lists a killed merge's leftover with its size; Delete (after confirming) removes it", async () => {
    const parent = path.join(e2eEnv().workspace, 'e2e-leftover');
    created.push(parent);
    const partial = path.join(parent, '.killed-merge.partial-e2e18');
    fs.mkdirSync(partial, { recursive: true });
    fs.writeFileSync(path.join(partial, 'model-00001-of-00002.safetensors'), Buffer.alloc(3 << 20));
    // Owned by a process that has exited (its pid no longer runs on this host), as a SIGKILLed merge leaves it.
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const record = { tool: 'lora-workbench', job: 'merge', toolVersion: 't', pid: dead, host: os.hostname(), startedAt: new Date().toISOString(), out: path.join(parent, 'killed-merge'), partial: path.basename(partial) };
    fs.writeFileSync(path.join(partial, '.lora-workbench-owner.json'), JSON.stringify(record));
    await wb.runCommand(commandTitle('loraWorkbench.refreshCheckpoints'));
    const row = wb.treeRows(CHECKPOINTS_VIEW, /killed-merge\.partial-e2e18/).first();
    await row.waitFor({ timeout: 30_000 });
    assert.match((await row.locator('.label-description').first().textContent()) ?? '', /3(\.0)? MiB/);
    const dialog = wb.page.locator('.monaco-dialog-box');
    // On a loaded machine a menu click can be lost (seen in a fresh-clone CI run): choose the item again.
    for (let attempt = 1; ; attempt++) {
      await wb.contextMenu(row, 'Delete Leftover');
      if (await dialog.waitFor({ timeout: 15_000 }).then(() => true, () => false)) break;
      if (attempt >= 3) throw new Error('Delete Leftover opened no confirmation dialog');
      await wb.dismissTransient();
    }
    assert.match((await dialog.textContent()) ?? '', /killed-merge\.partial-e2e18/);
    await dialog.locator('.monaco-button', { hasText: /^Delete$/ }).first().click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(fs.existsSync(partial), false, 'the leftover folder is gone from disk');
  });
});
