// A deterministic LLaMA with hidden size 256 (rows that are multiples of 256, so the K-quants and their per-layer mixes
// apply), generated on demand instead of committed (6 MB of f32): the GGUF goldens script and the golden test both call
// writeTinyLlama and so see the very same bytes. Tokenizer: stories260K's (vocab 512).
// Run directly to write one: npx tsx test/unit/ggufTinyModel.ts <folder>; with --dora or --lora, the adapter fixtures.

import * as fs from 'node:fs';
import * as path from 'node:path';

const fixtures = path.join(__dirname, '../fixtures');

export const TINY_CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 512, max_position_embeddings: 256, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, torch_dtype: 'float32', bos_token_id: 1, eos_token_id: 2,
};

/** Uniform values with a few outliers per row, from a 32-bit LCG: quantizer edge cases without a big fixture. */
function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32 - 0.5;
    out[i] = (i % 97 === 13 ? 8 : 1) * u * scale;
  }
  return out;
}

function tensors(c: typeof TINY_CONFIG = TINY_CONFIG): Array<[string, number[], Float32Array]> {
  const kv = (c.hidden_size / c.num_attention_heads) * c.num_key_value_heads;
  const list: Array<[string, number[], Float32Array]> = [];
  let seed = 1;
  const add = (name: string, shape: number[], scale: number, offset = 0): void => {
    const v = values(shape.reduce((a, b) => a * b, 1), seed++, scale);
    if (offset) for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]! + offset);
    list.push([name, shape, v]);
  };
  if (!c.tie_word_embeddings) add('lm_head.weight', [c.vocab_size, c.hidden_size], 0.1);
  add('model.embed_tokens.weight', [c.vocab_size, c.hidden_size], 0.1);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [c.hidden_size], 0.2, 1);
    add(`${p}mlp.down_proj.weight`, [c.hidden_size, c.intermediate_size], 0.05);
    add(`${p}mlp.gate_proj.weight`, [c.intermediate_size, c.hidden_size], 0.05);
    add(`${p}mlp.up_proj.weight`, [c.intermediate_size, c.hidden_size], 0.05);
    add(`${p}post_attention_layernorm.weight`, [c.hidden_size], 0.2, 1);
    add(`${p}self_attn.k_proj.weight`, [kv, c.hidden_size], 0.06);
    add(`${p}self_attn.o_proj.weight`, [c.hidden_size, c.hidden_size], 0.06);
    add(`${p}self_attn.q_proj.weight`, [c.hidden_size, c.hidden_size], 0.06);
    add(`${p}self_attn.v_proj.weight`, [kv, c.hidden_size], 0.06);
  }
  add('model.norm.weight', [c.hidden_size], 0.2, 1);
  return list;
}

/** The header of an F32 safetensors file holding tensors of these shapes back to back, and its data size. */
function f32Header(shapes: ReadonlyArray<readonly [string, readonly number[]]>): { header: Buffer; dataBytes: number } {
  const entries = shapes.map(([name, shape]) => [name, shape, shape.reduce((a, b) => a * b, 1) * 4] as const);
  const json: Record<string, unknown> = {};
  let off = 0;
  for (const [name, shape, bytes] of entries) {
    json[name] = { dtype: 'F32', shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return { header: Buffer.concat([len, Buffer.from(text)]), dataBytes: off };
}

function writeF32Safetensors(file: string, list: Array<[string, number[], Float32Array]>): void {
  const { header } = f32Header(list.map(([name, shape]) => [name, shape] as const));
  fs.writeFileSync(file, Buffer.concat([header, ...list.map(([, , d]) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))]));
}

/** Write the model folder (config, safetensors, stories260K's tokenizer files) into `dir`, which must exist. */
export function writeTinyLlama(dir: string): void {
  writeF32Safetensors(path.join(dir, 'model.safetensors'), tensors());
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(TINY_CONFIG, null, 2) + '\n');
  for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json']) {
    fs.copyFileSync(path.join(fixtures, 'stories260K', f), path.join(dir, f));
  }
}

