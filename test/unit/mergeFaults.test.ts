// I/O faults injected through the fs port (issue 18): a small sharded merge (plan + run) is repeated with its Nth
// operation failing, for every N and every fault that operation can have (ENOSPC, EIO, EACCES, short read, early end
// of file). Each run either fails with a CoreError naming the file and the operation and leaves nothing behind, or
// (a short read resumed, a best-effort clean-up failing) succeeds with output identical to the fault-free merge.

import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CoreError } from '../../src/core/errors';
import type { OwnerRecord } from '../../src/core/merge/partialOutput';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { FaultFs, faultApplies, type FaultKind } from '../support/faultFs';

const FIX = path.resolve(__dirname, '../fixtures/merge');
const BASE = path.join(FIX, 'bases', 'llama_bf16_sharded');
const ADAPTER = path.join(FIX, 'adapters', 'rslora_patterns');
const KINDS: readonly FaultKind[] = ['ENOSPC', 'EIO', 'EACCES', 'short', 'eof'];
/**
 * Every operation that is not a ranged read or a sink write is faulted; of those two (70% of the operations, all
 * through the same few lines) every STRIDE-th, shifted per fault kind, in the unit run (~10 s). `npm run fuzz` sets
 * LORA_WORKBENCH_FAULTS=all: every operation.
 */
const STRIDE = process.env.LORA_WORKBENCH_FAULTS === 'all' ? 1 : 8;
/** Words of the adapter's messages that name the operation. */
const OPERATION = /\b(stat|list the folder|read|open|resolve|create the folder|create|write|copy|rename|remove|close)\b|unexpected end of file/;

async function merge(io: FaultFs, out: string): Promise<void> {
  const plan = await planMerge(io, { baseGiven: BASE, basePath: BASE, adapterGiven: ADAPTER, adapterPath: ADAPTER, shardSize: 2000 }, readTorchBinTensors);
  await runMerge(plan, out, io, new ReferenceBackend(), { toolVersion: 't' });
}

function hashDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of fs.readdirSync(dir).sort()) {
    const bytes = fs.readFileSync(path.join(dir, n));
    // The manifest records when it was written; everything else must match byte for byte.
    const body = n === 'merge_manifest.json' ? Buffer.from(bytes.toString('utf8').replace(/"createdAt": "[^"]*"/, '')) : bytes;
    out[n] = createHash('sha256').update(body).digest('hex');
  }
  return out;
}

export interface FaultTally {
  runs: number;
  failedCleanly: number;
  succeeded: number;
  /** Successes whose only trace is the lock (its removal was the fault). */
  lockLeft: number;
}

/**
 * One faulty run's outcome: a clear error (CoreError naming the file and the operation) with nothing left in `parent`,
 * or success with the reference output alone in `parent`.
 */
function judge(error: unknown, io: FaultFs, parent: string, reference: Record<string, string>, where: string, t: FaultTally): void {
  if (error) {
    assert.ok(error instanceof CoreError, `${where}: not a CoreError: ${String(error)}`);
    assert.notEqual(error.code, 'internal', `${where}: ${error.message}`);
    if (io.injected) assert.ok(error.message.includes(io.injected.path), `${where}: the message does not name the file: ${error.message}`);
    assert.match(error.message, OPERATION, `${where}: the message does not name the operation`);
    assert.deepEqual(fs.readdirSync(parent), [], `${where}: left behind after "${error.message}"`);
    t.failedCleanly++;
  } else {
    assert.deepEqual(hashDir(path.join(parent, 'out')), reference, `${where}: succeeded with a different output`);
    const beside = fs.readdirSync(parent).filter((n) => n !== 'out');
    // Only a lock whose removal after the publish was the fault; it names this process and no folder, so the next
    // job of any other process reclaims it.
    if (io.injected?.op === 'removeTree' && beside.length === 1 && io.injected.path === path.join(parent, beside[0]!)) {
      const rec = JSON.parse(fs.readFileSync(io.injected.path, 'utf8')) as OwnerRecord;
      assert.equal(rec.pid, process.pid);
      assert.equal(fs.existsSync(path.join(parent, rec.partial)), false);
      t.lockLeft++;
    } else assert.deepEqual(beside, [], `${where}: succeeded but left something beside the output`);
    t.succeeded++;
  }
}

describe('merge: I/O faults at every operation', function () {
  this.timeout(300_000);
  let tmp: string;
  let reference: Record<string, string>;
  let inputs: string;
  let ops: string[];
  const tally = new Map<FaultKind, FaultTally>();

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-faults-'));
    const clean = new FaultFs(null);
    await merge(clean, path.join(tmp, 'out'));
    ops = [...clean.ops];
    reference = hashDir(path.join(tmp, 'out'));
    fs.rmSync(path.join(tmp, 'out'), { recursive: true });
    inputs = JSON.stringify([hashDir(BASE), hashDir(ADAPTER)]);
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    const rows = [...tally].map(([k, t]) => `${k}: ${t.runs} runs, ${t.failedCleanly} failed cleanly, ${t.succeeded} succeeded intact (${t.lockLeft} leaving only their lock)`);
    console.log(`      ${rows.join('\n      ')}`);
  });

  for (const kind of KINDS) {
    it(`${kind}: a clear error and nothing left behind, or an intact output`, async () => {
      const t: FaultTally = { runs: 0, failedCleanly: 0, succeeded: 0, lockLeft: 0 };
      tally.set(kind, t);
      for (let at = 1; at <= ops.length; at++) {
        const op = ops[at - 1]!;
        if (!faultApplies(kind, op as never)) continue;
        if ((op === 'read' || op === 'write') && (at + KINDS.indexOf(kind)) % STRIDE !== 0) continue;
        const io = new FaultFs({ at, kind });
        let error: unknown = null;
        await merge(io, path.join(tmp, 'out')).catch((e: unknown) => { error = e; });
        t.runs++;
        try {
          judge(error, io, tmp, reference, `${kind} at operation ${at} (${io.injected?.op ?? ops[at - 1]} ${io.injected?.path ?? ''})`, t);
        } finally {
          for (const n of fs.readdirSync(tmp)) fs.rmSync(path.join(tmp, n), { recursive: true, force: true }); // no failure cascades
        }
      }
      assert.ok(t.runs > 0);
      assert.equal(JSON.stringify([hashDir(BASE), hashDir(ADAPTER)]), inputs, 'inputs unchanged');
    });
  }
});
