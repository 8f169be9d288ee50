// WebGPU backend: a WGSL compile lint on Dawn's null backend, and the shared parity suite run on a real adapter or on
// the CPU through Dawn + the SwiftShader Vulkan ICD that Debian's chromium package installs (KERNELS.md). Vulkan's
// loader reads LD_LIBRARY_PATH / VK_ICD_FILENAMES at process start, so the parity suite runs in a child mocha with them
// set. Tests skip with a printed reason only when neither the `webgpu` package nor any adapter is available.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../../src/core/backend';
import { generate } from '../../src/core/model/generate';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { ALLOW_SOFTWARE_ADAPTER_ENV, createBackend, createWasmBackend, createWebGpuBackend } from '../../src/kernels/createBackend.node';
import { NodeFs } from '../../src/node/nodeFs';
import { COMPOSED_WGSL } from '../../src/kernels/webgpu/shaderSource';
import { loadDawn, openWebGpuDevice } from '../../src/kernels/webgpu/webgpuDevice.node';
import { skipBecause, swiftShader, swiftShaderEnv } from './kernelsHelpers';
import { defineParity } from './kernelsParitySuite';
import { defineBatching } from './webgpuBatchSuite';
import { defineMatmulVariants } from './webgpuMatmulVariantsSuite';
import { defineSplitWeights } from './webgpuSplitSuite';

const CHILD = process.env['LWB_WEBGPU_CHILD'] === '1';
const ROOT = path.join(__dirname, '../..');
const WGSL_DIR = path.join(ROOT, 'src/kernels/webgpu/wgsl');

