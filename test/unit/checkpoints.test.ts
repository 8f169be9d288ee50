// Checkpoint scan over the committed fixture tree (test/fixtures/checkpoints/tree): every layout and every broken
// artifact of issue 3. Regenerate the tree with test/fixtures/checkpoints/generate.mjs.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Checkpoint, HealthCode, Run, ScanResult } from '../../src/core/checkpoints/model';
import { summarizeSafetensorsHeader } from '../../src/core/checkpoints/headerSummary';
import { allHealth, scanCheckpoints, standaloneAdapters } from '../../src/core/checkpoints/scan';
import { absolutePath, NodeFs } from '../../src/node/nodeFs';

const TREE = absolutePath(path.join(__dirname, '..', 'fixtures', 'checkpoints', 'tree'));

function run(result: ScanResult, rel: string): Run {
  const r = result.runs.find((x) => x.path === `${TREE}/${rel}`);
  assert.ok(r, `run ${rel} not found among ${result.runs.map((x) => x.path).join(', ')}`);
  return r;
}

function ckpt(r: Run, name: string): Checkpoint {
  const c = r.checkpoints.find((x) => x.name === name);
  assert.ok(c, `checkpoint ${name} not in ${r.path}`);
  return c;
}

function codes(c: Checkpoint): HealthCode[] {
  return c.health.map((h) => h.code);
}

