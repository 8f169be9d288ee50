// End-to-end runner: packages the .vsix, installs it into code-server (a real VS Code, see E2E.md) and drives it with
// Debian's chromium through playwright-core, in three phases, one fresh server each:
//   ui          test/e2e/ui/*.test.ts          mocha in Node, DOM tests against a trusted copy of demo/
//   restricted  test/e2e/restricted/*.test.ts  the same against an untrusted copy (Restricted Mode)
//   host        test/e2e/host/*.test.ts        in the extension host (extensionTestsPath contract, smoke-test driver)
// Usage: node scripts/e2e.mjs [--no-package] [--only ui,restricted,host] [--keep] [--grep <pattern>]
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, parseArgs } from 'node:util';
import { installExtension, killTree, startCodeServer, stopAllServers, writeSettings } from './codeServer.mjs';
import { ensureE2eHost } from './e2e-host.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Environment that lets Dawn (the optional `webgpu` package) find a Vulkan driver on a machine without a GPU: the
 * SwiftShader ICD that Debian's chromium ships. The host and ui phases pass it to code-server so the in-host test can
 * check whether WebGPU loads inside VS Code's extension host and the preview can run on it (previewWebgpu.test.ts).
 * Empty when chromium's ICD is absent.
 */
function swiftShaderEnv() {
  let icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!existsSync(icd)) {
    const r = spawnSync('dpkg', ['-L', 'chromium'], { encoding: 'utf8' });
    icd = (r.stdout ?? '').split('\n').find((l) => l.endsWith('vk_swiftshader_icd.json')) ?? '';
  }
  if (!icd || !existsSync(icd)) return {};
  const libDir = path.dirname(icd);
  return {
    VK_ICD_FILENAMES: icd,
    LD_LIBRARY_PATH: [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    LORA_E2E_WEBGPU_ICD: icd,
  };
}

/** Why the ui phase's WebGPU preview test cannot run here (it skips, printing this), or null when it can. */
function webGpuPreviewSkipReason(vsixName, gpuEnv) {
  if (!gpuEnv.VK_ICD_FILENAMES) return 'no SwiftShader Vulkan ICD from Debian chromium on this machine';
  if (!vsixName.includes(`-${process.platform}-${process.arch}-`)) return `${vsixName} is the universal package (no Dawn binary): run npm run package`;
  return null;
}
const PHASES = ['ui', 'restricted', 'host'];
const { values: opts } = parseArgs({
  options: {
    'no-package': { type: 'boolean', default: false },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
    grep: { type: 'string' },
  },
});
const phases = opts.only ? opts.only.split(',').map((s) => s.trim()) : PHASES;
for (const p of phases) if (!PHASES.includes(p)) fail(`unknown phase '${p}' (phases: ${PHASES.join(', ')})`);

