// The in-host tests (test/e2e/host, bundled as out/test/index.js) in a desktop VS Code downloaded by @vscode/test-electron,
// for people with internet access. Offline it says it skips and why, and exits 0: the code-server suite covers the same tests.
// Usage: npm run test:electron [-- --version 1.90.0]   (needs `npm run build` first; on a headless Linux run under xvfb-run)

import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runTests } from '@vscode/test-electron';

/** Network failures that mean "no internet here", as opposed to a failing test. */
export const OFFLINE_CODES = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'ENETUNREACH'] as const;

/** The offline code in `err` or its causes (test-electron wraps request errors), or undefined. */
export function offlineCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (OFFLINE_CODES as readonly string[]).includes(e.code)) return e.code;
  if (typeof e.message === 'string') {
    const hit = OFFLINE_CODES.find((c) => e.message !== undefined && String(e.message).includes(c));
    if (hit) return hit;
  }
  if (Array.isArray(e.errors)) for (const inner of e.errors) { const c = offlineCode(inner, depth + 1); if (c) return c; }
  return offlineCode(e.cause, depth + 1);
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { version: { type: 'string', default: 'stable' } } });
  const root = path.resolve(__dirname, '..', '..');
  const testsPath = path.join(root, 'out', 'test', 'index.js');
  if (!existsSync(testsPath) || !existsSync(path.join(root, 'dist', 'extension.js'))) {
    console.error('test-electron: run `npm run build` first (dist/extension.js and out/test/index.js are missing)');
    return 1;
  }
  // Like the code-server suite: a private copy of the demo workspace, since tests may modify it.
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'lora-workbench-electron-'));
  cpSync(path.join(root, 'demo'), workspace, { recursive: true });
  try {
    await runTests({
      version: values.version,
      extensionDevelopmentPath: root,
      extensionTestsPath: testsPath,
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    });
    return 0;
  } catch (err) {
    const code = offlineCode(err);
    if (code) {
      console.log(`test-electron: skipped: VS Code cannot be downloaded here (${code}: ${err instanceof Error ? err.message : String(err)}).`);
      console.log('test-electron: the same in-host tests run offline in code-server: npm run test:e2e');
      return 0;
    }
    console.error(`test-electron: failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
