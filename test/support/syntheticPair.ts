// A synthetic Llama-shaped base (`tensors` f32 [n, n] q_proj weights in one safetensors file) and a LoRA r=8 adapter
// on all of them: big enough for a merge to take a while (the e2e cancel test, the kill harness), small to write.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensorsHeader } from '../../src/core/safetensors/writer';

export interface SyntheticPair {
  readonly base: string;
  readonly adapter: string;
}

export function writeSyntheticPair(root: string, opts: { tensors: number; n: number }): SyntheticPair {
  const base = path.join(root, 'big-base');
  const adapter = path.join(root, 'big-adapter');
  fs.mkdirSync(base, { recursive: true });
  fs.mkdirSync(adapter, { recursive: true });
  const { n } = opts;
  const names = Array.from({ length: opts.tensors }, (_, i) => `model.layers.${i}.self_attn.q_proj`);
  const weight = Buffer.alloc(n * n * 4);
  for (let i = 0; i < n * n; i++) weight.writeFloatLE(((i * 2654435761) % 1000) / 1e4 - 0.05, i * 4);
  const fd = fs.openSync(path.join(base, 'model.safetensors'), 'w');
  fs.writeSync(fd, encodeSafetensorsHeader(names.map((m) => ({ name: `${m}.weight`, dtype: 'F32' as const, shape: [n, n] })), { format: 'pt' }));
  for (const _ of names) fs.writeSync(fd, weight);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(base, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: n, num_hidden_layers: opts.tensors, vocab_size: 32, torch_dtype: 'float32' }));
  const r = 8;
  const specs = names.flatMap((m) => [
    { name: `base_model.model.${m}.lora_A.weight`, dtype: 'F32' as const, shape: [r, n] },
    { name: `base_model.model.${m}.lora_B.weight`, dtype: 'F32' as const, shape: [n, r] },
  ]);
  const small = Buffer.alloc(r * n * 4, 0x3c); // ~0.0115 everywhere
  const afd = fs.openSync(path.join(adapter, 'adapter_model.safetensors'), 'w');
  fs.writeSync(afd, encodeSafetensorsHeader(specs, { format: 'pt' }));
  for (const _ of specs) fs.writeSync(afd, small);
  fs.closeSync(afd);
  fs.writeFileSync(path.join(adapter, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: 16, target_modules: ['q_proj'], base_model_name_or_path: base }, null, 2));
  return { base, adapter };
}