const started = Date.now();
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const extensionId = `${pkg.publisher}.${pkg.name}`.toLowerCase();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const log = (m) => console.log(`[e2e] ${m}`);
function fail(message) {
  console.error(`[e2e] ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

/** Debian's chromium first; LORA_E2E_CHROMIUM overrides. Never a browser downloaded by playwright. */
function findChromium() {
  const candidates = [process.env.LORA_E2E_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) fail(`no chromium found (tried ${candidates.join(', ')}); on Debian: apt-get install chromium, or set LORA_E2E_CHROMIUM`);
  return found;
}

function hasFile(dir, name, depth = 6) {
  if (depth < 0 || !existsSync(dir)) return false;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && e.name === name) return true;
    if (e.isDirectory() && !e.name.startsWith('.') && hasFile(path.join(dir, e.name), name, depth - 1)) return true;
  }
  return false;
}

/** Copies keep the source's modes; tests may edit their copy even when the source is read-only. */
function makeWritable(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    chmodSync(p, e.isDirectory() ? 0o755 : 0o644);
    if (e.isDirectory()) makeWritable(p);
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { void stopAllServers().then(() => process.exit(130)); });
}

/** Failed runs keep their folder for inspection; drop those older than a day (never a run that may still be going). */
function pruneOldRuns() {
  const runs = path.join(root, '.e2e-run');
  if (!existsSync(runs)) return;
  for (const d of readdirSync(runs)) {
    const p = path.join(runs, d);
    if (/^\d{4}-\d\d-\d\dT/.test(d) && Date.now() - statSync(p).mtimeMs > 24 * 3600_000) rmSync(p, { recursive: true, force: true });
  }
}

/** Counts from a mocha spec epilogue ("  3 passing", "  1 failing", "  2 pending"). */
function mochaCounts(text) {
  const n = (word) => Number(text.match(new RegExp(`^\\s*(\\d+) ${word}\\b`, 'm'))?.[1] ?? 0);
  return { passed: n('passing'), failed: n('failing'), pending: n('pending') };
}

function testFiles(folder) {
  const dir = path.join(root, 'test', 'e2e', folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', 'e2e', folder, f));
}

/** ui / restricted: mocha in Node (tsx for TypeScript) against the running server. */
async function runMochaPhase(phase, server, ctx) {
  const files = testFiles(phase);
  if (files.length === 0) return { passed: 0, failed: 0, pending: 0, note: 'no test files' };
  const args = [path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--no-config', '--no-package',
    '--require', 'tsx/cjs', '--require', 'test/e2e/support/hooks.ts', '--extension', 'ts',
    '--timeout', '90000', '--slow', '10000', '--reporter', 'spec', process.stdout.isTTY ? '--color' : '--no-color', ...(opts.grep ? ['--grep', opts.grep] : []), ...files];
  const env = {
    ...process.env,
    LORA_E2E_PHASE: phase,
    LORA_E2E_URL: server.url,
    LORA_E2E_WORKSPACE: ctx.workspace,
    LORA_E2E_USER_DATA: ctx.userDataDir,
    LORA_E2E_CHROMIUM: ctx.chromium,
    LORA_E2E_SCREENSHOTS: path.join(root, 'test', 'e2e', 'screenshots'),
    LORA_E2E_FAILURES: path.join(ctx.dir, 'failures'),
    ...(ctx.webGpuSkip ? { LORA_E2E_WEBGPU_SKIP: ctx.webGpuSkip } : {}),
  };
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
  const code = await new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  const counts = mochaCounts(out);
  // A crash before the epilogue (syntax error, missing module) counts as one failure, never as a pass.
  if (code !== 0 && counts.failed === 0) counts.failed = 1;
  return counts;
}

const HOST_MOCHA_BEGIN = '--- lora-workbench host tests: begin ---';
const HOST_MOCHA_END = '--- lora-workbench host tests: end ---';

/** host: load the workbench with VS Code's test payload; mocha runs inside the extension host and reports back. */
async function runHostPhase(server, ctx) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: ctx.chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  let out = '';
  let inMocha = false;
  const consoleLog = createWriteStream(path.join(ctx.dir, 'host-console.log'));
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const exit = new Promise((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code) => resolve(Number(code)));
    });
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      // The extension host forwards console arguments unformatted ('%s', values): format them like console.log would.
      const line = format(...(Array.isArray(args) ? args : [args]));
      consoleLog.write(`[${type}] ${line}\n`);
      // Echo mocha's output only (between the markers test/e2e/host/index.ts prints), not the workbench's console.
      if (line.includes(HOST_MOCHA_END)) inMocha = false;
      // The workbench's own errors (stack frames in its static bundle, e.g. the offline extension gallery) are noise here.
      if (inMocha && !(type !== 'info' && type !== 'log' && line.includes('/static/out/vs/'))) {
        out += `${line}\n`;
        process.stdout.write(`${line}\n`);
      }
      if (line.includes(HOST_MOCHA_BEGIN)) inMocha = true;
    });
    const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(ctx.extensionDevelopmentPath)],
      ['extensionTestsPath', remote(ctx.extensionTestsPath)],
    ]);
    // Not the 'load' event with its 30 s default: on a busy machine the workbench's assets take longer than that.
    await page.goto(`${server.url}?folder=${encodeURIComponent(ctx.workspace)}&payload=${encodeURIComponent(payload)}`,
      { waitUntil: 'domcontentloaded', timeout: 120_000 });
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 240_000));
    const code = await Promise.race([exit, timeout]);
    const counts = mochaCounts(out);
    if (code === 'timeout') {
      console.error('[e2e] host: the extension host never reported an exit code (240 s)');
      counts.failed += 1;
    } else if (code !== 0 && counts.failed === 0) counts.failed = 1;
    if (counts.failed > 0 && !out) console.error(`[e2e] host: no mocha output; the extension host's console is in ${path.relative(root, path.join(ctx.dir, 'host-console.log'))}`);
    await page.screenshot({ path: path.join(ctx.dir, 'host-final.png') }).catch(() => undefined);
    return counts;
  } finally {
    consoleLog.end();
    await browser.close();
  }
}

