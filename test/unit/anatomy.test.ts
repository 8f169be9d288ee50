// Adapter anatomy against an explicit float64 computation: B A formed in full, ||s B A||_F summed entry by entry and
// its singular values from a one-sided Jacobi (Hestenes) SVD of the formed matrix, on the demo's trained LoRA and DoRA
// adapters, a checkpoint-vs-checkpoint difference, and synthetic rank-deficient and zero updates.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { adapterAnatomy, effectiveRank, lowRankSpectrum, moduleCoordinates } from '../../src/core/anatomy/anatomy';
import { readAdapterFactors, readBaseNorms, type ModuleFactors } from '../../src/core/anatomy/factors';
import { symmetricEigen, mat } from '../../src/core/anatomy/linalg';
import { NodeFs } from '../../src/node/nodeFs';
import { runCliCaptured } from './cliHarness';

const DEMO = path.join(__dirname, '..', '..', 'demo');
const LORA = path.join(DEMO, 'runs', 'stories-lora');
const DORA = path.join(DEMO, 'runs', 'stories-dora');
const BASE = path.join(DEMO, 'models', 'stories260K');
const fs = new NodeFs();

/** s B A (out, in) in float64. */
function formed(f: ModuleFactors): Float64Array {
  const d = new Float64Array(f.outDim * f.inDim);
  for (let i = 0; i < f.outDim; i++) {
    for (let k = 0; k < f.r; k++) {
      const b = f.scaling * f.b[i * f.r + k]!;
      for (let j = 0; j < f.inDim; j++) d[i * f.inDim + j]! += b * f.a[k * f.inDim + j]!;
    }
  }
  return d;
}

/** Singular values (descending) of a (rows, cols) matrix: Hestenes one-sided Jacobi on its columns. */
function svdValues(m: Float64Array, rows: number, cols: number): number[] {
  const u = Float64Array.from(m);
  for (let sweep = 0; sweep < 80; sweep++) {
    let off = 0;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < rows; i++) {
          const x = u[i * cols + p]!, y = u[i * cols + q]!;
          alpha += x * x; beta += y * y; gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < rows; i++) {
          const x = u[i * cols + p]!, y = u[i * cols + q]!;
          u[i * cols + p] = c * x - s * y;
          u[i * cols + q] = s * x + c * y;
        }
      }
    }
    if (off < 1e-15) break;
  }
  const out: number[] = [];
  for (let j = 0; j < cols; j++) {
    let n = 0;
    for (let i = 0; i < rows; i++) n += u[i * cols + j]! ** 2;
    out.push(Math.sqrt(n));
  }
  return out.sort((a, b) => b - a);
}

function frobenius(d: Float64Array): number {
  return Math.sqrt(d.reduce((a, x) => a + x * x, 0));
}

/** The update's singular values must match the top r of the formed matrix; the rest of its spectrum is zero. */
function assertSpectrum(name: string, got: readonly number[], reference: number[], r: number): void {
  const top = reference[0]!;
  for (let k = 0; k < r; k++) assert.ok(Math.abs(got[k]! - reference[k]!) <= 1e-9 * top, `${name} sigma_${k}: ${got[k]} vs ${reference[k]}`);
  assert.ok((reference[r] ?? 0) <= 1e-9 * top, `${name}: the formed matrix has rank above r`);
}

