// Foundation, from the DOM of a real VS Code: the packaged extension activates on the demo workspace, its activity-bar
// container and Checkpoints view appear, and a palette command reaches the engine worker (engine/probe).

import * as assert from 'node:assert/strict';
import { CHECKPOINTS_VIEW, CONTAINER_TITLE, Workbench, commandTitle, waitForLog } from '../support/workbench';

describe('foundation (trusted workspace)', () => {
  let wb: Workbench;
  before(async () => {
    wb = await Workbench.open();
  });
  after(async () => {
    await wb.close();
  });

  it('activates on the demo workspace (workspaceContains:**/adapter_config.json)', async () => {
    // Nothing has been clicked yet: only the activation event can have started the extension.
    const line = await waitForLog(/LoRA Workbench activated \(workspace trusted\)/);
    assert.match(line, /\binfo\b/i);
  });

  it('shows the LoRA Workbench container with its Checkpoints view', async () => {
    await wb.openContainer(CONTAINER_TITLE);
    const pane = wb.viewPane(CHECKPOINTS_VIEW);
    await pane.waitFor({ timeout: 30_000 });
    assert.ok(await pane.isVisible(), 'Checkpoints view pane is visible');
    await wb.page.waitForTimeout(500); // let the view settle for the screenshot
    await wb.screenshot('checkpoints-view');
  });

  it('runs "Probe Compute Engine" from the palette and the worker answers engine/probe', async () => {
    await wb.runCommand(commandTitle('loraWorkbench.probeEngine'));
    const message = await wb.waitForNotification(/Engine ready/);
    assert.match(message, /backends reference, wasm/);
    assert.match(message, /WASM SIMD true/);
    // The same answer, as the worker sent it, is in the log channel: parse it instead of trusting the toast's wording.
    const line = await waitForLog(/engine\/probe: \{/);
    const result = JSON.parse(line.slice(line.indexOf('{'))) as { simd: boolean; backends: string[]; engineVersion: string };
    assert.equal(result.simd, true);
    assert.ok(result.backends.includes('reference'));
    assert.match(result.engineVersion, /^\d+\.\d+\.\d+/);
    // The README picture (media/screenshot.png): the view filled (when the tree has loaded) and the probe's answer.
    await wb.treeRows(CHECKPOINTS_VIEW).first().waitFor({ timeout: 20_000 }).catch(() => undefined);
    await wb.setSidebarWidth(480);
    await wb.screenshot('overview');
  });
});