describe('checkpoint scan (fixture tree)', () => {
  let result: ScanResult;
  before(async () => {
    result = await scanCheckpoints(new NodeFs(), [TREE]);
  });

  it('finds the HF Trainer run with checkpoints in numeric step order and the final adapter last', () => {
    const r = run(result, 'hf-run');
    assert.equal(r.kind, 'hf-trainer');
    assert.deepEqual(r.checkpoints.map((c) => c.name), ['checkpoint-100', 'checkpoint-200', 'checkpoint-1000', 'hf-run']);
    assert.deepEqual(r.checkpoints.map((c) => c.step), [100, 200, 1000, 1000]);
    assert.equal(r.checkpoints[3]!.final, true);
    assert.equal(r.trainerState, `${TREE}/hf-run/trainer_state.json`);
    assert.equal(r.globalStep, 1000);
  });

  it('marks best_global_step as best and reads loss/eval loss at each step', () => {
    const r = run(result, 'hf-run');
    assert.equal(r.bestStep, 200);
    assert.deepEqual(r.checkpoints.filter((c) => c.best).map((c) => c.name), ['checkpoint-200']);
    const c = ckpt(r, 'checkpoint-200');
    assert.equal(c.metrics.evalLoss, 1.0);
    assert.ok(Math.abs(c.metrics.loss! - 3 / Math.log(202)) < 1e-12);
    assert.equal(c.metrics.epoch, 0.2);
    assert.ok(c.metrics.learningRate! > 0);
  });

  it('takes the best step from a Windows best_model_checkpoint path when best_global_step is absent', () => {
    const r = run(result, 'old-trainer');
    assert.equal(r.bestStep, 50);
    assert.equal(ckpt(r, 'checkpoint-50').best, true);
    assert.equal(ckpt(r, 'checkpoint-50').adapter?.variant, 'dora');
  });

  it('describes adapters from config + safetensors header: variant, r, alpha, scaling, params, dtype, files', () => {
    const r = run(result, 'hf-run');
    const final = ckpt(r, 'hf-run').adapter!;
    assert.equal(final.variant, 'rslora');
    assert.equal(final.scaling, 8 / 2); // alpha / sqrt(r)
    const a = ckpt(r, 'checkpoint-100').adapter!;
    assert.equal(a.format, 'peft');
    assert.equal(a.peftType, 'LORA');
    assert.equal(a.variant, 'lora');
    assert.equal(a.r, 4);
    assert.equal(a.alpha, 16);
    assert.equal(a.scaling, 4);
    assert.deepEqual(a.targetModules, ['q_proj', 'v_proj']);
    assert.equal(a.baseModel, '/content/models/stories260K');
    assert.equal(a.weightsFile, 'adapter_model.safetensors');
    assert.equal(a.params, 2 * 2 * (4 * 64 + 64 * 4));
    assert.equal(a.dtype, 'F32');
    assert.equal(a.tensorCount, 8);
    const files = ckpt(r, 'checkpoint-100').files;
    assert.equal(files.optimizer, true);
    assert.equal(files.scheduler, true);
    assert.equal(files.rngState, true);
    assert.equal(files.tokenizer, true);
    assert.equal(files.trainerState, true);
    assert.deepEqual(ckpt(r, 'checkpoint-100').health, []);
  });

  it('recognises Chinese-LLaMA-Alpaca-2 sft_lora_model inside checkpoints and at the run root', () => {
    const r = run(result, 'chinese-alpaca');
    assert.equal(r.kind, 'chinese-llama-alpaca-2');
    assert.deepEqual(r.checkpoints.map((c) => c.name), ['checkpoint-500', 'checkpoint-1000', 'sft_lora_model']);
    const a = ckpt(r, 'checkpoint-500').adapter!;
    assert.equal(a.path, `${TREE}/chinese-alpaca/checkpoint-500/sft_lora_model`);
    assert.equal(a.weightsFile, 'adapter_model.bin');
    assert.equal(a.alpha, 128);
    assert.deepEqual(a.modulesToSave, ['embed_tokens', 'lm_head']);
    assert.equal(a.params, null); // .bin: no header-only parameter count
    assert.deepEqual(a.health, []);
    assert.equal(ckpt(r, 'checkpoint-500').best, true); // lowest eval loss
    const pt = result.adapters.find((x) => x.path.endsWith('/pt_lora_model'));
    assert.equal(pt?.layout, 'chinese-llama-alpaca-2');
  });

  it('recognises unsloth lora_model, LLaMA-Factory saves, axolotl merged/ and DeepSpeed layouts', () => {
    const uns = result.adapters.find((x) => x.path === `${TREE}/unsloth/lora_model`);
    assert.equal(uns?.layout, 'unsloth');
    assert.equal(uns?.r, 16);
    const lf = run(result, 'LLaMA-Factory/saves/Qwen2-0.5B/lora/train_2024-06-01');
    assert.equal(lf.kind, 'llama-factory');
    assert.deepEqual(lf.checkpoints.map((c) => c.step), [10, 20, 20]);
    const ax = run(result, 'axolotl-out');
    assert.equal(ax.kind, 'axolotl');
    assert.equal(ax.mergedModel, `${TREE}/axolotl-out/merged`);
    const ds = run(result, 'ds-run');
    assert.equal(ckpt(ds, 'checkpoint-40').files.deepspeed, 'global_step40');
    assert.deepEqual(ckpt(ds, 'checkpoint-40').health, []);
    const dsOnly = run(result, 'ds-only');
    assert.equal(dsOnly.kind, 'deepspeed');
    assert.deepEqual(dsOnly.checkpoints.map((c) => [c.name, c.step]), [['global_step10', 10], ['global_step20', 20]]);
    assert.deepEqual(codes(ckpt(dsOnly, 'global_step20')), ['missing-adapter']);
    assert.match(ckpt(dsOnly, 'global_step20').health[0]!.message, /zero_to_fp32\.py/);
  });

  it('lists full models with architecture, dtype and header-derived parameter count, skipping non-model config.json', () => {
    const paths = result.models.map((m) => m.path);
    assert.deepEqual(paths, [`${TREE}/axolotl-out/merged`, `${TREE}/models/tiny-llama`]);
    const m = result.models[1]!;
    assert.equal(m.architecture, 'LlamaForCausalLM');
    assert.equal(m.dtype, 'bfloat16');
    assert.equal(m.params, 32 * 64 + 64 * 64 + 32 * 64);
    assert.equal(m.layout, 'safetensors-sharded');
  });

  it('recognises MLX adapters as "MLX adapter (not PEFT)" without misparsing them', () => {
    const a = result.adapters.find((x) => x.path === `${TREE}/mlx/adapters`)!;
    assert.equal(a.format, 'mlx');
    assert.equal(a.peftType, null);
    assert.equal(a.r, 8);
    assert.equal(a.alpha, null);
    assert.equal(a.scaling, 20);
    assert.equal(a.weightsFile, 'adapters.safetensors');
    assert.equal(a.baseModel, 'mlx-community/Mistral-7B-Instruct-v0.3-4bit');
    assert.deepEqual(a.health.map((h) => [h.code, h.severity]), [['mlx-adapter', 'info']]);
    assert.match(a.health[0]!.message, /MLX adapter \(not PEFT\)/);
  });

  it('reports each broken artifact with its code, severity and file', () => {
    const r = run(result, 'broken-run');
    const expect: Array<[string, HealthCode, string]> = [
      ['checkpoint-1', 'lfs-pointer', 'adapter_model.safetensors'],
      ['checkpoint-2', 'truncated', 'adapter_model.safetensors'],
      ['checkpoint-3', 'truncated', 'adapter_model.safetensors'],
      ['checkpoint-4', 'malformed', 'adapter_model.safetensors'],
      ['checkpoint-5', 'empty-tensors', 'adapter_model.safetensors'],
      ['checkpoint-6', 'empty-tensors', 'adapter_model.safetensors'],
      ['checkpoint-7', 'tiny-weights', 'adapter_model.bin'],
      ['checkpoint-8', 'truncated', 'adapter_model.bin'],
      ['checkpoint-9', 'missing-adapter', ''],
      ['checkpoint-10', 'missing-weights', 'adapter_config.json'],
      ['checkpoint-11', 'missing-config', 'adapter_model.safetensors'],
      ['checkpoint-12', 'bad-config', 'adapter_config.json'],
      ['checkpoint-13', 'bad-config', 'adapter_config.json'],
      ['checkpoint-14', 'rank-mismatch', 'adapter_model.safetensors'],
    ];
    for (const [name, code, file] of expect) {
      const c = ckpt(r, name);
      assert.deepEqual(codes(c), [code], `${name}: ${JSON.stringify(c.health)}`);
      assert.equal(c.health[0]!.file, file ? `${TREE}/broken-run/${name}/${file}` : `${TREE}/broken-run/${name}`);
      assert.equal(c.health[0]!.severity, code === 'missing-adapter' || code === 'rank-mismatch' ? 'warning' : 'error', name);
    }
    assert.match(ckpt(r, 'checkpoint-1').health[0]!.message, /git lfs pull/);
    assert.match(ckpt(r, 'checkpoint-5').health[0]!.message, /ZeRO-3/);
    assert.match(ckpt(r, 'checkpoint-8').health[0]!.message, /end-of-central-directory/);
    assert.match(ckpt(r, 'checkpoint-13').health[0]!.message, /not UTF-8/);
    // A broken trainer_state.json is a warning on the run, and checkpoints still list (without metrics).
    assert.deepEqual(r.health.map((h) => h.code), ['bad-trainer-state']);
    assert.equal(r.checkpoints.length, 14);
  });

  it('skips node_modules by default and reports every finding once in allHealth', () => {
    assert.ok(!result.adapters.some((a) => a.path.includes('node_modules')));
    const all = allHealth(result);
    const keys = all.map((h) => `${h.file}|${h.code}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(all.some((h) => h.code === 'tiny-weights'));
  });

  it('puts adapters inside runs in `adapters` too, and separates standalone ones', () => {
    assert.ok(result.adapters.some((a) => a.path === `${TREE}/hf-run/checkpoint-100`));
    const standalone = standaloneAdapters(result).map((a) => a.path.slice(TREE.length + 1));
    assert.deepEqual(standalone, ['chinese-pt/pt_lora_model', 'mlx/adapters', 'unsloth/lora_model']);
  });

  it('honours include and exclude globs and the depth limit', async () => {
    const fs = new NodeFs();
    const inc = await scanCheckpoints(fs, [TREE], { include: ['hf-run'] });
    assert.deepEqual(inc.runs.map((r) => r.name), ['hf-run']);
    assert.ok(inc.adapters.every((a) => a.path.startsWith(`${TREE}/hf-run`)));
    const exc = await scanCheckpoints(fs, [TREE], { exclude: ['**/broken-run', 'LLaMA-Factory/**'] });
    assert.ok(!exc.runs.some((r) => r.name === 'broken-run' || r.kind === 'llama-factory'));
    const shallow = await scanCheckpoints(fs, [TREE], { maxDepth: 1 });
    assert.ok(!shallow.runs.some((r) => r.kind === 'llama-factory'));
    assert.equal(shallow.problems.filter((p) => p.code === 'depth-limit').length, 1);
  });

  it('scans a single checkpoint folder given as the root', async () => {
    const one = await scanCheckpoints(new NodeFs(), [`${TREE}/hf-run/checkpoint-200`]);
    assert.equal(one.runs.length, 1);
    assert.deepEqual(one.runs[0]!.checkpoints.map((c) => c.step), [200]);
    assert.equal(one.runs[0]!.checkpoints[0]!.metrics.evalLoss, 1.0);
  });
});

describe('safetensors header summary memo (byte-keyed)', () => {
  const header = (shape: [number, number], pad: string): Uint8Array =>
    new TextEncoder().encode(JSON.stringify({ __metadata__: { pad }, 'm.lora_A.weight': { dtype: 'BF16', shape, data_offsets: [0, 64] } }));

  it('tells apart same-length headers that differ only in the middle (past the hashed prefix, before the hashed tail)', () => {
    const pad = 'x'.repeat(2000);
    const a = header([4, 8], pad);
    const b = header([8, 4], pad);
    assert.equal(a.length, b.length);
    const size = 8 + a.length + 64;
    const sa = summarizeSafetensorsHeader('a', a, size);
    const sb = summarizeSafetensorsHeader('b', b, size);
    assert.deepEqual(sa.loraARanks, [['m.lora_A.weight', 4]]);
    assert.deepEqual(sb.loraARanks, [['m.lora_A.weight', 8]]);
    // Hits return the stored summaries, also for an unaligned copy of the bytes.
    const unaligned = new Uint8Array(a.length + 1).subarray(1);
    unaligned.set(a);
    assert.equal(summarizeSafetensorsHeader('a2', unaligned, size), sa);
    assert.equal(summarizeSafetensorsHeader('b2', b.slice(), size), sb);
    // Same bytes but a smaller data section is checked again (and fails), not served from the memo.
    assert.throws(() => summarizeSafetensorsHeader('a3', a, 8 + a.length + 4));
  });
});

describe('checkpoint scan while HF Trainer is saving', () => {
  it('never lists tmp-checkpoint-N (a checkpoint being written) as a run, a checkpoint or a problem', async () => {
    const fsNode = await import('node:fs');
    const os = await import('node:os');
    const root = fsNode.mkdtempSync(path.join(os.tmpdir(), 'lw-tmpckpt-'));
    try {
      fsNode.cpSync(`${TREE}/hf-run`, path.join(root, 'hf-run'), { recursive: true });
      // Trainer's staging folder: a partial copy of the next checkpoint (config written, weights not yet).
      const tmp = path.join(root, 'hf-run', 'tmp-checkpoint-1250');
      fsNode.mkdirSync(tmp);
      fsNode.copyFileSync(path.join(root, 'hf-run', 'checkpoint-1000', 'adapter_config.json'), path.join(tmp, 'adapter_config.json'));
      const res = await scanCheckpoints(new NodeFs(), [absolutePath(root)]);
      const everything = JSON.stringify({ runs: res.runs, adapters: standaloneAdapters(res), health: allHealth(res) });
      assert.ok(!everything.includes('tmp-checkpoint-1250'), everything.slice(0, 400));
      fsNode.renameSync(tmp, path.join(root, 'hf-run', 'checkpoint-1250'));
      const after = await scanCheckpoints(new NodeFs(), [absolutePath(root)]);
      const names = after.runs.find((r) => r.path.endsWith('/hf-run'))!.checkpoints.map((c) => c.name);
      assert.ok(names.includes('checkpoint-1250'), names.join(', '));
    } finally {
      fsNode.rmSync(root, { recursive: true, force: true });
    }
  });
});
