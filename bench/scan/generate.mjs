// Generates the bench/scan tree: RUNS runs x CKPTS checkpoints laid out like HF Trainer + PEFT, each checkpoint with a
// real adapter_config.json, a real safetensors header (data left sparse: the scan never reads it), trainer_state.json
// and the usual optimizer/scheduler/RNG files. Usage: node bench/scan/generate.mjs [dir] [runs] [ckpts]
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';

export function generateTree(dir, runs = 2000, ckpts = 5) {
  rmSync(dir, { recursive: true, force: true });
  // A 7B-style LoRA: 32 layers x q/k/v/o, r=16, bf16 (a realistic header: 256 tensors, ~35 KB). Checkpoints of one run
  // share a byte-identical header, as Trainer writes them; runs differ (run id in __metadata__), so no header is shared
  // across runs and the scan's per-run header memo cannot inflate the result.
  const r = 16;
  const tensors = {};
  let off = 0;
  for (let l = 0; l < 32; l++) {
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
      for (const [ab, shape] of [['lora_A', [r, 4096]], ['lora_B', [4096, r]]]) {
        const n = shape[0] * shape[1] * 2;
        tensors[`base_model.model.model.layers.${l}.self_attn.${m}.${ab}.weight`] = { dtype: 'BF16', shape, data_offsets: [off, off + n] };
        off += n;
      }
    }
  }
  const headerFor = (run) => {
    const h = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt', run }, ...tensors }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h]);
  };
  const config = JSON.stringify({
    alpha_pattern: {}, base_model_name_or_path: 'meta-llama/Llama-2-7b-hf', bias: 'none', fan_in_fan_out: false, inference_mode: true,
    lora_alpha: 32, lora_dropout: 0.05, modules_to_save: null, peft_type: 'LORA', r, rank_pattern: {}, revision: null,
    target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], task_type: 'CAUSAL_LM', use_dora: false, use_rslora: false,
  }, null, 2);
  const state = (step) => JSON.stringify({
    global_step: step, max_steps: ckpts * 100, best_global_step: 200, best_metric: 1.0,
    log_history: Array.from({ length: step / 10 }, (_, i) => ({ step: (i + 1) * 10, loss: 2 / (i + 2), learning_rate: 1e-4, grad_norm: 1, epoch: i / 100 })),
  }, null, 2);
  const weights = (p, headerBytes) => {
    const fd = openSync(p, 'w');
    writeSync(fd, headerBytes);
    ftruncateSync(fd, headerBytes.length + off); // sparse data section
    closeSync(fd);
  };
  for (let i = 0; i < runs; i++) {
    const run = join(dir, `project-${String(i % 40).padStart(2, '0')}`, `run-${i}`);
    const headerBytes = headerFor(`run-${i}`);
    for (let c = 1; c <= ckpts; c++) {
      const ck = join(run, `checkpoint-${c * 100}`);
      mkdirSync(ck, { recursive: true });
      writeFileSync(join(ck, 'adapter_config.json'), config);
      weights(join(ck, 'adapter_model.safetensors'), headerBytes);
      writeFileSync(join(ck, 'trainer_state.json'), state(c * 100));
      for (const f of ['optimizer.pt', 'scheduler.pt', 'rng_state.pth', 'training_args.bin']) writeFileSync(join(ck, f), 'x');
    }
    writeFileSync(join(run, 'adapter_config.json'), config);
    weights(join(run, 'adapter_model.safetensors'), headerBytes);
    writeFileSync(join(run, 'trainer_state.json'), state(ckpts * 100));
  }
  return { dir, runs, ckpts, adapterBytes: headerFor('run-0').length + off };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const [dir = 'bench/.tmp/scan-tree', runs = '2000', ckpts = '5'] = process.argv.slice(2);
  const t0 = Date.now();
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  generateTree(dir, Number(runs), Number(ckpts));
  console.log(`generated ${runs} runs x ${ckpts} checkpoints in ${dir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
