// Backend factory for the engine worker and the CLI: picks auto|webgpu|wasm|reference, honours a thread count
// (loraWorkbench.engine.threads, 0 = one per core) and falls back with the reason logged, never failing for a missing
// accelerator. Within a backend, ops without a fast kernel fall back to the reference kernels (Backend.supports).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Backend } from '../core/backend';
import { ReferenceBackend } from './reference/referenceBackend';
import { InlineRunner, type KernelRunner } from './wasm/kernelTable';
import { ThreadPool, type ThreadPoolOptions } from './wasm/threadPool.node';
import { WasmBackend } from './wasm/wasmBackend';
import { loadKernelModule, type WasmVariant } from './wasm/wasmModule.node';
import { adapterSummary, openWebGpuDevice } from './webgpu/webgpuDevice.node';
import type { BufferLimits } from './webgpu/limits';
import type { WebGpuBackend, WebGpuKernelOptions } from './webgpu/webgpuBackend';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'reference';

export interface CreateBackendOptions {
  /** Default 'auto': WebGPU on a real (non-fallback) adapter, else WASM SIMD, else the reference. */
  readonly backend?: BackendChoice;
  /** Threads for WASM kernels (the calling thread counts as one); 0 or absent = one per core. */
  readonly threads?: number;
  /** Called with one line per decision (fallbacks and why); the engine forwards these to its log. */
  readonly log?: (message: string) => void;
  /** WASM build: 'auto' (relaxed SIMD when the runtime has it) or a fixed one (benchmarks, tests). */
  readonly wasmVariant?: WasmVariant | 'auto';
  /** Bytes per WASM memory (default 4 GiB); tests lower it to exercise multi-memory placement. */
  readonly maxMemoryBytes?: number;
  /** Tests only: slow down one helper thread. */
  readonly slowHelper?: ThreadPoolOptions['slowHelper'];
  /** Tests only: column-panel width of WASM weights for every dtype (a multiple of 256), so small tensors use panels. */
  readonly panelCols?: number;
}

/** Threads to use: `requested` when positive, else one per core. */
export function resolveThreads(requested: number | undefined): number {
  return requested && requested > 0 ? Math.floor(requested) : Math.max(1, os.availableParallelism());
}

/** Creates the WASM backend; throws when the kernels are missing or the runtime lacks SIMD. */
export async function createWasmBackend(options: CreateBackendOptions = {}): Promise<WasmBackend> {
  const { module, variant } = loadKernelModule(options.wasmVariant ?? 'auto');
  const threads = resolveThreads(options.threads);
  let runner: KernelRunner;
  if (threads > 1) {
    try {
      runner = await ThreadPool.create(module, threads, [], { slowHelper: options.slowHelper });
    } catch (err) {
      options.log?.(`WASM helper threads failed to start (${(err as Error).message}); running on 1 thread`);
      runner = new InlineRunner(module);
    }
  } else {
    runner = new InlineRunner(module);
  }
  return new WasmBackend(runner, { maxMemoryBytes: options.maxMemoryBytes, variant: variant === 'relaxed' ? 'relaxed SIMD' : 'SIMD', panelCols: options.panelCols });
}

/**
 * Loads the WebGPU backend module lazily: its WGSL imports are text. The bundle inlines them (esbuild loader), and
 * under tsx (tests, dev runs) require() is taught the same loader here so the sources stay the single copy.
 */
function webGpuBackendModule(): typeof import('./webgpu/webgpuBackend') {
  const exts = require.extensions as unknown as Record<string, (m: { exports: unknown }, file: string) => void> | undefined;
  if (exts && !exts['.wgsl']) exts['.wgsl'] = (m, file) => { m.exports = fs.readFileSync(file, 'utf8'); };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./webgpu/webgpuBackend') as typeof import('./webgpu/webgpuBackend');
}

/** Set (to 1) by tests and CI: an explicit 'webgpu' choice then accepts a software adapter such as SwiftShader. */
export const ALLOW_SOFTWARE_ADAPTER_ENV = 'LORA_WORKBENCH_WEBGPU_ALLOW_SOFTWARE';

/**
 * The WebGPU backend, or a reason why not. `allowFallbackAdapter`: accept software adapters (tests on SwiftShader);
 * 'auto' and a plain 'webgpu' choice do not, WASM is faster than a CPU emulating a GPU. `bufferLimits`: tests only,
 * lower per-buffer limits than the adapter's, so a small model's weights are split across buffers as a large one's are.
 * `kernels`: tests only, e.g. the workgroup-reduction matmul on a device that has subgroups.
 */
export async function createWebGpuBackend(allowFallbackAdapter: boolean, flags: string[] = [], log?: (message: string) => void,
  bufferLimits?: Pick<BufferLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>, kernels?: WebGpuKernelOptions): Promise<WebGpuBackend | string> {
  const opened = await openWebGpuDevice(flags);
  if (typeof opened === 'string') return opened;
  if (opened.isFallback && !allowFallbackAdapter) {
    opened.device.destroy();
    return `only a software adapter (${opened.adapterName}): WASM is faster`;
  }
  log?.(`WebGPU adapter ${adapterSummary(opened.adapterName, opened.details)}`);
  return new (webGpuBackendModule().WebGpuBackend)(opened.device, opened.adapterName, opened.gpu, { ...opened.details, ...bufferLimits }, kernels);
}

/**
 * On Linux Dawn reaches GPUs through the Vulkan loader; without libvulkan.so.1 it can only fail, and it says so on
 * stderr from native code (a warning on every CLI run). 'auto' skips it then; an explicit 'webgpu' still tries.
 */
function missingVulkanLoader(): string | null {
  if (process.platform !== 'linux') return null;
  const dirs = [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
    '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1'))) ? null : 'no Vulkan loader (libvulkan.so.1) on this machine';
}

/** Creates the backend the options ask for; never throws for a missing accelerator, it falls back instead. */
export async function createBackend(options: CreateBackendOptions = {}): Promise<Backend> {
  const choice = options.backend ?? 'auto';
  const log = options.log ?? ((): void => undefined);
  if (choice === 'reference') return new ReferenceBackend();
  const noVulkan = choice === 'auto' ? missingVulkanLoader() : null;
  if (noVulkan) log(`WebGPU not tried: ${noVulkan}; using WASM`);
  if (choice === 'webgpu' || (choice === 'auto' && !noVulkan)) {
    const gpu = await createWebGpuBackend(choice === 'webgpu' && process.env[ALLOW_SOFTWARE_ADAPTER_ENV] === '1', [], log);
    if (typeof gpu !== 'string') return gpu;
    // An explicit choice fails loudly: silently running on WASM would hide a missing driver or a CPU-only machine.
    if (choice === 'webgpu') throw new Error(`the WebGPU backend was asked for (loraWorkbench.engine.backend / --backend webgpu) but cannot be used: ${gpu}. Choose 'auto' or 'wasm'.`);
    log(`WebGPU not used: ${gpu}; trying WASM`);
  }
  try {
    return await createWasmBackend(options);
  } catch (err) {
    log(`WASM backend unavailable (${(err as Error).message}); using the reference backend`);
    return new ReferenceBackend();
  }
}
