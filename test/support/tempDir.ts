// A fresh temporary folder for each test of a mocha suite, removed after it.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Call inside describe(); the returned function gives the current test's folder. */
export function tempDirPerTest(prefix: string): () => string {
  let dir = '';
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}
