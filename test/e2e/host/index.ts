// In-host test entry (VS Code's extensionTestsPath contract), bundled by scripts/build.mjs into out/test/index.js:
// runs every test/e2e/host/*.test.ts with mocha inside the extension host. A new *.test.ts file is picked up by the
// next build, no registration needed: esbuild bundles all files the template import below can match.

import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

const MOCHA_BEGIN = '--- lora-workbench host tests: begin ---';
const MOCHA_END = '--- lora-workbench host tests: end ---';

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 60_000 });
  // `scripts/e2e.mjs --grep` reaches this host through code-server's environment.
  if (process.env.LORA_E2E_GREP) mocha.grep(process.env.LORA_E2E_GREP);
  // The bundle lives in out/test/; the sources it was built from tell which of the bundled test modules exist.
  const sourceDir = path.resolve(__dirname, '..', '..', 'test', 'e2e', 'host');
  const names = fs.readdirSync(sourceDir).filter((f) => f.endsWith('.test.ts')).map((f) => f.slice(0, -'.test.ts'.length)).sort();
  if (names.length === 0) throw new Error(`no host tests in ${sourceDir}`);
  // Test files call describe/it at load time: expose mocha's BDD globals first, then load them (bundled by esbuild).
  mocha.suite.emit('pre-require', globalThis, 'host', mocha);
  for (const name of names) {
    mocha.suite.emit('pre-require', globalThis, `${name}.test.ts`, mocha);
    await import(`./${name}.test.ts`);
  }
  // Markers: scripts/e2e.mjs echoes only what lies between them (the rest is the workbench's own console).
  console.log(MOCHA_BEGIN);
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  console.log(MOCHA_END);
  if (failures > 0) throw new Error(`${failures} host test(s) failed`);
}
