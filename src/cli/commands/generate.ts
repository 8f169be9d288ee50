// `lora-workbench generate`: load a base model in the engine worker, attach adapters unmerged with their scales, and
// stream a completion (the same engine/load + engine/generate the preview uses). --json prints the issue-7 shape.

import { CoreError } from '../../core/errors';
import { Generate, Load, type AdapterSpec, type BackendChoice, type GenerateParams, type PromptFormat } from '../../engine/protocol';
import { EngineClient } from '../../node/engineClient';
import { absolutePath } from '../../node/nodeFs';
import { UsageError, writeJson, type CliCommand } from '../command';

const USAGE = `lora-workbench generate --model <folder> [--adapter <folder>[=<scale>]]... (--prompt <text> | --prompt-ids 1,2,3)
    [--max-new-tokens 64] [--temperature 0] [--top-k N] [--top-p x] [--repetition-penalty x] [--seed N]
    [--no-stop-at-eos] [--stop <text>]... [--format raw|alpaca2|chat] [--system <text>] [--no-thinking]
    [--backend auto|wasm|webgpu|reference] [--threads N] [--quantize q8_0] [--context N] [--json]

  Generate text from a base model with PEFT LoRA adapters applied on the fly (never merged).

  --model <folder>          base model folder (config.json, safetensors weights, tokenizer), or a LLaMA GGUF file
                            (tokenizer and chat template from its metadata; quantized types load as q8_0)
  --adapter <folder>[=s]    adapter folder, optionally with a scale multiplying its own (default 1); repeatable
  --prompt <text>           prompt text, tokenized as the model's tokenizer config says (BOS added when it says so)
  --prompt-ids 1,2,3        prompt token ids, used verbatim (no BOS added)
  --format <f>              raw (default), alpaca2 ([INST] <<SYS>> template), chat (the model's chat_template)
  --system <text>           system prompt for alpaca2/chat
  --no-thinking             chat: render the template with enable_thinking=false (Qwen3 answers without thinking)
  --max-new-tokens N        default 64
  --temperature x           0 = greedy (default: generation_config.json, greedy unless do_sample)
  --top-k N, --top-p x, --repetition-penalty x, --seed N (default 0: same seed, same output)
  --no-stop-at-eos          keep going past the end-of-sequence token
  --stop <text>             stop when the text appears (repeatable; the text is cut before it)
  --backend <b>             auto (default), wasm, webgpu or reference
  --threads N               compute threads (0 = one per core)
  --quantize q8_0           quantize weights while loading (less memory)
  --context N               KV cache length in tokens
  --json                    print {promptIds, ids, text, logits: {last}, timings} instead of streaming text`;