/**
 * A chat variant of the hidden-256 model: tied embeddings (no lm_head: llama-quantize then treats token_embd as the
 * output), a vocabulary padded past the SentencePiece model with added tokens, a chat template, sampling defaults in
 * generation_config.json and a hub-style _name_or_path (organization and name heuristics).
 */
export function writeTinyChat(dir: string): void {
  const config = { ...TINY_CONFIG, vocab_size: 520, tie_word_embeddings: true, _name_or_path: 'acme-labs/TinyChat-256K-Instruct-v2' };
  writeF32Safetensors(path.join(dir, 'model.safetensors'), tensors(config));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  fs.copyFileSync(path.join(fixtures, 'stories260K', 'tokenizer.model'), path.join(dir, 'tokenizer.model'));
  const tokCfg = JSON.parse(fs.readFileSync(path.join(fixtures, 'stories260K', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  tokCfg.added_tokens_decoder = { ...(tokCfg.added_tokens_decoder as object), 512: { content: '<|im_start|>', special: true }, 513: { content: 'user\u2581name', special: false } };
  tokCfg.chat_template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}\n{% endfor %}";
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokCfg, null, 2));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2, do_sample: true, temperature: 0.7, top_p: 0.9, top_k: 40, repetition_penalty: 1.1 }));
  // A model card whose front matter the converter turns into general.* keys.
  fs.writeFileSync(path.join(dir, 'README.md'), [
    '---', 'license: apache-2.0', 'language:', '- en', '- zh', '- no', 'tags:', '- text-generation', '- llama', 'pipeline_tag: text-generation',
    'base_model: acme-labs/TinyBase-256K-v1.5', 'datasets:', '- roneneldan/TinyStories', '- https://huggingface.co/datasets/foo/bar-v2',
    'model_creator: Acme Labs', 'widget:', '  - text: "Once upon a time"', '---', '# TinyChat', '',
  ].join('\n'));
}

/**
 * The committed fixtures test/fixtures/gguf/stories-dora and stories-lora: a DoRA / plain LoRA adapter (r=4) on all of
 * stories260K's attention projections.
 */
export function writeStoriesAdapter(dir: string, dora: boolean): void {
  const list: Array<[string, number[], Float32Array]> = [];
  let seed = 16;
  const v = (n: number, scale: number, offset = 0): Float32Array => values(n, seed++, scale).map((x) => Math.fround(x + offset));
  for (let l = 0; l < 5; l++) {
    for (const [m, out] of [['q_proj', 64], ['k_proj', 32], ['v_proj', 32], ['o_proj', 64]] as const) {
      const pre = `base_model.model.model.layers.${l}.self_attn.${m}`;
      list.push([`${pre}.lora_A.weight`, [4, 64], v(4 * 64, 0.2)]);
      list.push([`${pre}.lora_B.weight`, [out, 4], v(out * 4, 0.2)]);
      if (dora) list.push([`${pre}.lora_magnitude_vector`, [out], v(out, 0.5, 1)]);
    }
  }
  writeF32Safetensors(path.join(dir, 'adapter_model.safetensors'), list);
  // PEFT's model card front matter (the adapter converter reads the adapter folder's card).
  fs.writeFileSync(path.join(dir, 'README.md'), ['---', 'base_model: ../../stories260K', 'library_name: peft', 'tags:', '- base_model:adapter:../../stories260K', '- lora', '---', '', '# Model Card', ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', base_model_name_or_path: '../../stories260K', r: 4, lora_alpha: 8, use_dora: dora, use_rslora: false,
    target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], bias: 'none', fan_in_fan_out: false, task_type: 'CAUSAL_LM',
    modules_to_save: null, lora_dropout: 0,
  }, null, 2) + '\n');
}

/**
 * The committed fixture test/fixtures/gguf/stories-resized: a LoRA on q/v plus modules_to_save embed_tokens and lm_head
 * resized to 520 rows, with its own tokenizer (two added tokens): the merge grows the vocabulary.
 */
