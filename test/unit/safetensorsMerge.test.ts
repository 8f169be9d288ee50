// safetensors validation (truncated/malformed headers, duplicates, overlaps, size disagreement), index path safety,
// and the shard writer (greedy split, headers, index, refusal of bytes that do not fit the plan).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CoreError } from '../../src/core/errors';
import type { ByteSink, ByteSource } from '../../src/core/ports';
import { findDuplicateTopLevelKey, readSafetensorsHeader } from '../../src/core/safetensors/header';
import { readShardIndex } from '../../src/core/safetensors/modelWeights';
import { ShardWriter, buildShardIndex, encodeSafetensorsHeader, planShards } from '../../src/core/safetensors/writer';
import { NodeFs } from '../../src/node/nodeFs';

function memSource(bytes: Uint8Array): ByteSource {
  return {
    path: '/mem/x.safetensors', size: bytes.length,
    async read(offset, into) { const n = Math.max(0, Math.min(into.length, bytes.length - offset)); into.set(bytes.subarray(offset, offset + n)); return n; },
    async close() { /* nothing */ },
  };
}

function file(headerJson: string, dataBytes: number): Uint8Array {
  const h = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  return out;
}

async function bad(bytes: Uint8Array, re: RegExp): Promise<void> {
  await assert.rejects(readSafetensorsHeader(memSource(bytes)), (e: unknown) => e instanceof CoreError && e.code === 'bad-format' && re.test(e.message));
}

describe('safetensors: malformed input', () => {
  it('header length past the end of the file', async () => {
    const b = file('{}', 0);
    new DataView(b.buffer).setUint32(0, 1000, true);
    await bad(b, /runs past the end/);
  });
  it('tiny and LFS-pointer files', async () => {
    await bad(new Uint8Array(4), /too small/);
    await bad(new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n'), /Git LFS/);
  });
  it('overlapping and out-of-range offsets', async () => {
    await bad(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12), /overlap/);
    await bad(file('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 8), /truncated/);
    await bad(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', 8), /invalid data_offsets/);
  });
  it('dtype / shape / byte-length disagreement and unknown dtypes', async () => {
    await bad(file('{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,16]}}', 16), /needs 8 bytes/);
    await bad(file('{"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}}', 16), /unknown dtype/);
    await bad(file('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /invalid shape/);
  });
  it('duplicate tensor names (which JSON.parse would hide)', async () => {
    await bad(file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /names tensor 'a' twice/);
    assert.equal(findDuplicateTopLevelKey('{"a":{"a":1,"b":[{"a":2}]},"b":"a\\"","c":1}'), null);
    assert.equal(findDuplicateTopLevelKey('{"x\\u0041":1,"xA":2}'), 'xA');
  });
});

describe('safetensors: index paths', () => {
  let tmp: string;
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'st-index-')); });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  for (const target of ['../evil.safetensors', '/etc/passwd', 'sub/../../x.safetensors', 'C:\\x.safetensors']) {
    it(`refuses weight_map entry '${target}'`, async () => {
      const p = path.join(tmp, 'model.safetensors.index.json');
      fs.writeFileSync(p, JSON.stringify({ metadata: { total_size: 4 }, weight_map: { a: target } }));
      await assert.rejects(readShardIndex(new NodeFs(), p), (e: unknown) => e instanceof CoreError && /outside the model folder/.test(e.message));
    });
  }
});

describe('safetensors: shard writer', () => {
  const t = (name: string, n: number) => ({ name, dtype: 'F32' as const, shape: [n] });
  it('splits greedily like transformers and names shards model-0000i-of-0000N', () => {
    const shards = planShards([t('a', 10), t('b', 10), t('c', 30), t('d', 1)], 80, {});
    assert.deepEqual(shards.map((s) => s.tensors.map((x) => x.name)), [['a', 'b'], ['c'], ['d']]);
    assert.deepEqual(shards.map((s) => s.file), ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    const index = JSON.parse(buildShardIndex(shards));
    assert.equal(index.metadata.total_size, 204);
    assert.deepEqual(Object.keys(index.weight_map), ['a', 'b', 'c', 'd']);
    assert.equal(index.weight_map.c, 'model-00002-of-00003.safetensors');
  });
  it('pads the header to 8 bytes and round-trips through the reader', async () => {
    const header = encodeSafetensorsHeader([t('w', 3), { name: 'h', dtype: 'BF16', shape: [2, 1] }], { format: 'pt' });
    assert.equal(header.length % 8, 0);
    const bytes = new Uint8Array(header.length + 16);
    bytes.set(header);
    const h = await readSafetensorsHeader(memSource(bytes));
    assert.deepEqual(h.tensors.map((x) => [x.name, x.begin - h.dataStart, x.end - h.dataStart]), [['w', 0, 12], ['h', 12, 16]]);
    assert.equal(h.metadata.format, 'pt');
  });
  it('refuses bytes out of plan order or beyond a tensor, and an incomplete close', async () => {
    const [plan] = planShards([t('a', 2), t('b', 1)], 1e9, {});
    const chunks: Uint8Array[] = [];
    const sink: ByteSink = { path: '/mem/out', async write(d) { chunks.push(d.slice()); }, async close() { /* */ } };
    const w = new ShardWriter(sink, plan!);
    await w.writeHeader();
    await assert.rejects(w.write('b', new Uint8Array(4)), /out of plan order/);
    await assert.rejects(w.write('a', new Uint8Array(12)), /planned 8/);
    await w.write('a', new Uint8Array(8));
    await assert.rejects(w.close(), /closed after/);
  });
  it('takes writes issued before the previous one settled (write-behind): they land in order, close waits for them', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-sink-'));
    try {
      const sizes = [3 << 20, 5, 1 << 20, 17, 2 << 20];
      const [plan] = planShards(sizes.map((n, i) => ({ name: `t${i}`, dtype: 'U8' as const, shape: [n] })), 1e12, {});
      const sink = await new NodeFs().create(path.join(tmp, plan!.file));
      const w = new ShardWriter(sink, plan!);
      await w.writeHeader();
      const pending = sizes.map((n, i) => w.write(`t${i}`, new Uint8Array(n).fill(i + 1)));
      await w.close(); // before awaiting any write: close must wait for the ones still running
      await Promise.all(pending);
      const bytes = fs.readFileSync(path.join(tmp, plan!.file));
      assert.equal(bytes.length, plan!.size);
      let off = plan!.header.length;
      sizes.forEach((n, i) => {
        assert.ok(bytes.subarray(off, off + n).every((b) => b === i + 1), `tensor t${i} in place`);
        off += n;
      });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
