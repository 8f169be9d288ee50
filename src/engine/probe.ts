// engine/probe: what this runtime can do (WASM SIMD, threads, memory64, WebGPU adapter).

import { detectWasmFeatures } from '../kernels/wasm/features';
import type { ProbeParams, ProbeResult } from './protocol';

export const ENGINE_VERSION = '0.1.0';

export interface RuntimeFacts {
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
}

export type WebGpuProbe = () => Promise<ProbeResult['webgpu']>;

export async function probeEngine(params: ProbeParams, runtime: RuntimeFacts, probeWebGpu: WebGpuProbe): Promise<ProbeResult> {
  const wasm = detectWasmFeatures();
  const webgpu = params.webgpu
    ? await probeWebGpu()
    : { available: false, adapter: null, isFallback: null, reason: 'not probed (pass webgpu: true)' };
  const backends = ['reference'];
  if (wasm.simd) backends.push('wasm');
  if (webgpu.available && webgpu.isFallback === false) backends.push('webgpu');
  return { engineVersion: ENGINE_VERSION, ...runtime, ...wasm, webgpu, backends };
}
