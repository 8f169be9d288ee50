// Packages the extension offline: a production build (esbuild has already bundled the runtime dependencies into
// dist/), then vsce without npm dependency detection.
//   node scripts/package.mjs               the universal lora-workbench-<version>.vsix (no native code: WASM everywhere)
//                                          plus lora-workbench-<target>-<version>.vsix per VS Code target, each carrying
//                                          exactly its platform's Dawn binary at dist/dawn/<dawn dir>/ (dawnLoader.node.ts
//                                          loads it from there) with Dawn's licence beside it (~20 s in all)
//   node scripts/package.mjs --universal   the universal one only
// The universal .vsix must stay under 5 MB; a platform .vsix under 15 MB (zip-compressed size, what users download).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MIB = 1024 * 1024;
const UNIVERSAL_MAX_BYTES = 5 * MIB;
const PLATFORM_MAX_BYTES = 15 * MIB;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { name, version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
export const vsixPath = path.join(root, `${name}-${version}.vsix`);

/** VS Code target -> the directory of node_modules/webgpu/dist/ holding its binary (macOS: one universal build). */
export const TARGETS = Object.fromEntries(Object.entries(JSON.parse(readFileSync(path.join(root, 'scripts', 'targets.json'), 'utf8')))
  .filter(([k]) => k !== '//'));
/**
 * Compressed-size limits. The win32 packages also carry the D3D shader compilers Dawn loads beside dawn.node
 * (dxcompiler.dll, d3dcompiler_47.dll: 22-27 MB uncompressed), which puts them at 15.7 (x64) and 17.0 (arm64) MiB: they
 * get their own limit rather than a stripped binary set.
 */
const limitFor = (target) => (target.startsWith('win32-') ? 18 * MIB : PLATFORM_MAX_BYTES);
export const targetVsixPath = (target) => path.join(root, `${name}-${target}-${version}.vsix`);
const dawnOut = path.join(root, 'dist', 'dawn');

function run(args, env = process.env) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function vsce(out, target) {
  // --no-dependencies: nothing from node_modules ships (and vsce never runs `npm list`);
  // --no-rewrite-relative-links and --allow-missing-repository: no repository URL is needed to package offline.
  run([path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies',
    '--allow-missing-repository', '--no-rewrite-relative-links', ...(target ? ['--target', target] : []), '--out', out]);
}

function checkSize(file, max) {
  const size = statSync(file).size;
  console.log(`[package] ${path.basename(file)}: ${(size / MIB).toFixed(2)} MiB compressed (limit ${max / MIB} MiB)`);
  if (size >= max) {
    console.error(`[package] ${path.basename(file)} is ${(size / MIB).toFixed(2)} MiB, over the ${max / MIB} MiB limit: check .vscodeignore`);
    process.exitCode = 1;
  }
}

/** Copies one platform's Dawn files (dawn.node, and on win32 its DLLs and their licences) plus Dawn's licence. */
function stageDawn(dawnDir) {
  const pkg = path.join(root, 'node_modules', 'webgpu');
  const src = path.join(pkg, 'dist', dawnDir);
  if (!existsSync(path.join(src, 'dawn.node'))) throw new Error(`no ${src}/dawn.node: run npm ci (webgpu is an optional dependency)`);
  rmSync(dawnOut, { recursive: true, force: true });
  const dst = path.join(dawnOut, dawnDir);
  for (const f of readdirSync(src)) cpSync(path.join(src, f), path.join(dst, f));
  cpSync(path.join(pkg, 'LICENSE.md'), path.join(dawnOut, 'LICENSE-dawn.md'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run(['scripts/build.mjs'], { ...process.env, NODE_ENV: 'production' });
  // A stale dist/dawn/ from an interrupted --all run must not end up in the universal package.
  rmSync(dawnOut, { recursive: true, force: true });
  vsce(vsixPath);
  checkSize(vsixPath, UNIVERSAL_MAX_BYTES);
  if (!process.argv.includes('--universal')) {
    try {
      for (const [target, dawnDir] of Object.entries(TARGETS)) {
        stageDawn(dawnDir);
        vsce(targetVsixPath(target), target);
        checkSize(targetVsixPath(target), limitFor(target));
      }
    } finally {
      rmSync(dawnOut, { recursive: true, force: true });
    }
  }
}
