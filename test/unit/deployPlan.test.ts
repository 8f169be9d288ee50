// The deployment plan's numbers against real files: a merge written to a temp folder has exactly the planned bytes
// (merge_manifest.json aside), an exported GGUF exactly the planned file size, and the GGUF sizes equal those of
// llama.cpp's own files (test/fixtures/gguf/goldens.json). Plus the adapter-only plan when the base is missing and
// bad input refused naming the file.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planDeployment, type DeployPlan, type MergeDtype } from '../../src/core/deploy/plan';
import { CoreError } from '../../src/core/errors';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { tempDirPerTest } from '../support/tempDir';

const ROOT = path.resolve(__dirname, '..', '..');
const DEMO = path.join(ROOT, 'demo');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const STORIES = path.join(DEMO, 'models', 'stories260K');
const nodeFs = new NodeFs();

const demoPlan = (adapter: string, base?: string): Promise<DeployPlan> => planDeployment(nodeFs, path.join(DEMO, adapter), { base, workspaceFolders: [DEMO] });

/** Bytes of every file in `dir` except the merge manifest (its hashes and times are not planned). */
function outputBytes(dir: string, keep: (name: string) => boolean = (n) => n !== 'merge_manifest.json'): number {
  return fs.readdirSync(dir).filter(keep).reduce((s, n) => s + fs.statSync(path.join(dir, n)).size, 0);
}

async function mergeInto(out: string, adapter: string, base: string, dtype: MergeDtype): Promise<void> {
  const plan = await planMerge(nodeFs, { baseGiven: base, basePath: base, adapterGiven: adapter, adapterPath: adapter, dtype }, readTorchBinTensors);
  await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 'test', verify: false });
}

describe('deployment plan: sizes equal the files merge and gguf write', () => {
  const tmp = tempDirPerTest('lwb-deploy-');

  it('the demo checkpoint: base resolved, a float16 merge has exactly the planned bytes', async function () {
    this.timeout(60_000);
    const plan = await demoPlan('runs/stories-lora/checkpoint-100');
    assert.equal(plan.base.status, 'ok');
    assert.equal(plan.base.path, STORIES);
    assert.equal(plan.base.dtype, 'F32');
    const f16 = plan.merged.find((m) => m.dtype === 'float16')!;
    const out = path.join(tmp(), 'merged');
    await mergeInto(out, plan.adapterPath, STORIES, 'float16');
    assert.equal(f16.bytes, outputBytes(out));
    assert.equal(f16.weightsFileBytes, outputBytes(out, (n) => n.endsWith('.safetensors')));
    assert.deepEqual(plan.merged.map((m) => m.isBaseDtype), [true, false, false]);
  });

  it('f16 and q8_0 GGUF exports have exactly the planned file size', async function () {
    this.timeout(60_000);
    const plan = await demoPlan('runs/stories-lora/checkpoint-100');
    for (const type of ['f16', 'q8_0'] as const) {
      const planned = plan.gguf.find((g) => g.type === type)!;
      const out = path.join(tmp(), `${type}.gguf`);
      const exportPlan = await planGgufExport(nodeFs, { modelPath: STORIES, adapterPath: plan.adapterPath, type }, readTorchBinTensors);
      await runGgufExport(exportPlan, out, nodeFs, new ReferenceBackend(), { toolVersion: 'test' });
      assert.equal(planned.bytes, fs.statSync(out).size, type);
      assert.ok(planned.loadBytes! < planned.bytes! && planned.loadBytes! > 0.9 * planned.bytes!, `${type}: tensor data is most of the file`);
    }
  });

  it('a resized vocabulary (modules_to_save): merged bytes match the merge, GGUF sizes match llama.cpp\'s files', async function () {
    this.timeout(60_000);
    const alpaca = await demoPlan('runs/chinese-alpaca2-lora/checkpoint-80/sft_lora_model');
    const bf16 = alpaca.merged.find((m) => m.dtype === 'bfloat16')!;
    const out = path.join(tmp(), 'alpaca');
    await mergeInto(out, alpaca.adapterPath, STORIES, 'bfloat16');
    assert.equal(bf16.bytes, outputBytes(out));
    assert.ok(bf16.bytes! > alpaca.merged.find((m) => m.dtype === 'float16')!.bytes! - 1, 'bf16 and f16 weigh the same');

    const goldens = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gguf/goldens.json'), 'utf8')) as { cases: Record<string, Record<string, { size: number }>> };
    const resized = await planDeployment(nodeFs, path.join(FIXTURES, 'gguf/stories-resized'), { base: path.join(FIXTURES, 'stories260K') });
    for (const g of resized.gguf) assert.equal(g.bytes, goldens.cases['stories-resized-merged']![g.type]!.size, g.type);
  });

  it('a sharded bf16 base: its files include the index, a float32 merge has the planned bytes', async function () {
    this.timeout(60_000);
    const base = path.join(FIXTURES, 'merge/bases/llama_bf16_sharded');
    const plan = await planDeployment(nodeFs, path.join(FIXTURES, 'merge/adapters/lora'), { base });
    assert.equal(plan.base.dtype, 'BF16');
    assert.ok(plan.base.files.some((f) => f.name === 'model.safetensors.index.json'));
    assert.equal(plan.base.bytes, outputBytes(base));
    const out = path.join(tmp(), 'f32');
    await mergeInto(out, plan.adapterPath, base, 'float32');
    assert.equal(plan.merged[0]!.bytes, outputBytes(out));
  });
});

