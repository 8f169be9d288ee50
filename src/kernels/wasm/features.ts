// WebAssembly feature detection by validating tiny modules (the technique of GoogleChromeLabs/wasm-feature-detect).
// Pure: uses only the WebAssembly global, so it runs in the worker, the CLI and the browser alike.

const SIMD = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11];
const RELAXED_SIMD = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11];
const THREADS = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11];
const MEMORY64 = [0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 4, 1];

export interface WasmFeatures {
  readonly simd: boolean;
  readonly relaxedSimd: boolean;
  readonly threads: boolean;
  readonly memory64: boolean;
}

function validates(bytes: number[]): boolean {
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

export function detectWasmFeatures(): WasmFeatures {
  const sharedMemory = (() => {
    try {
      return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    } catch {
      return false;
    }
  })();
  return {
    simd: validates(SIMD),
    relaxedSimd: validates(RELAXED_SIMD),
    threads: sharedMemory && validates(THREADS),
    memory64: validates(MEMORY64),
  };
}
