// Engine worker death (issue 18): a real engine worker (src/engine/worker.node.ts under tsx) killed by engine/debugCrash
// the three ways a worker dies (an uncaught error, out of memory at its heap limit, process.exit) while it generates:
// every in-flight request is rejected once with 'worker-died' naming what happened, onWorkerDied fires once, and the
// next request runs on a fresh worker. The hook is refused without LORA_WORKBENCH_TEST_HOOKS=1, and a merge that was
// in flight leaves no temporary folder behind. An armed crash (afterTokens) dies at the token it names.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CoreError } from '../../src/core/errors';
import { partialTarget } from '../../src/core/merge/partialOutput';
import { DEBUG_EXIT_CODE, DebugCrash, Generate, Load, Merge, Stats, TEST_HOOKS_ENV, type CrashKind, type LoadResult } from '../../src/engine/protocol';
import { EngineClient, type WorkerDeath } from '../../src/node/engineClient';
import { tempDirPerTest } from '../support/tempDir';

const ROOT = path.join(__dirname, '..', '..');
const MODEL = path.join(ROOT, 'demo', 'models', 'stories260K');
const ADAPTER = path.join(ROOT, 'demo', 'runs', 'stories-lora', 'checkpoint-200');
/** Small, so the 'oom' crash reaches it in well under a second; the engine itself needs a few tens of MiB. */
const HEAP_MB = 192;

const EXPECTED: Record<CrashKind, { cause: WorkerDeath['cause']; message: RegExp }> = {
  throw: { cause: 'uncaught-error', message: /an uncaught error: engine\/debugCrash: an error thrown outside any request/ },
  exit: { cause: 'exit', message: new RegExp(`exited with code ${DEBUG_EXIT_CODE}`) },
  oom: { cause: 'out-of-memory', message: new RegExp(`ran out of memory \\(its heap limit is ${HEAP_MB} MiB\\)`) },
};

function hooksClient(deaths: WorkerDeath[], env: Record<string, string> = {}): EngineClient {
  const client = new EngineClient({ env: { [TEST_HOOKS_ENV]: '1', ...env }, heapLimitMb: HEAP_MB });
  client.onWorkerDied((d) => deaths.push(d));
  return client;
}

function load(client: EngineClient): Promise<LoadResult> {
  return client.request(Load, { modelPath: MODEL, backend: 'reference', threads: 1 });
}

/** Settles with the error (or 'resolved'), counting how often the promise's handlers ran. */
function outcome(p: Promise<unknown>): { settled: Promise<unknown>; calls: () => number } {
  let n = 0;
  const settled = p.then(() => { n++; return 'resolved'; }, (e: unknown) => { n++; return e; });
  return { settled, calls: () => n };
}

