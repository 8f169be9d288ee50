// WebGPU availability in Node through the optional `webgpu` npm package (Dawn). Absent package or no adapter is a
// normal answer, not an error: the engine then uses WASM.

import type { ProbeResult } from '../../engine/protocol';

interface DawnAdapterInfo { vendor?: string; architecture?: string; device?: string; description?: string }
interface DawnAdapter { info?: DawnAdapterInfo; isFallbackAdapter?: boolean }
interface DawnGpu { requestAdapter(): Promise<DawnAdapter | null> }
interface DawnModule { create(flags: string[]): DawnGpu }

export async function probeWebGpu(): Promise<ProbeResult['webgpu']> {
  let dawn: DawnModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    dawn = require('webgpu') as DawnModule;
  } catch (err) {
    return { available: false, adapter: null, isFallback: null, reason: `the optional 'webgpu' package is not installed (${(err as Error).message.split('\n')[0]})` };
  }
  try {
    let gpu: DawnGpu | null = dawn.create([]);
    const adapter = await gpu.requestAdapter();
    gpu = null; // Dawn keeps the process alive while create()'s result is referenced.
    if (!adapter) return { available: false, adapter: null, isFallback: null, reason: 'no WebGPU adapter (no Vulkan/Metal/D3D12 driver found)' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
    const isFallback = adapter.isFallbackAdapter ?? /swiftshader|llvmpipe|lavapipe/i.test(name);
    return { available: true, adapter: name, isFallback, reason: isFallback ? 'software (fallback) adapter: WASM is faster' : null };
  } catch (err) {
    return { available: false, adapter: null, isFallback: null, reason: `WebGPU failed to start: ${(err as Error).message}` };
  }
}
