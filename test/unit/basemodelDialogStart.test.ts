import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseDialogStartFolder } from '../../src/core/basemodel/modelFolders';
import { tempDir, testFs } from '../fixtures/diagnose/build';

describe('base-model folder dialog start', () => {
  it('starts where models are: scanned models, then search paths, then <workspace>/models, the HF cache, the workspace', async () => {
    const home = tempDir();
    const ws = path.join(home, 'project');
    fs.mkdirSync(path.join(ws, 'runs/r1/checkpoint-5'), { recursive: true });
    const f = testFs(home);
    assert.equal(await baseDialogStartFolder(f, { workspaceFolders: [ws] }), ws);
    fs.mkdirSync(path.join(home, '.cache/huggingface/hub'), { recursive: true });
    assert.equal(await baseDialogStartFolder(f, { workspaceFolders: [ws] }), path.join(home, '.cache/huggingface/hub'));
    fs.mkdirSync(path.join(ws, 'models'));
    assert.equal(await baseDialogStartFolder(f, { workspaceFolders: [ws] }), path.join(ws, 'models'));
    const shared = path.join(home, 'shared-models');
    fs.mkdirSync(shared);
    assert.equal(await baseDialogStartFolder(f, { workspaceFolders: [ws], searchPaths: ['relative/ignored', shared, '/does/not/exist'] }), shared);
    const known = path.join(home, 'elsewhere/llama-7b');
    fs.mkdirSync(known, { recursive: true });
    assert.equal(await baseDialogStartFolder(f, { workspaceFolders: [ws], searchPaths: [shared], knownModels: [known] }), path.dirname(known));
    assert.equal(await baseDialogStartFolder(f, { workspaceFolders: [path.join(home, 'gone')] }), path.join(home, '.cache/huggingface/hub'));
  });
});
