// Golden merges: every variant fixture merged by runMerge (reference backend) must equal the exact golden produced by
// scripts/dev/golden_merge.py bit for bit; the differences to PEFT's literal float32 torch arithmetic are counted and
// each must be a 1-ulp flip of an f32 sum lying next to a rounding boundary of the output dtype.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import { readSafetensorsHeader } from '../../src/core/safetensors/header';
import { readModelWeights } from '../../src/core/safetensors/modelWeights';
import { bf16ToF32, f16ToF32, DTYPE_BYTES, type DType } from '../../src/core/tensor/dtype';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import type { Backend } from '../../src/core/backend';
import { createBackend } from '../../src/kernels/createBackend.node';
import { Xxh32 } from '../../src/core/merge/xxh32';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const ROOT = path.resolve(__dirname, '../fixtures/merge');
const nodeFs = new NodeFs();

async function tensorsOf(file: string): Promise<Map<string, { dtype: DType; shape: readonly number[]; bytes: Uint8Array }>> {
  const src = await nodeFs.open(file);
  try {
    const h = await readSafetensorsHeader(src);
    const out = new Map<string, { dtype: DType; shape: readonly number[]; bytes: Uint8Array }>();
    for (const t of h.tensors) {
      const bytes = new Uint8Array(t.end - t.begin);
      await src.read(t.begin, bytes);
      out.set(t.name, { dtype: t.dtype, shape: t.shape, bytes });
    }
    return out;
  } finally {
    await src.close();
  }
}

async function folderTensors(folder: string): Promise<Map<string, { dtype: DType; shape: readonly number[]; bytes: Uint8Array }>> {
  const w = await readModelWeights(nodeFs, folder, readTorchBinTensors);
  const out = new Map<string, { dtype: DType; shape: readonly number[]; bytes: Uint8Array }>();
  for (const t of w.tensors.values()) {
    const bytes = new Uint8Array(t.end - t.begin);
    const src = await nodeFs.open(t.file);
    await src.read(t.begin, bytes);
    await src.close();
    out.set(t.name, { dtype: t.dtype, shape: t.shape, bytes });
  }
  return out;
}

function values(dtype: DType, bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / DTYPE_BYTES[dtype];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (dtype === 'F32') out.push(dv.getFloat32(i * 4, true));
    else if (dtype === 'F16') out.push(f16ToF32(dv.getUint16(i * 2, true)));
    else out.push(bf16ToF32(dv.getUint16(i * 2, true)));
  }
  return out;
}

interface Case { case: string; base: string; adapter: string; dtype: DType }
const cases = JSON.parse(fs.readFileSync(path.join(ROOT, 'golden/cases.json'), 'utf8')) as Case[];

