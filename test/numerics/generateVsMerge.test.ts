// Adapter applied on the fly vs the same adapter merged by the merge core (src/core/merge, f32 base so the merge
// rounds nothing away): identical greedy tokens and logits within 1e-4. Covers patterns, embedding + lm_head rsLoRA and
// a resized vocabulary with modules_to_save; Qwen3 with a LoRA on its tied lm_head (the merge unties it), Phi-3's
// fused projections, Gemma 2 / 3 (their bases widened to f32 first: Gemma rounds sqrt(hidden_size) to the weights'
// dtype, so a bf16 base and its f32 merge differ by design, in transformers as here).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import { generate } from '../../src/core/model/generate';
import { loadAdapter } from '../../src/core/model/llama/adapters';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { decodeToF32 } from '../../src/core/model/tensorLoader';
import { readFully, readSafetensorsHeader } from '../../src/core/safetensors/header';
import { encodeSafetensorsHeader } from '../../src/core/safetensors/writer';
import { NodeFs } from '../../src/node/nodeFs';

const FIX = path.join(__dirname, '..', 'fixtures');
const BASE = path.join(FIX, 'stories260K');
const nodeFs = new NodeFs();

describe('numerics: adapter on the fly vs merged model', function () {
  this.timeout(120000);
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-vsmerge-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const FAM = path.join(FIX, 'families');
  const cases: Array<[string, string, string]> = [
    ...(['adapter-patterns', 'adapter-embed'] as const).map((n): [string, string, string] => [BASE, path.join(FIX, 'generate', n), 'Once upon a time']),
    [BASE, path.join(FIX, 'generate', 'adapter-vocab'), '<|user|>Once upon a time<|end|>'],
    // Qwen3 with a LoRA on the tied lm_head (the merge unties it), Phi-3's fused qkv_proj / gate_up_proj, Gemma 2 / 3.
    ...['qwen3-f32-tied', 'phi3-bf16-longrope', 'gemma2-bf16', 'gemma3-f16'].map((m): [string, string, string] =>
      [path.join(FAM, m), path.join(FAM, `adapter-${m}`), 'Once upon a time there was a girl. 她喜欢在公园里玩。']),
  ];
  for (const [given, adapterPath, text] of cases) {
    const name = path.basename(adapterPath);
    it(`${name}: same greedy tokens, logits within 1e-4`, async () => {
      const out = path.join(tmp, name);
      const base = name.includes('gemma') ? await widenToF32(given, path.join(tmp, `${name}-base`)) : given;
      const plan = await planMerge(nodeFs, { baseGiven: base, basePath: base, adapterGiven: adapterPath, adapterPath, dtype: 'float32' }, readTorchBinTensors);
      await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 'test', verify: false });

      const merged = await loadModel(nodeFs, out, new ReferenceBackend());
      const live = await loadModel(nodeFs, base, new ReferenceBackend());
      const adapter = await loadAdapter(nodeFs, live.model.backend, adapterPath, live.model.weights.tensors);
      await live.model.setAdapters([{ adapter, scale: 1 }]);
      const tok = adapter.tokenizerFolder ? await loadTokenizer(nodeFs, adapter.tokenizerFolder) : live.tokenizer;
      const prompt = tok.encode(text).ids;
      assert.deepEqual(merged.tokenizer.encode(text).ids, prompt, 'the merged folder carries the adapter tokenizer');

      const run = async (m: typeof live): Promise<{ ids: readonly number[]; logits: Float32Array[] }> => {
        const logits: Float32Array[] = [];
        const sampler = new SamplerChain([{ name: 'spy', process: (l) => { logits.push(Float32Array.from(l)); } }], greedy());
        const r = await generate(m.model, tok, prompt, { maxNewTokens: 16, sampler, eosIds: [] });
        return { ids: r.ids, logits };
      };
      const a = await run(live);
      const b = await run(merged);
      assert.deepEqual(a.ids, b.ids);
      if (name.includes('qwen3')) {
        // The LoRA on the tied lm_head unties the output: both tensors written, tie_word_embeddings false.
        assert.equal(merged.config.tieWordEmbeddings, false);
        assert.ok(merged.model.weights.tensors.has('lm_head.weight') && merged.model.weights.tensors.has('model.embed_tokens.weight'));
      }
      let d = 0;
      a.logits.forEach((l, i) => l.forEach((v, j) => { d = Math.max(d, Math.abs(v - b.logits[i]![j]!)); }));
      assert.ok(d < 1e-4, `logits differ by ${d}`);
    });
  }
});

/** A copy of a model folder with every tensor widened to f32 (exact) and torch_dtype float32. */
async function widenToF32(folder: string, out: string): Promise<string> {
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(folder)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(folder, f), path.join(out, f));
  const src = await nodeFs.open(path.join(folder, 'model.safetensors'));
  try {
    const header = await readSafetensorsHeader(src);
    const parts: Uint8Array[] = [];
    for (const t of header.tensors) {
      const bytes = new Uint8Array(t.end - t.begin);
      await readFully(src, t.begin, bytes);
      parts.push(new Uint8Array(decodeToF32(t.dtype, bytes).buffer));
    }
    const specs = header.tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape }));
    fs.writeFileSync(path.join(out, 'model.safetensors'), Buffer.concat([encodeSafetensorsHeader(specs, header.metadata), ...parts]));
  } finally {
    await src.close();
  }
  const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'float32' }));
  return out;
}
