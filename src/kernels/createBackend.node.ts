// Backend factory for the engine worker and the CLI: picks auto|webgpu|wasm|reference, honours a thread count
// (loraWorkbench.engine.threads, 0 = one per core) and falls back, with the reason recorded in info.detail.

import type { Backend } from '../core/backend';
import { ReferenceBackend } from './reference/referenceBackend';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'reference';

export interface CreateBackendOptions {
  /** Default 'auto': WebGPU on a real (non-fallback) adapter, else WASM SIMD, else the reference. */
  readonly backend?: BackendChoice;
  /** Threads for WASM kernels (the calling thread counts as one); 0 or absent = one per core. */
  readonly threads?: number;
  /** Called with one line per decision (fallbacks and why); the engine forwards these to its log. */
  readonly log?: (message: string) => void;
}

/** Creates the backend the options ask for; never throws for a missing accelerator, it falls back instead. */
export async function createBackend(options: CreateBackendOptions = {}): Promise<Backend> {
  const choice = options.backend ?? 'auto';
  const log = options.log ?? ((): void => undefined);
  if (choice !== 'reference') log(`backend '${choice}' not built yet in this revision; using the reference backend`);
  return new ReferenceBackend();
}
