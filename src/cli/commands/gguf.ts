// `lora-workbench gguf`: export a full model, or an adapter merged into its base on the way, as one GGUF file that
// equals llama.cpp's own conversion (convert_hf_to_gguf.py, then llama-quantize for the quantized types). Runs in the
// engine worker (engine/gguf). Exit 0 written, 1 export error (unsupported, corrupt input), 2 usage or I/O error.

import { formatBytes } from '../../core/format';
import { EXPORT_TYPES, isExportType } from '../../core/gguf/format';
import { GgufExport, type GgufParams, type GgufResult } from '../../engine/protocol';
import { absolutePath } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand } from '../command';
import { runEngineJob } from '../engineJob';
import { backendOptions } from './merge';

const USAGE = `lora-workbench gguf <adapter folder> --base <model folder> --out <file.gguf> [--type T] [--backend B] [--threads N] [--json]
lora-workbench gguf <model folder> --out <file.gguf> [--type T] [--backend B] [--threads N] [--json]
lora-workbench gguf <adapter folder> --adapter-only [--base <model folder>] --out <file.gguf> [--type f16|f32] [--json]

  Write a GGUF file for llama.cpp, Ollama and LM Studio in one streaming pass: the first form merges the adapter into
  its base on the way (LoRA, rsLoRA, DoRA, modules_to_save, resized vocabularies; no intermediate safetensors), the
  second converts a full (e.g. merged) model. LLaMA-family models (LlamaForCausalLM, MistralForCausalLM) with a
  SentencePiece tokenizer.

  --adapter-only       a llama.cpp LoRA adapter (llama-cli --lora, Ollama ADAPTER) as convert_lora_to_gguf.py writes
                       it; LoRA and rsLoRA (DoRA, modules_to_save and per-module patterns are refused: merge them).
                       The base (its config.json) is --base, else the adapter's base_model_name_or_path.
  --type T             ${EXPORT_TYPES.join(' ')} (default f16). The metadata, tensor names, order and types
                       and the data equal convert_hf_to_gguf.py --outtype f32/f16/bf16, and for the quantized
                       types llama-quantize of its f32 output, with the same per-tensor type mix.
  --backend B          auto|wasm|reference: runs the LoRA merge and the K-quant quantizers (q4_k_m, q5_k_m, q6_k;
                       same bytes on every backend); other types without an adapter start none
  --threads N          threads of the WASM backend (0, the default: one per CPU core)
  --out <file.gguf>    must not exist, and not be inside an input folder; written to a temp file and renamed
  --json               print {"out","tensors","bytesWritten","seconds","peakRssBytes","type"} on stdout

  Exit status: 0 written, 1 export error (unsupported model or type, corrupt input), 2 usage or I/O error.`;

function params(values: Record<string, unknown>, positionals: string[], cwd: string): GgufParams {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the model or adapter folder.' : `expected one folder, got ${positionals.length}.`);
  if (typeof values.out !== 'string') throw new UsageError('--out <file.gguf> is required.');
  const type = (values.type ?? 'f16') as string;
  if (!isExportType(type)) throw new UsageError(`--type must be one of ${EXPORT_TYPES.join(', ')}, got '${type}'.`);
  const folder = absolutePath(positionals[0]!, cwd);
  const base = typeof values.base === 'string' ? absolutePath(values.base, cwd) : undefined;
  const outPath = absolutePath(values.out, cwd);
  if (values['adapter-only'] === true) {
    if (type !== 'f16' && type !== 'f32') throw new UsageError(`--adapter-only writes --type f16 or f32, got '${type}'.`);
    return { modelPath: base, adapterPath: folder, adapterOnly: true, outPath, type };
  }
  return { modelPath: base ?? folder, adapterPath: base ? folder : undefined, outPath, type, ...backendOptions(values) };
}

export const ggufCommand: CliCommand = {
  name: 'gguf',
  summary: 'Export a model, or an adapter merged into its base, as GGUF (identical to llama.cpp\'s).',
  usage: USAGE,
  options: {
    base: { type: 'string' }, out: { type: 'string' }, type: { type: 'string' }, 'adapter-only': { type: 'boolean' },
    backend: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(values, positionals, io) {
    const job = await runEngineJob(io, 'gguf', GgufExport, params(values, positionals, io.cwd));
    if ('code' in job) return job.code;
    const r: GgufResult = job.result;
    if (values.json) {
      writeJson(io, { out: r.out, tensors: r.tensors, bytesWritten: r.bytesWritten, seconds: r.seconds, peakRssBytes: r.peakRssBytes, type: r.type });
    } else {
      io.stdout.write(`wrote ${r.tensors} tensors as ${r.type} to ${r.out} (${formatBytes(r.bytesWritten)}, ${r.seconds.toFixed(1)} s, peak RSS ${formatBytes(r.peakRssBytes)})\n`);
    }
    return 0;
  },
};
