// Opens a WebGPU device in Node through Dawn (dawnLoader.node.ts). Returns a reason instead of throwing when the
// binary, an adapter or a device is missing. Asks for the high-performance adapter (the discrete GPU on a machine that
// also has an integrated one). Software adapters (SwiftShader, lavapipe, llvmpipe) are reported as fallback: 'auto'
// then prefers WASM, tests still use them. Dawn keeps the process alive while create()'s result is referenced, and
// resolves mapAsync only while it is: the backend holds it and drops it in dispose().

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WebGpuAdapterDetails } from '../../engine/protocol';
import { loadDawn, loadedDawnFile } from './dawnLoader.node';
import type { GpuAdapter, GpuDevice } from './gpuTypes';

export { loadDawn } from './dawnLoader.node';

export interface OpenedDevice {
  readonly device: GpuDevice;
  readonly adapterName: string;
  readonly isFallback: boolean;
  readonly details: WebGpuAdapterDetails;
  /** create()'s GPU object: hold it while the device is in use, drop it to let the process exit. */
  readonly gpu: unknown;
}

const KERNEL_FEATURES = ['subgroups', 'shader-f16'];

/**
 * The GPU's memory, which WebGPU does not expose: NVIDIA's nvidia-smi (present wherever its driver is) or amdgpu's
 * sysfs. Several GPUs: the largest, so a model is never refused for a smaller card Dawn did not pick. null = unknown.
 */
export function gpuMemoryBytes(vendor: string): number | null {
  const sizes: number[] = [];
  if (/nvidia/i.test(vendor)) {
    const r = spawnSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000 });
    for (const line of (r.stdout ?? '').split('\n')) if (/^\s*\d+\s*$/.test(line)) sizes.push(Number(line) * 1048576);
  } else if (/amd|ati/i.test(vendor) && process.platform === 'linux') {
    for (const card of safeReaddir('/sys/class/drm')) {
      const f = path.join('/sys/class/drm', card, 'device', 'mem_info_vram_total');
      try { sizes.push(Number(fs.readFileSync(f, 'utf8').trim())); } catch { /* not an amdgpu card */ }
    }
  }
  const max = Math.max(0, ...sizes.filter(Number.isFinite));
  return max > 0 ? max : null;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export function adapterName(adapter: GpuAdapter): string {
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
}

/** Name, software-or-not and limits of an adapter. GPUAdapterInfo fields are getters: read them one by one. */
export function describeAdapter(adapter: GpuAdapter, binary: string): { name: string; isFallback: boolean; details: WebGpuAdapterDetails } {
  const info = adapter.info ?? {};
  const name = adapterName(adapter);
  // Dawn reports SwiftShader as a CPU-type Vulkan device without always setting isFallbackAdapter.
  const isFallback = adapter.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|null/i.test(name);
  const details: WebGpuAdapterDetails = {
    vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '',
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize,
    features: KERNEL_FEATURES.filter((f) => adapter.features?.has(f) ?? false), binary,
    memoryBytes: isFallback ? null : gpuMemoryBytes(info.vendor ?? ''),
  };
  return { name, isFallback, details };
}

/** One line for the log: the adapter and the limits that bound tensor sizes. */
export function adapterSummary(name: string, d: WebGpuAdapterDetails): string {
  const mib = (b: number): string => `${Math.round(b / 1048576)} MiB`;
  return `${name}: maxStorageBufferBindingSize ${mib(d.maxStorageBufferBindingSize)}, maxBufferSize ${mib(d.maxBufferSize)}, `
    + `memory ${d.memoryBytes ? mib(d.memoryBytes) : 'unknown'}, features [${d.features.join(', ')}]`;
}

/** flags: Dawn options, e.g. ['backend=null'] for the WGSL compile lint. */
export async function requestAdapter(flags: string[] = []): Promise<{ adapter: GpuAdapter; gpu: unknown; binary: string } | string> {
  const dawn = loadDawn();
  if (typeof dawn === 'string') return dawn;
  try {
    const gpu = dawn.create(flags);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return 'no WebGPU adapter (no Vulkan/Metal/D3D12 driver found)';
    return { adapter, gpu, binary: loadedDawnFile() ?? '' };
  } catch (err) {
    return `WebGPU failed to start: ${(err as Error).message}`;
  }
}

export async function openWebGpuDevice(flags: string[] = []): Promise<OpenedDevice | string> {
  const found = await requestAdapter(flags);
  if (typeof found === 'string') return found;
  const { adapter, gpu, binary } = found;
  try {
    const { name, isFallback, details } = describeAdapter(adapter, binary);
    const device = await adapter.requestDevice({
      // Only what a kernel uses: subgroups picks the subgroup matmul (webgpuBackend.ts).
      requiredFeatures: details.features.filter((f) => f === 'subgroups'),
      requiredLimits: { maxStorageBufferBindingSize: details.maxStorageBufferBindingSize, maxBufferSize: details.maxBufferSize },
    });
    return { device, adapterName: name, isFallback, details, gpu };
  } catch (err) {
    return `WebGPU failed to open a device: ${(err as Error).message}`;
  }
}