if (!CHILD) {
  describe('numerics: webgpu WGSL compile lint (Dawn null backend)', function () {
    this.timeout(60000);
    const dawn = loadDawn();
    for (const file of fs.readdirSync(WGSL_DIR).filter((f) => f.endsWith('.wgsl'))) {
      it(`${file} compiles and builds a compute pipeline`, async function () {
        if (typeof dawn === 'string') {
          skipBecause(this, dawn);
        }
        const opened = await openWebGpuDevice(['backend=null']);
        if (typeof opened === 'string') {
          skipBecause(this, `Dawn null backend unavailable: ${opened}`);
        }
        const { device } = opened;
        // A composed file (a subgroup entry point) is linted as the backend compiles it: appended to its base.
        const composed = COMPOSED_WGSL[file];
        const source = (name: string): string => fs.readFileSync(path.join(WGSL_DIR, name), 'utf8');
        try {
          if (composed && !device.features?.has(composed.feature)) skipBecause(this, `the Dawn null device has no '${composed.feature}' feature`);
          const code = composed ? composed.compose(source(composed.base), source(file)) : source(file);
          device.pushErrorScope('validation');
          const module = device.createShaderModule({ code, label: file });
          const info = await module.getCompilationInfo();
          const errors = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}: ${m.message}`);
          assert.deepEqual(errors, [], `${file}: ${errors.join('; ')}`);
          await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: composed?.entryPoint ?? 'main' } });
          const err = await device.popErrorScope();
          assert.equal(err?.message ?? null, null);
        } finally {
          device.destroy();
        }
      });
    }
  });

  describe('numerics: webgpu parity (child process: real adapter or SwiftShader)', function () {
    this.timeout(900000);
    it('runs the parity suite on WebGPU', function () {
      const dawn = loadDawn();
      if (typeof dawn === 'string') {
        skipBecause(this, dawn);
      }
      const ss = swiftShader();
      const env: NodeJS.ProcessEnv = { ...process.env, LWB_WEBGPU_CHILD: '1' };
      if (ss && !process.env['LWB_WEBGPU_NATIVE']) {
        Object.assign(env, swiftShaderEnv(ss));
      }
      const mocha = require.resolve('mocha/bin/mocha.js');
      const r = spawnSync(process.execPath, [mocha, '--no-config', '--require', 'tsx/cjs', '--extension', 'ts', '--timeout', '600000', '--reporter', 'dot', __filename],
        { env, encoding: 'utf8', cwd: path.join(__dirname, '../..'), maxBuffer: 64 << 20 });
      const out = `${r.stdout}\n${r.stderr}`;
      const summary = [...new Set(out.split('\n').filter((l) => /passing|failing|pending|skipped:|adapter:/.test(l)).map((l) => l.replace(/^[.,\s]+/, '      ')))].join('\n');
      console.log(`      ${ss && !process.env['LWB_WEBGPU_NATIVE'] ? `SwiftShader ICD ${ss.icd}` : 'system Vulkan/Metal/D3D12'}\n${summary}`);
      assert.equal(r.status, 0, out.slice(-6000));
      // The child ran but found no adapter (it printed why above): nothing was compared, so report a skip, not a pass.
      if (/\b0 passing/.test(out) || !/passing/.test(out)) skipBecause(this, 'the WebGPU child process found no adapter (see its output above)');
    });
  });
} else {
  describe('webgpu parity', function () {
    let be: Backend;
    before(async function () {
      const gpu = await createWebGpuBackend(true);
      if (typeof gpu === 'string') {
        skipBecause(this, `no WebGPU adapter: ${gpu}`);
      }
      be = gpu;
      console.log(`      adapter: ${be.info.detail}`);
    });
    after(() => be?.dispose());
    defineParity(() => be, { small: true });
  });

  describe('webgpu adapter choice', function () {
    it('auto takes WebGPU only on a hardware adapter; an explicit webgpu refuses a software one unless tests allow it', async function () {
      const opened = await openWebGpuDevice();
      if (typeof opened === 'string') skipBecause(this, `no WebGPU adapter: ${opened}`);
      opened.device.destroy();
      const lines: string[] = [];
      const auto = await createBackend({ backend: 'auto', threads: 1, log: (m) => lines.push(m) });
      auto.dispose();
      if (!opened.isFallback) {
        assert.equal(auto.info.name, 'webgpu');
        assert.ok(lines.some((l) => /maxStorageBufferBindingSize/.test(l)), lines.join('\n'));
        return;
      }
      assert.equal(auto.info.name, 'wasm');
      assert.ok(lines.some((l) => /only a software adapter .*WASM is faster/.test(l)), lines.join('\n'));
      delete process.env[ALLOW_SOFTWARE_ADAPTER_ENV];
      await assert.rejects(createBackend({ backend: 'webgpu' }), /WebGPU backend was asked for .* cannot be used: only a software adapter/);
      process.env[ALLOW_SOFTWARE_ADAPTER_ENV] = '1';
      try {
        const forced = await createBackend({ backend: 'webgpu' });
        assert.equal(forced.info.name, 'webgpu');
        forced.dispose();
      } finally {
        delete process.env[ALLOW_SOFTWARE_ADAPTER_ENV];
      }
    });
  });

  const g = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/demo-goldens.json'), 'utf8')) as
    { model: string; prompt_ids: number[]; max_new_tokens: number; cases: { adapter: string | null; new_token_ids: number[] }[] };
  defineSplitWeights(ROOT, g.model, g.prompt_ids);
  defineBatching(ROOT, g.model, g.prompt_ids);
  defineMatmulVariants();

  describe('webgpu whole model (demo stories260K)', function () {
    const greedyIds = async (backend: Backend): Promise<number[]> => {
      const lm = await loadModel(new NodeFs(), path.join(ROOT, g.model), backend);
      const out = await generate(lm.model, lm.tokenizer, g.prompt_ids, { maxNewTokens: g.max_new_tokens, sampler: new SamplerChain([], greedy()), eosIds: [] });
      return [...out.ids];
    };

    it('greedy tokens on WebGPU equal WASM\'s (and the torch goldens\')', async function () {
      const gpu = await createWebGpuBackend(true);
      if (typeof gpu === 'string') skipBecause(this, `no WebGPU adapter: ${gpu}`);
      const wasm = await createWasmBackend({ threads: 1 });
      try {
        const [onGpu, onWasm] = [await greedyIds(gpu), await greedyIds(wasm)];
        console.log(`      adapter: ${gpu.info.detail}; ${onGpu.length} tokens`);
        assert.deepEqual(onGpu, onWasm);
        assert.deepEqual(onGpu, g.cases.find((c) => c.adapter === null)!.new_token_ids);
      } finally {
        gpu.dispose();
        wasm.dispose();
      }
    });

    it('a device lost mid-generation fails the request with a clear error, without hanging', async function () {
      const gpu = await createWebGpuBackend(true);
      if (typeof gpu === 'string') skipBecause(this, `no WebGPU adapter: ${gpu}`);
      try {
        const lm = await loadModel(new NodeFs(), path.join(ROOT, g.model), gpu);
        // The backend's device is private: destroying it from outside is what a driver reset looks like to the backend.
        const device = (gpu as unknown as { device: { destroy(): void } }).device;
        const run = generate(lm.model, lm.tokenizer, g.prompt_ids, {
          maxNewTokens: g.max_new_tokens, sampler: new SamplerChain([], greedy()), eosIds: [],
          onToken: () => device.destroy(),
        });
        const hang = new Promise((_, reject) => setTimeout(() => reject(new Error('generation hung after device loss')), 30000).unref());
        await assert.rejects(Promise.race([run, hang]), (err: Error) => err.name === 'GpuDeviceLostError' && /device was lost/.test(err.message));
      } finally {
        gpu.dispose();
      }
    });
  });
}
