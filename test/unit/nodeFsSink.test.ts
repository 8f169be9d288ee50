// NodeFs.create(): the O_DIRECT sink (page-aligned staging blocks, padded last block, truncation) and the buffered one
// write exactly the bytes given, in call order, when writes are issued before earlier ones settle.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DirectByteSink, NodeFs } from '../../src/node/nodeFs';
import { skipBecause } from '../numerics/kernelsHelpers';

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('NodeFs sinks', function () {
  this.timeout(60000);
  let tmp: string;
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-sink-')); });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // Sizes cross the 8 MiB staging blocks, end mid-block and off the 4096 alignment, and include an empty write.
  const sizes = [1, 4095, (8 << 20) + 3, 100, 3 << 20, 0, 5, (8 << 20) - 104];

  for (const direct of [true, false]) {
    it(`${direct ? 'O_DIRECT' : 'buffered'} sink: exact bytes in call order, writes issued without waiting`, async function () {
      const io = new NodeFs(undefined, { directWrites: direct });
      const file = path.join(tmp, 'out.bin');
      const sink = await io.create(file);
      if (direct && process.platform === 'linux') {
        // tmpfs and a few others refuse O_DIRECT at open; NodeFs then falls back to the buffered sink.
        if (!(sink instanceof DirectByteSink)) {
          await sink.close();
          skipBecause(this, `${tmp} refuses O_DIRECT (tmpfs?); the buffered case covers the fallback`);
        }
      } else {
        assert.ok(!(sink instanceof DirectByteSink));
      }
      const parts = sizes.map((n, i) => pattern(n, i + 1));
      await Promise.all(parts.map((p) => sink.write(p)));
      await sink.close();
      const got = fs.readFileSync(file);
      const want = Buffer.concat(parts);
      assert.equal(got.length, want.length);
      assert.ok(got.equals(want), 'file content differs');
    });
  }

  it('O_DIRECT sink: a file of whole blocks needs no padding, an empty file stays empty', async () => {
    const io = new NodeFs(undefined, { directWrites: true });
    for (const size of [16 << 20, 0]) {
      const file = path.join(tmp, `f${size}.bin`);
      const sink = await io.create(file);
      const data = pattern(size, 7);
      await sink.write(data);
      await sink.close();
      assert.ok(fs.readFileSync(file).equals(Buffer.from(data)));
    }
  });

  it('writes the same bytes on tmpfs (O_DIRECT there since Linux 6.6, buffered before)', async function () {
    const shm = '/dev/shm';
    let dir: string;
    try {
      dir = fs.mkdtempSync(path.join(shm, 'lwb-sink-'));
    } catch {
      skipBecause(this, `no writable ${shm} (tmpfs) here`);
    }
    try {
      const sink = await new NodeFs(undefined, { directWrites: true }).create(path.join(dir, 'out.bin'));
      const data = pattern((1 << 20) + 77, 3);
      await sink.write(data);
      await sink.close();
      assert.ok(fs.readFileSync(path.join(dir, 'out.bin')).equals(Buffer.from(data)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to overwrite an existing file (either sink)', async () => {
    const file = path.join(tmp, 'exists.bin');
    fs.writeFileSync(file, 'x');
    for (const direct of [true, false]) await assert.rejects(new NodeFs(undefined, { directWrites: direct }).create(file));
  });
});
