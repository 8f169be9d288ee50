// Inputs that change under a running merge (issue 18): a base shard or the adapter truncated, rewritten in place or
// replaced by a rename after its first, middle or last read. The merge fails with a clear error naming the file and
// writes nothing, instead of publishing a model made of two versions of its inputs.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CoreError } from '../../src/core/errors';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import type { ByteSource } from '../../src/core/ports';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { tempDirPerTest } from '../support/tempDir';

const FIX = path.resolve(__dirname, '../fixtures/merge');

type Change = 'truncate' | 'rewrite' | 'replace';

function change(file: string, how: Change): void {
  const bytes = fs.readFileSync(file);
  if (how === 'truncate') fs.truncateSync(file, bytes.length >> 1);
  else if (how === 'rewrite') {
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(64, 0x7f), 0, 64, bytes.length - 64); // new weights, same size
    fs.closeSync(fd);
  } else {
    fs.writeFileSync(`${file}.new`, bytes);
    fs.renameSync(`${file}.new`, file); // another inode at the same path (a re-download, an `mv`)
  }
  // A rewrite within the same millisecond as the open would keep the mtime; a real one never does.
  const later = new Date(Date.now() + 2000);
  fs.utimesSync(file, later, later);
}

/** NodeFs that changes `target` once, right after its `afterRead`-th ranged read (-1: its last one). */
class ChangingFs extends NodeFs {
  private reads = 0;
  changed = false;
  constructor(private readonly target: string, private readonly afterRead: number, private readonly how: Change) { super(); }
  override async open(p: string): Promise<ByteSource> {
    const src = await super.open(p);
    if (p !== this.target) return src;
    return {
      path: src.path, size: src.size, close: () => src.close(),
      read: async (offset, into) => {
        const n = await src.read(offset, into);
        if (++this.reads === this.afterRead && !this.changed) {
          change(this.target, this.how);
          this.changed = true;
        }
        return n;
      },
    };
  }
}

/** Ranged reads of each input in a fault-free merge, to place the change at the first, middle and last one. */
async function countReads(base: string, adapter: string, out: string, file: string): Promise<number> {
  let n = 0;
  const io = new (class extends NodeFs {
    override async open(p: string): Promise<ByteSource> {
      const src = await super.open(p);
      return p !== file ? src : { path: src.path, size: src.size, close: () => src.close(), read: (o, into) => { n++; return src.read(o, into); } };
    }
  })();
  const plan = await planMerge(io, { baseGiven: base, basePath: base, adapterGiven: adapter, adapterPath: adapter, shardSize: 2000 }, readTorchBinTensors);
  await runMerge(plan, out, io, new ReferenceBackend(), { toolVersion: 't' });
  fs.rmSync(out, { recursive: true });
  return n;
}

describe('merge: inputs that change during the merge', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest('merge-change-');
  let tmp: string;
  beforeEach(() => { tmp = dir(); });

  for (const [label, rel] of [['first base shard', 'base/model-00001-of-00003.safetensors'], ['last base shard', 'base/model-00003-of-00003.safetensors'], ['adapter', 'adapter/adapter_model.safetensors']] as const) {
    it(`${label}: truncated, rewritten or replaced after its first, middle or last read -> a clear error, nothing written`, async () => {
      const base = path.join(tmp, 'base');
      const adapter = path.join(tmp, 'adapter');
      const target = path.join(tmp, rel);
      const outs = path.join(tmp, 'outs');
      fs.mkdirSync(outs);
      const copyInputs = (): void => {
        fs.cpSync(path.join(FIX, 'bases', 'llama_bf16_sharded'), base, { recursive: true, force: true });
        fs.cpSync(path.join(FIX, 'adapters', 'rslora_patterns'), adapter, { recursive: true, force: true });
      };
      copyInputs();
      const total = await countReads(base, adapter, path.join(outs, 'out'), target);
      assert.ok(total >= 2, `${rel} is read ${total} times`);
      for (const how of ['truncate', 'rewrite', 'replace'] as const) {
        for (const at of [1, Math.ceil(total / 2), total]) {
          copyInputs();
          const io = new ChangingFs(target, at, how);
          const where = `${how} after read ${at}/${total} of ${rel}`;
          const merge = async (): Promise<void> => {
            const plan = await planMerge(io, { baseGiven: base, basePath: base, adapterGiven: adapter, adapterPath: adapter, shardSize: 2000 }, readTorchBinTensors);
            await runMerge(plan, path.join(outs, 'out'), io, new ReferenceBackend(), { toolVersion: 't' });
          };
          await assert.rejects(merge(), (e: unknown) => {
            assert.ok(e instanceof CoreError, `${where}: ${String(e)}`);
            assert.ok(e.message.includes(target), `${where}: the message does not name the file: ${e.message}`);
            assert.match(e.message, /changed while merging|unexpected end of file|truncated/, where);
            return true;
          }, where);
          assert.ok(io.changed, `${where}: the change happened`);
          assert.deepEqual(fs.readdirSync(outs), [], `${where}: something was left`);
        }
      }
    });
  }
});
