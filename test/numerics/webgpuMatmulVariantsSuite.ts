// The two WebGPU matmul reductions: subgroupAdd (picked where the device has `subgroups`) and the workgroup-memory
// tree (the fallback, forced here with kernels.subgroups = false). Both must match the float64 reference on every
// stored dtype, on row counts that are not multiples of the workgroup and columns that are not multiples of 64. Run in
// kernelsWebgpu.test.ts's child process (real adapter or SwiftShader).

import * as assert from 'node:assert/strict';
import type { Backend, WeightDType } from '../../src/core/backend';
import { createWebGpuBackend } from '../../src/kernels/createBackend.node';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import type { WebGpuBackend } from '../../src/kernels/webgpu/webgpuBackend';
import { encode, nmse, randArray, skipBecause } from './kernelsHelpers';

const ROWS = 70;
const COLS = 224; // whole q8_0 blocks, not a multiple of 64
const N = 3;

async function matmulOn(be: Backend, dtype: WeightDType, w: Float32Array, x: Float32Array): Promise<Float32Array> {
  const W = be.alloc(dtype, [ROWS, COLS], 'w', 'none', 'weight');
  be.write(W, encode(w, dtype));
  const X = be.alloc('f32', [N, COLS]);
  be.write(X, encode(x, 'f32'));
  const out = be.alloc('f32', [N, ROWS]);
  be.matmul(out, W, X, N);
  return be.read(out);
}

export function defineMatmulVariants(): void {
  describe('webgpu matmul: subgroup reduction and workgroup fallback', function () {
    let withSubgroups: WebGpuBackend;
    let fallback: WebGpuBackend;
    before(async function () {
      const [a, b] = [await createWebGpuBackend(true), await createWebGpuBackend(true, [], undefined, undefined, { subgroups: false })];
      if (typeof a === 'string' || typeof b === 'string') skipBecause(this, `no WebGPU adapter: ${String(typeof a === 'string' ? a : b)}`);
      [withSubgroups, fallback] = [a, b];
    });
    after(() => {
      withSubgroups?.dispose();
      fallback?.dispose();
    });

    it('the fallback is chosen when asked; subgroups where the device has them', function () {
      assert.equal(fallback.matmulShader, 'matmul');
      if (withSubgroups.matmulShader !== 'matmulSubgroups') skipBecause(this, 'this adapter has no subgroups feature');
    });

    for (const dtype of ['f32', 'f16', 'bf16', 'q8_0'] as const) {
      it(`${dtype} [${ROWS}, ${COLS}] x ${N} rows: both reductions match the reference`, async () => {
        const w = randArray(ROWS * COLS, 5, 0.5);
        const x = randArray(N * COLS, 6);
        const want = await matmulOn(new ReferenceBackend(), dtype, w, x);
        for (const be of [withSubgroups, fallback]) {
          const got = await matmulOn(be, dtype, w, x);
          assert.ok(nmse(got, want) < 1e-12, `${be.matmulShader} ${dtype}: nmse ${nmse(got, want)}`);
        }
      });
    }
  });
}
