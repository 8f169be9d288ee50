// `npm run demo`: builds and packages the extension, installs the .vsix into a real VS Code and opens demo/. Uses the
// desktop `code` CLI when one is on PATH, else a local code-server (the e2e host, installed on first use) whose URL it
// prints; that server runs until Ctrl+C. The workspace it opens is a fresh copy of demo/ in .demo/ (ignored by git), so
// quick fixes and merges tried in the demo never change the checkout or the tests' inputs.
// Usage: npm run demo [-- --code-server] [-- --port 8080] [-- --host 0.0.0.0] [-- --keep]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureSystemPackages } from './bootstrap.mjs';
import { installExtension, portIsFree, startCodeServer, stopAllServers, writeSettings } from './codeServer.mjs';
import { e2eHostPaths, ensureE2eHost, hostDir } from './e2e-host.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => console.log(`[demo] ${m}`);
const { values: opts } = parseArgs({
  options: {
    'code-server': { type: 'boolean', default: false },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    keep: { type: 'boolean', default: false },
  },
});
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const extensionId = `${pkg.publisher}.${pkg.name}`.toLowerCase();
const vsix = path.join(root, `${pkg.name}-${pkg.version}.vsix`);
const demoSource = path.join(root, 'demo');
/** The workspace the demo opens: a copy of demo/, made anew on each run unless --keep (to go on where you left off). */
const demo = path.join(root, '.demo');

function freshDemoCopy() {
  if (opts.keep && existsSync(path.join(demo, 'runs'))) {
    say(`reusing ${path.relative(root, demo)}/ (--keep)`);
    return;
  }
  rmSync(demo, { recursive: true, force: true });
  cpSync(demoSource, demo, { recursive: true });
  say(`a fresh copy of demo/ in ${path.relative(root, demo)}/ (changes you make there never touch demo/; --keep reuses it next time)`);
}

function die(message) {
  console.error(`[demo] ${message}`);
  process.exit(1);
}

/** The desktop VS Code CLI, when there is one that answers --version. */
function desktopCode() {
  const cmd = process.platform === 'win32' ? 'code.cmd' : 'code';
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  return r.status === 0 && /^\d+\.\d+\.\d+/.test(r.stdout) ? cmd : null;
}

async function withCodeServer() {
  if (!e2eHostPaths()) {
    say('no desktop `code` on PATH: installing a local code-server (Node 24 + code-server 4.139.1, about 2-5 minutes, once)');
    if (!ensureSystemPackages(['libkrb5-dev', 'python3', 'make', 'g++'])) die('install the packages above, then run npm run demo again');
  }
  const host = ensureE2eHost();
  // A profile of its own, kept between runs (settings, UI state), next to the cached host.
  const profile = path.join(hostDir, 'demo-profile');
  const userDataDir = path.join(profile, 'user-data');
  const extensionsDir = path.join(profile, 'extensions');
  mkdirSync(profile, { recursive: true });
  if (!existsSync(path.join(userDataDir, 'User', 'settings.json'))) writeSettings(userDataDir);
  const installed = installExtension(host, { vsix, extensionsDir, userDataDir, extensionId });
  say(`installed ${installed} into code-server ${host.codeServerVersion}`);
  let port = opts.port ? Number(opts.port) : 8080;
  if (!opts.port && !(await portIsFree(port, opts.host))) port = undefined; // 8080 taken: any free port
  const server = await startCodeServer(host, profile, { userDataDir, extensionsDir, workspace: demo, bindHost: opts.host, port });
  const url = `${server.url}?folder=${encodeURIComponent(demo)}`;
  console.log(`\n  LoRA Workbench demo: ${url}\n  (open it in a browser; Ctrl+C stops the server; its log: ${path.relative(root, server.log)})\n`);
  const stop = () => { void stopAllServers().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.child.once('exit', (code) => {
    say(`code-server exited (${code ?? 'signal'})`);
    process.exit(code ?? 1);
  });
}

async function main() {
  if (!existsSync(path.join(demoSource, 'runs'))) die('demo/ is missing: run from a clone of the repository');
  freshDemoCopy();
  const r = spawnSync(process.execPath, ['scripts/package.mjs'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) die('packaging failed');
  const code = opts['code-server'] ? null : desktopCode();
  if (!code) return withCodeServer();
  const install = spawnSync(code, ['--install-extension', vsix, '--force'], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (install.status !== 0) die(`${code} --install-extension failed`);
  // A new window on demo/; the extension activates on its adapter_config.json files.
  const open = spawnSync(code, ['--new-window', demo], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (open.status !== 0) die(`${code} ${demo} failed`);
  say(`opened ${path.relative(process.cwd(), demo) || demo} in VS Code with ${path.basename(vsix)} installed (use --code-server for a browser instead)`);
}

main().catch(async (err) => {
  await stopAllServers();
  die(err instanceof Error ? err.stack ?? err.message : String(err));
});
