// Bundles every entry with esbuild: extension + engine worker + CLI (node, cjs) and the webviews (browser, iife).
// Also compiles the WASM kernels when their sources exist (scripts/build-wasm.mjs). Usage: node scripts/build.mjs [--watch]
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const watch = process.argv.includes('--watch');
const production = process.env.NODE_ENV === 'production';
mkdirSync('dist', { recursive: true });

const nodeCommon = {
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, minify: production,
  // vscode is provided by the host; webgpu is an optional native package loaded only when present.
  external: ['vscode', 'webgpu'], logLevel: 'warning',
  // Prefer ESM entry points: jsonc-parser's UMD 'main' uses a dynamic require('./impl/format') esbuild cannot bundle.
  mainFields: ['module', 'main'],
  // WGSL shaders (src/kernels/webgpu/wgsl/*.wgsl, one per op) are bundled as text.
  loader: { '.wgsl': 'text' },
};

const entries = [
  { ...nodeCommon, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  { ...nodeCommon, entryPoints: { engineWorker: 'src/engine/worker.node.ts' }, outdir: 'dist' },
  { ...nodeCommon, entryPoints: { cli: 'src/cli/cli.node.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
];
if (existsSync('src/kernels/wasm/threadHelper.node.ts')) {
  entries.push({ ...nodeCommon, entryPoints: { wasmHelper: 'src/kernels/wasm/threadHelper.node.ts' }, outdir: 'dist' });
}
// Webviews: every webview/<name>/main.ts becomes dist/webview/<name>.js for the browser.
if (existsSync('webview')) {
  for (const name of readdirSync('webview')) {
    if (existsSync(`webview/${name}/main.ts`)) {
      entries.push({
        bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, minify: production,
        entryPoints: { [name]: `webview/${name}/main.ts` }, outdir: 'dist/webview', logLevel: 'warning',
        loader: { '.css': 'text' },
      });
    }
  }
}
// In-host test bundle (VS Code's extensionTestsPath contract): test/e2e/host/index.ts -> out/test/index.js.
if (existsSync('test/e2e/host/index.ts')) {
  entries.push({ ...nodeCommon, entryPoints: { index: 'test/e2e/host/index.ts' }, outdir: 'out/test', external: ['vscode', 'webgpu', 'mocha'] });
}

if (existsSync('scripts/build-wasm.mjs')) {
  const r = spawnSync(process.execPath, ['scripts/build-wasm.mjs'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (watch) {
  for (const e of entries) await (await esbuild.context(e)).watch();
  console.log('watching...');
} else {
  await Promise.all(entries.map((e) => esbuild.build(e)));
  console.log(`built ${entries.length} bundles into dist/`);
}
