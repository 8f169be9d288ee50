// Pre-quantized bases: names that say so (unsloth -bnb-4bit, GPTQ, AWQ) map to their 16-bit originals, and the
// diagnosis explains that a QLoRA adapter merges into the original and offers it as a quick fix that edits the config.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { diagnoseAdapter } from '../../src/core/basemodel/diagnose';
import { editsForFix } from '../../src/core/basemodel/fixEdits';
import { quantizedBaseName } from '../../src/core/basemodel/quantizedName';
import { makeAdapter, makeBase, tempDir, testFs, TINY } from '../fixtures/diagnose/build';

describe('pre-quantized bases', () => {
  it('recognises the naming conventions and proposes the originals', () => {
    assert.deepEqual(quantizedBaseName('unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit'),
      { method: 'bitsandbytes', originals: ['unsloth/Meta-Llama-3.1-8B-Instruct', 'meta-llama/Meta-Llama-3.1-8B-Instruct'] });
    assert.deepEqual(quantizedBaseName('unsloth/qwen2.5-7b-instruct-unsloth-bnb-4bit'),
      { method: 'bitsandbytes', originals: ['unsloth/qwen2.5-7b-instruct', 'Qwen/qwen2.5-7b-instruct'] });
    assert.deepEqual(quantizedBaseName('unsloth/gemma-2-9b-it-bnb-4bit')?.originals, ['unsloth/gemma-2-9b-it', 'google/gemma-2-9b-it']);
    assert.deepEqual(quantizedBaseName('Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4'), { method: 'gptq', originals: ['Qwen/Qwen2.5-7B-Instruct'] });
    assert.equal(quantizedBaseName('TheBloke/Mistral-7B-Instruct-v0.2-AWQ')?.method, 'awq');
    for (const plain of ['meta-llama/Meta-Llama-3.1-8B-Instruct', 'Qwen/Qwen3-0.6B', '/models/llama-bnb-4bit', 'bnb-4bit']) {
      assert.equal(quantizedBaseName(plain), null, plain);
    }
  });

  it('a bnb-4bit base name gets the warning and "use the 16-bit original" fixes that rewrite the config', async () => {
    const ws = tempDir('quant-ws-');
    const d = await diagnoseAdapter(testFs(tempDir('quant-home-')), makeAdapter(path.join(ws, 'a'), { base: 'unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit' }));
    const p = d.problems.find((x) => x.code === 'base-model-quantized')!;
    assert.equal(p.severity, 'warning');
    assert.match(p.message, /QLoRA adapter merges into the original 16-bit weights.*meta-llama\/Meta-Llama-3\.1-8B-Instruct/);
    assert.deepEqual(p.fixes.filter((f) => f.kind === 'use-original').map((f) => (f as { hubId: string }).hubId),
      ['unsloth/Meta-Llama-3.1-8B-Instruct', 'meta-llama/Meta-Llama-3.1-8B-Instruct']);
    const edits = editsForFix(d.parsed, p.fixes.find((f) => f.kind === 'use-original')!)!;
    const text = [...edits].sort((x, y) => y.offset - x.offset).reduce((t, e) => t.slice(0, e.offset) + e.content + t.slice(e.offset + e.length), d.parsed.text);
    assert.equal((JSON.parse(text) as { base_model_name_or_path: string }).base_model_name_or_path, 'unsloth/Meta-Llama-3.1-8B-Instruct');
  });

  it('a local base with quantization_config warns (GPTQ: merging impossible) without guessing a name', async () => {
    const ws = tempDir('quant-ws-');
    const q = makeBase(path.join(ws, 'q'), TINY, { config: { quantization_config: { quant_method: 'gptq', bits: 4 } } });
    const d = await diagnoseAdapter(testFs(tempDir('quant-home-')), makeAdapter(path.join(ws, 'a'), { base: q }));
    const p = d.problems.find((x) => x.code === 'base-model-quantized')!;
    assert.match(p.message, /gptq, 4-bit.*not possible/);
    assert.equal(p.fixes.filter((f) => f.kind === 'use-original').length, 0);
  });
});
