// The soak run of issue 18, short (10 generations, 3 load/unload cycles, 3 merges after the warm-up), so CI runs it:
// the same phases and limits as `npm run soak` (test/soak/soak.ts), on the engine worker from src/ under tsx.

import { strict as assert } from 'node:assert';
import { formatSample, runSoak } from '../soak/soak';

describe('soak (short)', function () {
  this.timeout(300_000);

  it('generations, load/unload cycles and merges in one engine client leave memory, threads and handles flat', async () => {
    const r = await runSoak({ generations: 10, loadCycles: 3, merges: 3, samplesPerPhase: 1 });
    const table = r.samples.map(formatSample).join('\n');
    assert.deepEqual(r.failures, [], table);
    assert.equal(r.counts.generations, 10);
    assert.ok(r.counts.cancelled > 0 && r.counts.stopStrings > 0, `Stop and stop strings were exercised: ${JSON.stringify(r.counts)}`);
    assert.equal(r.counts.loadCycles, 3);
    assert.equal(r.counts.merges, 3);
    assert.ok(r.end.worker.wasmMemories >= 1 && r.end.worker.loadedModels === 1, table);
  });
});
