// WebGPU availability in Node through Dawn (dawnLoader.node.ts). No binary or no adapter is a normal answer, not an
// error: the engine then uses WASM.

import type { WebGpuProbeResult } from '../../engine/protocol';
import { describeAdapter, requestAdapter } from './webgpuDevice.node';

export async function probeWebGpu(): Promise<WebGpuProbeResult> {
  const found = await requestAdapter();
  if (typeof found === 'string') return { available: false, adapter: null, isFallback: null, reason: found };
  // Dawn keeps the process alive while create()'s result is referenced: `found` goes out of scope here.
  const d = describeAdapter(found.adapter, found.binary);
  return { available: true, adapter: d.name, isFallback: d.isFallback, reason: d.isFallback ? 'software (fallback) adapter: WASM is faster' : null, details: d.details };
}
