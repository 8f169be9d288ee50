// WebGPU benchmark (not a test): on the adapter Dawn picks (high-performance preference), the memory-bandwidth bound
// from a measured buffer copy, then per weight dtype the decode matvec (n = 1: GB/s of weights streamed, tokens/s for
// one RxC matrix) and the prefill matmul (n tokens: tokens/s, GFLOP/s), each beside the WASM backend in the same run.
// With --model <folder> (safetensors Llama-family, e.g. TinyLlama-1.1B f16; add --quantize q8_0 for q8_0) also the whole
// model: prefill tok/s of --prefill tokens and decode tok/s + GB/s of weights per token, on both backends.
// Run: npx tsx bench/webgpu/webgpu.bench.ts [--smoke] [--rows R] [--cols C] [--prefill N] [--model F [--quantize q8_0] [--decode M]]
// On Linux without a GPU, point Vulkan at SwiftShader first (VK_ICD_FILENAMES, see KERNELS.md): the figures are then a
// smoke run of the harness, not a measure of anything.

import { parseArgs } from 'node:util';
import type { Backend, BTensor, WeightDType } from '../../src/core/backend';
import { encodeFromF32, floatDType } from '../../src/core/tensor/dtype';
import { quantizeQ8_0 } from '../../src/core/tensor/q8_0';
import { quantizeQ4 } from '../../src/core/tensor/q4';
import { generate } from '../../src/core/model/generate';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend, createWebGpuBackend } from '../../src/kernels/createBackend.node';
import { NodeFs } from '../../src/node/nodeFs';
import { adapterSummary, openWebGpuDevice } from '../../src/kernels/webgpu/webgpuDevice.node';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean' }, rows: { type: 'string' }, cols: { type: 'string' }, prefill: { type: 'string' },
    model: { type: 'string' }, quantize: { type: 'string' }, decode: { type: 'string' },
  },
});
const smoke = values.smoke === true;
const ROWS = Number(values.rows ?? (smoke ? 256 : 4096));
const COLS = Number(values.cols ?? (smoke ? 256 : 4096));
const PREFILL = Number(values.prefill ?? (smoke ? 8 : 256));
const REPS = smoke ? 2 : 20;
const DECODE = Number(values.decode ?? (smoke ? 4 : 64));
const DTYPES: WeightDType[] = ['f32', 'f16', 'bf16', 'q8_0'];
const BYTES_PER: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q4: 24 / 32 };

/** Seconds per call of `fn`, after one warm-up; `sync` waits for queued GPU work (a read-back). */
async function timeIt(fn: () => void, sync: () => Promise<unknown>): Promise<number> {
  fn();
  await sync();
  const t0 = performance.now();
  for (let i = 0; i < REPS; i++) fn();
  await sync();
  return (performance.now() - t0) / 1000 / REPS;
}

/** The adapter's copy bandwidth (bytes read + written per second): the bound decode can approach. */
async function copyBound(): Promise<string> {
  const opened = await openWebGpuDevice();
  if (typeof opened === 'string') return `no adapter: ${opened}`;
  const { device, details } = opened;
  const size = Math.min(smoke ? 16 << 20 : 512 << 20, details.maxBufferSize) & ~255;
  const a = device.createBuffer({ size, usage: 4 | 8 }), b = device.createBuffer({ size, usage: 4 | 8 });
  const s = await timeIt(() => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(a, 0, b, 0, size);
    device.queue.submit([enc.finish()]);
  }, () => device.queue.onSubmittedWorkDone());
  device.destroy();
  return `${adapterSummary(opened.adapterName, details)}${opened.isFallback ? ' [SOFTWARE ADAPTER: smoke figures only]' : ''}\n`
    + `copy bound: ${((2 * size) / s / 1e9).toFixed(1)} GB/s (${size >> 20} MiB buffer copy, read + write)`;
}

