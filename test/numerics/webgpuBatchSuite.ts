// WebGPU batching (issue 19): ops are recorded into one pending command encoder and submitted only when a result
// leaves the GPU or after MAX_PENDING_PASSES. These tests pin the submit count of a decode step, that temporaries held
// until a submit stay bounded, and that uploads keep their order relative to passes recorded before them. Run in
// kernelsWebgpu.test.ts's child process (real adapter or SwiftShader).

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Backend } from '../../src/core/backend';
import { loadModel } from '../../src/core/model/loadModel';
import { createWebGpuBackend } from '../../src/kernels/createBackend.node';
import type { WebGpuBackend } from '../../src/kernels/webgpu/webgpuBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { encode, skipBecause } from './kernelsHelpers';

async function openBatched(ctx: Mocha.Context): Promise<WebGpuBackend> {
  const gpu = await createWebGpuBackend(true);
  if (typeof gpu === 'string') skipBecause(ctx, `no WebGPU adapter: ${gpu}`);
  return gpu;
}

function upload(be: Backend, values: number[]): ReturnType<Backend['alloc']> {
  const t = be.alloc('f32', [values.length]);
  be.write(t, encode(Float32Array.from(values), 'f32'));
  return t;
}

export function defineBatching(root: string, model: string, promptIds: number[]): void {
  describe('webgpu batching: one command buffer until a read-back', function () {
    let be: WebGpuBackend;
    before(async function () {
      be = await openBatched(this);
    });
    after(() => be?.dispose());

    it('a long run of ops keeps its uniforms bounded and releases them all at the read', async () => {
      const acc = upload(be, [0, 0, 0, 0]);
      const one = upload(be, [1, 2, 3, 4]);
      const bound = be.maxPendingPasses;
      const ops = bound * 3 + 5;
      const before = be.stats().submits;
      let maxLive = 0;
      for (let i = 0; i < ops; i++) {
        be.add(acc, acc, one, 4);
        maxLive = Math.max(maxLive, be.stats().liveUniforms);
      }
      assert.ok(maxLive <= bound, `live uniforms reached ${maxLive}`);
      assert.equal(be.stats().submits - before, 3, 'one submit per maxPendingPasses passes');
      assert.deepEqual([...await be.read(acc)], [1, 2, 3, 4].map((v) => v * ops));
      assert.equal(be.stats().liveUniforms, 0);
      assert.equal(be.stats().pendingPasses, 0);
    });

    it('a write after recorded ops lands after them, not under them (queue.writeBuffer runs before the encoder)', async () => {
      const x = upload(be, [1, 2, 3, 4]);
      const first = be.alloc('f32', [4]);
      const second = be.alloc('f32', [4]);
      be.add(first, x, x, 4);
      be.write(x, encode(Float32Array.from([10, 20, 30, 40]), 'f32'));
      be.add(second, x, x, 4);
      const submits = be.stats().submits;
      assert.deepEqual([...await be.read(first)], [2, 4, 6, 8]);
      assert.equal(be.stats().submits - submits, 1, 'the write did not force a submit');
      assert.deepEqual([...await be.read(second)], [20, 40, 60, 80]);
    });

    it('a tensor freed while ops using it are pending is destroyed only after their submit', async () => {
      const x = upload(be, [1, 2, 3, 4]);
      const out = be.alloc('f32', [4]);
      be.add(out, x, x, 4);
      be.free(x);
      assert.deepEqual([...await be.read(out)], [2, 4, 6, 8]);
    });

    it('a large upload while ops are pending goes out with them rather than waiting for the next read', async () => {
      const x = upload(be, [1, 2, 3, 4]);
      const out = be.alloc('f32', [4]);
      be.add(out, x, x, 4);
      // Over the 64 MiB the backend holds for pending work: its staging copy is submitted (and released) at once.
      const big = be.alloc('f32', [4096, 4160], 'big', 'none', 'weight');
      const submits = be.stats().submits;
      be.write(big, new Uint8Array(4096 * 4160 * 4));
      assert.equal(be.stats().submits - submits, 1);
      assert.equal(be.stats().pendingPasses, 0);
      assert.deepEqual([...await be.read(out)], [2, 4, 6, 8]);
      be.free(big);
    });

    it('a decode step of the demo model is one submit and one read-back', async function () {
      const gpu = await openBatched(this);
      const lm = await loadModel(new NodeFs(), path.join(root, model), gpu);
      try {
        await lm.model.forward(promptIds, 0);
        const start = gpu.stats();
        await lm.model.forward([promptIds[1]!], promptIds.length);
        const end = gpu.stats();
        assert.equal(end.submits - start.submits, 1, 'submits per decode step');
        assert.equal(end.readbacks - start.readbacks, 1, 'read-backs per decode step');
        assert.equal(end.liveUniforms, 0);
      } finally {
        lm.model.dispose();
      }
    });
  });
}
