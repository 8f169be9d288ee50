// WebGPU size limits: a tensor over maxStorageBufferBindingSize / maxBufferSize, or weights + KV cache over the GPU's
// memory, refuse the model before any weight is read (Backend.checkModelFits, called first by the model load).

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { BTensor, ModelPlan } from '../../src/core/backend';
import { loadModel } from '../../src/core/model/loadModel';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { checkModelFits, planRowParts, type BufferLimits } from '../../src/kernels/webgpu/limits';
import { NodeFs } from '../../src/node/nodeFs';

const STORIES = path.join(__dirname, '..', 'fixtures', 'stories260K');
const GIB = 1 << 30;

/** The reference backend with a GPU's limits: counts allocations to prove the refusal came before any. */
class LimitedBackend extends ReferenceBackend {
  allocs = 0;
  constructor(private readonly limits: BufferLimits) {
    super();
  }
  checkModelFits(plan: ModelPlan): void {
    checkModelFits(plan, this.limits);
  }
  override alloc(...args: Parameters<ReferenceBackend['alloc']>): BTensor {
    this.allocs++;
    return super.alloc(...args);
  }
}

describe('webgpu limits: split by rows, refuse before loading', () => {
  const plan: ModelPlan = { tensors: [{ name: 'lm_head.weight', dtype: 'f16', shape: [151936, 4096] }, { name: 'norm', dtype: 'f32', shape: [4096] }], extraBytes: 0 };

  it('accepts a tensor over the binding limit: it is split by rows into parts under both limits', () => {
    checkModelFits(plan, { maxStorageBufferBindingSize: GIB, maxBufferSize: 4 * GIB });
    const parts = planRowParts('lm_head.weight', 'f16', [151936, 4096], 151936, 4096, { maxStorageBufferBindingSize: GIB, maxBufferSize: 512 << 20 });
    assert.deepEqual(parts.map((p) => p.row0), [0, 65536, 131072]);
    assert.deepEqual(parts.map((p) => p.rows), [65536, 65536, 20864]);
    assert.deepEqual(planRowParts('w', 'f16', [100, 4096], 100, 4096, { maxStorageBufferBindingSize: GIB, maxBufferSize: GIB }), [{ row0: 0, rows: 100 }]);
  });

  it('starts each f16 part on a u32 word when rows have an odd number of values', () => {
    // 37 values = 74 bytes a row: 13 rows fit 1000 bytes (down to 992, a 16-byte multiple), 12 keep the word alignment.
    const parts = planRowParts('w', 'f16', [30, 37], 30, 37, { maxStorageBufferBindingSize: 1000, maxBufferSize: 1000 });
    assert.deepEqual(parts.map((p) => p.rows), [12, 12, 6]);
  });

  it('names the tensor and the limit when a single row does not fit (maxBufferSize when that is the smaller)', () => {
    const limits = { maxStorageBufferBindingSize: 4 * GIB, maxBufferSize: 4096 };
    assert.throws(() => checkModelFits(plan, limits),
      /tensor 'lm_head\.weight' \(f16 \[151936, 4096\]\) has rows of 8192 bytes, over this WebGPU adapter's maxBufferSize of 4096 bytes/);
    assert.throws(() => checkModelFits(plan, { ...limits, maxStorageBufferBindingSize: 2048 }), /maxStorageBufferBindingSize of 2048 bytes/);
  });

  it('refuses weights + KV cache over the GPU memory, and accepts when the memory is unknown', () => {
    const big = { maxStorageBufferBindingSize: 4 * GIB, maxBufferSize: 4 * GIB };
    assert.throws(() => checkModelFits({ ...plan, extraBytes: GIB }, { ...big, memoryBytes: 2 * GIB }), /needs 2\.32 GB on the GPU \(weights \+ KV cache\) but the GPU has 2\.15 GB/);
    checkModelFits({ ...plan, extraBytes: GIB }, { ...big, memoryBytes: null });
  });

  it('the model load calls it before allocating anything', async () => {
    // stories260K's rows are 64 f32 values (256 bytes): a 128-byte binding cannot hold one.
    const be = new LimitedBackend({ maxStorageBufferBindingSize: 128, maxBufferSize: 1 << 20 });
    await assert.rejects(loadModel(new NodeFs(), STORIES, be), /tensor '[^']+' \(f32 \[\d+, \d+\]\) has rows of \d+ bytes, over this WebGPU adapter's maxStorageBufferBindingSize of 128 bytes/);
    assert.equal(be.allocs, 0);
    const ok = new LimitedBackend({ maxStorageBufferBindingSize: GIB, maxBufferSize: GIB, memoryBytes: GIB });
    const lm = await loadModel(new NodeFs(), STORIES, ok);
    assert.ok(ok.allocs > 0);
    lm.model.dispose();
  });
});
