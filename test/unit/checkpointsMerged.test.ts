// A model written by our merge shows up in the scan with its provenance (from merge_manifest.json): which adapter was
// merged into which base. Real files: the demo's base and a trained demo checkpoint, merged by the merge core.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanCheckpoints } from '../../src/core/checkpoints/scan';
import { planMerge } from '../../src/core/merge/plan';
import { runMerge } from '../../src/core/merge/run';
import { readTorchBinTensors } from '../../src/core/torchpickle/binReader';
import { ReferenceBackend } from '../../src/kernels/reference/referenceBackend';
import { NodeFs } from '../../src/node/nodeFs';

const ROOT = path.resolve(__dirname, '..', '..');

describe('checkpoints: merged models carry their provenance', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lwb-merged-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads merge_manifest.json into ModelInfo.mergedFrom; other models have none', async () => {
    const nodeFs = new NodeFs();
    const basePath = path.join(ROOT, 'demo', 'models', 'stories260K');
    const adapterPath = path.join(ROOT, 'demo', 'runs', 'stories-lora', 'checkpoint-100');
    const plan = await planMerge(nodeFs, { baseGiven: basePath, basePath, adapterGiven: adapterPath, adapterPath }, readTorchBinTensors);
    const out = path.join(tmp, 'stories-merged');
    await runMerge(plan, out, nodeFs, new ReferenceBackend(), { toolVersion: 'test' });
    fs.cpSync(basePath, path.join(tmp, 'plain-base'), { recursive: true });

    const result = await scanCheckpoints(nodeFs, [tmp]);
    const merged = result.models.find((m) => m.path === out);
    assert.ok(merged, JSON.stringify(result.models.map((m) => m.path)));
    assert.deepEqual(merged.mergedFrom, { adapter: adapterPath, base: basePath, variant: 'lora', tool: 'lora-workbench test' });
    const plain = result.models.find((m) => m.path === path.join(tmp, 'plain-base'));
    assert.ok(plain);
    assert.equal(plain.mergedFrom, null);
  });

  it('a broken merge_manifest.json is a warning on the model, not a crash', async () => {
    const dir = path.join(tmp, 'broken-manifest');
    fs.cpSync(path.join(ROOT, 'demo', 'models', 'stories260K'), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'merge_manifest.json'), '{ not json');
    const result = await scanCheckpoints(new NodeFs(), [dir]);
    const m = result.models.find((x) => x.path === dir);
    assert.ok(m);
    assert.equal(m.mergedFrom, null);
    assert.ok(m.health.some((h) => h.severity === 'warning' && h.file === path.join(dir, 'merge_manifest.json')), JSON.stringify(m.health));
  });
});
