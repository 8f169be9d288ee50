// Does WebGPU (the optional `webgpu` npm package, Dawn) load inside VS Code's extension host? The .vsix does not ship
// it; the host phase (scripts/e2e.mjs) puts the repository's node_modules on NODE_PATH and chromium's SwiftShader
// Vulkan ICD in the environment. Checked twice: on the extension host's own thread and inside the engine worker (a
// worker_threads Worker of the extension host) through engine/probe.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LoraWorkbenchApi } from '../../../src/extension/extension';

interface DawnAdapter { info?: { vendor?: string; architecture?: string; device?: string; description?: string }; isFallbackAdapter?: boolean }
interface DawnModule { create(flags: string[]): { requestAdapter(): Promise<DawnAdapter | null> } }

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
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dawn = require(path.resolve(__dirname, '..', '..', 'node_modules', 'webgpu')) as DawnModule; // out/test -> repo
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
    assert.equal(r.webgpu.available, true, r.webgpu.reason ?? '');
    assert.equal(r.webgpu.isFallback, true);
    assert.ok(!r.backends.includes('webgpu'), 'a software adapter must not be chosen by auto');
  });
});