async function main() {
  const host = ensureE2eHost();
  const chromium = findChromium();
  // This machine's platform package when it was built (npm run package builds them all): the suite then runs on the
  // Dawn binary the package ships (the in-host WebGPU test checks which one the engine worker loaded); else universal.
  if (!opts['no-package']) {
    const r = spawnSync(process.execPath, ['scripts/package.mjs'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail('packaging failed');
  }
  const platformVsix = `${pkg.name}-${process.platform}-${process.arch}-${pkg.version}.vsix`;
  const vsixName = existsSync(path.join(root, platformVsix)) ? platformVsix : `${pkg.name}-${pkg.version}.vsix`;
  const vsixSource = path.join(root, vsixName);
  if (!existsSync(vsixSource)) fail(`${vsixName} not found: run npm run package (or drop --no-package)`);
  const hostTests = path.join(root, 'out', 'test', 'index.js');
  if (phases.includes('host') && !existsSync(hostTests)) fail('out/test/index.js missing: run npm run build');

  const workspaceSource = path.resolve(root, process.env.LORA_E2E_WORKSPACE_SRC ?? 'demo');
  if (!hasFile(workspaceSource, 'adapter_config.json')) {
    fail(`the demo workspace ${path.relative(root, workspaceSource) || '.'} has no adapter_config.json (set LORA_E2E_WORKSPACE_SRC to another folder)`);
  }

  pruneOldRuns();
  // One folder per run: other people may run the suite in the same tree at the same time.
  const runDir = path.join(root, '.e2e-run', `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  // Copies: a concurrent `npm run package` or `npm run build` must not swap files under a running server.
  const vsix = path.join(runDir, vsixName);
  cpSync(vsixSource, vsix);
  log(`${vsixName} ${(statSync(vsix).size / 1024).toFixed(0)} KiB; run folder ${path.relative(root, runDir)}`);

  // Install the packaged extension once; ui and restricted use this extensions dir, host loads the unpacked copy.
  const extensionsDir = path.join(runDir, 'extensions');
  const t0 = Date.now();
  let installed;
  try {
    installed = installExtension(host, { vsix, extensionsDir, userDataDir: path.join(runDir, 'install-user-data'), extensionId });
  } catch (err) {
    fail(err.message);
  }
  log(`installed ${installed} in ${secs(Date.now() - t0)}`);

  const gpuEnv = swiftShaderEnv();
  const webGpuSkip = webGpuPreviewSkipReason(vsixName, gpuEnv);
  const totals = { passed: 0, failed: 0, pending: 0 };
  const lines = [];
  for (const phase of phases) {
    const dir = path.join(runDir, phase);
    const ctx = {
      dir, chromium, webGpuSkip,
      userDataDir: path.join(dir, 'user-data'),
      workspace: path.join(dir, 'workspace'),
      extensionDevelopmentPath: path.join(extensionsDir, installed),
      // In place: the bundle finds its test list in the sources next to it (test/e2e/host/index.ts).
      extensionTestsPath: hostTests,
    };
    mkdirSync(dir, { recursive: true });
    cpSync(workspaceSource, ctx.workspace, { recursive: true });
    makeWritable(ctx.workspace);
    writeSettings(ctx.userDataDir, { trust: phase === 'restricted' });
    const phaseStart = Date.now();
    log(`--- ${phase} ---`);
    let counts;
    let server;
    try {
      server = await startCodeServer(host, dir, {
        userDataDir: ctx.userDataDir,
        // The host phase loads the extension as a development extension, so its extensions dir must not hold it too.
        extensionsDir: phase === 'host' ? path.join(dir, 'extensions') : extensionsDir,
        workspace: ctx.workspace,
        trusted: phase !== 'restricted',
        smokeTestDriver: phase === 'host',
        env: {
          LORA_E2E_PHASE: phase,
          ...(opts.grep ? { LORA_E2E_GREP: opts.grep } : {}),
          ...(phase === 'host' ? gpuEnv : {}),
          // The WebGPU preview test chooses 'webgpu' explicitly; SwiftShader is a software adapter, refused unless allowed.
          // 'auto' still refuses it, so the other ui tests keep running on WASM.
          ...(phase === 'ui' ? { ...gpuEnv, LORA_WORKBENCH_WEBGPU_ALLOW_SOFTWARE: '1' } : {}),
          // 50 ms after each merged tensor: the cancel test's merge then lasts seconds instead of under one.
          ...(phase === 'ui' ? { LORA_WORKBENCH_TEST_MERGE_DELAY_MS: '50' } : {}),
          // The test-only "Crash the Engine Worker" command and engine/debugCrash (workerDeath.test.ts).
          ...(phase === 'ui' ? { LORA_WORKBENCH_TEST_HOOKS: '1' } : {}),
        },
      });
      log(`${phase}: code-server ${server.url} ready in ${secs(Date.now() - phaseStart)}`);
      counts = phase === 'host' ? await runHostPhase(server, ctx) : await runMochaPhase(phase, server, ctx);
    } catch (err) {
      console.error(`[e2e] ${phase}: ${err instanceof Error ? err.stack : String(err)}`);
      counts = { passed: 0, failed: 1, pending: 0 };
    } finally {
      if (server) await killTree(server.child);
    }
    if (counts.passed + counts.failed + counts.pending === 0 && !counts.note) {
      console.error(`[e2e] ${phase}: no test ran`);
      counts.failed = 1;
    }
    totals.passed += counts.passed;
    totals.failed += counts.failed;
    totals.pending += counts.pending;
    lines.push(`${phase.padEnd(10)} ${counts.passed} passed, ${counts.failed} failed, ${counts.pending} pending  ${secs(Date.now() - phaseStart)}${counts.note ? `  (${counts.note})` : ''}`);
  }

  await stopAllServers();
  console.log('\n[e2e] summary');
  for (const l of lines) console.log(`  ${l}`);
  const ok = totals.failed === 0 && totals.passed > 0;
  if (ok && !opts.keep) rmSync(runDir, { recursive: true, force: true });
  else log(`kept ${path.relative(root, runDir)}: per phase code-server.log, user-data/logs/, failures/*.png, host-console.log`);
  log(`total ${secs(Date.now() - started)}`);
  console.log(`${totals.passed} passed, ${totals.failed} failed${totals.pending ? `, ${totals.pending} pending` : ''}`);
  process.exit(ok ? 0 : 1);
}

main().catch(async (err) => {
  await stopAllServers();
  fail(err instanceof Error ? err.stack ?? err.message : String(err));
});
