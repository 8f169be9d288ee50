// WebGPU size limits: a tensor over maxStorageBufferBindingSize / maxBufferSize, or weights + KV cache over the GPU's
// memory, refuse the model before any weight is read (Backend.checkModelFits, called first by the model load).

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { BTensor, ModelPlan } from '../../src/core/backend';
import { loadModel } from '../../src/core/model/loadModel';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { checkModelFits, type BufferLimits } from '../../src/kernels/webgpu/limits';
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

describe('webgpu limits: refuse before loading', () => {
  const plan: ModelPlan = { tensors: [{ name: 'lm_head.weight', dtype: 'f16', shape: [151936, 4096] }, { name: 'norm', dtype: 'f32', shape: [4096] }], extraBytes: 0 };

  it('names the tensor and the binding limit it exceeds', () => {
    assert.throws(() => checkModelFits(plan, { maxStorageBufferBindingSize: GIB, maxBufferSize: 4 * GIB }),
      /tensor 'lm_head\.weight' \(f16 \[151936, 4096\], 1244659712 bytes\) exceeds this WebGPU adapter's maxStorageBufferBindingSize of 1073741824 bytes/);
    checkModelFits(plan, { maxStorageBufferBindingSize: 2 * GIB, maxBufferSize: 4 * GIB });
  });

  it('names maxBufferSize when that is the smaller limit', () => {
    assert.throws(() => checkModelFits(plan, { maxStorageBufferBindingSize: 4 * GIB, maxBufferSize: 512 << 20 }), /'lm_head\.weight'.*maxBufferSize of 536870912 bytes/);
  });

  it('refuses weights + KV cache over the GPU memory, and accepts when the memory is unknown', () => {
    const big = { maxStorageBufferBindingSize: 4 * GIB, maxBufferSize: 4 * GIB };
    assert.throws(() => checkModelFits({ ...plan, extraBytes: GIB }, { ...big, memoryBytes: 2 * GIB }), /needs 2\.32 GB on the GPU \(weights \+ KV cache\) but the GPU has 2\.15 GB/);
    checkModelFits({ ...plan, extraBytes: GIB }, { ...big, memoryBytes: null });
  });

  it('the model load calls it before allocating anything', async () => {
    const be = new LimitedBackend({ maxStorageBufferBindingSize: 4096, maxBufferSize: 1 << 20 });
    await assert.rejects(loadModel(new NodeFs(), STORIES, be), /tensor '[^']+' \(f32 \[\d+, \d+\], \d+ bytes\) exceeds this WebGPU adapter's maxStorageBufferBindingSize of 4096 bytes/);
    assert.equal(be.allocs, 0);
    const ok = new LimitedBackend({ maxStorageBufferBindingSize: GIB, maxBufferSize: GIB, memoryBytes: GIB });
    const lm = await loadModel(new NodeFs(), STORIES, ok);
    assert.ok(ok.allocs > 0);
    lm.model.dispose();
  });
});
