// Packages the extension as lora-workbench-<version>.vsix, offline: a production build (esbuild has already bundled the
// runtime dependencies into dist/), then vsce without npm dependency detection. Fails when the .vsix reaches 5 MB.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_BYTES = 5 * 1024 * 1024;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { name, version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
export const vsixPath = path.join(root, `${name}-${version}.vsix`);

function run(args, env = process.env) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run(['scripts/build.mjs'], { ...process.env, NODE_ENV: 'production' });
  // --no-dependencies: nothing from node_modules ships (and vsce never runs `npm list`);
  // --no-rewrite-relative-links and --allow-missing-repository: no repository URL is needed to package offline.
  run([path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies',
    '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsixPath]);
  const size = statSync(vsixPath).size;
  console.log(`[package] ${path.basename(vsixPath)}: ${(size / 1024).toFixed(0)} KiB (limit ${MAX_BYTES / 1024 / 1024} MiB)`);
  if (size >= MAX_BYTES) {
    console.error(`[package] the .vsix is ${(size / 1024 / 1024).toFixed(2)} MiB: check .vscodeignore`);
    process.exit(1);
  }
}
