// Makes `npm test` and `npm run demo` work on a fresh clone (the npm pre-hooks run this): installs node_modules with
// `npm ci` when they are missing, and with --system, the Debian packages the e2e host needs (apt-get, as root or via sudo).
// Usage: node scripts/bootstrap.mjs [--system chromium,libkrb5-dev]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eHostPaths } from './e2e-host.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => console.log(`[bootstrap] ${m}`);

/** How to tell whether each Debian package we rely on is present (a command or file it provides). */
const SYSTEM_PACKAGES = {
  chromium: () => ['/usr/bin/chromium', '/usr/bin/chromium-browser'].some(existsSync) || Boolean(process.env.LORA_E2E_CHROMIUM),
  'libkrb5-dev': () => process.platform !== 'linux' || onPath('krb5-config'),
  // node-gyp compiles code-server's native addons
  python3: () => onPath('python3'),
  make: () => onPath('make'),
  'g++': () => onPath('g++'),
};

/** Needed only to compile code-server's native addons. */
const BUILD_ONLY = ['libkrb5-dev', 'python3', 'make', 'g++'];

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args) {
  say(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

/** Install missing Debian packages; returns false (with the command to run) when that is not possible here. */
export function ensureSystemPackages(names) {
  const missing = names.filter((n) => {
    const check = SYSTEM_PACKAGES[n];
    if (!check) throw new Error(`unknown system package '${n}'`);
    return !check();
  });
  if (missing.length === 0) return true;
  const hint = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!onPath('apt-get')) {
    say(`missing: ${missing.join(', ')}; install them with your package manager (on Debian: ${hint})`);
    return false;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot && !onPath('sudo')) {
    say(`missing: ${missing.join(', ')}; run as root: ${hint}`);
    return false;
  }
  // sudo -n: fail instead of prompting, npm hooks have no terminal to ask on
  const apt = (args) => (isRoot ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args]));
  if (!apt(['update']) || !apt(['install', '-y', '--no-install-recommends', ...missing])) {
    say(`could not install ${missing.join(', ')}; run: sudo ${hint}`);
    return false;
  }
  return true;
}

/** `npm ci` only when node_modules is absent: never reinstall under a tree other processes are using. */
export function ensureNodeModules() {
  if (existsSync(path.join(root, 'node_modules', '.package-lock.json')) && existsSync(path.join(root, 'node_modules', 'esbuild'))) return true;
  return run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund']);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--system');
  let system = i > 0 ? (process.argv[i + 1] ?? '').split(',').filter(Boolean) : [];
  // The build packages only matter while the e2e host still has to be compiled.
  if (e2eHostPaths()) system = system.filter((n) => !BUILD_ONLY.includes(n));
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    say(`Node ${process.versions.node} is too old: LoRA Workbench needs Node >= 20.19`);
    process.exit(1);
  }
  if (!ensureNodeModules() || !ensureSystemPackages(system)) process.exit(1);
}
