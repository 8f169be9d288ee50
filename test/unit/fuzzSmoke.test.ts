// Fuzz smoke run (issue 18): every parser of untrusted bytes for a few seconds (fast-check, fixed seed, so a failure
// reproduces), after its committed regression inputs. The long run is `npm run fuzz` (test/fuzz/run.ts).

import { strict as assert } from 'node:assert';
import { checkInput, fuzz } from '../fuzz/harness';
import { fuzzTargets, regressionInputs } from '../fuzz/targets';

/** ~1.5 minutes over the twelve targets; LORA_WORKBENCH_FUZZ_SMOKE_MS changes it. */
const SMOKE_MS = Number(process.env.LORA_WORKBENCH_FUZZ_SMOKE_MS ?? 6000);

describe('fuzz smoke: parsers return a value or a CoreError, quickly, in bounded memory', function () {
  this.timeout(SMOKE_MS * 4 + 30_000);
  let targets: Awaited<ReturnType<typeof fuzzTargets>> = [];
  before(async () => { targets = await fuzzTargets(); });

  it('every committed regression input passes', async () => {
    let n = 0;
    for (const t of targets) {
      for (const r of regressionInputs(t.name)) {
        await checkInput(t, r.bytes);
        n++;
      }
    }
    assert.ok(n >= 3, `${n} regression inputs`);
  });

  for (const name of ['safetensors-header', 'safetensors-index', 'torch-zip', 'pickle', 'sentencepiece', 'adapter-config', 'trainer-state', 'tokenizer-json', 'gguf', 'tokenizer-config',
    'chat-template', 'eval-data']) {
    it(`${name}: ${SMOKE_MS / 1000} s of mutated inputs`, async () => {
      const target = targets.find((t) => t.name === name);
      assert.ok(target, `no fuzz target ${name}`);
      const r = await fuzz(target, { timeMs: SMOKE_MS, seed: 18 });
      const f = r.failure;
      assert.equal(f, null, f ? `${f.kind}: ${f.message}\ninput (base64): ${Buffer.from(f.input).toString('base64')}` : '');
      assert.ok(r.executions > 100, `only ${r.executions} executions`);
    });
  }
});
