// Loads the compiled kernels (dist/kernels-relaxed.wasm or dist/kernels-simd.wasm) and picks the variant by
// WebAssembly.validate. Node 20 ships relaxed SIMD behind --experimental-wasm-relaxed-simd; setting the flag before
// compiling enables it (checked on Node 20.20: validate false -> true), Node 22+ and Electron's V8 have it on.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';

export type WasmVariant = 'relaxed' | 'simd';

const FILES: Record<WasmVariant, string> = { relaxed: 'kernels-relaxed.wasm', simd: 'kernels-simd.wasm' };
const cache = new Map<WasmVariant, WebAssembly.Module>();

/** dist/ next to the bundle, or the repository's dist/ when running from src/ under tsx. */
function findWasm(file: string): string {
  const candidates = [path.join(__dirname, file), path.join(__dirname, '..', '..', '..', 'dist', file)];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`WASM kernels not built: ${file} not found in ${candidates.join(' or ')} (run npm run build)`);
}

let flagTried = false;
function relaxedAvailable(bytes: Uint8Array<ArrayBuffer>): boolean {
  if (WebAssembly.validate(bytes)) return true;
  if (flagTried) return false;
  flagTried = true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WebAssembly.validate(bytes);
}

/** The compiled kernel module: `prefer` 'auto' takes relaxed SIMD when the runtime validates it. */
export function loadKernelModule(prefer: WasmVariant | 'auto' = 'auto'): { module: WebAssembly.Module; variant: WasmVariant } {
  let variant: WasmVariant = prefer === 'auto' ? 'relaxed' : prefer;
  const cached = cache.get(variant);
  if (cached) return { module: cached, variant };
  let bytes: Uint8Array<ArrayBuffer> = new Uint8Array(fs.readFileSync(findWasm(FILES[variant])));
  if (variant === 'relaxed' && !relaxedAvailable(bytes)) {
    if (prefer === 'relaxed') throw new Error('this runtime does not support WebAssembly relaxed SIMD');
    variant = 'simd';
    const c = cache.get(variant);
    if (c) return { module: c, variant };
    bytes = new Uint8Array(fs.readFileSync(findWasm(FILES[variant])));
  }
  if (!WebAssembly.validate(bytes)) throw new Error('this runtime does not support WebAssembly SIMD');
  const module = new WebAssembly.Module(bytes);
  cache.set(variant, module);
  return { module, variant };
}
