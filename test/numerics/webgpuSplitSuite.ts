// WebGPU weights split by rows across buffers (limits.ts planRowParts): a backend opened with artificially low buffer
// limits splits small tensors the way a real adapter splits a 1 GB lm_head, and every op that takes a split weight
// must give bit-identical results to the same adapter with the weight in one buffer. Activations are never split. Run in kernelsWebgpu.test.ts's
// child process (real adapter or SwiftShader).

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Backend, BTensor, WeightDType } from '../../src/core/backend';
import { loadModel } from '../../src/core/model/loadModel';
import { createWebGpuBackend } from '../../src/kernels/createBackend.node';
import { NodeFs } from '../../src/node/nodeFs';
import { encode, randArray, skipBecause } from './kernelsHelpers';

/** 2 KiB per buffer: a [70, 64] weight is 3 (q8_0) to 9 (f32) parts, the activations in these tests stay whole. */
const TINY = { maxStorageBufferBindingSize: 2048, maxBufferSize: 2048 };
/** Under the demo models' 128-145 KiB embeddings and lm_head (512 or 581 x 64 f32), over their 64 KiB per-layer KV caches. */
const UNDER_VOCAB = { maxStorageBufferBindingSize: 96 << 10, maxBufferSize: 96 << 10 };
/** Under stories260K's q8_0 embedding and lm_head (512 x 72 bytes), over its 16 KiB KV cache at 128 positions. */
const UNDER_Q8_VOCAB = { maxStorageBufferBindingSize: 24 << 10, maxBufferSize: 24 << 10 };
const ROWS = 70;
const COLS = 64;

async function openBackend(ctx: Mocha.Context, limits?: typeof TINY): Promise<Backend> {
  const gpu = await createWebGpuBackend(true, [], undefined, limits);
  if (typeof gpu === 'string') skipBecause(ctx, `no WebGPU adapter: ${gpu}`);
  return gpu;
}

/** The same values written in one call to `whole` and, in chunks of 4 rows (crossing part boundaries), to `split`. */
function writeBoth(whole: Backend, split: Backend, dtype: WeightDType, shape: number[], values: Float32Array): [BTensor, BTensor] {
  const bytes = encode(values, dtype);
  const a = whole.alloc(dtype, shape, 'w', 'none', 'weight');
  whole.write(a, bytes);
  const b = split.alloc(dtype, shape, 'w', 'none', 'weight');
  const chunk = (bytes.byteLength / shape[0]!) * 4;
  for (let off = 0; off < bytes.byteLength; off += chunk) split.write(b, bytes.subarray(off, off + chunk), off);
  return [a, b];
}

/** Labels of the tensors `be` splits across buffers from now on (a split tensor has parts). */
function recordSplitAllocs(be: Backend): string[] {
  const labels: string[] = [];
  const alloc = be.alloc.bind(be);
  be.alloc = (...args: Parameters<Backend['alloc']>): BTensor => {
    const t = alloc(...args);
    if ((t as { parts?: unknown[] }).parts?.length) labels.push(args[2] ?? '');
    return t;
  };
  return labels;
}

