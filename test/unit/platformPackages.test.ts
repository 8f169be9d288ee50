// The packages scripts/package.mjs builds (npm run package): each platform .vsix carries exactly its platform's Dawn
// files under extension/dist/dawn/<dir>/ plus Dawn's licence, and says its target in the manifest; the universal one
// carries no native code. The package for this machine's platform is unpacked and its CLI run: the engine worker must
// load the shipped dawn.node (not a node_modules copy: there is none beside the unpacked folder), and its greedy text
// for the demo model on WebGPU (SwiftShader here) must equal WASM's.
// `npm test` packages before the unit tests; run alone, these skip with the reason when the .vsix files are absent.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { skipBecause, swiftShader, swiftShaderEnv } from '../numerics/kernelsHelpers';
import { zipEntries, zipRead } from './zipRead';

const ROOT = path.join(__dirname, '../..');
const { name, version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const TARGETS = Object.entries(JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts/targets.json'), 'utf8')) as Record<string, string>)
  .filter(([k]) => k !== '//');
const DAWN_DIST = path.join(ROOT, 'node_modules/webgpu/dist');
const DAWN_PREFIX = 'extension/dist/dawn/';

function vsixOrSkip(ctx: Mocha.Context, target: string | null): Buffer {
  const file = path.join(ROOT, target ? `${name}-${target}-${version}.vsix` : `${name}-${version}.vsix`);
  if (!fs.existsSync(file)) skipBecause(ctx, `${path.basename(file)} not built: run npm run package`);
  // A package older than the bundles describes other code: the packaging run is the test's input, so it must be current.
  const built = fs.statSync(path.join(ROOT, 'scripts/package.mjs')).mtimeMs;
  assert.ok(fs.statSync(file).mtimeMs >= built, `${path.basename(file)} is older than scripts/package.mjs: run npm run package`);
  return fs.readFileSync(file);
}

/** Unpacks the whole archive under dir (entries are relative paths without '..': vsce writes them). */
function unpack(zip: Buffer, dir: string): void {
  for (const e of zipEntries(zip)) {
    if (e.name.endsWith('/')) continue;
    assert.ok(!e.name.split('/').includes('..'), e.name);
    const out = path.join(dir, e.name);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, zipRead(zip, e));
  }
}

describe('packaging: platform packages with Dawn', function () {
  this.timeout(120000);

  it('the universal package carries no native code', function () {
    const names = zipEntries(vsixOrSkip(this, null)).map((e) => e.name);
    assert.deepEqual(names.filter((n) => n.startsWith(DAWN_PREFIX) || /\.(node|dll)$/.test(n)), []);
  });

  for (const [target, dir] of TARGETS) {
    it(`${target}: exactly the ${dir} Dawn files, Dawn's licence, and the target in the manifest`, function () {
      if (!fs.existsSync(path.join(DAWN_DIST, dir))) skipBecause(this, `node_modules/webgpu/dist/${dir} absent (optional dependency not installed)`);
      const zip = vsixOrSkip(this, target);
      const entries = zipEntries(zip);
      const shipped = entries.map((e) => e.name).filter((n) => n.startsWith(DAWN_PREFIX) || /\.(node|dll)$/.test(n)).sort();
      const want = [...fs.readdirSync(path.join(DAWN_DIST, dir)).map((f) => `${DAWN_PREFIX}${dir}/${f}`), `${DAWN_PREFIX}LICENSE-dawn.md`].sort();
      assert.deepEqual(shipped, want);
      const binary = entries.find((e) => e.name === `${DAWN_PREFIX}${dir}/dawn.node`)!;
      assert.ok(zipRead(zip, binary).equals(fs.readFileSync(path.join(DAWN_DIST, dir, 'dawn.node'))), 'dawn.node differs from the npm package\'s');
      const manifest = zipRead(zip, entries.find((e) => e.name === 'extension.vsixmanifest')!).toString('utf8');
      assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
    });
  }

  it('the package for this platform loads its own dawn.node in the engine worker (CLI probe) and generates the WASM text on it', function () {
    const target = `${process.platform}-${process.arch}`;
    if (!TARGETS.some(([t]) => t === target)) skipBecause(this, `no platform package for ${target}`);
    const zip = vsixOrSkip(this, target);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-vsix-'));
    try {
      unpack(zip, dir);
      const ss = swiftShader();
      const env = { ...process.env, ...(ss ? swiftShaderEnv(ss) : {}), NODE_PATH: '' };
      const r = spawnSync(process.execPath, [path.join(dir, 'extension/dist/cli.js'), 'probe', '--webgpu', '--json'], { env, encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      const webgpu = (JSON.parse(r.stdout) as { webgpu: { available: boolean; reason: string | null; adapter: string | null; details?: { binary: string; maxBufferSize: number } } }).webgpu;
      console.log(`      ${target} package: ${JSON.stringify(webgpu)}`);
      // Loading failures name the binary; without SwiftShader or a GPU the binary loads but finds no adapter.
      assert.doesNotMatch(webgpu.reason ?? '', /binary|failed to load/i);
      if (!ss && !webgpu.available) skipBecause(this, `dawn.node loaded, but no adapter to open (${webgpu.reason})`);
      assert.equal(webgpu.available, true, webgpu.reason ?? '');
      assert.equal(fs.realpathSync(webgpu.details!.binary), fs.realpathSync(path.join(dir, `${DAWN_PREFIX}${targetsDir(target)}/dawn.node`)));
      assert.ok(webgpu.details!.maxBufferSize > 0);
      // The shipped binary runs the whole demo model: the packaged CLI's text on WebGPU equals WASM's.
      const gen = (backend: string): string => {
        const g = spawnSync(process.execPath, [path.join(dir, 'extension/dist/cli.js'), 'generate', '--model', path.join(ROOT, 'demo/models/stories260K'),
          '--prompt', 'Once upon a time', '--max-new-tokens', '24', '--temperature', '0', '--backend', backend, '--threads', '1'],
        { env: { ...env, LORA_WORKBENCH_WEBGPU_ALLOW_SOFTWARE: '1' }, encoding: 'utf8', cwd: dir });
        assert.equal(g.status, 0, `${backend}: ${g.stderr}`);
        return g.stdout;
      };
      const [onGpu, onWasm] = [gen('webgpu'), gen('wasm')];
      console.log(`      generate on the packaged webgpu backend: ${JSON.stringify(onGpu.slice(0, 80))}`);
      assert.ok(onGpu.length > 'Once upon a time'.length);
      assert.equal(onGpu, onWasm);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function targetsDir(target: string): string {
  return TARGETS.find(([t]) => t === target)![1];
}
