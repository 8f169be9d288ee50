// code-server plumbing shared by the e2e runner and the demo: settings, a free port, start + health check, extension
// install, and teardown of the whole process group (recipes and flags: E2E.md).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Settings from E2E.md: no first-run UI, no network, no telemetry, no AI panel. `trust` turns Workspace Trust on. */
export function writeSettings(userDataDir, { trust = false, extra = {} } = {}) {
  const settings = {
    'security.workspace.trust.enabled': trust,
    // Restricted Mode without the startup dialog: an untrusted folder simply opens in Restricted Mode.
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'never',
    'workbench.startupEditor': 'none',
    'workbench.reduceMotion': 'on',
    'workbench.tips.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'chat.disableAIFeatures': true,
    'git.enabled': false,
    'window.commandCenter': false,
    ...extra,
  };
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
}

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function portIsFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** `--install-extension <vsix>` into `extensionsDir`; returns the installed folder name (publisher.name-version). */
export function installExtension(host, { vsix, extensionsDir, userDataDir, extensionId }) {
  const r = spawnSync(host.node, [host.codeServerEntry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--install-extension', vsix, '--force'], { encoding: 'utf8' });
  const installed = existsSync(extensionsDir)
    ? readdirSync(extensionsDir).filter((d) => d.toLowerCase().startsWith(`${extensionId}-`)).sort().pop()
    : undefined;
  if (r.status !== 0 || !installed) throw new Error(`--install-extension failed:\n${r.stdout}${r.stderr}`);
  return installed;
}

const children = new Set();

/** SIGTERM to the server's process group (it ends everything code-server started), SIGKILL after 5 s. */
export function killTree(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { process.kill(-child.pid, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
}

/** Stop every server this process started. */
export async function stopAllServers() {
  await Promise.all([...children].map(killTree));
}

async function waitHealthy(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode} before it was ready`);
    try {
      const r = await fetch(new URL('healthz', url));
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server not healthy after ${timeoutMs / 1000} s`);
}

/**
 * Start code-server in its own process group with its log in `<dir>/code-server.log`; resolves once /healthz answers.
 * `trusted` adds --disable-workspace-trust; `smokeTestDriver` enables VS Code's extensionTestsPath payload.
 */
export async function startCodeServer(host, dir, { userDataDir, extensionsDir, workspace, trusted = true, smokeTestDriver = false,
  env = {}, bindHost = '127.0.0.1', port, timeoutMs = 60_000 }) {
  port ??= await freePort(bindHost);
  mkdirSync(dir, { recursive: true });
  // Without --config code-server writes ~/.config/code-server/config.yaml.
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `bind-addr: ${bindHost}:${port}\nauth: none\ncert: false\n`);
  const args = [host.codeServerEntry, '--bind-addr', `${bindHost}:${port}`, '--auth', 'none', '--disable-telemetry',
    '--disable-update-check', '--disable-getting-started-override', '--ignore-last-opened',
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--config', config];
  if (trusted) args.push('--disable-workspace-trust');
  if (smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  args.push(workspace);
  const out = createWriteStream(path.join(dir, 'code-server.log'));
  const child = spawn(host.node, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const urlHost = bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost;
  const url = `http://${urlHost}:${port}/`;
  try {
    await waitHealthy(url, child, timeoutMs);
  } catch (err) {
    await killTree(child);
    throw err;
  }
  return { url, port, child, log: path.join(dir, 'code-server.log') };
}
