// Mocha root hooks for the DOM e2e tests: a screenshot of every open workbench when a test fails (into the run's folder,
// kept on failure), and one browser shutdown at the end. Loaded by scripts/e2e.mjs with --require.

import type { Context } from 'mocha';
import { closeBrowser, currentWorkbenches, e2eEnv } from './workbench';

export const mochaHooks = {
  async afterEach(this: Context): Promise<void> {
    const test = this.currentTest;
    if (test?.state !== 'failed') return;
    for (const [i, wb] of currentWorkbenches().entries()) {
      const file = await wb.screenshot(`FAILED-${test.fullTitle()}-${i}`, e2eEnv().failures).catch(() => undefined);
      if (file) console.log(`    screenshot of the failure: ${file}`);
      // A failed test may leave a hover or menu open over the rows the next test clicks: clear it.
      await wb.dismissTransient().catch(() => undefined);
    }
  },
  async afterAll(): Promise<void> {
    await closeBrowser();
  },
};
