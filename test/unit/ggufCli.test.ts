// `lora-workbench gguf` argument handling (usage errors exit 2 before any engine starts) and the engine/gguf handler
// the worker runs: the three forms, the result fields --json prints, the adapter's base found from its config.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { handleGguf } from '../../src/engine/gguf';
import type { JobContext } from '../../src/engine/handlers';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';
import { runCliCaptured } from './cliHarness';

const fixtures = path.join(__dirname, '../fixtures');
const stories = path.join(fixtures, 'stories260K');

function ctx(progress: string[]): JobContext {
  return {
    id: 1, signal: new AbortController().signal, token: () => undefined, log: () => undefined,
    progress: (phase, done, total) => progress.push(`${phase} ${done}/${total}`),
  };
}

describe('lora-workbench gguf: usage', () => {
  const usage = async (args: string[], re: RegExp): Promise<void> => {
    const r = await runCliCaptured(['gguf', ...args]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, re);
  };
  it('exits 2 with a message for missing or bad arguments', async () => {
    await usage([], /give the model or adapter folder/);
    await usage([stories], /--out <file\.gguf> is required/);
    await usage([stories, '--out', '/tmp/x.gguf', '--type', 'q3_k'], /--type must be one of f32, f16, bf16, q8_0, q4_0, q5_0, q4_k_m, q5_k_m, q6_k/);
    await usage([stories, '--adapter-only', '--out', '/tmp/x.gguf', '--type', 'q8_0'], /--adapter-only writes --type f16 or f32/);
    await usage([stories, '--out', '/tmp/x.gguf', '--nonsense'], /nonsense/);
  });
});

describe('engine/gguf handler', () => {
  let tmp: string;
  beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-handler-')); });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const factory = async (): Promise<ReferenceBackend> => new ReferenceBackend();

  it('full model: the --json fields, with progress up to the file size', async () => {
    const progress: string[] = [];
    const out = path.join(tmp, 'm.gguf');
    const r = await handleGguf({ modelPath: stories, outPath: out, type: 'q8_0' }, ctx(progress), new NodeFs(), factory);
    assert.deepEqual([r.out, r.tensors, r.bytesWritten, r.type], [out, 48, fs.statSync(out).size, 'q8_0']);
    assert.ok(r.seconds > 0 && r.peakRssBytes > 0);
    assert.equal(progress.at(-1), `gguf ${r.bytesWritten}/${r.bytesWritten}`);
  });
  it('merge form and adapter-only form (base from base_model_name_or_path)', async () => {
    const merged = await handleGguf({ modelPath: stories, adapterPath: path.join(fixtures, 'gguf/stories-dora'), outPath: path.join(tmp, 'd.gguf'), type: 'f16' }, ctx([]), new NodeFs(), factory);
    assert.equal(merged.tensors, 48);
    const adapter = await handleGguf({ adapterPath: path.join(fixtures, 'gguf/stories-lora'), adapterOnly: true, outPath: path.join(tmp, 'a.gguf'), type: 'f16' }, ctx([]), new NodeFs(), factory);
    assert.equal(adapter.tensors, 40);
  });
  it('rejects relative paths and unknown types as usage errors', async () => {
    await assert.rejects(handleGguf({ modelPath: 'relative', outPath: path.join(tmp, 'x.gguf'), type: 'f16' }, ctx([]), new NodeFs(), factory), /absolute path/);
    await assert.rejects(handleGguf({ modelPath: stories, outPath: path.join(tmp, 'x.gguf'), type: 'q2_k' as never }, ctx([]), new NodeFs(), factory), /unknown type 'q2_k'/);
  });
});