function num(values: Record<string, unknown>, key: string, integer: boolean): number | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${key} expects ${integer ? 'an integer' : 'a number'}, got '${String(v)}'.`);
  }
  return n;
}

/** '<folder>=<scale>': the scale is split off only when what follows the last '=' is a number. */
export function parseAdapterArg(arg: string, cwd: string): AdapterSpec {
  const eq = arg.lastIndexOf('=');
  if (eq > 0) {
    const tail = arg.slice(eq + 1);
    const scale = Number(tail);
    if (tail.trim() !== '' && Number.isFinite(scale)) return { path: absolutePath(arg.slice(0, eq), cwd), scale };
  }
  return { path: absolutePath(arg, cwd), scale: 1 };
}

export function parsePromptIds(s: string): number[] {
  const ids = s.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map(Number);
  if (ids.length === 0 || !ids.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new UsageError(`--prompt-ids expects comma-separated non-negative integers, got '${s}'.`);
  }
  return ids;
}

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'Generate text from a base model with LoRA adapters applied unmerged.',
  usage: USAGE,
  options: {
    model: { type: 'string' },
    adapter: { type: 'string', multiple: true },
    prompt: { type: 'string' },
    'prompt-ids': { type: 'string' },
    format: { type: 'string' },
    system: { type: 'string' },
    'no-thinking': { type: 'boolean' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    'repetition-penalty': { type: 'string' },
    seed: { type: 'string' },
    'no-stop-at-eos': { type: 'boolean' },
    stop: { type: 'string', multiple: true },
    backend: { type: 'string' },
    threads: { type: 'string' },
    quantize: { type: 'string' },
    context: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    if (typeof values.model !== 'string') throw new UsageError('--model is required.');
    const hasText = typeof values.prompt === 'string';
    const hasIds = typeof values['prompt-ids'] === 'string';
    if (hasText === hasIds) throw new UsageError('give exactly one of --prompt or --prompt-ids.');
    const backend = (values.backend ?? 'auto') as string;
    if (!['auto', 'wasm', 'webgpu', 'reference'].includes(backend)) throw new UsageError(`--backend must be auto, wasm, webgpu or reference, not '${backend}'.`);
    const format = (values.format ?? 'raw') as string;
    if (!['raw', 'alpaca2', 'chat'].includes(format)) throw new UsageError(`--format must be raw, alpaca2 or chat, not '${format}'.`);
    if (values.quantize !== undefined && values.quantize !== 'q8_0') throw new UsageError(`--quantize supports only q8_0.`);
    const threads = num(values, 'threads', true);
    const adapters = ((values.adapter as string[] | undefined) ?? []).map((a) => parseAdapterArg(a, io.cwd));
    const prompt: GenerateParams['prompt'] = hasIds
      ? { ids: parsePromptIds(values['prompt-ids'] as string) }
      : { text: values.prompt as string, format: format as PromptFormat, system: values.system as string | undefined,
        ...(values['no-thinking'] === true ? { thinking: false } : {}) };
    const maxNewTokens = num(values, 'max-new-tokens', true) ?? 64;
    const sampling = {
      maxNewTokens,
      temperature: num(values, 'temperature', false),
      topK: num(values, 'top-k', true),
      topP: num(values, 'top-p', false),
      repetitionPenalty: num(values, 'repetition-penalty', false),
      seed: num(values, 'seed', true),
      stopAtEos: values['no-stop-at-eos'] !== true,
      stopStrings: values.stop as string[] | undefined,
    };

    const engine = new EngineClient({
      onLog: (m) => {
        if (m.level === 'error' || m.level === 'warn') io.stderr.write(`engine: ${m.message}\n`);
      },
    });
    const controller = new AbortController();
    const onSigint = (): void => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      const load = await engine.request(Load, {
        modelPath: absolutePath(values.model, io.cwd),
        backend: backend as BackendChoice,
        threads,
        quantize: values.quantize === 'q8_0' ? 'q8_0' : null,
        contextLength: num(values, 'context', true),
      }, {
        signal: controller.signal,
        onProgress: (m) => {
          if (io.interactive && !values.json && m.total > 0) io.stderr.write(`\rloading ${m.phase} ${Math.round((100 * m.done) / m.total)}%`);
        },
      });
      if (io.interactive && !values.json) io.stderr.write('\r\x1b[K');
      if (!values.json && hasText) io.stdout.write(prompt && 'text' in prompt && format === 'raw' ? prompt.text : '');
      const result = await engine.request(Generate, { modelId: load.modelId, adapters, prompt, ...sampling }, {
        signal: controller.signal,
        onToken: (m) => {
          if (!values.json) io.stdout.write(m.text);
        },
      });
      if (values.json) {
        writeJson(io, {
          promptIds: result.promptIds,
          ids: result.ids,
          text: result.text,
          logits: { last: result.logitsLast },
          timings: {
            loadMs: load.loadMs,
            prefillTokensPerSecond: result.timings.prefillTokensPerSecond,
            decodeTokensPerSecond: result.timings.decodeTokensPerSecond,
          },
        });
      } else {
        io.stdout.write('\n');
        io.stderr.write(`[${result.ids.length} tokens, stop: ${result.stopReason}; load ${load.loadMs} ms on ${load.backend}; `
          + `prefill ${result.timings.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${result.timings.decodeTokensPerSecond.toFixed(1)} tok/s]\n`);
      }
      return 0;
    } catch (e) {
      if (e instanceof CoreError && e.code === 'cancelled') {
        io.stderr.write('\ncancelled\n');
        return 130;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
      await engine.dispose();
    }
  },
};
