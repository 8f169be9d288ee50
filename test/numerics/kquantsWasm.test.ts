// WASM K-quant and q8_0 quantizers (assembly/kquants.ts via Backend.quantizeGgml) against the reference ones in
// core/gguf/kquants.ts: byte-identical on random and adversarial super-blocks (zeros, constants, huge and tiny
// magnitudes, subnormals, one-signed values, outliers, mixed scales), on 1 and 2 threads and both builds, and across
// the backend's staging chunks.

import * as assert from 'node:assert/strict';
import type { GgmlQuantType } from '../../src/core/backend';
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from '../../src/core/gguf/kquants';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import type { WasmBackend } from '../../src/kernels/wasm/wasmBackend';
import { rng } from './kernelsHelpers';

const REFERENCE: Record<GgmlQuantType, { quantize: (x: Float32Array, out: Uint8Array) => void; blockBytes: number }> = {
  Q4_K: { quantize: quantizeQ4_K, blockBytes: 144 }, Q5_K: { quantize: quantizeQ5_K, blockBytes: 176 }, Q6_K: { quantize: quantizeQ6_K, blockBytes: 210 },
  Q8_0: { quantize: (x, out) => { quantizeQ8_0(x, out); }, blockBytes: 272 },
};

/** Super-blocks of 256 values, each filled by one generator (index i within the block). */
function superBlocks(gens: ReadonlyArray<(i: number) => number>): Float32Array {
  const x = new Float32Array(gens.length * 256);
  gens.forEach((g, b) => { for (let i = 0; i < 256; i++) x[b * 256 + i] = g(i); });
  return x;
}

function adversarial(seed: number): Float32Array {
  const r = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const gens: Array<(i: number) => number> = [
    () => 0, () => -0, () => 1.5, () => -3.25, () => 1e-20,
    () => gauss(), () => gauss() * 1e-3, () => gauss() * 1e4, () => gauss() * 1e30, () => gauss() * 1e37, () => gauss() * 3e38,
    () => gauss() * 1e-30, () => gauss() * 1e-38, () => gauss() * 1e-42, () => (r() < 0.5 ? 1e-45 : -1e-45),
    () => -Math.abs(gauss()), () => Math.abs(gauss()) + 2, () => -Math.abs(gauss()) * 1e5,
    (i) => (i === 77 ? 1e4 : gauss() * 1e-2), (i) => (i === 3 ? -6e4 : gauss()), (i) => (i % 32 === 0 ? 70000 : gauss()),
    (i) => ((i >> 5) % 2 ? gauss() * 1e-6 : gauss()), (i) => ((i >> 4) % 3 === 0 ? 0 : gauss()), (i) => (i < 128 ? 0 : 1),
    (i) => (i % 16) - 8, () => Math.round(gauss() * 4) / 4,
    // q8_0's rounding: with max|x| = 127 the divisor is 1, so these land exactly on halves and just below them.
    (i) => (i % 32 === 0 ? 127 : (i % 21) - 10 + 0.5), (i) => (i % 32 === 0 ? -127 : Math.fround(0.49999997) * (i % 2 ? 1 : -1)), (i) => (i % 2 ? 65504 : -65504), (i) => (i % 7 === 0 ? 0 : 5e-8),
  ];
  for (let k = 0; k < 40; k++) {
    const scale = 10 ** (r() * 12 - 6);
    gens.push(() => gauss() * scale);
  }
  return superBlocks(gens);
}

function reference(type: GgmlQuantType, x: Float32Array): Uint8Array {
  const { quantize, blockBytes } = REFERENCE[type];
  const out = new Uint8Array((x.length / 256) * blockBytes);
  quantize(x, out);
  return out;
}

function assertSameBytes(type: GgmlQuantType, got: Uint8Array | null, want: Uint8Array): void {
  assert.ok(got, `${type}: quantizeGgml returned null`);
  assert.equal(got.length, want.length);
  const at = got.findIndex((v, i) => v !== want[i]);
  const block = Math.floor(at / REFERENCE[type].blockBytes);
  assert.equal(at, -1, `${type}: first differing byte ${at} (super-block ${block})`);
}

async function built(): Promise<void> {
  const { buildWasm } = await import('../../scripts/build-wasm.mjs');
  await buildWasm({ quiet: true });
}

for (const [variant, threads] of [['simd', 1], ['relaxed', 2]] as const) {
  describe(`numerics: wasm K-quant quantizers, ${variant}, ${threads} thread(s)`, function () {
    this.timeout(120000);
    let be: WasmBackend;
    before(async () => {
      await built();
      be = (await createWasmBackend({ wasmVariant: variant, threads })) as WasmBackend;
    });
    after(() => be?.dispose());

    for (const type of ['Q4_K', 'Q5_K', 'Q6_K', 'Q8_0'] as const) {
      it(`${type}: byte-identical to the reference on adversarial and random super-blocks`, () => {
        for (const seed of [1, 2, 3]) {
          const x = adversarial(seed);
          assertSameBytes(type, be.quantizeGgml(type, x), reference(type, x));
        }
      });
    }

    it('Q8_0: non-finite values as the reference stores them (NaN and infinite blocks, an infinity among finite values)', () => {
      const x = superBlocks([() => NaN, () => Infinity, (i) => (i === 5 ? -Infinity : i), (i) => (i === 9 ? NaN : i - 100)]);
      assertSameBytes('Q8_0', be.quantizeGgml('Q8_0', x), reference('Q8_0', x));
    });

    for (const type of ['Q4_K', 'Q5_K', 'Q6_K'] as const) {
      it(`${type}: non-finite values as the reference stores them (the kernels' clamps keep NaN where the reference does)`, () => {
        const x = superBlocks([() => NaN, () => Infinity, (i) => (i === 5 ? -Infinity : i - 100), (i) => (i === 9 ? NaN : (i % 17) - 8), (i) => (i % 64 === 3 ? NaN : Math.sin(i))]);
        assertSameBytes(type, be.quantizeGgml(type, x), reference(type, x));
      });
    }

    it('refuses what it cannot quantize (length not a multiple of 256)', () => {
      assert.equal(be.quantizeGgml('Q4_K', new Float32Array(300)), null);
    });
  });
}

describe('numerics: wasm K-quant quantizers across staging chunks (2 threads)', function () {
  this.timeout(120000);
  it('Q6_K and Q8_0: a tensor longer than one staging chunk, and a second call reusing the buffer', async () => {
    await built();
    const be = (await createWasmBackend({ threads: 2 })) as WasmBackend;
    try {
      const r = rng(9);
      const x = new Float32Array(4097 * 256).map(() => (r() - 0.5) * (r() < 0.01 ? 50 : 1));
      assertSameBytes('Q6_K', be.quantizeGgml('Q6_K', x), reference('Q6_K', x));
      const y = adversarial(4);
      assertSameBytes('Q6_K', be.quantizeGgml('Q6_K', y), reference('Q6_K', y));
      // q8_0's 272 output bytes per 256 values are the most any type stages: a full chunk must fit.
      assertSameBytes('Q8_0', be.quantizeGgml('Q8_0', x), reference('Q8_0', x));
      assertSameBytes('Q8_0', be.quantizeGgml('Q8_0', y), reference('Q8_0', y));
    } finally {
      be.dispose();
    }
  });
});
