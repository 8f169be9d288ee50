// Prompt formats over a tokenizer: raw, the Alpaca-2 template, and a chat_template rendered with @huggingface/jinja
// (add_generation_prompt, bos_token from the config, tokenized without adding special tokens again).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alpaca2Prompt, encodePrompt, renderChatTemplate } from '../../src/core/model/prompt';
import { parseSentencePieceModel } from '../../src/core/tokenizer/sentencePiece';
import { SentencePieceTokenizer } from '../../src/core/tokenizer/sentencePieceTokenizer';
import { parseTokenizerConfig } from '../../src/core/tokenizer/tokenizer';

const model = parseSentencePieceModel(new Uint8Array(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'stories260K', 'tokenizer.model'))));
// Llama-2-chat's template, abridged to its user/system/assistant logic.
const LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
  + "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
  + "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
  + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
  + "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
  + "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

describe('prompt formats', () => {
  const tok = new SentencePieceTokenizer(model, parseTokenizerConfig({ bos_token: '<s>', eos_token: '</s>', chat_template: LLAMA2 }, null));

  it('Alpaca-2 wraps the instruction with the system prompt', () => {
    assert.equal(alpaca2Prompt('Tell a story.', 'Be kind.'), '[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nTell a story. [/INST]');
    assert.deepEqual(encodePrompt(tok, 'Tell a story.', 'alpaca2', 'Be kind.'), tok.encode(alpaca2Prompt('Tell a story.', 'Be kind.')).ids);
  });

  it('renders chat_template and does not add a second BOS', () => {
    const text = renderChatTemplate(tok, 'Tell a story.', 'Be kind.');
    assert.equal(text, '<s>[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nTell a story. [/INST]');
    const ids = encodePrompt(tok, 'Tell a story.', 'chat', 'Be kind.');
    assert.equal(ids[0], 1);
    assert.notEqual(ids[1], 1);
    assert.deepEqual(ids, tok.encode(text, { addSpecialTokens: false }).ids);
  });

  it('raw text gets BOS as the tokenizer config says', () => {
    assert.deepEqual(encodePrompt(tok, 'Once upon a time'), [1, 403, 407, 261, 378]);
  });
});
