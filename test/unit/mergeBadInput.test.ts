// Bad input for the merge: every failure is a clear CoreError, raised before anything is written or followed by the
// removal of the temporary folder (no partial output, inputs untouched).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CoreError } from '../../src/core/errors';
import { planMerge, type MergePlan } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import type { ByteSink, WritableFsPort } from '../../src/core/ports';
import { encodeSafetensorsHeader } from '../../src/core/safetensors/writer';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const ROOT = path.resolve(__dirname, '../fixtures/merge');
const nodeFs = new NodeFs();

function inputs(base: string, adapter: string, extra: Partial<{ shardSize: number }> = {}) {
  const basePath = path.join(ROOT, 'bases', base);
  const adapterPath = adapter.startsWith('/') ? adapter : path.join(ROOT, 'adapters', adapter);
  return { baseGiven: basePath, basePath, adapterGiven: adapterPath, adapterPath, ...extra };
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<CoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CoreError, `expected CoreError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected a '${code}' error`);
}

function snapshot(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** Copy an adapter fixture into a temp folder, letting the test rewrite its config or tensors. */
function cloneAdapter(tmp: string, name: string, edit: (cfg: Record<string, unknown>) => void): string {
  const dst = path.join(tmp, `adapter-${name}-${Math.random().toString(36).slice(2)}`);
  fs.cpSync(path.join(ROOT, 'adapters', name), dst, { recursive: true });
  const cfgPath = path.join(dst, 'adapter_config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  edit(cfg);
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  return dst;
}

/** WritableFsPort double: real NodeFs, but writes fail with ENOSPC after `budget` bytes. */
class DiskFullFs extends NodeFs {
  written = 0;
  constructor(private readonly budget: number) { super(); }
  override async create(p: string): Promise<ByteSink> {
    const sink = await super.create(p);
    const self = this;
    return {
      path: sink.path,
      async write(data: Uint8Array) {
        if (self.written + data.length > self.budget) throw new CoreError('no-space', `${p}: no space left on the device.`, p);
        self.written += data.length;
        await sink.write(data);
      },
      close: () => sink.close(),
    };
  }
}

describe('merge: bad input', () => {
  let tmp: string;
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-bad-')); });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('refuses an adapter that does not fit the base before writing anything', async () => {
    await rejectsWith(planMerge(nodeFs, inputs('gpt2_f32', 'lora'), readTorchBinTensors), 'incompatible', /q_proj/);
    assert.deepEqual(snapshot(tmp), []);
  });

  it('refuses layer_replication, non-LoRA and MLX configs, and GPTQ bases', async () => {
    const rep = cloneAdapter(tmp, 'lora', (c) => { c.layer_replication = [[0, 2], [1, 2]]; });
    await rejectsWith(planMerge(nodeFs, inputs('llama_f32', rep), readTorchBinTensors), 'unsupported', /layer_replication/);
    const ia3 = cloneAdapter(tmp, 'lora', (c) => { c.peft_type = 'IA3'; });
    await rejectsWith(planMerge(nodeFs, inputs('llama_f32', ia3), readTorchBinTensors), 'unsupported', /IA3/);
    const gptq = path.join(tmp, 'gptq');
    fs.cpSync(path.join(ROOT, 'bases', 'llama_f32'), gptq, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(gptq, 'config.json'), 'utf8'));
    cfg.quantization_config = { quant_method: 'gptq', bits: 4 };
    fs.writeFileSync(path.join(gptq, 'config.json'), JSON.stringify(cfg));
    const adapterPath = path.join(ROOT, 'adapters', 'lora');
    await rejectsWith(planMerge(nodeFs, { baseGiven: gptq, basePath: gptq, adapterGiven: adapterPath, adapterPath }, readTorchBinTensors), 'unsupported', /GPTQ/);
  });

  it('drops a bitsandbytes quantization_config when the weights are 16-bit, with a warning', async () => {
    const bnb = path.join(tmp, 'bnb');
    fs.cpSync(path.join(ROOT, 'bases', 'llama_f32'), bnb, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(bnb, 'config.json'), 'utf8'));
    cfg.quantization_config = { quant_method: 'bitsandbytes', load_in_4bit: true };
    fs.writeFileSync(path.join(bnb, 'config.json'), JSON.stringify(cfg));
    const adapterPath = path.join(ROOT, 'adapters', 'lora');
    const plan = await planMerge(nodeFs, { baseGiven: bnb, basePath: bnb, adapterGiven: adapterPath, adapterPath }, readTorchBinTensors);
    assert.equal(plan.outConfig?.quantization_config, undefined);
    assert.ok(plan.warnings.some((w) => /quantization_config \(bitsandbytes\)/.test(w)));
  });

  it('refuses a rank that disagrees with the config', async () => {
    const bad = cloneAdapter(tmp, 'lora', (c) => { c.r = 8; });
    await rejectsWith(planMerge(nodeFs, inputs('llama_f32', bad), readTorchBinTensors), 'bad-format', /rank 4/);
  });

  it('refuses a pickle that would execute code, and runs nothing', async () => {
    try { fs.rmSync('/tmp/lora-workbench-pwned'); } catch { /* absent */ }
    await rejectsWith(planMerge(nodeFs, inputs('llama_f32', 'malicious'), readTorchBinTensors), 'bad-format', /posix\.system|os\.system/);
    await rejectsWith(readTorchBinTensors(nodeFs, path.join(ROOT, 'eval.bin')), 'bad-format', /builtins?__\.eval|builtins\.eval/);
    assert.equal(fs.existsSync('/tmp/lora-workbench-pwned'), false);
  });

  it('refuses a non-empty output folder, and one inside the base or the adapter', async () => {
    const plan = await planMerge(nodeFs, inputs('llama_f32', 'lora'), readTorchBinTensors);
    const full = path.join(tmp, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'x'), 'x');
    await rejectsWith(runMerge(plan, full, nodeFs, new ReferenceBackend(), { toolVersion: 't' }), 'exists');
    await rejectsWith(runMerge(plan, path.join(plan.inputs.basePath, 'merged'), nodeFs, new ReferenceBackend(), { toolVersion: 't' }), 'usage', /inside the base/);
    await rejectsWith(runMerge(plan, path.join(plan.inputs.adapterPath, 'merged'), nodeFs, new ReferenceBackend(), { toolVersion: 't' }), 'usage', /inside the adapter/);
    assert.equal(fs.existsSync(path.join(plan.inputs.basePath, 'merged')), false);
  });

  it('accepts an existing empty output folder', async () => {
    const plan = await planMerge(nodeFs, inputs('llama_f32', 'lora'), readTorchBinTensors);
    const out = path.join(tmp, 'empty');
    fs.mkdirSync(out);
    await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 't' });
    assert.ok(fs.existsSync(path.join(out, 'model.safetensors.index.json')));
  });

  it('disk full mid-way: a clear no-space error and no partial output', async () => {
    const plan = await planMerge(nodeFs, inputs('llama_bf16_sharded', 'rslora_patterns', { shardSize: 2000 }), readTorchBinTensors);
    const out = path.join(tmp, 'out');
    const fsFull = new DiskFullFs(5000);
    await rejectsWith(runMerge(plan, out, fsFull, new ReferenceBackend(), { toolVersion: 't' }), 'no-space', /no space/);
    assert.ok(fsFull.written > 0, 'the failure happened mid-way');
    assert.deepEqual(snapshot(tmp), [], 'no output and no temporary folder left');
  });

  it('free-space check fails before anything is written', async () => {
    const plan = await planMerge(nodeFs, inputs('llama_f32', 'lora'), readTorchBinTensors);
    const small = new (class extends NodeFs { override async freeSpace(): Promise<number> { return 1000; } })();
    await rejectsWith(runMerge(plan, path.join(tmp, 'out'), small as WritableFsPort, new ReferenceBackend(), { toolVersion: 't' }), 'no-space', /GB free/);
    assert.deepEqual(snapshot(tmp), []);
  });

  it('cancel mid-way leaves nothing behind', async () => {
    const plan = await planMerge(nodeFs, inputs('llama_bf16_sharded', 'rslora_patterns', { shardSize: 2000 }), readTorchBinTensors);
    const controller = new AbortController();
    let seen = 0;
    await rejectsWith(runMerge(plan, path.join(tmp, 'out'), nodeFs, new ReferenceBackend(), {
      toolVersion: 't', signal: controller.signal,
      onProgress: () => { if (++seen === 5) controller.abort(); },
    }), 'cancelled');
    assert.deepEqual(snapshot(tmp), []);
  });

  it('a non-finite merge result is an error naming the tensor', async () => {
    const dst = cloneAdapter(tmp, 'lora', (c) => { c.lora_alpha = 1e300; });
    const plan: MergePlan = await planMerge(nodeFs, inputs('llama_bf16_sharded', dst), readTorchBinTensors);
    const out = path.join(tmp, 'out');
    const e = await rejectsWith(runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 't' }), 'non-finite', /q_proj\.weight/);
    assert.match(e.message, /\[\d+, \d+\]/);
    assert.equal(fs.existsSync(out), false);
    assert.equal(fs.readdirSync(tmp).filter((n) => n.startsWith('.out')).length, 0);
  });

  it('refuses lora tensors whose safetensors header lies about their size', async () => {
    const dst = cloneAdapter(tmp, 'lora', () => undefined);
    const file = path.join(dst, 'adapter_model.safetensors');
    const header = encodeSafetensorsHeader([{ name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', dtype: 'F32', shape: [4, 16] }], {});
    fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(100)]));
    await rejectsWith(planMerge(nodeFs, inputs('llama_f32', dst), readTorchBinTensors), 'bad-format', /truncated/);
  });

  it('warns where the config and the base disagree (fan_in_fan_out, layers_to_transform)', async () => {
    const conv = await planMerge(nodeFs, inputs('gpt2_f32', 'conv1d'), readTorchBinTensors);
    assert.ok(conv.warnings.some((w) => /fan_in_fan_out=false/.test(w)));
    assert.ok(conv.tensors.filter((t) => t.op.kind === 'lora').every((t) => t.op.kind === 'lora' && t.op.layout === 'conv1d'));
    const layers = await planMerge(nodeFs, inputs('llama_f32', 'layers'), readTorchBinTensors);
    assert.equal(layers.warnings.filter((w) => /layers_to_transform/.test(w)).length, 2);
  });

  it('resized vocabulary: vocab_size updated, tokenizer from the adapter', async () => {
    const plan = await planMerge(nodeFs, inputs('llama_bf16_sharded', 'resized_vocab'), readTorchBinTensors);
    assert.equal(plan.outConfig?.vocab_size, 40);
    assert.equal(plan.tokenizerFrom, 'adapter');
    const out = path.join(tmp, 'out');
    await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 't' });
    const tok = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8'));
    assert.match(tok.chat_template, /adapter/);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(cfg.vocab_size, 40);
    assert.equal(cfg.torch_dtype, 'bfloat16');
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'merge_manifest.json'), 'utf8'));
    assert.equal(manifest.base.files.length, 3);
    assert.match(manifest.base.files[0].xxh32, /^[0-9a-f]{8}$/);
    assert.equal(manifest.settings.tokenizerFrom, 'adapter');
  });

  it('--dtype converts every float tensor and records torch_dtype', async () => {
    const plan = await planMerge(nodeFs, { ...inputs('llama_bf16_sharded', 'lora'), dtype: 'float16' }, readTorchBinTensors);
    assert.ok(plan.tensors.every((t) => t.dtype === 'F16'));
    const out = path.join(tmp, 'out');
    const res = await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 't' });
    assert.equal(res.verified, true);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype, 'float16');
  });
});
