// Shared helpers for kernel parity tests: seeded data, encoding to each weight dtype, dtype-aware tolerances
// (atol + rtol*|ref| per element, NMSE per tensor) in the style of llama.cpp test-backend-ops and llm.c dev/cuda.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WeightDType } from '../../src/core/backend';
import { encodeFromF32 } from '../../src/core/tensor/dtype';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { quantizeQ4 } from '../../src/core/tensor/q4';

/** Skip the running test and print why (mocha only prints "pending"). */
export function skipBecause(ctx: Mocha.Context, why: string): never {
  console.log(`      skipped: ${why}`);
  return ctx.skip();
}

/** mulberry32: small, seeded, reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-scale, scale). */
export function randArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

export function encode(values: Float32Array, dtype: WeightDType): Uint8Array {
  switch (dtype) {
    case 'f32': return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case 'f16': return encodeFromF32(values, 'F16');
    case 'bf16': return encodeFromF32(values, 'BF16');
    case 'q8_0': return quantizeQ8_0(values);
    case 'q4': return quantizeQ4(values);
  }
}

export function nmse(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return den === 0 ? num : num / den;
}

export interface Tol { readonly atol: number; readonly rtol: number; readonly nmse: number }

/**
 * Per-element check |got - want| <= atol + rtol*|want| and NMSE over the tensor. `scaleAbs` (e.g. sum |w||x| of a dot
 * product) scales atol so tolerances follow the magnitude the kernel actually summed.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, label: string, scaleAbs?: ArrayLike<number>): void {
  assert.equal(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    const a = tol.atol * (scaleAbs ? Math.max(1, scaleAbs[i]!) : 1);
    const lim = a + tol.rtol * Math.abs(want[i]!);
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= lim)) assert.fail(`${label}: element ${i}: got ${got[i]} want ${want[i]} (|err| ${err.toExponential(2)} > ${lim.toExponential(2)})`);
  }
  const e = nmse(got, want);
  assert.ok(e <= tol.nmse, `${label}: NMSE ${e.toExponential(2)} > ${tol.nmse.toExponential(2)}`);
}

/** Tolerances for f32-accumulated kernels, by weight dtype (activations are f32; weights decode exactly). */
export const TOL: Readonly<Record<WeightDType | 'act', Tol>> = {
  f32: { atol: 1e-5, rtol: 1e-4, nmse: 1e-10 },
  f16: { atol: 1e-5, rtol: 1e-4, nmse: 1e-10 },
  bf16: { atol: 1e-5, rtol: 1e-4, nmse: 1e-10 },
  // The fast q8_0 kernels quantize activations to q8_0 too (llama.cpp's vec_dot_q8_0_q8_0): ~1/254 relative per block.
  q8_0: { atol: 1e-2, rtol: 2e-2, nmse: 1e-3 },
  // q4 weights decode exactly; the error is the activations' q8_0 rounding, as for q8_0.
  q4: { atol: 1e-2, rtol: 2e-2, nmse: 1e-3 },
  act: { atol: 1e-5, rtol: 1e-4, nmse: 1e-10 },
};

/** Chromium's bundled SwiftShader Vulkan ICD and the libvulkan next to it (Debian: /usr/lib/chromium), if installed. */
export function swiftShader(): { icd: string; libDir: string } | null {
  let icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!fs.existsSync(icd)) {
    const r = spawnSync('dpkg', ['-L', 'chromium'], { encoding: 'utf8' });
    icd = (r.stdout ?? '').split('\n').find((l) => l.endsWith('vk_swiftshader_icd.json')) ?? '';
  }
  return icd && fs.existsSync(icd) ? { icd, libDir: path.dirname(icd) } : null;
}

/** The environment that points Vulkan's loader (read at process start) at SwiftShader: for child processes. */
export function swiftShaderEnv(ss: { icd: string; libDir: string }): NodeJS.ProcessEnv {
  return { VK_ICD_FILENAMES: ss.icd, LD_LIBRARY_PATH: [ss.libDir, process.env['LD_LIBRARY_PATH']].filter(Boolean).join(':') };
}