// The reference backend accumulates in float64: 0 ulp against the exact golden. The WASM backend (the default) sums
// in f32 with FMA like torch: the exact golden then plays the role the torch golden plays for the reference, and the
// same bounds apply (16-bit outputs: at most 1-ulp flips at rounding boundaries; F32: f32 matmul rounding).
for (const backendName of ['reference', 'wasm'] as const) describe(`merge goldens (${backendName} backend${backendName === 'reference' ? ', 0 ulp' : ''})`, function () {
  let tmp: string;
  let backend: Backend;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-golden-'));
    backend = backendName === 'reference' ? new ReferenceBackend() : await createBackend({ backend: 'wasm' });
    // createBackend falls back quietly; here a missing wasm backend must fail, not skip.
    assert.equal(backend.info.name, backendName);
  });
  after(() => { fs.rmSync(tmp, { recursive: true, force: true }); backend.dispose(); });

  for (const c of cases) {
    it(`${c.case}: ${c.adapter} onto ${c.base}`, async function () {
      const basePath = path.join(ROOT, 'bases', c.base);
      const adapterPath = path.join(ROOT, 'adapters', c.adapter);
      const plan = await planMerge(nodeFs, { baseGiven: basePath, basePath, adapterGiven: adapterPath, adapterPath, shardSize: 3000 }, readTorchBinTensors);
      const out = path.join(tmp, c.case);
      const res = await runMerge(plan, out, nodeFs, backend, { toolVersion: 'test', verify: true });
      assert.equal(res.verified, true);
      // The manifest's content hashes (taken from the read-ahead buffers, SIMD on WASM) equal a plain whole-file hash.
      const manifest = JSON.parse(fs.readFileSync(path.join(out, 'merge_manifest.json'), 'utf8'));
      for (const [folder, files] of [[basePath, manifest.base.files], [adapterPath, manifest.adapter.files]] as const) {
        assert.ok(files.length > 0);
        for (const f of files as Array<{ file: string; size: number; xxh32: string }>) {
          const h = new Xxh32();
          h.update(fs.readFileSync(path.join(folder, f.file)));
          assert.equal(f.xxh32, h.digestHex(), `${f.file} hash`);
        }
      }
      assert.ok(plan.shards.length > 1, 'small shard size forces several shards');
      const merged = await folderTensors(out);
      const golden = await tensorsOf(path.join(ROOT, 'golden', `${c.case}.safetensors`));
      const torch32 = await tensorsOf(path.join(ROOT, 'golden', `${c.case}.torch32.safetensors`));
      const base = await folderTensors(basePath);
      assert.ok(golden.size > 0);
      let compared = 0;
      let flips = 0;
      let maxUlps = 0;
      for (const [name, m] of merged) {
        const g = golden.get(name);
        if (!g) {
          // Untouched: byte-identical to the base.
          assert.deepEqual(m.bytes, base.get(name)!.bytes, `${name} copied unchanged`);
          continue;
        }
        assert.equal(m.dtype, g.dtype, `${name} dtype`);
        assert.deepEqual(m.shape, g.shape, `${name} shape`);
        const mv = values(m.dtype, m.bytes);
        const gv = values(g.dtype, g.bytes);
        if (backendName === 'reference') {
          for (let i = 0; i < mv.length; i++) {
            if (!Object.is(mv[i], gv[i])) assert.fail(`${c.case} ${name}[${i}]: merged ${mv[i]} != golden ${gv[i]}`);
          }
        }
        // Against f32 arithmetic (PEFT's torch for the reference backend, the exact golden for WASM's f32 kernel).
        const tv = values(g.dtype, (backendName === 'reference' ? torch32.get(name)! : g).bytes);
        const ulp = (x: number): number => {
          const e = Math.floor(Math.log2(Math.abs(x) || 2 ** -126));
          const mant = g.dtype === 'F32' ? 23 : g.dtype === 'F16' ? 10 : 7;
          return 2 ** (Math.max(e, g.dtype === 'F16' ? -14 : -126) - mant);
        };
        // F32 outputs keep the f32 rounding of torch's matmul, scaling and sum (a few ulps); 16-bit outputs round that
        // noise away except next to a rounding boundary, where the result flips by exactly one ulp.
        const allowedUlps = g.dtype === 'F32' ? 8 : 1;
        const maxAbs = mv.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
        const b0 = base.get(name);
        const bv = b0 && b0.bytes.length === m.bytes.length ? values(b0.dtype, b0.bytes) : null;
        for (let i = 0; i < mv.length; i++) {
          if (mv[i] !== tv[i]) {
            flips++;
            // The f32 error of W + delta scales with the operands, not the (possibly cancelled) result.
            const w = bv ? Math.abs(bv[i]!) : 0;
            const u = ulp(Math.max(Math.abs(mv[i]!), Math.abs(tv[i]!), w, Math.abs(mv[i]! - (bv ? bv[i]! : 0))));
            maxUlps = Math.max(maxUlps, Math.abs(mv[i]! - tv[i]!) / u);
            // F32: torch's matmul error is bounded by r * eps * sum|B||A| * s, checked normwise against the tensor's scale.
            const bound = g.dtype === 'F32' ? 16 * 2 ** -24 * maxAbs : u * allowedUlps * 1.0001;
            assert.ok(Math.abs(mv[i]! - tv[i]!) <= bound, `${name}[${i}] differs from torch f32 by ${Math.abs(mv[i]! - tv[i]!) / u} ulp`);
          }
        }
        compared++;
      }
      assert.equal(compared, golden.size, 'every golden tensor is in the output');
      if (flips > 0) console.log(`      ${c.case}: ${flips} element(s) differ from ${backendName === 'reference' ? 'PEFT\'s float32 torch arithmetic' : 'the exact golden'}, at most ${maxUlps.toFixed(2)} ulp`);
    });
  }
});