describe('adapter anatomy (r x r Gram problem vs the formed update in float64)', () => {
  for (const folder of [LORA, DORA, path.join(LORA, 'checkpoint-50')]) {
    it(`${path.relative(DEMO, folder)}: ||s B A||_F and singular values equal the formed matrix's`, async () => {
      const factors = await readAdapterFactors(fs, folder);
      const anatomy = await adapterAnatomy(fs, folder);
      assert.equal(anatomy.modules.length, 35, '5 layers x 7 projections');
      assert.deepEqual(anatomy.layers, [0, 1, 2, 3, 4]);
      assert.deepEqual(anatomy.targets, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
      for (const f of factors.modules) {
        const m = anatomy.modules.find((x) => x.module === f.module)!;
        const d = formed(f);
        const ref = frobenius(d);
        assert.ok(ref > 0, `${f.module}: the trained update is not zero`);
        assert.ok(Math.abs(m.norm - ref) <= 1e-12 * ref, `${f.module}: ${m.norm} vs ${ref}`);
        const rowsFirst = f.outDim >= f.inDim;
        const sv = rowsFirst ? svdValues(d, f.outDim, f.inDim) : svdValues(transpose(d, f.outDim, f.inDim), f.inDim, f.outDim);
        assertSpectrum(f.module, m.singularValues, sv, f.r);
        assert.ok(m.effectiveRank >= 1 && m.effectiveRank <= f.r);
      }
    });
  }

  it('stories-lora/checkpoint-100 against checkpoint-50: the difference of the formed updates', async () => {
    const x = await readAdapterFactors(fs, path.join(LORA, 'checkpoint-100'));
    const y = await readAdapterFactors(fs, path.join(LORA, 'checkpoint-50'));
    const anatomy = await adapterAnatomy(fs, path.join(LORA, 'checkpoint-100'), { against: path.join(LORA, 'checkpoint-50') });
    for (const f of x.modules) {
      const g = y.modules.find((m) => m.module === f.module)!;
      const dx = formed(f);
      const dy = formed(g);
      const diff = dx.map((v, i) => v - dy[i]!);
      const m = anatomy.modules.find((a) => a.module === f.module)!;
      assert.equal(m.r, 16);
      assert.ok(Math.abs(m.norm - frobenius(diff)) <= 1e-11 * frobenius(diff), `${f.module}: ${m.norm} vs ${frobenius(diff)}`);
      const sv = f.outDim >= f.inDim ? svdValues(diff, f.outDim, f.inDim) : svdValues(transpose(diff, f.outDim, f.inDim), f.inDim, f.outDim);
      assertSpectrum(f.module, m.singularValues, sv, Math.min(16, f.inDim, f.outDim));
    }
  });

  it('with the base: relative size against ||W||_F, and DoRA magnitude change against the base rows', async () => {
    const anatomy = await adapterAnatomy(fs, DORA, { base: BASE });
    const factors = await readAdapterFactors(fs, DORA);
    const base = await readBaseNorms(fs, BASE, factors.modules.map((f) => f.module));
    assert.equal(anatomy.modules.length, factors.modules.length);
    for (const m of anatomy.modules) {
      const w = base.get(m.module)!;
      assert.ok(w.norm > 0 && m.baseNorm === w.norm && Math.abs(m.relative! - m.norm / w.norm) < 1e-15);
      const mag = factors.modules.find((x) => x.module === m.module)!.magnitude!;
      let num = 0, den = 0;
      mag.forEach((v, j) => { num += (v - w.rowNorms[j]!) ** 2; den += w.rowNorms[j]! ** 2; });
      assert.equal(m.dora?.reference, 'base');
      assert.ok(Math.abs(m.dora.relativeChange! - Math.sqrt(num / den)) < 1e-12, `${m.module}: ${m.dora.relativeChange}`);
      assert.ok(m.dora.relativeChange! > 0, `${m.module}: training moved the magnitude`);
    }
  });

  it('embedding LoRA and lm_head sit outside the layers; modules_to_save tensors are listed as saved whole', async () => {
    const embed = await adapterAnatomy(fs, path.join(__dirname, '..', 'fixtures', 'generate', 'adapter-embed'));
    assert.deepEqual(embed.modules.map((m) => [m.module, m.layer]), [['lm_head', null], ['model.embed_tokens', null]]);
    assert.deepEqual([embed.layers, embed.targets], [[], []]);
    assert.ok(embed.modules.every((m) => m.norm > 0 && m.singularValues.length === m.r));
    const cla2 = await adapterAnatomy(fs, path.join(DEMO, 'runs', 'chinese-alpaca2-lora', 'sft_lora_model'));
    assert.deepEqual(cla2.savedTensors, ['lm_head.weight', 'model.embed_tokens.weight']);
    assert.deepEqual(cla2.targets, ['q_proj', 'v_proj']);
  });

  it('a rank-deficient A (repeated rows) gives zero singular values, not NaN; a zero B gives a zero update', () => {
    const a = [1, 2, 3, 1, 2, 3, 0, 1, 0]; // (3, 3), rank 2
    const b = [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]; // (4, 3)
    const spec = lowRankSpectrum({ a, b, r: 3, outDim: 4, inDim: 3, scale: 2 });
    const d = new Float64Array(12);
    for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) for (let j = 0; j < 3; j++) d[i * 3 + j]! += 2 * b[i * 3 + k]! * a[k * 3 + j]!;
    assertSpectrum('synthetic', spec.singularValues, svdValues(d, 4, 3), 3);
    assert.ok(spec.singularValues[2]! < 1e-7 && Number.isFinite(spec.singularValues[2]!));
    assert.ok(Math.abs(spec.norm - frobenius(d)) < 1e-12);
    const zero = lowRankSpectrum({ a, b: new Array(12).fill(0), r: 3, outDim: 4, inDim: 3, scale: 2 });
    assert.equal(zero.norm, 0);
    assert.equal(effectiveRank(zero.singularValues), 0);
  });

  it('effective rank: 1 for one direction, r for a flat spectrum', () => {
    assert.equal(effectiveRank([3, 0, 0]), 1);
    assert.ok(Math.abs(effectiveRank([2, 2, 2, 2]) - 4) < 1e-12);
  });

  it('Jacobi eigen-decomposition reconstructs a symmetric matrix', () => {
    const m = mat(3, 3, Float64Array.from([4, 1, 2, 1, 3, 0, 2, 0, 5]));
    const { values, vectors } = symmetricEigen(m);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += vectors.data[i * 3 + k]! * values[k]! * vectors.data[j * 3 + k]!;
        assert.ok(Math.abs(s - m.data[i * 3 + j]!) < 1e-12);
      }
    }
    assert.ok(values[0]! >= values[1]! && values[1]! >= values[2]!);
  });

  it('heatmap coordinates: layer and target of a module path', () => {
    assert.deepEqual(moduleCoordinates('model.layers.12.self_attn.q_proj'), { layer: 12, target: 'q_proj' });
    assert.deepEqual(moduleCoordinates('lm_head'), { layer: null, target: 'lm_head' });
  });
});