describe('deployment plan: the shared-base option and a missing base', () => {
  it('counts the adapter\'s deployable files, the run\'s adapters and N adapters on one base', async () => {
    const plan = await demoPlan('runs/stories-lora/checkpoint-100');
    const dir = plan.adapterPath;
    const names = plan.shared.adapterFiles.map((f) => f.name);
    assert.ok(names.includes('adapter_config.json') && names.includes('adapter_model.safetensors'));
    assert.ok(!names.includes('optimizer.pt'), 'training state is not deployed');
    assert.equal(plan.shared.adapterBytes, names.reduce((s, n) => s + fs.statSync(path.join(dir, n)).size, 0));
    assert.equal(plan.shared.runAdapters, 5, 'checkpoint-50..200 and the final adapter record the same base');
    const five = plan.shared.sharing.find((r) => r.adapters === 5)!;
    assert.equal(five.sharedBytes, plan.base.bytes! + 5 * plan.shared.adapterBytes);
    assert.equal(five.mergedBytes, 5 * plan.merged[0]!.bytes!);
    assert.ok(five.sharedBytes! < five.mergedBytes!, 'five adapters on one base take less disk than five merged models');
    assert.equal(plan.shared.loadBytes, plan.base.weightsBytes! + plan.shared.adapterWeightsBytes);
    assert.equal(plan.shared.recordsSharedPath, false, 'the demo records a relative path');
    assert.match(plan.merged[1]!.command, /^lora-workbench merge \S+checkpoint-100 --base \S+stories260K --out \S+checkpoint-100-merged-f16 --dtype float16$/);
    assert.match(plan.gguf.find((g) => g.type === 'q4_k_m')!.command, /^lora-workbench gguf \S+ --base \S+ --out \S+-q4_k_m\.gguf --type q4_k_m$/);
  });

  it('a base recorded on another machine: adapter numbers only, the reason, placeholders in the commands', async () => {
    const plan = await demoPlan('runs/stories-lora-colab/checkpoint-30');
    assert.equal(plan.base.status, 'missing');
    assert.match(plan.base.reason!.message, /\/content\/drive\/MyDrive\/models\/stories260K/);
    assert.ok(plan.shared.adapterBytes > 0);
    assert.equal(plan.shared.loadBytes, null);
    assert.ok(plan.merged.every((m) => m.bytes === null && m.error === plan.base.reason));
    assert.equal(plan.gguf.length, 9);
    assert.ok(plan.gguf.every((g) => g.bytes === null && g.command.includes('--base <base model folder>')));
  });

  it('an incompatible base is named with the diagnosis\' reason', async () => {
    const plan = await demoPlan('runs/stories-lora/checkpoint-100', path.join(DEMO, 'models', 'qwen3-tiny'));
    assert.equal(plan.base.status, 'incompatible');
    assert.ok(plan.base.reason!.message.length > 0);
    assert.ok(plan.merged.every((m) => m.bytes === null));
  });
});

describe('deployment plan: bad input names the file', () => {
  const tmp = tempDirPerTest('lwb-deploy-bad-');
  const rejects = async (dir: string, code: string, re: RegExp): Promise<void> => {
    await assert.rejects(planDeployment(nodeFs, dir), (e: unknown) => e instanceof CoreError && e.code === code && re.test(e.message));
  };

  it('no adapter_config.json, a malformed one, no weights', async () => {
    await rejects(tmp(), 'not-found', new RegExp(`${tmp()}: no adapter_config\\.json`));
    fs.writeFileSync(path.join(tmp(), 'adapter_config.json'), '{"peft_type": "LORA", ');
    await rejects(tmp(), 'bad-format', /adapter_config\.json: cannot plan a deployment/);
    fs.writeFileSync(path.join(tmp(), 'adapter_config.json'), '{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]}');
    await rejects(tmp(), 'not-found', new RegExp(`${tmp()}: no adapter weights`));
  });
});
