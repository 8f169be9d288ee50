// The benchmarks' synthetic models: LLaMA-shaped safetensors folders with random weights (speed does not depend on
// them), written once and reused, plus a PEFT LoRA adapter for them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { f32ToF16 } from '../../src/core/tensor/dtype';

export interface Shape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  maxPos: number;
}

export const SHAPES: Record<string, Shape> = {
  tiny: { hidden: 256, intermediate: 768, layers: 2, heads: 4, kvHeads: 2, vocab: 32000, maxPos: 2048 },
  tinyllama: { hidden: 2048, intermediate: 5632, layers: 22, heads: 32, kvHeads: 4, vocab: 32000, maxPos: 2048 },
  '7b': { hidden: 4096, intermediate: 11008, layers: 32, heads: 32, kvHeads: 32, vocab: 32000, maxPos: 4096 },
};

/** `--name value` from the command line, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** Write config.json, model.safetensors (f16, small random values, unit norms) and the stories260K tokenizer files. */
export function makeModel(dir: string, s: Shape): void {
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return;
  fs.mkdirSync(dir, { recursive: true });
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const tensors: Array<[string, number[]]> = [['model.embed_tokens.weight', [s.vocab, s.hidden]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    tensors.push([`${p}.input_layernorm.weight`, [s.hidden]], [`${p}.self_attn.q_proj.weight`, [s.hidden, s.hidden]],
      [`${p}.self_attn.k_proj.weight`, [kv, s.hidden]], [`${p}.self_attn.v_proj.weight`, [kv, s.hidden]],
      [`${p}.self_attn.o_proj.weight`, [s.hidden, s.hidden]], [`${p}.post_attention_layernorm.weight`, [s.hidden]],
      [`${p}.mlp.gate_proj.weight`, [s.intermediate, s.hidden]], [`${p}.mlp.up_proj.weight`, [s.intermediate, s.hidden]],
      [`${p}.mlp.down_proj.weight`, [s.hidden, s.intermediate]]);
  }
  tensors.push(['model.norm.weight', [s.hidden]], ['lm_head.weight', [s.vocab, s.hidden]]);
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let h = Buffer.from(JSON.stringify(header));
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const random = new Uint16Array(1 << 21);
  let x = 12345;
  for (let i = 0; i < random.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    random[i] = f32ToF16(((x >>> 8) / 2 ** 24 - 0.5) * 0.06);
  }
  const ones = new Uint16Array(s.hidden).fill(0x3c00);
  const fd = fs.openSync(path.join(dir, 'model.safetensors'), 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, h);
  for (const [name, shape] of tensors) {
    if (name.endsWith('norm.weight')) {
      fs.writeSync(fd, new Uint8Array(ones.buffer));
      continue;
    }
    let left = shape.reduce((a, b) => a * b, 1);
    while (left > 0) {
      const n = Math.min(left, random.length);
      fs.writeSync(fd, new Uint8Array(random.buffer, 0, n * 2));
      left -= n;
    }
  }
  fs.closeSync(fd);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: s.hidden,
    intermediate_size: s.intermediate, num_hidden_layers: s.layers, num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads, vocab_size: s.vocab, max_position_embeddings: s.maxPos, rms_norm_eps: 1e-5,
    rope_theta: 10000, tie_word_embeddings: false, torch_dtype: 'float16', bos_token_id: 1, eos_token_id: 2,
  }, null, 2));
  const stories = path.join(__dirname, '..', '..', 'test', 'fixtures', 'stories260K');
  for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json']) fs.copyFileSync(path.join(stories, f), path.join(dir, f));
}

/** Writes `count` small random f16 values from a fixed LCG stream (`seed`). */
function writeRandomF16(fd: number, count: number, seed: number, scale: number): void {
  const chunk = new Uint16Array(Math.min(count, 1 << 20));
  let x = seed >>> 0;
  for (let left = count; left > 0;) {
    const n = Math.min(left, chunk.length);
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      chunk[i] = f32ToF16(((x >>> 8) / 2 ** 24 - 0.5) * scale);
    }
    fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 2));
    left -= n;
  }
}

/**
 * A PEFT LoRA adapter of rank `r` on every linear module of every layer (q, k, v, o, gate, up, down), f16, as
 * `trainer.save_model` writes it: adapter_config.json + adapter_model.safetensors (tensor names sorted).
 */
export function makeLoraAdapter(dir: string, s: Shape, r: number): void {
  if (fs.existsSync(path.join(dir, 'adapter_model.safetensors'))) return;
  fs.mkdirSync(dir, { recursive: true });
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const mods: Array<[string, number, number]> = [['self_attn.q_proj', s.hidden, s.hidden], ['self_attn.k_proj', s.hidden, kv],
    ['self_attn.v_proj', s.hidden, kv], ['self_attn.o_proj', s.hidden, s.hidden], ['mlp.gate_proj', s.hidden, s.intermediate],
    ['mlp.up_proj', s.hidden, s.intermediate], ['mlp.down_proj', s.intermediate, s.hidden]];
  const tensors: Array<[string, number[]]> = [];
  for (let l = 0; l < s.layers; l++) {
    for (const [m, inF, outF] of mods) {
      const p = `base_model.model.model.layers.${l}.${m}`;
      tensors.push([`${p}.lora_A.weight`, [r, inF]], [`${p}.lora_B.weight`, [outF, r]]);
    }
  }
  tensors.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape[0]! * shape[1]! * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let h = Buffer.from(JSON.stringify(header));
  h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const fd = fs.openSync(path.join(dir, 'adapter_model.safetensors'), 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, h);
  tensors.forEach(([, shape], i) => writeRandomF16(fd, shape[0]! * shape[1]!, 777 + i, 0.02));
  fs.closeSync(fd);
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: '..', r, lora_alpha: 2 * r, lora_dropout: 0,
    bias: 'none', fan_in_fan_out: false, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  }, null, 2));
}