export function writeStoriesResized(dir: string): void {
  const list: Array<[string, number[], Float32Array]> = [];
  let seed = 99;
  for (let l = 0; l < 5; l++) {
    for (const [m, out] of [['q_proj', 64], ['v_proj', 32]] as const) {
      const pre = `base_model.model.model.layers.${l}.self_attn.${m}`;
      list.push([`${pre}.lora_A.weight`, [4, 64], values(4 * 64, seed++, 0.2)]);
      list.push([`${pre}.lora_B.weight`, [out, 4], values(out * 4, seed++, 0.2)]);
    }
  }
  list.push(['base_model.model.model.embed_tokens.weight', [520, 64], values(520 * 64, seed++, 0.2)]);
  list.push(['base_model.model.lm_head.weight', [520, 64], values(520 * 64, seed++, 0.2)]);
  writeF32Safetensors(path.join(dir, 'adapter_model.safetensors'), list);
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', base_model_name_or_path: '../../stories260K', r: 4, lora_alpha: 8, use_dora: false, use_rslora: false,
    target_modules: ['q_proj', 'v_proj'], modules_to_save: ['embed_tokens', 'lm_head'], bias: 'none', fan_in_fan_out: false,
    task_type: 'CAUSAL_LM', lora_dropout: 0,
  }, null, 2) + '\n');
  fs.copyFileSync(path.join(fixtures, 'stories260K', 'tokenizer.model'), path.join(dir, 'tokenizer.model'));
  const tokCfg = JSON.parse(fs.readFileSync(path.join(fixtures, 'stories260K', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  tokCfg.added_tokens_decoder = { ...(tokCfg.added_tokens_decoder as object), 512: { content: '<|user|>', special: true }, 513: { content: '<|bot|>', special: true } };
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokCfg, null, 2));
}

/**
 * An 80-layer LLaMA with grouped-query attention (llama.cpp's "70B" for its quantize mix) at hidden size 256, its
 * weights all zero and stored sparse (the file is a header and a hole): only the tensor table matters, for the
 * per-layer type choice of llama-quantize on deep models. 31M parameters, no disk blocks.
 */
export function writeDeepSparse(dir: string): void {
  const c = { ...TINY_CONFIG, num_hidden_layers: 80, intermediate_size: 256 };
  const kv = (c.hidden_size / c.num_attention_heads) * c.num_key_value_heads;
  const shapes: Array<[string, number[]]> = [['lm_head.weight', [c.vocab_size, c.hidden_size]], ['model.embed_tokens.weight', [c.vocab_size, c.hidden_size]]];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.push([`${p}input_layernorm.weight`, [c.hidden_size]], [`${p}mlp.down_proj.weight`, [c.hidden_size, c.intermediate_size]],
      [`${p}mlp.gate_proj.weight`, [c.intermediate_size, c.hidden_size]], [`${p}mlp.up_proj.weight`, [c.intermediate_size, c.hidden_size]],
      [`${p}post_attention_layernorm.weight`, [c.hidden_size]], [`${p}self_attn.k_proj.weight`, [kv, c.hidden_size]],
      [`${p}self_attn.o_proj.weight`, [c.hidden_size, c.hidden_size]], [`${p}self_attn.q_proj.weight`, [c.hidden_size, c.hidden_size]],
      [`${p}self_attn.v_proj.weight`, [kv, c.hidden_size]]);
  }
  shapes.push(['model.norm.weight', [c.hidden_size]]);
  const { header, dataBytes } = f32Header(shapes);
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, header);
  fs.truncateSync(file, header.length + dataBytes);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c, null, 2) + '\n');
  for (const f of ['tokenizer.model', 'tokenizer_config.json']) fs.copyFileSync(path.join(fixtures, 'stories260K', f), path.join(dir, f));
}

if (require.main === module) {
  const [flag, dir] = process.argv[2]?.startsWith('--') ? [process.argv[2], process.argv[3]] : ['', process.argv[2]];
  if (!dir) throw new Error('usage: ggufTinyModel.ts [--dora|--lora|--chat|--resized|--deep] <folder>');
  fs.mkdirSync(dir, { recursive: true });
  if (flag === '--chat') writeTinyChat(dir);
  else if (flag === '--resized') writeStoriesResized(dir);
  else if (flag === '--deep') writeDeepSparse(dir);
  else if (flag) writeStoriesAdapter(dir, flag === '--dora');
  else writeTinyLlama(dir);
}