function transpose(d: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(d.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = d[i * cols + j]!;
  return t;
}

describe('lora-workbench inspect', () => {
  it('--json prints the anatomy with relative sizes against --base', async () => {
    const { code, out } = await runCliCaptured(['inspect', LORA, '--base', BASE, '--json']);
    assert.equal(code, 0);
    const json = JSON.parse(out) as { modules: Array<{ module: string; relative: number; singularValues: number[] }>; base: string };
    assert.equal(json.base, BASE);
    assert.equal(json.modules.length, 35);
    assert.ok(json.modules.every((m) => m.relative > 0 && m.singularValues.length === 8));
  });

  it('prints the layers x modules table; --against adds the difference; a missing folder is a usage error', async () => {
    const text = await runCliCaptured(['inspect', path.join(LORA, 'checkpoint-200'), '--against', path.join(LORA, 'checkpoint-100')]);
    assert.equal(text.code, 0);
    assert.match(text.out, /minus .*checkpoint-100/);
    assert.match(text.out, /^layer\s+q_proj\s+k_proj\s+v_proj\s+o_proj\s+gate_proj\s+up_proj\s+down_proj/m);
    assert.equal(text.out.split('\n').filter((l) => /^[0-4]\s/.test(l)).length, 5);
    const bad = await runCliCaptured(['inspect', path.join(DEMO, 'no-such-adapter')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /no-such-adapter: not a folder/);
  });
});
