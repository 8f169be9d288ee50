// Driving the Generation preview panel (its webview) and running the CLI `generate` for comparison; shared by the
// preview e2e tests (preview.test.ts, previewWebgpu.test.ts).

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { FrameLocator, Locator } from 'playwright-core';
import { CHECKPOINTS_VIEW, e2eEnv, type Workbench } from './workbench';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface CliOut {
  ids: number[];
  text: string;
}

export interface CliRun {
  model?: string;
  prompt?: string;
  format?: string;
  backend?: 'auto' | 'wasm' | 'webgpu' | 'reference';
}

/** The CLI over the same engine, greedy, on the same workspace copy the workbench has open. */
export function cliGenerate(adapter: string | null, prompt: string, maxNewTokens: number, run: CliRun = {}): CliOut {
  const ws = e2eEnv().workspace;
  const args = [path.join(ROOT, 'dist', 'cli.js'), 'generate', '--model', path.join(ws, run.model ?? 'models/stories260K'),
    ...(adapter ? ['--adapter', path.join(ws, adapter)] : []), ...(run.format ? ['--format', run.format] : []),
    ...(run.backend ? ['--backend', run.backend] : []),
    '--prompt', run.prompt ?? prompt, '--temperature', '0', '--max-new-tokens', String(maxNewTokens), '--json'];
  const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 })) as CliOut;
  assert.ok(out.ids.length > 0 && typeof out.text === 'string', JSON.stringify(out).slice(0, 300));
  return out;
}

/** One open preview panel: its columns, fields and runs. `view` changes when a panel is (re)opened. */
export class PreviewPanelDriver {
  view: FrameLocator;

  constructor(readonly wb: Workbench) {
    this.view = wb.webview();
  }

  column(kind: 'base' | 'adapter', title?: string): Locator {
    const c = this.view.locator(`section.column[data-kind="${kind}"]`);
    return title ? c.filter({ has: this.view.locator('h2', { hasText: title }) }) : c.first();
  }

  async setField(id: string, value: string): Promise<void> {
    await this.view.locator(`#${id} input, #${id} textarea`).first().fill(value);
  }

  /** The id of the last finished run (the panel counts them in #app[data-last-run]). */
  async lastRun(): Promise<number> {
    return Number((await this.view.locator('#app').getAttribute('data-last-run')) ?? '0');
  }

  async waitRunDone(after: number, timeout = 90_000): Promise<number> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const last = await this.lastRun();
      if (last > after) return last;
      if (Date.now() > deadline) throw new Error(`no run finished after run ${after} within ${timeout / 1000} s`);
      await this.wb.page.waitForTimeout(100);
    }
  }

  /** Context menu "Preview Generation..." on a Checkpoints row; on a loaded machine a menu click can be lost, so retry. */
  async openFromCheckpoints(label: string | RegExp): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.wb.contextMenu(this.wb.treeRows(CHECKPOINTS_VIEW, label).first(), 'Preview Generation...');
      this.view = this.wb.webview();
      try {
        await this.view.locator('section.column, #diagnosis li').first().waitFor({ timeout: 30_000 });
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        console.log(`      no preview panel after the menu click (attempt ${attempt}); retrying`);
      }
    }
  }
}