function assertWorkerDied(e: unknown, message: RegExp): void {
  assert.ok(e instanceof CoreError, `a CoreError, got ${String(e)}`);
  assert.equal(e.code, 'worker-died');
  assert.match(e.message, message);
  assert.match(e.message, /the next one starts a new worker/);
  assert.equal(e.text?.template, 'The engine worker stopped: {0}. The requests it was running failed; the next one starts a new worker.');
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('engine worker death', function () {
  this.timeout(120_000);
  const tmp = tempDirPerTest('worker-death-');
  let client: EngineClient | undefined;
  afterEach(async () => {
    await client?.dispose();
    client = undefined;
  });

  for (const kind of ['throw', 'exit', 'oom'] as const) {
    it(`${kind}: in-flight requests fail once with worker-died, onWorkerDied fires once, the next request gets a fresh worker`, async () => {
      const deaths: WorkerDeath[] = [];
      client = hooksClient(deaths);
      const c = client;
      const model = await load(c);
      const before = await c.request(Stats, {});
      assert.equal(before.loadedModels, 1);
      // Crash from the first streamed token: the generation is in flight, mid-way (512-token context, EOS ignored).
      let crash: ReturnType<typeof outcome> | undefined;
      const gen = outcome(c.request(Generate, { modelId: model.modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 500, temperature: 0, stopAtEos: false }, {
        onToken: () => { crash ??= outcome(c.request(DebugCrash, { kind })); },
      }));
      assertWorkerDied(await gen.settled, EXPECTED[kind].message);
      assert.ok(crash, 'tokens were streamed before the crash');
      assertWorkerDied(await crash.settled, EXPECTED[kind].message);
      await tick(200);
      assert.equal(gen.calls(), 1);
      assert.equal(crash.calls(), 1);
      assert.equal(deaths.length, 1, 'onWorkerDied fired once');
      assert.equal(deaths[0]!.cause, EXPECTED[kind].cause);
      assert.equal(deaths[0]!.inFlight, 2);
      assert.equal(deaths[0]!.threadId, before.threadId);
      if (kind === 'exit') assert.equal(deaths[0]!.exitCode, DEBUG_EXIT_CODE);

      // A fresh worker: a new thread, none of the dead one's models; loading again works.
      const after = await c.request(Stats, {});
      assert.notEqual(after.threadId, before.threadId);
      assert.equal(after.loadedModels, 0);
      const again = await load(c);
      const r = await c.request(Generate, { modelId: again.modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 8, temperature: 0 });
      assert.ok(r.text.length > 0);
      assert.equal(deaths.length, 1);
    });
  }

  it('an armed crash (afterTokens) kills the worker at that token of the next generation', async () => {
    const deaths: WorkerDeath[] = [];
    client = hooksClient(deaths);
    const model = await load(client);
    assert.deepEqual(await client.request(DebugCrash, { kind: 'exit', afterTokens: 5 }), { armed: true });
    let tokens = 0;
    const gen = outcome(client.request(Generate, { modelId: model.modelId, adapters: [], prompt: { text: 'Once upon a time' }, maxNewTokens: 500, temperature: 0, stopAtEos: false }, {
      onToken: () => { tokens++; },
    }));
    assertWorkerDied(await gen.settled, /exited with code 70/);
    assert.ok(tokens >= 5 && tokens < 500, `${tokens} tokens streamed before the crash`);
    assert.equal(deaths.length, 1);
    assert.equal(deaths[0]!.inFlight, 1);
  });

  it('refuses engine/debugCrash without LORA_WORKBENCH_TEST_HOOKS=1, and the worker lives on', async () => {
    const deaths: WorkerDeath[] = [];
    client = new EngineClient({ env: { [TEST_HOOKS_ENV]: '0' } });
    client.onWorkerDied((d) => deaths.push(d));
    const before = await client.request(Stats, {});
    await assert.rejects(client.request(DebugCrash, { kind: 'exit' }), (e: unknown) => e instanceof CoreError && e.code === 'usage' && /test hook/.test(e.message));
    await tick(200);
    assert.equal((await client.request(Stats, {})).threadId, before.threadId);
    assert.equal(deaths.length, 0);
  });

  it('dispose is not a death', async () => {
    const deaths: WorkerDeath[] = [];
    client = hooksClient(deaths);
    await client.request(Stats, {});
    await client.dispose();
    await tick(100);
    assert.equal(deaths.length, 0);
    await assert.rejects(client.request(Stats, {}), /engine was stopped/);
  });

  it('reclaims the temporary folder of a merge that was in flight in the dead worker', async () => {
    const deaths: WorkerDeath[] = [];
    // 40 ms after each tensor: the merge is still writing when the crash lands.
    client = hooksClient(deaths, { LORA_WORKBENCH_TEST_MERGE_DELAY_MS: '40' });
    const c = client;
    const parent = tmp();
    const outPath = path.join(parent, 'merged');
    const leftovers = (): string[] => fs.readdirSync(parent).filter((n) => partialTarget(n) !== null || n.endsWith('.partial.lock'));
    let crash: Promise<unknown> | undefined;
    let atCrash: string[] = [];
    const merge = outcome(c.request(Merge, { adapterPath: ADAPTER, basePath: MODEL, outPath, backend: 'reference', threads: 1, verify: false }, {
      onProgress: (p) => {
        if (p.phase !== 'merge' || p.done === 0 || crash) return;
        atCrash = leftovers();
        crash = c.request(DebugCrash, { kind: 'exit' }).catch(() => undefined);
      },
    }));
    assertWorkerDied(await merge.settled, /exited with code 70/);
    assert.ok(crash, 'the merge reported progress before the crash');
    assert.equal(atCrash.length, 2, `the temporary folder and its lock existed when the worker died: ${JSON.stringify(atCrash)}`);
    assert.equal(deaths.length, 1);
    for (let i = 0; i < 50 && leftovers().length > 0; i++) await tick(100);
    assert.deepEqual(leftovers(), [], 'temporary folder and lock of the dead worker removed');
    assert.ok(!fs.existsSync(outPath), 'no output published');
  });
});
