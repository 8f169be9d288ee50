// The restricted torch.save reader: tensor byte ranges from real torch.save output (made by scripts/dev/golden_merge.py),
// views at storage offsets, non-contiguous tensors refused, and pickles that would run code refused before anything runs.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { CoreError } from '../../src/core/errors';
import { readTorchBinFromSource, readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { restrictedUnpickle } from '../../src/core/torchpickle/unpickler';
import { NodeFs } from '../../src/node/nodeFs';

const ROOT = path.resolve(__dirname, '../fixtures/merge');
const nodeFs = new NodeFs();

async function floats(file: string, begin: number, end: number): Promise<number[]> {
  const src = await nodeFs.open(file);
  const b = new Uint8Array(end - begin);
  await src.read(begin, b);
  await src.close();
  return [...new Float32Array(b.buffer)];
}

describe('torchpickle: restricted torch.save reader', () => {
  it('indexes a PEFT adapter_model.bin with exact byte ranges', async () => {
    const file = path.join(ROOT, 'adapters/bin/adapter_model.bin');
    const t = await readTorchBinTensors(nodeFs, file);
    assert.equal(t.length, 12);
    const a = t.find((x) => x.name === 'base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight')!;
    assert.deepEqual(a.shape, [8, 16]);
    assert.equal(a.dtype, 'F32');
    assert.equal(a.end - a.begin, 8 * 16 * 4);
  });
  it('resolves views at storage offsets and other dtypes', async () => {
    const file = path.join(ROOT, 'views.bin');
    const t = new Map((await readTorchBinTensors(nodeFs, file)).map((x) => [x.name, x]));
    const view = t.get('view')!;
    assert.deepEqual(view.shape, [2, 6]);
    assert.deepEqual(await floats(file, view.begin, view.end), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    assert.equal(t.get('whole')!.begin, view.begin - 24);
    assert.equal(t.get('half')!.dtype, 'F16');
  });
  it('refuses non-contiguous tensors', async () => {
    await assert.rejects(readTorchBinTensors(nodeFs, path.join(ROOT, 'noncontig.bin')), (e: unknown) => e instanceof CoreError && /non-contiguously/.test(e.message));
  });
  it('refuses a pickle that calls os.system, naming the global', async () => {
    await assert.rejects(readTorchBinTensors(nodeFs, path.join(ROOT, 'adapters/malicious/adapter_model.bin')),
      (e: unknown) => e instanceof CoreError && e.code === 'bad-format' && /(posix|os)\.system/.test(e.message));
  });
  it('refuses opcodes and globals a state dict never needs', () => {
    // protocol 2: GLOBAL 'builtins\nexec\n', then BINUNICODE, TUPLE1, REDUCE, STOP
    const enc = new TextEncoder();
    const pkl = new Uint8Array([0x80, 2, 0x63, ...enc.encode('builtins\nexec\n'), 0x8c, 1, 0x78, 0x85, 0x52, 0x2e]);
    assert.throws(() => restrictedUnpickle(pkl, 'x.pkl'), /builtins\.exec/);
    assert.throws(() => restrictedUnpickle(new Uint8Array([0x80, 2, 0x69, 0x2e]), 'x.pkl'), /opcode 0x69/); // INST
    assert.throws(() => restrictedUnpickle(new Uint8Array([0x80, 2, 0x7d]), 'x.pkl'), /unexpected end/);
    // The allowed OrderedDict may not be called with arguments (that could smuggle state in).
    const od = new Uint8Array([0x80, 2, 0x63, ...enc.encode('collections\nOrderedDict\n'), 0x7d, 0x85, 0x52, 0x2e]);
    assert.throws(() => restrictedUnpickle(od, 'x.pkl'), /called with arguments/);
  });
  it('refuses legacy and non-zip files', async () => {
    const src = (bytes: number[]) => ({ path: '/m', size: bytes.length, async read(o: number, into: Uint8Array) { into.set(bytes.slice(o, o + into.length)); return Math.min(into.length, bytes.length - o); }, async close() { /* */ } });
    await assert.rejects(readTorchBinFromSource(src([0x80, 0x02, 0x8a, 0x0a, 0, 0, 0, 0])), /legacy/);
    await assert.rejects(readTorchBinFromSource(src([1, 2, 3, 4, 5])), /not a torch.save zip/);
  });
});
