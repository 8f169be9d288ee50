// Plan Deployment in a real VS Code (issue 16): right-click the demo checkpoint -> "Plan Deployment..." -> the panel shows
// the three options with this adapter's numbers (the same as core/deploy computes on the workspace copy), and its
// Merge button runs "Merge into Base Model..." with the plan's base and dtype, asking only for the output folder.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planDeployment } from '../../../src/core/deploy/plan';
import { NodeFs } from '../../../src/node/nodeFs';
import { CHECKPOINTS_VIEW, Workbench, acceptMergePrompts, commandTitle, e2eEnv, waitForLog } from '../support/workbench';

const RUN = 'runs/stories-lora';

describe('Plan Deployment', () => {
  let wb: Workbench;
  let ws: string;

  before(async () => {
    ws = e2eEnv().workspace;
    wb = await Workbench.openOnCheckpoints(RUN);
  });
  after(() => wb.close());

  it('opens on the demo checkpoint with the three options and their sizes', async () => {
    const expected = await planDeployment(new NodeFs(), path.join(ws, RUN, 'checkpoint-100'), { workspaceFolders: [ws] });
    await wb.contextMenu(wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-100').first(), 'Plan Deployment');
    const view = wb.webview();
    await view.locator('#option-gguf table.rows').waitFor({ timeout: 30_000 });
    assert.match((await view.locator('h1').textContent()) ?? '', /Deployment plan for checkpoint-100/);
    for (const id of ['shared', 'merged', 'gguf']) assert.ok(await view.locator(`#option-${id}`).isVisible(), id);
    assert.match((await view.locator('#option-shared dl.facts').textContent()) ?? '', /Adapter on disk.*KiB.*Base to share.*stories260K.*5 adapters \(this run\)/s);
    const bytesOf = async (sel: string): Promise<number> => Number(await view.locator(sel).getAttribute('data-bytes'));
    assert.equal(await bytesOf('tr#merged-float16'), expected.merged[1]!.bytes);
    assert.equal(await bytesOf('tr#gguf-q8_0'), expected.gguf.find((g) => g.type === 'q8_0')!.bytes);
    assert.equal(await view.locator('#option-merged tr[id^="merged-"]').count(), 3);
    assert.equal(await view.locator('#option-gguf tr[id^="gguf-"]').count(), 9);
    assert.match((await view.locator('tr#merged-float32 .badge').textContent()) ?? '', /base dtype/);
    const ggufCommand = view.locator('#option-gguf code.cmd');
    assert.match((await ggufCommand.textContent()) ?? '', /^lora-workbench gguf .*checkpoint-100 --base .*stories260K --out .*checkpoint-100-f16\.gguf --type f16$/);
    await view.locator('tr#gguf-q4_k_m td.name').click();
    assert.match((await ggufCommand.textContent()) ?? '', /--out .*checkpoint-100-q4_k_m\.gguf --type q4_k_m$/);
    await waitForLog(/deploy checkpoint-100: rendered 3 options, 12 sized rows \(base ok\)/);
    // The README picture: the three options side by side, without the side bar.
    await wb.runCommand('View: Toggle Primary Side Bar Visibility');
    await wb.page.mouse.move(1270, 790);
    await wb.screenshot('deploy-plan');
    await wb.runCommand('View: Toggle Primary Side Bar Visibility');
  });

  it('its Merge button merges in that dtype with the plan\'s base', async function () {
    this.timeout(180_000);
    const view = wb.webview();
    await view.locator('button[data-action="merged-float16"]').click();
    await acceptMergePrompts(wb, 'checkpoint-100', wb.notifications(/Merged \d+ tensors/));
    await wb.waitForNotification(/Merged \d+ tensors/, 120_000);
    const out = path.join(ws, RUN, 'checkpoint-100-merged-f16'); // the plan's output folder, proposed by the prompt
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { torch_dtype: string };
    assert.equal(config.torch_dtype, 'float16');
    await waitForLog(/deploy checkpoint-100: \{"kind":"merge","dtype":"float16"\}/);
  });

  it('without its base: the adapter\'s numbers and the reason, then Choose Base Model plans again', async function () {
    this.timeout(120_000);
    // A copy of the Colab checkpoint (its base recorded as /content/...), so the other tests keep the original broken.
    const moved = path.join(ws, 'deploy-moved-adapter');
    fs.mkdirSync(moved);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) fs.copyFileSync(path.join(ws, 'runs/stories-lora-colab/checkpoint-30', f), path.join(moved, f));
    const pick = path.join(ws, '.lora-workbench-test-pick');
    fs.writeFileSync(pick, 'models/stories260K\n');
    try {
      await wb.runCommand('View: Close All Editors');
      await wb.runCommand(commandTitle('loraWorkbench.refreshCheckpoints'));
      const row = wb.treeRows(CHECKPOINTS_VIEW, /deploy-moved-adapter/).first();
      await row.waitFor({ timeout: 60_000 });
      await wb.contextMenu(row, 'Plan Deployment');
      const view = wb.webview();
      await view.locator('#base-problem').waitFor({ timeout: 30_000 });
      assert.match((await view.locator('#base-problem').textContent()) ?? '', /cannot be found.*\/content\/drive/s);
      assert.match((await view.locator('#option-shared dl.facts').textContent()) ?? '', /Adapter on disk\s*[\d.]+ KiB/);
      assert.equal(await view.locator('#option-merged tr td.error').count(), 3);
      await waitForLog(/deploy deploy-moved-adapter: rendered 3 options, 0 sized rows \(base missing\)/);
      await view.locator('button[data-action="base-chooseBase"]').click();
      await view.locator('tr#merged-float16[data-bytes]').waitFor({ timeout: 60_000 });
      assert.equal(await view.locator('#base-problem').count(), 0);
      const config = JSON.parse(fs.readFileSync(path.join(moved, 'adapter_config.json'), 'utf8')) as { base_model_name_or_path: string };
      assert.match(config.base_model_name_or_path, /models\/stories260K$/);
    } finally {
      fs.rmSync(pick, { force: true });
      await wb.runCommand('View: Close All Editors');
      fs.rmSync(moved, { recursive: true, force: true }); // later test files see the demo as it was
    }
  });
});
