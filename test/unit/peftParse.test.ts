import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyTextEdits, editBaseModel, setTopLevel } from '../../src/core/peft/edit';
import { PEFT_FIELDS } from '../../src/core/peft/fields';
import { parseAdapterConfig, positionAt, valueRange } from '../../src/core/peft/parse';
import { validateAdapterConfig } from '../../src/core/peft/validate';

const PEFT_TEXT = `{
  "base_model_name_or_path": "/content/llama",
  "bias": "none",
  "lora_alpha": 32.0,
  "peft_type": "LORA",
  "r": 8,
  "target_modules": [
    "q_proj",
    "v_proj"
  ],
  "task_type": "CAUSAL_LM"
}`;

const codes = (text: string): string[] => validateAdapterConfig(parseAdapterConfig(text)).map((p) => `${p.code}:${p.severity}`);

describe('peft parse', () => {
  it('gives the exact range of a value and its line/column', () => {
    const p = parseAdapterConfig(PEFT_TEXT);
    const r = valueRange(p, ['base_model_name_or_path']);
    assert.equal(PEFT_TEXT.slice(r.offset, r.offset + r.length), '"/content/llama"');
    assert.deepEqual(positionAt(PEFT_TEXT, r.offset), { line: 1, character: 29 });
    assert.equal(p.config?.loraAlpha, 32);
    assert.equal(p.format, 'peft');
  });
  it('tolerates CRLF, comments, trailing commas, a BOM and unsorted keys', () => {
    const text = '\ufeff{\r\n  // trained on colab\r\n  "r": 16,\r\n  "peft_type": "LORA",\r\n  "base_model_name_or_path": "x/y",\r\n}\r\n';
    const p = parseAdapterConfig(text);
    assert.equal(p.eol, '\r\n');
    assert.deepEqual(p.syntaxErrors, []);
    assert.equal(p.config?.r, 16);
    assert.equal(p.config?.baseModel, 'x/y');
    // CR-only line counting matches the editor.
    assert.equal(positionAt('a\rb\r\nc', 5).line, 2);
  });
  it('reports malformed JSON and still diagnoses what parsed', () => {
    const text = '{\n  "peft_type": "LORA"\n  "r": 0,\n  "base_model_name_or_path": "a/b"\n';
    const p = parseAdapterConfig(text);
    assert.ok(p.syntaxErrors.length >= 1);
    assert.equal(p.config?.baseModel, 'a/b');
    const c = codes(text);
    assert.ok(c.includes('json-syntax:error'));
    assert.ok(c.includes('invalid-value:error'), c.join()); // r = 0
  });
  it('flags binary content, non-objects, MLX configs and missing peft_type', () => {
    assert.deepEqual(codes('\u0000\u0001safetensors'), ['not-peft-config:error']);
    assert.deepEqual(codes('[1, 2]'), ['not-peft-config:error']);
    assert.deepEqual(codes('{"fine_tune_type": "lora", "lora_parameters": {"rank": 8}, "model": "mlx-community/x"}'), ['not-peft-config:info']);
    assert.deepEqual(codes('{"r": 8}'), ['not-peft-config:warning']);
    assert.deepEqual(codes('{"peft_type": "IA3", "base_model_name_or_path": "a/b"}'), ['not-peft-config:info']);
  });
  it('reports unknown keys and PEFT 0.2 legacy keys as info on the key', () => {
    const text = '{"peft_type": "LORA", "enable_lora": null, "merge_weights": false, "my_note": 1}';
    const p = parseAdapterConfig(text);
    const probs = validateAdapterConfig(p);
    assert.deepEqual(probs.map((x) => x.code).sort(), ['legacy-key', 'legacy-key', 'unknown-key']);
    const unk = probs.find((x) => x.code === 'unknown-key')!;
    assert.equal(text.slice(unk.range.offset, unk.range.offset + unk.range.length), '"my_note"');
    assert.ok(probs.every((x) => x.severity === 'info'));
  });
  it('checks value types PEFT rejects', () => {
    const c = codes('{"peft_type": "LORA", "r": 8.5, "bias": "some", "lora_alpha": "16", "fan_in_fan_out": "no", "rank_pattern": {"q_proj": -1}, "target_modules": "([", "layers_to_transform": [-1], "layer_replication": [[0, 2]]}');
    assert.equal(c.filter((x) => x === 'invalid-value:error').length, 7, c.join());
    assert.ok(c.includes('layer-replication:info'));
  });
  it('accepts a clean PEFT config with no problems', () => {
    assert.deepEqual(codes(PEFT_TEXT), []);
  });
});

describe('peft edits', () => {
  it('replaces only the base value and keeps CRLF and indentation', () => {
    const text = PEFT_TEXT.replace(/\n/g, '\r\n');
    const p = parseAdapterConfig(text);
    const edits = setTopLevel(p, 'base_model_name_or_path', '/models/llama-2-7b');
    assert.equal(edits.length, 1);
    assert.equal(text.slice(edits[0]!.offset, edits[0]!.offset + edits[0]!.length), '"/content/llama"');
    const out = applyTextEdits(text, edits);
    assert.equal(out, text.replace('"/content/llama"', '"/models/llama-2-7b"'));
  });
  it('inserts a revision in sorted position with the file\'s EOL, and removes it again', () => {
    const text = PEFT_TEXT.replace(/\n/g, '\r\n');
    const p = parseAdapterConfig(text);
    const out = applyTextEdits(text, editBaseModel(p, 'meta-llama/Llama-2-7b-hf', 'abc123'));
    assert.ok(!/[^\r]\n/.test(out), 'no bare LF introduced');
    const keys = Object.keys(JSON.parse(out) as object);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal((JSON.parse(out) as { revision: string }).revision, 'abc123');
    const back = applyTextEdits(out, setTopLevel(parseAdapterConfig(out), 'revision', undefined));
    assert.equal(back, text.replace('"/content/llama"', '"meta-llama/Llama-2-7b-hf"'));
  });
  it('escapes Windows paths as JSON strings', () => {
    const p = parseAdapterConfig(PEFT_TEXT);
    const out = applyTextEdits(PEFT_TEXT, setTopLevel(p, 'base_model_name_or_path', 'D:\\models\\llama'));
    assert.equal((JSON.parse(out) as { base_model_name_or_path: string }).base_model_name_or_path, 'D:\\models\\llama');
  });
});

describe('adapter_config JSON schema', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../schemas/adapter_config.schema.json'), 'utf8')) as {
    properties: Record<string, { markdownDescription?: string; description?: string }>;
  };
  it('documents every PEFT field, with the version it appeared in', () => {
    for (const [key, field] of Object.entries(PEFT_FIELDS)) {
      const prop = schema.properties[key];
      assert.ok(prop, `schema lacks ${key}`);
      const doc = prop.markdownDescription ?? prop.description ?? '';
      assert.ok(doc.includes(`PEFT ${field.since}`), `${key} doc must say "PEFT ${field.since}"`);
    }
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(PEFT_FIELDS).sort());
  });
});
