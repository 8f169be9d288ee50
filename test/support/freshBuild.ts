// Tests that run the built bundles (dist/) check first that the build is there and newer than every source file.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** A test of the bundle: it must exist and be newer than every source file, or the test names the fix. */
export function assertFreshBuild(bundle: string): void {
  assert.ok(fs.existsSync(bundle), `${bundle} is missing: run \`npm run build\` first.`);
  const built = fs.statSync(bundle).mtimeMs;
  const newer = (dir: string): string | null => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const hit = e.isDirectory() ? newer(p) : /\.ts$/.test(e.name) && fs.statSync(p).mtimeMs > built ? p : null;
      if (hit) return hit;
    }
    return null;
  };
  const stale = newer(path.join(ROOT, 'src'));
  assert.equal(stale, null, `${bundle} is older than ${stale}: run \`npm run build\` first.`);
}
