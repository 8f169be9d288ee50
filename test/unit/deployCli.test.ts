// `lora-workbench plan`: the text and --json output on the demo (run from the demo folder, as a user would), exit 1
// with the adapter's numbers when the base is missing, exit 2 and a message naming the path on bad input.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliTranslate } from '../../src/cli/language';
import type { Translate } from '../../src/core/text';
import { runCliCaptured } from './cliHarness';
import { tempDirPerTest } from '../support/tempDir';

const DEMO = path.resolve(__dirname, '..', '..', 'demo');
const plan = (args: string[], translate?: Translate): ReturnType<typeof runCliCaptured> =>
  runCliCaptured(['plan', ...args], { cwd: DEMO, translate });

describe('lora-workbench plan', () => {
  const tmp = tempDirPerTest('lwb-plan-cli-');

  it('--json: the three options with sizes in bytes and their command lines', async () => {
    const r = await plan(['runs/stories-lora/checkpoint-100', '--json']);
    assert.equal(r.code, 0, r.err);
    const p = JSON.parse(r.out);
    assert.equal(p.base.status, 'ok');
    assert.equal(p.base.path, path.join(DEMO, 'models/stories260K'));
    assert.equal(p.base.reason, null);
    assert.ok(p.shared.adapterBytes > 0 && p.shared.runAdapters === 5);
    assert.deepEqual(p.merged.map((m: { dtype: string }) => m.dtype), ['float32', 'float16', 'bfloat16']);
    assert.ok(p.merged.every((m: { bytes: number; error: null }) => m.bytes > 0 && m.error === null));
    assert.deepEqual(p.gguf.map((g: { type: string }) => g.type), ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q5_0', 'q4_k_m', 'q5_k_m', 'q6_k']);
    assert.match(p.gguf[3].command, /^lora-workbench gguf \S+checkpoint-100 --base \S+ --out \S+checkpoint-100-q8_0\.gguf --type q8_0$/);
  });

  it('text: one section per option, sizes with exact bytes, the when-it-fits notes', async () => {
    const r = await plan(['runs/stories-lora/checkpoint-100']);
    assert.equal(r.code, 0, r.err);
    for (const re of [/\(a\) Adapter alone on a shared base/, /\(b\) Merged safetensors model/, /\(c\) GGUF file/, /5 \(this run\)/,
      /float16 +\d+\.\d KiB \(\d+ B\) +load/, /q4_k_m .* --type q4_k_m/, /several adapters share one base/, /Ollama/]) assert.match(r.out, re);
  });

  it('a base recorded on another machine: exit 1, the reason, the adapter\'s numbers; Chinese under LANG=zh_CN', async () => {
    const r = await plan(['runs/stories-lora-colab/checkpoint-30']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /not found: .*\/content\/drive\/MyDrive\/models\/stories260K/);
    assert.match(r.out, /adapter files: [\d.]+ KiB/);
    assert.match(r.out, /--base <base model folder>/);
    const zh = await plan(['runs/stories-lora-colab/checkpoint-30'], cliTranslate({ LANG: 'zh_CN.UTF-8' }, path.join(__dirname, '..', '..', 'src', 'cli')));
    assert.match(zh.out, /适合多个适配器共用一个基础模型/);
  });

  it('--base picks another base; usage and input errors exit 2 naming the path', async () => {
    const fixed = await plan(['runs/stories-lora-colab/checkpoint-30', '--base', 'models/stories260K', '--json']);
    assert.equal(fixed.code, 0, fixed.err);
    assert.equal(JSON.parse(fixed.out).base.status, 'ok');
    const usage = async (args: string[], re: RegExp, code = 2): Promise<void> => {
      const r = await plan(args);
      assert.equal(r.code, code, r.out);
      assert.match(r.err, re);
    };
    await usage([], /expected exactly one adapter folder/);
    await usage(['runs/nowhere'], /adapter runs\/nowhere: not found/);
    await usage(['runs/stories-lora/checkpoint-100', '--base', 'models/gone'], /--base models\/gone: not found/);
    await usage([tmp()], new RegExp(`${tmp()}: no adapter_config\\.json`));
    fs.writeFileSync(path.join(tmp(), 'adapter_config.json'), '{"peft_type": "LORA",');
    await usage([tmp()], /adapter_config\.json: cannot plan a deployment: JSON syntax error/, 1);
  });

  it('is listed in the help', async () => {
    const r = await runCliCaptured(['--help']);
    assert.match(r.out, /plan +Plan a deployment/);
    assert.match((await plan(['--help'])).out, /lora-workbench plan <adapter folder/);
  });
});