function weight(be: Backend, dtype: WeightDType): BTensor {
  const values = Float32Array.from({ length: ROWS * COLS }, (_, i) => Math.sin(i * 0.37) * 0.05);
  const w = be.alloc(dtype, [ROWS, COLS], `w.${dtype}`, 'none', 'weight');
  be.write(w, dtype === 'q8_0' ? quantizeQ8_0(values) : dtype === 'q4' ? quantizeQ4(values) : encodeFromF32(values, floatDType(dtype)));
  return w;
}

async function row(be: Backend, dtype: WeightDType): Promise<string> {
  const w = weight(be, dtype);
  const x = be.alloc('f32', [PREFILL, COLS]), out = be.alloc('f32', [PREFILL, ROWS]);
  be.write(x, new Uint8Array(new Float32Array(PREFILL * COLS).fill(0.01).buffer));
  const sync = (): Promise<unknown> => be.argmax(out, 1);
  const decode = await timeIt(() => be.matmul(out, w, x, 1), sync);
  const prefill = await timeIt(() => be.matmul(out, w, x, PREFILL), sync);
  for (const t of [w, x, out]) be.free(t);
  const gbs = (ROWS * COLS * BYTES_PER[dtype]) / decode / 1e9;
  return `| ${be.info.name} | ${dtype} | ${gbs.toFixed(1)} | ${(1 / decode).toFixed(0)} | ${(PREFILL / prefill).toFixed(0)} | ${((2 * ROWS * COLS * PREFILL) / prefill / 1e9).toFixed(1)} |`;
}

/** Whole model on one backend: prefill = time to the first token, decode = mean interval of the following tokens. */
async function modelRow(backend: Backend, folder: string): Promise<string> {
  const lm = await loadModel(new NodeFs(), folder, backend, { quantize: values.quantize === 'q8_0' ? 'q8_0' : null, contextLength: PREFILL + DECODE + 8 });
  const prompt = Array.from({ length: PREFILL }, (_, i) => 1 + ((i * 7) % (lm.model.vocabSize - 1)));
  const stamps: number[] = [];
  const t0 = performance.now();
  await generate(lm.model, lm.tokenizer, prompt, { maxNewTokens: DECODE + 1, sampler: new SamplerChain([], greedy()), eosIds: [], onToken: () => stamps.push(performance.now()) });
  const prefill = (stamps[0]! - t0) / 1000;
  const decode = (stamps[stamps.length - 1]! - stamps[0]!) / 1000 / DECODE;
  const row = `| ${backend.info.name} | ${lm.model.weightDType} | ${(PREFILL / prefill).toFixed(1)} (${prefill.toFixed(2)} s) | ${(1 / decode).toFixed(1)} | ${(lm.model.weightBytes / decode / 1e9).toFixed(2)} |`;
  lm.model.dispose();
  return row;
}

async function wholeModel(folder: string): Promise<void> {
  console.log(`\nwhole model ${folder}: prefill ${PREFILL} tokens, decode ${DECODE} tokens`);
  console.log('| backend | dtype | prefill tok/s | decode tok/s | decode GB/s |\n|---|---|---|---|---|');
  const gpu = await createWebGpuBackend(true);
  if (typeof gpu === 'string') console.log(`WebGPU: ${gpu}`);
  else console.log(await modelRow(gpu, folder));
  console.log(await modelRow(await createWasmBackend(), folder));
}

async function main(): Promise<void> {
  console.log(await copyBound());
  console.log(`${ROWS}x${COLS} weights, prefill ${PREFILL} tokens, ${REPS} reps`);
  console.log('| backend | dtype | decode GB/s | decode matvec/s | prefill tok/s | prefill GFLOP/s |\n|---|---|---|---|---|---|');
  const gpu = await createWebGpuBackend(true);
  const wasm = await createWasmBackend();
  for (const dtype of DTYPES) {
    if (typeof gpu !== 'string') console.log(await row(gpu, dtype));
    console.log(await row(wasm, dtype));
  }
  if (typeof gpu === 'string') console.log(`WebGPU: ${gpu}`);
  else gpu.dispose();
  wasm.dispose();
  if (values.model) await wholeModel(values.model);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
