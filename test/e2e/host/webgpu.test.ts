// Does WebGPU (Dawn) load inside VS Code's extension host? scripts/e2e.mjs installs this platform's package when it was
// built (it ships dist/dawn/<platform>-<arch>/dawn.node) and puts chromium's SwiftShader Vulkan ICD in the environment.
// Checked twice: on the extension host's own thread and inside the engine worker (a worker_threads Worker of the
// extension host) through engine/probe, which must load the binary the installed package ships.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension/extension';

interface DawnAdapter { info?: { vendor?: string; architecture?: string; device?: string; description?: string }; isFallbackAdapter?: boolean }
interface DawnModule { create(flags: string[]): { requestAdapter(): Promise<DawnAdapter | null> } }

/** The installed package's own dawn.node (a platform package), or null (universal package, development tree). */
function shippedBinary(): string | null {
  const e = vscode.extensions.getExtension('lora-workbench.lora-workbench');
  const dir = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  const file = e ? path.join(e.extensionPath, 'dist', 'dawn', dir, 'dawn.node') : '';
  return file && fs.existsSync(file) ? file : null;
}

describe('WebGPU inside the extension host', () => {
  const icd = process.env['LORA_E2E_WEBGPU_ICD'];
  const ext = (): vscode.Extension<LoraWorkbenchApi> => {
    const e = vscode.extensions.getExtension<LoraWorkbenchApi>('lora-workbench.lora-workbench');
    assert.ok(e);
    return e;
  };

  it('loads the webgpu package on the extension host thread and gets an adapter', async function () {
    if (!icd) {
      console.log('      skipped: no SwiftShader Vulkan ICD from Debian chromium on this machine');
      this.skip();
    }
    const shipped = shippedBinary();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dawn = (shipped ? require(shipped) : require(path.resolve(__dirname, '..', '..', 'node_modules', 'webgpu'))) as DawnModule; // out/test -> repo
    const adapter = await dawn.create([]).requestAdapter();
    assert.ok(adapter, 'Dawn found no adapter inside the extension host');
    const info = adapter.info ?? {}; // GPUAdapterInfo fields are getters: read them one by one
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
    console.log(`      extension host thread: adapter ${name}`);
    assert.match(name, /swiftshader|google/i);
  });

  it('engine/probe in the engine worker sees the same adapter (reported as a fallback, so auto keeps WASM)', async function () {
    if (!icd) {
      console.log('      skipped: no SwiftShader Vulkan ICD from Debian chromium on this machine');
      this.skip();
    }
    const api = await ext().activate();
    const r = await api.probeEngine();
    console.log(`      engine worker: ${JSON.stringify(r.webgpu)}`);
    const shipped = shippedBinary();
    if (!shipped) {
      // The universal package: no native code, so no WebGPU, whatever the machine has.
      assert.equal(r.webgpu.available, false);
      assert.match(r.webgpu.reason ?? '', /no WebGPU binary/);
      return;
    }
    assert.equal(r.webgpu.available, true, r.webgpu.reason ?? '');
    assert.equal(r.webgpu.details?.binary, shipped, 'the engine worker must load the dawn.node the package ships');
    assert.equal(r.webgpu.isFallback, true);
    assert.ok(!r.backends.includes('webgpu'), 'a software adapter must not be chosen by auto');
  });
});
