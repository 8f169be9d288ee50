// Weight loading (core/model/tensorLoader.ts): tensors larger than the staging buffer arrive byte for byte whether the
// backend offers a host view or only write(); quantize-on-load goes through the backend's writeQuantized when it has
// one (the WASM kernels) and through core's quantizeQ8_0 otherwise, with the same bytes on the reference backend; and
// stories260K quantized by the WASM kernels stays as close to the f32 goldens as the reference's q8_0.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Backend, BTensor } from '../../src/core/backend';
import { loadModel } from '../../src/core/model/loadModel';
import { TensorLoader } from '../../src/core/model/tensorLoader';
import { readModelWeights } from '../../src/core/safetensors/modelWeights';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const FIX = path.join(__dirname, '..', 'fixtures');
const nodeFs = new NodeFs();

/** A safetensors file of the given tensors (deterministic pseudo-random finite values). */
function writeSafetensors(file: string, tensors: Array<[string, 'F32' | 'F16' | 'BF16', number[]]>): Map<string, Uint8Array> {
  const header: Record<string, unknown> = {};
  const data = new Map<string, Uint8Array>();
  let off = 0;
  let seed = 7;
  for (const [name, dtype, shape] of tensors) {
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(count * (dtype === 'F32' ? 4 : 2));
    if (dtype === 'F32') {
      const f = new Float32Array(bytes.buffer);
      for (let i = 0; i < count; i++) f[i] = Math.sin(i * 0.37 + seed) * (1 + (i % 13));
    } else {
      const h = new Uint16Array(bytes.buffer);
      for (let i = 0; i < count; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        // Sign, a moderate exponent and random mantissa bits: finite in both f16 and bf16.
        h[i] = dtype === 'F16' ? ((seed >>> 31) << 15) | ((8 + ((seed >>> 20) & 15)) << 10) | (seed & 0x3ff)
          : ((seed >>> 31) << 15) | ((120 + ((seed >>> 20) & 15)) << 7) | (seed & 0x7f);
      }
    }
    header[name] = { dtype, shape, data_offsets: [off, off + bytes.length] };
    data.set(name, bytes);
    off += bytes.length;
  }
  let h = Buffer.from(JSON.stringify(header));
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, ...data.values()]));
  return data;
}

/** The reference backend seen without a host view and/or without writeQuantized (like WebGPU, or a minimal backend). */
function restricted(be: Backend, opts: { hostView?: boolean; writeQuantized?: boolean }): Backend {
  return new Proxy(be, {
    get(target, prop, receiver) {
      if (prop === 'hostView' && opts.hostView === false) return (): null => null;
      if (prop === 'writeQuantized' && opts.writeQuantized === false) return undefined;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('numerics: weight loading', function () {
  this.timeout(120000);
  let dir: string;
  let data: Map<string, Uint8Array>;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-load-'));
    // Larger than the 1 MiB staging buffer and not a multiple of it; one tiny odd-sized tensor.
    data = writeSafetensors(path.join(dir, 'model.safetensors'), [
      ['big.f16', 'F16', [1100, 1000]],
      ['big.f32', 'F32', [700, 520]],
      ['tiny.bf16', 'BF16', [3, 5]],
      ['quant.f16', 'F16', [96, 1024]],
      ['quant.bf16', 'BF16', [40, 96]],
    ]);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const hostView of [true, false]) {
    it(`stored formats arrive byte for byte ${hostView ? 'through a host view' : 'through write() (no host view)'}`, async () => {
      const ref = new ReferenceBackend();
      const be = restricted(ref, { hostView });
      const weights = await readModelWeights(nodeFs, dir);
      const loader = new TensorLoader(nodeFs, be);
      try {
        for (const name of ['big.f16', 'big.f32', 'tiny.bf16']) {
          const t = await loader.load(weights.tensors.get(name)!);
          assert.deepEqual(ref.hostView(t), data.get(name), name);
        }
        assert.equal(loader.bytesRead, ['big.f16', 'big.f32', 'tiny.bf16'].reduce((s, n) => s + data.get(n)!.length, 0));
      } finally {
        await loader.close();
      }
    });
  }

  it('quantize-on-load: writeQuantized when the backend has it, core quantizeQ8_0 otherwise, same bytes on the reference', async () => {
    const weights = await readModelWeights(nodeFs, dir);
    for (const name of ['quant.f16', 'quant.bf16']) {
      const bytes: Uint8Array[] = [];
      for (const writeQuantized of [true, false]) {
        const ref = new ReferenceBackend();
        let calls = 0;
        const counted = new Proxy(ref, {
          get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver);
            if (prop === 'writeQuantized') return (...a: Parameters<NonNullable<Backend['writeQuantized']>>) => { calls++; return ref.writeQuantized(...a); };
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
        const loader = new TensorLoader(nodeFs, restricted(counted, { writeQuantized }));
        const t: BTensor = await loader.load(weights.tensors.get(name)!, 'q8_0');
        await loader.close();
        assert.equal(t.dtype, 'q8_0');
        assert.equal(calls > 0, writeQuantized, `${name}: writeQuantized ${writeQuantized ? 'used' : 'not available'}`);
        bytes.push(ref.hostView(t)!.slice());
      }
      assert.deepEqual(bytes[0], bytes[1], name);
    }
  });

  it('stories260K quantized on load by the WASM kernels stays as close to f32 as the reference q8_0', async () => {
    const { buildWasm } = await import('../../scripts/build-wasm.mjs');
    await buildWasm({ quiet: true });
    const prompt = [1, 403, 407, 261, 378];
    const f32 = await (await loadModel(nodeFs, path.join(FIX, 'stories260K'), new ReferenceBackend())).model.forward(prompt, 0);
    const refQ = await (await loadModel(nodeFs, path.join(FIX, 'stories260K'), new ReferenceBackend(), { quantize: 'q8_0' })).model.forward(prompt, 0);
    const backend = await createWasmBackend({ threads: 1 });
    try {
      const lm = await loadModel(nodeFs, path.join(FIX, 'stories260K'), backend, { quantize: 'q8_0' });
      assert.equal(lm.model.weightDType, 'q8_0');
      const wasmQ = await lm.model.forward(prompt, 0);
      const diff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
      const dRef = diff(refQ, f32);
      const dWasm = diff(wasmQ, f32);
      // Same bound as the reference q8_0 test (generateGoldens), and no worse than the reference's own rounding by much.
      assert.ok(dWasm < 0.25, `WASM q8_0 logits differ from f32 by ${dWasm}`);
      assert.ok(dWasm < 2 * dRef + 0.02, `WASM q8_0 ${dWasm} vs reference q8_0 ${dRef}`);
      const argmax = (a: Float32Array): number => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);
      assert.equal(argmax(wasmQ), argmax(f32));
    } finally {
      backend.dispose();
    }
  });
});
