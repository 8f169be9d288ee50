// Compiles the AssemblyScript kernels (src/kernels/wasm/assembly/) into dist/kernels-simd.wasm (plain SIMD) and
// dist/kernels-relaxed.wasm (relaxed SIMD: fused multiply-add). Pure npm toolchain: works after `npm ci`, no compiler.
// Usage: node scripts/build-wasm.mjs [--force]; also imported by tests (buildWasm) so they never need a pretest step.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/kernels/wasm/assembly');
const outDir = join(root, 'dist');

// Shared memory imported from JS (env.memory), up to 4 GiB; no runtime, no abort strings, no exported memory.
const common = [
  '--runtime', 'stub', '--noAssert', '--optimizeLevel', '3', '--shrinkLevel', '0', '--converge',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--enable', 'simd', '--enable', 'threads', '--use', 'abort=',
];
export const VARIANTS = [
  { file: 'kernels-simd.wasm', flags: [] },
  { file: 'kernels-relaxed.wasm', flags: ['--enable', 'relaxed-simd'] },
];

function newestSource() {
  let t = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  for (const f of readdirSync(srcDir)) t = Math.max(t, statSync(join(srcDir, f)).mtimeMs);
  return t;
}

/** Builds both variants into dist/ unless they are newer than every source. Returns the output paths. */
export async function buildWasm({ force = false, quiet = false } = {}) {
  mkdirSync(outDir, { recursive: true });
  const newest = newestSource();
  const outputs = VARIANTS.map((v) => join(outDir, v.file));
  if (!force && outputs.every((p) => existsSync(p) && statSync(p).mtimeMs >= newest)) return outputs;
  const { default: asc } = await import('assemblyscript/asc');
  for (const v of VARIANTS) {
    const out = join(outDir, v.file);
    const { error, stderr } = await asc.main([join(srcDir, 'kernels.ts'), '--outFile', out, ...common, ...v.flags]);
    if (error) throw new Error(`AssemblyScript failed for ${v.file}: ${error.message}\n${stderr.toString()}`);
    if (!quiet) console.log(`built ${out}`);
  }
  return outputs;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWasm({ force: process.argv.includes('--force') }).catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
