// Bad input for the GGUF reader and export: malformed and truncated files get a clear error naming the file, and an
// export that fails or is cancelled leaves nothing behind (no output, no temp file).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanCheckpoints } from '../../src/core/checkpoints/scan';
import { CoreError } from '../../src/core/errors';
import { planLoraAdapterGguf } from '../../src/core/gguf/adapterExport';
import { planGgufExport, runGgufExport } from '../../src/core/gguf/export';
import { readGguf } from '../../src/core/gguf/reader';
import { layoutGguf } from '../../src/core/gguf/writer';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { NodeFs } from '../../src/node/nodeFs';

const fixtures = path.join(__dirname, '../fixtures');
const nodeFs = new NodeFs();

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CoreError, `expected a CoreError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** A valid two-tensor GGUF: one KV of each kind we touch, data filled with a pattern. */
function validGguf(): Uint8Array {
  const layout = layoutGguf([
    { key: 'general.architecture', value: { type: 'string', value: 'llama' } },
    { key: 'llama.block_count', value: { type: 'u32', value: 1 } },
    { key: 'tokenizer.ggml.scores', value: { type: 'array', itemType: 'f32', values: [0.5, -1] } },
  ], [{ name: 'a.weight', ne: [32, 2], type: 'Q8_0' }, { name: 'b.weight', ne: [3], type: 'F32' }]);
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.header);
  for (let i = layout.header.length; i < out.length; i++) out[i] = i & 0xff;
  return out;
}

describe('GGUF reader: malformed and truncated files', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-bad-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const read = async (bytes: Uint8Array): Promise<unknown> => {
    const file = path.join(tmp, `f${Math.random().toString(36).slice(2)}.gguf`);
    fs.writeFileSync(file, bytes);
    const src = await nodeFs.open(file);
    try {
      return await readGguf(src);
    } finally {
      await src.close();
    }
  };
  const patchU32 = (b: Uint8Array, at: number, v: number): Uint8Array => {
    const c = b.slice();
    new DataView(c.buffer).setUint32(at, v, true);
    return c;
  };
  const patchU64 = (b: Uint8Array, at: number, v: bigint): Uint8Array => {
    const c = b.slice();
    new DataView(c.buffer).setBigUint64(at, v, true);
    return c;
  };

  it('reads back what the writer laid out', async () => {
    const g = await read(validGguf()) as Awaited<ReturnType<typeof readGguf>>;
    assert.deepEqual(g.kvs.map((k) => k.key), ['general.architecture', 'llama.block_count', 'tokenizer.ggml.scores']);
    assert.deepEqual(g.tensors.map((t) => [t.name, t.type.name, t.ne, t.size]), [['a.weight', 'Q8_0', [32, 2], 68], ['b.weight', 'F32', [3], 12]]);
    assert.equal(g.tensors[1]!.begin - g.tensors[0]!.begin, 96, 'the second tensor starts on the next 32-byte boundary');
  });
  it('no magic, an old version, a file too short', async () => {
    await rejectsWith(read(patchU32(validGguf(), 0, 0x12345678)), 'bad-format', /not a GGUF file/);
    await rejectsWith(read(patchU32(validGguf(), 4, 1)), 'unsupported', /version 1/);
    await rejectsWith(read(validGguf().slice(0, 10)), 'bad-format', /too small/);
  });
  it('truncated anywhere in the header or the data', async () => {
    const full = validGguf();
    // The last 20 bytes are padding after the last tensor: cuts land in the header or in tensor data.
    for (const cut of [30, 60, 100, 150, full.length - 25, full.length - 60]) {
      await rejectsWith(read(full.slice(0, cut)), 'bad-format', /truncated|past the end/);
    }
  });
  it('implausible counts and lengths', async () => {
    await rejectsWith(read(patchU64(validGguf(), 16, 1n << 40n)), 'bad-format', /cannot fit.*truncated/);
    await rejectsWith(read(patchU64(validGguf(), 24, 1n << 50n)), 'bad-format', /runs past the end/); // the first key's length
  });
  it('unknown metadata value type and unknown tensor type', async () => {
    const b = validGguf();
    await rejectsWith(read(patchU32(b, 24 + 8 + 'general.architecture'.length, 99)), 'bad-format', /unknown value type 99/);
    const g = await read(b) as Awaited<ReturnType<typeof readGguf>>;
    const text = new TextDecoder().decode(b.subarray(0, g.dataStart));
    const at = text.lastIndexOf('b.weight') + 'b.weight'.length + 4 + 8; // b.weight's type: after n_dims u32 and one dim u64
    await rejectsWith(read(patchU32(b, at, 77)), 'bad-format', /unknown ggml type 77/);
    await rejectsWith(read(patchU64(b, at + 4, 5n)), 'bad-format', /not aligned/);
    await rejectsWith(read(patchU64(b, at + 4, 1n << 20n)), 'bad-format', /runs past the end of the file/);
  });
});

describe('scan lists GGUF files from their headers', () => {
  it('a model with its type and size, a truncated one as a finding', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-scan-'));
    try {
      const plan = await planGgufExport(nodeFs, { modelPath: path.join(fixtures, 'stories260K'), type: 'q4_0' }, readTorchBinTensors);
      await runGgufExport(plan, path.join(tmp, 'stories.gguf'), nodeFs, null, { toolVersion: 'test' });
      fs.writeFileSync(path.join(tmp, 'cut.gguf'), fs.readFileSync(path.join(tmp, 'stories.gguf')).subarray(0, 100_000));
      const r = await scanCheckpoints(nodeFs, [tmp]);
      const [cut, good] = r.gguf;
      assert.deepEqual({ ...good!, path: path.basename(good!.path) }, {
        path: 'stories.gguf', architecture: 'llama', kind: 'model', name: 'stories260K', fileType: 'q4_0', sizeBytes: plan.layout.fileSize,
        params: 292_800, tensors: 48, health: [],
      });
      assert.equal(cut!.health[0]!.code, 'truncated');
      assert.match(cut!.health[0]!.message, /cut\.gguf: tensor '.*' .*runs past the end of the file/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('GGUF export: bad input and atomic output', () => {
  let tmp: string;
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-out-')); });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const stories = path.join(fixtures, 'stories260K');

  it('refuses an existing output file and one inside an input folder', async () => {
    const plan = await planGgufExport(nodeFs, { modelPath: stories, type: 'f16' }, readTorchBinTensors);
    const out = path.join(tmp, 'x.gguf');
    fs.writeFileSync(out, 'keep');
    await rejectsWith(runGgufExport(plan, out, nodeFs, null, { toolVersion: 'test' }), 'exists');
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep');
    await rejectsWith(runGgufExport(plan, path.join(stories, 'x.gguf'), nodeFs, null, { toolVersion: 'test' }), 'usage', /inside an input folder/);
  });
  it('cancelled mid-write: no output and no temp file', async () => {
    const plan = await planGgufExport(nodeFs, { modelPath: stories, type: 'q8_0' }, readTorchBinTensors);
    const ac = new AbortController();
    const out = path.join(tmp, 'x.gguf');
    await assert.rejects(runGgufExport(plan, out, nodeFs, null, { toolVersion: 'test', signal: ac.signal, onProgress: (_p, done) => { if (done > 0) ac.abort(); } }));
    assert.deepEqual(fs.readdirSync(tmp), []);
  });
  it('refuses architectures and tokenizers it cannot convert, before writing', async () => {
    await rejectsWith(planGgufExport(nodeFs, { modelPath: path.join(fixtures, 'merge/bases/gpt2_f32'), type: 'f16' }, readTorchBinTensors), 'unsupported', /GPT2LMHeadModel/);
    await rejectsWith(planGgufExport(nodeFs, { modelPath: path.join(fixtures, 'merge/bases/llama_f32'), type: 'f16' }, readTorchBinTensors), 'unsupported', /no tokenizer\.model/);
  });
  it('--adapter-only refuses DoRA and points at the merged export', async () => {
    await rejectsWith(planLoraAdapterGguf(nodeFs, path.join(fixtures, 'gguf/stories-dora'), stories, 'f16', readTorchBinTensors), 'unsupported', /DoRA.*lora-workbench gguf <adapter> --base/);
  });
  it('an rsLoRA adapter gets alpha*sqrt(r), since llama.cpp scales by alpha/r', async () => {
    const rs = path.join(tmp, 'rs');
    fs.cpSync(path.join(fixtures, 'gguf/stories-lora'), rs, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(rs, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(rs, 'adapter_config.json'), JSON.stringify({ ...cfg, use_rslora: true }));
    const plan = await planLoraAdapterGguf(nodeFs, rs, stories, 'f16', readTorchBinTensors);
    const alpha = plan.kvs.find((k) => k.key === 'adapter.lora.alpha')!.value;
    assert.deepEqual(alpha, { type: 'f32', value: 8 * 2 }); // r = 4: 8/sqrt(4) == 16/4
  });
});
