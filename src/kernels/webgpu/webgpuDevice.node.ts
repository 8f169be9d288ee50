// Opens a WebGPU device in Node through the optional `webgpu` package (Dawn). Returns a reason instead of throwing when
// the package, an adapter or a device is missing. Software adapters (SwiftShader, lavapipe, llvmpipe) are reported
// as fallback: 'auto' then prefers WASM, tests still use them. Dawn keeps the process alive while create()'s result is
// referenced, and resolves mapAsync only while it is: the backend holds it and drops it in dispose().

import type { DawnModule, GpuAdapter, GpuDevice } from './gpuTypes';

export interface OpenedDevice {
  readonly device: GpuDevice;
  readonly adapterName: string;
  readonly isFallback: boolean;
  /** create()'s GPU object: hold it while the device is in use, drop it to let the process exit. */
  readonly gpu: unknown;
}

export function loadDawn(): DawnModule | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('webgpu') as DawnModule;
  } catch (err) {
    return `the optional 'webgpu' package is not installed or failed to load (${(err as Error).message.split('\n')[0]})`;
  }
}

export function adapterName(adapter: GpuAdapter): string {
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
}

/** flags: Dawn options, e.g. ['backend=null'] for the WGSL compile lint. */
export async function openWebGpuDevice(flags: string[] = []): Promise<OpenedDevice | string> {
  const dawn = loadDawn();
  if (typeof dawn === 'string') return dawn;
  try {
    const gpu = dawn.create(flags);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return 'no WebGPU adapter (no Vulkan/Metal/D3D12 driver found)';
    const name = adapterName(adapter);
    const isFallback = adapter.isFallbackAdapter ?? /swiftshader|llvmpipe|lavapipe|null/i.test(name);
    const device = await adapter.requestDevice({
      requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
    });
    return { device, adapterName: name, isFallback, gpu };
  } catch (err) {
    return `WebGPU failed to start: ${(err as Error).message}`;
  }
}
