// Merge in a real VS Code (issue 5): right-click the demo checkpoint -> "Merge into Base Model..." -> accept the base
// from the diagnosis, the suggested sibling output folder and the dtype -> the merged folder appears with index,
// tokenizer and manifest. Cancelling a long merge from its progress notification leaves no folder behind.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensorsHeader } from '../../../src/core/safetensors/writer';
import { CHECKPOINTS_VIEW, Workbench, acceptMergePrompts, commandTitle, e2eEnv, waitForLog } from '../support/workbench';

const RUN = 'runs/stories-lora';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A base + adapter with many tensors: 128 f32 [512, 512] weights (128 MiB), LoRA r=8 on all of them. The e2e runner
 * pauses 50 ms after each merged tensor (LORA_WORKBENCH_TEST_MERGE_DELAY_MS), so the merge lasts over 6 s: a real 1 GiB
 * merge finishes in under a second here, too fast to cancel from its notification.
 */
function writeBigPair(root: string): { base: string; adapter: string } {
  const base = path.join(root, 'e2e-merge', 'big-base');
  const adapter = path.join(root, 'e2e-merge', 'big-adapter');
  fs.mkdirSync(base, { recursive: true });
  fs.mkdirSync(adapter, { recursive: true });
  const n = 512;
  const names = Array.from({ length: 128 }, (_, i) => `model.layers.${i}.self_attn.q_proj`);
  const weight = Buffer.alloc(n * n * 4);
  for (let i = 0; i < n * n; i++) weight.writeFloatLE(((i * 2654435761) % 1000) / 1e4 - 0.05, i * 4);
  const fd = fs.openSync(path.join(base, 'model.safetensors'), 'w');
  fs.writeSync(fd, encodeSafetensorsHeader(names.map((m) => ({ name: `${m}.weight`, dtype: 'F32' as const, shape: [n, n] })), { format: 'pt' }));
  for (const _ of names) fs.writeSync(fd, weight);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(base, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: n, num_hidden_layers: 128, vocab_size: 32, torch_dtype: 'float32' }));
  const r = 8;
  const specs = names.flatMap((m) => [
    { name: `base_model.model.${m}.lora_A.weight`, dtype: 'F32' as const, shape: [r, n] },
    { name: `base_model.model.${m}.lora_B.weight`, dtype: 'F32' as const, shape: [n, r] },
  ]);
  const small = Buffer.alloc(r * n * 4, 0x3c); // ~0.0115 everywhere
  const afd = fs.openSync(path.join(adapter, 'adapter_model.safetensors'), 'w');
  fs.writeSync(afd, encodeSafetensorsHeader(specs, { format: 'pt' }));
  for (const _ of specs) fs.writeSync(afd, small);
  fs.closeSync(afd);
  fs.writeFileSync(path.join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: 16, target_modules: ['q_proj'], base_model_name_or_path: base }, null, 2));
  return { base, adapter };
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