export function defineSplitWeights(root: string, model: string, promptIds: number[]): void {
  describe('webgpu weights split across buffers (artificially low limits)', function () {
    let whole: Backend;
    let split: Backend;
    before(async function () {
      whole = await openBackend(this);
      split = await openBackend(this, TINY);
    });
    after(() => {
      whole?.dispose();
      split?.dispose();
    });

    // [31, 37]: odd rows of f16/bf16 values, so parts must hold an even row count to start on a u32 word.
    const cases: Array<[WeightDType, number, number]> = [['f32', ROWS, COLS], ['f16', ROWS, COLS], ['bf16', ROWS, COLS], ['q8_0', ROWS, COLS],
      ['f16', 31, 37], ['bf16', 31, 37]];
    for (const [dtype, rows, cols] of cases) {
      it(`matmul, embed and read on a split ${dtype} [${rows}, ${cols}] weight equal the unsplit weight's`, async () => {
        const [wA, wB] = writeBoth(whole, split, dtype, [rows, cols], randArray(rows * cols, 91, 0.5));
        assert.deepEqual(await split.read(wB), await whole.read(wA), 'read');
        const n = 3;
        const x = randArray(n * cols, 17);
        const outs = [whole, split].map((be, i) => {
          const xt = be.alloc('f32', [n, cols]);
          be.write(xt, encode(x, 'f32'));
          const out = be.alloc('f32', [n, rows]);
          be.matmul(out, i === 0 ? wA : wB, xt, n);
          return out;
        });
        assert.deepEqual(await split.read(outs[1]!), await whole.read(outs[0]!), 'matmul');
        const ids = Int32Array.from([0, rows - 1, 5, rows >> 1, 5, rows - 7]);
        const emb = [whole, split].map((be, i) => {
          const out = be.alloc('f32', [ids.length, cols]);
          be.embed(out, i === 0 ? wA : wB, ids);
          return out;
        });
        assert.deepEqual(await split.read(emb[1]!), await whole.read(emb[0]!), 'embed');
      });
    }

    it('only weights are split: a larger activation is refused at alloc, an op needing one buffer refuses a split weight', () => {
      assert.throws(() => split.alloc('f32', [ROWS, COLS], 'acts'), /tensor 'acts' \(f32 \[70, 64\], 17920 bytes\) exceeds this WebGPU adapter's maxStorageBufferBindingSize of 2048 bytes/);
      const w = split.alloc('f32', [ROWS, COLS], 'w', 'zero', 'weight');
      assert.throws(() => split.softmax(w, ROWS), /tensor 'w' is split across 9 buffers .* use the WASM backend/);
    });

    // stories260K: f32, separate lm_head; qwen3-tiny: lm_head tied to the (split) embedding; q8_0: split quantized
    // writes (36 KiB tensors: a lower limit, and a shorter KV cache to stay under it).
    const models: Array<{ folder: string; quantize?: 'q8_0'; limits: typeof TINY; context?: number; split: string[]; vocab: number }> = [
      { folder: model, limits: UNDER_VOCAB, split: ['lm_head.weight', 'model.embed_tokens.weight'], vocab: 512 },
      { folder: 'demo/models/qwen3-tiny', limits: UNDER_VOCAB, split: ['model.embed_tokens.weight'], vocab: 581 },
      { folder: model, quantize: 'q8_0', limits: UNDER_Q8_VOCAB, context: 128, split: ['lm_head.weight', 'model.embed_tokens.weight'], vocab: 512 },
    ];
    for (const m of models) {
      it(`${path.basename(m.folder)}${m.quantize ? ` (${m.quantize} on load)` : ''} with ${m.split.join(' and ')} split gives the unsplit logits (prefill and a decode step)`, async function () {
        // Each run gets a backend of its own: the model disposes its backend with itself.
        const low = await openBackend(this, m.limits);
        const splitLabels = recordSplitAllocs(low);
        const logits = async (be: Backend): Promise<Float32Array[]> => {
          const lm = await loadModel(new NodeFs(), path.join(root, m.folder), be, { quantize: m.quantize ?? null, contextLength: m.context });
          try {
            return [await lm.model.forward(promptIds, 0), await lm.model.forward([promptIds[1]!], promptIds.length)];
          } finally {
            lm.model.dispose();
          }
        };
        const got = await logits(low);
        const want = await logits(await openBackend(this));
        // q8_0 also splits the f32 down_proj (172 columns, not whole q8_0 blocks, stay f32: 44 KiB).
        for (const label of m.split) assert.ok(splitLabels.includes(label), `${label} not split: ${splitLabels.join(', ')}`);
        assert.equal(got[0]!.length, m.vocab);
        assert.deepEqual(got, want);
      });
    }
  });
}
