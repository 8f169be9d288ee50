// Merge in a real VS Code (issue 5): right-click the demo checkpoint -> "Merge into Base Model..." -> accept the base
// from the diagnosis, the suggested sibling output folder and the dtype -> the merged folder appears with index,
// tokenizer and manifest. Cancelling a long merge from its progress notification leaves no folder behind.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSyntheticPair, type SyntheticPair } from '../../support/syntheticPair';
import { CHECKPOINTS_VIEW, Workbench, acceptMergePrompts, commandTitle, e2eEnv, waitForLog } from '../support/workbench';

const RUN = 'runs/stories-lora';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * 128 f32 [512, 512] weights (128 MiB), LoRA r=8 on all of them. The e2e runner pauses 50 ms after each merged tensor
 * (LORA_WORKBENCH_TEST_MERGE_DELAY_MS), so the merge lasts over 6 s: a real 1 GiB merge finishes in under a second
 * here, too fast to cancel from its notification.
 */
function writeBigPair(root: string): SyntheticPair {
  return writeSyntheticPair(path.join(root, 'e2e-merge'), { tensors: 128, n: 512 });
}

describe('merge into base model', () => {
  let wb: Workbench;
  let ws: string;

  before(async () => {
    ws = e2eEnv().workspace;
    wb = await Workbench.open();
    await wb.openContainer();
    await wb.treeRows(CHECKPOINTS_VIEW, RUN).first().waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await wb.close();
  });

  it('right-click checkpoint -> merge -> output folder with index, tokenizer and manifest', async () => {
    const row = wb.treeRows(CHECKPOINTS_VIEW, 'checkpoint-200').first();
    await row.waitFor({ timeout: 30_000 });
    await wb.contextMenu(row, 'Merge into Base Model');
    const titles = await acceptMergePrompts(wb, 'checkpoint-200', wb.notifications(/Merging checkpoint-200|Merged \d+ tensors/));
    // Each prompt says which adapter it is for and where in the flow it is.
    for (const want of ['Merge checkpoint-200 (1/3): base model', 'Merge checkpoint-200 (2/3): output folder', 'Merge checkpoint-200 (3/3): data type']) {
      assert.ok(titles.has(want), `prompt title "${want}" not among ${JSON.stringify([...titles])}`);
    }
    const msg = await wb.waitForNotification(/Merged \d+ tensors/, 120_000);
    assert.match(msg, /verified/);
    const out = path.join(ws, RUN, 'checkpoint-200-merged');
    for (const f of ['model.safetensors.index.json', 'model-00001-of-00001.safetensors', 'config.json', 'merge_manifest.json']) {
      assert.ok(fs.existsSync(path.join(out, f)), `${f} in ${fs.readdirSync(out).join(', ')}`);
    }
    assert.ok(['tokenizer.model', 'tokenizer.json', 'tokenizer_config.json'].some((f) => fs.existsSync(path.join(out, f))), 'a tokenizer file');
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'merge_manifest.json'), 'utf8'));
    assert.equal(manifest.settings.verified, true);
    assert.match(manifest.adapter.resolved, /checkpoint-200$/);
    assert.ok(manifest.tensors.some((t: { op: string }) => t.op === 'lora'));
    await waitForLog(/merge: done/);
    await wb.screenshot('merge-done');
  });

  it('cancelling mid-way from the notification leaves no folder behind', async function () {
    this.timeout(300_000); // writes a 128 MiB base first, then waits for the scan to list it
    const { adapter } = writeBigPair(ws);
    await wb.runCommand(commandTitle('loraWorkbench.refreshCheckpoints')); // don't wait on the file watcher's debounce
    const row = wb.treeRows(CHECKPOINTS_VIEW, /big-adapter/).first();
    await row.waitFor({ timeout: 90_000 });
    await wb.contextMenu(row, 'Merge into Base Model');
    const toast = wb.notifications(/Merging big-adapter/).first();
    await acceptMergePrompts(wb, 'big-adapter', toast);
    // The toast re-renders on every progress report, so a pointer click (which waits for the button to hold still)
    // can chase a replaced node until the merge ends: click it inside the page the moment it is found instead.
    const cancel = toast.locator('.monaco-button, a.action-label', { hasText: /Cancel/ }).first();
    await cancel.waitFor({ timeout: 30_000 });
    await cancel.evaluate((e) => (e as HTMLElement).click());
    await waitForLog(/Merge into Base Model: cancelled/, 60_000);
    const parent = path.dirname(adapter);
    await sleep(1000);
    const left = fs.readdirSync(parent).filter((n) => n.includes('merged'));
    assert.deepEqual(left, [], `nothing merged left in ${parent}`);
  });
});
