// `lora-workbench probe`: ask the engine worker what this runtime can do (the same engine/probe the extension uses).

import { Probe } from '../../engine/protocol';
import { EngineClient } from '../../node/engineClient';
import { adapterSummary } from '../../kernels/webgpu/webgpuDevice.node';
import { writeJson, type CliCommand } from '../command';

export const probeCommand: CliCommand = {
  name: 'probe',
  summary: 'Show the compute engine\'s capabilities (WASM SIMD, threads, memory64, WebGPU).',
  usage: 'lora-workbench probe [--webgpu] [--json]\n\n  --webgpu   also try to open a WebGPU adapter\n  --json     machine-readable output',
  options: { webgpu: { type: 'boolean' }, json: { type: 'boolean' } },
  allowPositionals: false,
  async run(values, _positionals, io) {
    const engine = new EngineClient();
    try {
      const result = await engine.request(Probe, { webgpu: values.webgpu === true });
      if (values.json) writeJson(io, result);
      else {
        io.stdout.write(`engine ${result.engineVersion} on node ${result.node} (${result.platform}-${result.arch}, ${result.cpus} cores)\n`);
        io.stdout.write(`wasm: simd=${result.simd} relaxed-simd=${result.relaxedSimd} threads=${result.threads} memory64=${result.memory64}\n`);
        io.stdout.write(`webgpu: ${result.webgpu.available ? result.webgpu.adapter : 'unavailable'}${result.webgpu.reason ? ` (${result.webgpu.reason})` : ''}\n`);
        const d = result.webgpu.details;
        if (d) io.stdout.write(`webgpu limits: ${adapterSummary(result.webgpu.adapter ?? '', d)}; binary ${d.binary}\n`);
        io.stdout.write(`backends: ${result.backends.join(', ')}\n`);
      }
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
