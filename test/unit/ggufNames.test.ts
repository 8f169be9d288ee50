// The name parts and size labels gguf-py derives (Metadata.get_model_id_components, id_to_title, size_label), as
// tables of gguf-py's own answers for the same inputs (taken from the llama.cpp release the goldens come from).

import { strict as assert } from 'node:assert';
import { sizeLabel } from '../../src/core/gguf/llamaMeta';
import { modelNameParts } from '../../src/core/gguf/modelName';

describe('gguf-py naming heuristics', () => {
  it('folder and hub names -> name, basename, finetune, version, size label', () => {
    const cases: Array<[string, number, [string, string | null, string | null, string | null, string | null]]> = [
      ['stories-dora', 292800, ['Stories Dora', null, null, null, null]],
      ['stories260K', 292800, ['stories260K', null, null, null, null]],
      ['TinyLlama-1.1B-Chat-v1.0', 292800, ['TinyLlama 1.1B Chat v1.0', 'TinyLlama', '1.1b-Chat', 'v1.0', null]],
      ['TinyLlama-1.1B-Chat-v1.0', 1100048384, ['TinyLlama 1.1B Chat v1.0', 'TinyLlama', 'Chat', 'v1.0', '1.1B']],
      ['llama-2-7b-hf', 6738415616, ['Llama 2 7b Hf', 'llama-2', 'hf', null, '7B']],
      ['my_model', 5, ['My_Model', null, null, null, null]],
      ['Mistral-7B-Instruct-v0.3', 7248023552, ['Mistral 7B Instruct v0.3', 'Mistral', 'Instruct', 'v0.3', '7B']],
      ['bloom-7b1', 7e9, ['Bloom 7b1', 'bloom', null, null, '7.1B']],
      ['phi-small-3B', 3e9, ['Phi Small 3B', 'phi-small', null, null, '3B']],
    ];
    for (const [id, params, [name, basename, finetune, version, size]] of cases) {
      const p = modelNameParts(id, params);
      assert.deepEqual([p.name, p.basename, p.finetune, p.version, p.sizeLabel], [name, basename, finetune, version, size], id);
    }
  });
  it('an org/name id gives the organization; adapters (negative counts) keep "lora" out of the finetune', () => {
    assert.equal(modelNameParts('acme-labs/TinyChat-256K-Instruct-v2', 1.4e6).organization, 'Acme Labs');
    assert.equal(modelNameParts('./models/x', 1).organization, null);
    assert.equal(modelNameParts('stories-lora', -20480).finetune, null);
    assert.equal(modelNameParts('stories-lora', 20480).finetune, 'lora');
  });
  it('size labels with two significant digits, exact halves to even as Python formats them', () => {
    const cases: Array<[number, string]> = [
      [292800, '293K'], [292500, '292K'], [1100048384, '1.1B'], [6738415616, '6.7B'], [2500, '2.5K'], [12500, '12K'],
      [1500000, '1.5M'], [125000000, '125M'], [7248023552, '7.2B'], [65000, '65K'],
    ];
    for (const [n, label] of cases) assert.equal(sizeLabel(n), label, String(n));
  });
});
