// The q4 kernels of the relaxed build must compute the same exact integer sums on V8's baseline tier (Liftoff) and its
// optimizing one (TurboFan): results must not change as functions tier up. The relaxed i8 x i7 dot product failed this
// on Node 20 even with the levels (0..15) as its i7 operand, which is why assembly/q4.ts does not use it. Each child
// process runs the matvec under one tier only, on inputs where every step is exact (s = 1, m = 0, integer activations
// with a block max of 127, so their q8_0 scale is 1), and must print the integer dot products of a plain JS loop.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { Q4_BLOCK_BYTES } from '../../src/core/tensor/q4';
import { rng } from './kernelsHelpers';

const ROWS = 37;
const COLS = 544;

/** Nibbles and activations (seeded), and the exact dot products of the levels with the activations. */
function inputs(): { blocks: Uint8Array; x: Float32Array; want: number[] } {
  const r = rng(17);
  const nb = (ROWS * COLS) / 32;
  const blocks = new Uint8Array(nb * Q4_BLOCK_BYTES);
  const f = new Float32Array(blocks.buffer);
  for (let b = 0; b < nb; b++) {
    f[b * 6] = 1;
    f[b * 6 + 1] = 0;
    for (let k = 0; k < 16; k++) blocks[b * 24 + 8 + k] = Math.floor(r() * 256);
  }
  const x = new Float32Array(COLS);
  for (let c = 0; c < COLS; c++) x[c] = c % 32 === 5 ? (c % 64 < 32 ? -127 : 127) : Math.floor(r() * 255) - 127;
  const want: number[] = [];
  for (let row = 0; row < ROWS; row++) {
    let s = 0;
    for (let c = 0; c < COLS; c++) {
      const b = (row * COLS + c) >> 5, j = c % 32;
      const byte = blocks[b * 24 + 8 + (j % 16)]!;
      s += (j < 16 ? byte & 15 : byte >> 4) * x[c]!;
    }
    want.push(s);
  }
  return { blocks, x, want };
}

async function childMain(): Promise<void> {
  const { blocks, x } = inputs();
  const be = await createWasmBackend({ threads: 1, wasmVariant: 'relaxed' });
  const w = be.alloc('q4', [ROWS, COLS], 'w', 'none', 'weight');
  be.write(w, blocks);
  const xt = be.alloc('f32', [1, COLS]);
  be.write(xt, new Uint8Array(x.buffer));
  const out = be.alloc('f32', [1, ROWS]);
  be.matmul(out, w, xt, 1);
  process.stdout.write(`${JSON.stringify(Array.from(await be.read(out)))}\n`);
  be.dispose();
}

if (process.env['LWB_Q4_TIER_CHILD']) {
  void childMain();
} else {
  describe('numerics: q4 matvec (relaxed build) gives the same exact sums on every V8 tier', function () {
    this.timeout(120000);
    for (const tier of ['--liftoff-only', '--no-liftoff']) {
      it(`${tier}: equals the integer dot products`, () => {
        const r = spawnSync(process.execPath, [tier, '--require', 'tsx/cjs', __filename], {
          env: { ...process.env, LWB_Q4_TIER_CHILD: '1' }, encoding: 'utf8', cwd: path.join(__dirname, '../..'),
        });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), inputs().want);
      });
    }
  });
}
