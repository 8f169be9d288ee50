// Finds and loads Dawn's N-API binary (dawn.node). A platform-specific .vsix ships exactly one at
// dist/dawn/<platform>-<arch>/dawn.node (scripts/package.mjs), beside the bundles that load it; in development the
// optional `webgpu` npm package holds every platform's under node_modules/webgpu/dist/. Both are loaded by path, so
// the package's ESM wrapper (index.js) is not needed: its one piece of logic, making GPUDevice.destroy() unmap the
// device's buffers as the spec says, is reproduced here under the same Symbol.for key, so the two never both patch.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { DawnModule } from './gpuTypes';

/** Dawn's directory name for this platform: macOS ships one universal (arm64 + x64) binary. */
export function dawnPlatformDir(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${platform === 'darwin' ? 'universal' : arch}`;
}

/** Where dawn.node may be, in order: beside the bundle (a platform .vsix), then the development `webgpu` package. */
export function dawnCandidates(bundleDir: string = __dirname): string[] {
  const dir = dawnPlatformDir();
  const candidates = [path.join(bundleDir, 'dawn', dir, 'dawn.node')];
  try {
    const pkg = createRequire(path.join(bundleDir, 'noop.js')).resolve('webgpu/package.json');
    candidates.push(path.join(path.dirname(pkg), 'dist', dir, 'dawn.node'));
  } catch {
    // No `webgpu` package: the universal .vsix, or a development tree without optional dependencies.
  }
  return candidates;
}

const PATCHED = Symbol.for('webgpu.deviceDestroyUnmapsBuffers');

interface Mappable { readonly mapState?: string; unmap(): void }
interface DevicePrototype {
  createBuffer(...args: unknown[]): Mappable;
  destroy(...args: unknown[]): unknown;
  [PATCHED]?: boolean;
}

/**
 * dawn.node leaves a destroyed device's buffers mapped (their ArrayBuffers stay attached). Track each device's buffers
 * weakly (a strong set would pin every buffer until the device dies) and unmap the live ones on destroy().
 */
export function patchDestroyUnmaps(globals: object): void {
  const proto = (globals as { GPUDevice?: { prototype?: DevicePrototype } }).GPUDevice?.prototype;
  if (!proto || proto[PATCHED]) return;
  const buffers = new WeakMap<object, Set<WeakRef<Mappable>>>();
  const collected = new FinalizationRegistry<{ set: Set<WeakRef<Mappable>>; ref: WeakRef<Mappable> }>(({ set, ref }) => set.delete(ref));
  const { createBuffer, destroy } = proto;
  proto.createBuffer = function (this: object, ...args: unknown[]): Mappable {
    const buffer = createBuffer.apply(this, args);
    let set = buffers.get(this);
    if (!set) buffers.set(this, (set = new Set()));
    const ref = new WeakRef(buffer);
    set.add(ref);
    collected.register(buffer, { set, ref });
    return buffer;
  };
  proto.destroy = function (this: object, ...args: unknown[]): unknown {
    for (const ref of buffers.get(this) ?? []) {
      const b = ref.deref();
      // One bad buffer must not stop the device from being destroyed.
      if (b?.mapState === 'mapped') try { b.unmap(); } catch { /* already gone */ }
    }
    buffers.delete(this);
    return destroy.apply(this, args);
  };
  proto[PATCHED] = true;
}

/** Loads one dawn.node by path (win32: its DLLs sit beside it, where Windows looks first). */
export function loadDawnBinary(file: string): DawnModule {
  const dawn = createRequire(__filename)(file) as DawnModule;
  patchDestroyUnmaps(dawn.globals);
  return dawn;
}

let cached: DawnModule | string | undefined;
let cachedFile: string | undefined;

/** The dawn.node loadDawn() loaded, if it did. */
export function loadedDawnFile(): string | undefined {
  return typeof cached === 'object' ? cachedFile : undefined;
}

/** The Dawn module, or why there is none (a normal answer: the engine then uses WASM). */
export function loadDawn(): DawnModule | string {
  if (cached !== undefined) return cached;
  const candidates = dawnCandidates();
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) {
    return (cached = `no WebGPU binary for ${dawnPlatformDir()} (this is the universal package, or the optional 'webgpu' package is not installed)`);
  }
  cachedFile = file;
  try {
    return (cached = loadDawnBinary(file));
  } catch (err) {
    return (cached = `the WebGPU binary ${file} failed to load (${(err as Error).message.split('\n')[0]})`);
  }
}
