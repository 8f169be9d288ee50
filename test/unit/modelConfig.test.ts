// config.json -> LlamaConfig for every supported architecture: what each family's variant turns on, the defaults a
// multimodal Gemma 3 text_config leaves out, which layers slide, and the error naming an unsupported architecture.

import * as assert from 'node:assert/strict';
import { CoreError } from '../../src/core/errors';
import { parseLlamaConfig } from '../../src/core/model/llama/config';
import { languageModelName } from '../../src/core/model/llama/families';
import { computeInvFreq } from '../../src/core/tensor/rope';

const base = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 6, num_attention_heads: 4, vocab_size: 100 };

describe('model config: architectures and their variants', () => {
  it('names an unsupported architecture and lists the supported ones', () => {
    assert.throws(() => parseLlamaConfig({ ...base, architectures: ['GPT2LMHeadModel'] }), (e: unknown) => {
      const m = (e as CoreError).message;
      return (e as CoreError).code === 'unsupported' && m.includes('GPT2LMHeadModel')
        && ['Qwen3ForCausalLM', 'Gemma2ForCausalLM', 'Gemma3ForCausalLM', 'Phi3ForCausalLM', 'LlamaForCausalLM'].every((a) => m.includes(a));
    });
  });

  it('Llama 3.x: the eos_token_id list and llama3 rope scaling are kept', () => {
    const c = parseLlamaConfig({ ...base, architectures: ['LlamaForCausalLM'], eos_token_id: [128001, 128008, 128009],
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    assert.deepEqual(c.eosTokenIds, [128001, 128008, 128009]);
    assert.equal(c.variant.kind, 'llama');
    assert.equal(c.variant.qkNorm || c.variant.normPlusOne || c.variant.fused, false);
  });

  it('Qwen3: q/k norms, head_dim from the config, no biases, tie_word_embeddings as given', () => {
    const c = parseLlamaConfig({ ...base, architectures: ['Qwen3ForCausalLM'], head_dim: 32, tie_word_embeddings: true, use_sliding_window: false, sliding_window: 16 });
    assert.equal(c.headDim, 32);
    assert.ok(c.variant.qkNorm && c.tieWordEmbeddings && !c.attentionBias);
    assert.equal(c.maxPositionEmbeddings, 2048, 'use_sliding_window false: no cap');
  });

  it('Gemma 2: even layers slide, soft-capping defaults, query_pre_attn_scalar, gelu_pytorch_tanh, tied by default', () => {
    const c = parseLlamaConfig({ ...base, architectures: ['Gemma2ForCausalLM'], head_dim: 24, query_pre_attn_scalar: 144, sliding_window: 4096 });
    assert.deepEqual(c.variant.layerWindows, [4096, null, 4096, null, 4096, null]);
    assert.equal(c.variant.attnSoftcap, 50);
    assert.equal(c.variant.finalSoftcap, 30);
    assert.equal(c.variant.attnScale, 144 ** -0.5);
    assert.equal(c.variant.activation, 'gelu_tanh');
    assert.ok(c.tieWordEmbeddings && c.variant.normPlusOne && c.variant.sandwichNorms && c.variant.embedScale);
    assert.throws(() => parseLlamaConfig({ ...base, architectures: ['Gemma2ForCausalLM'], hidden_activation: 'relu' }), /relu/);
  });

  it('Gemma 3: sliding_window_pattern (or layer_types), local RoPE base, a multimodal text_config with defaults', () => {
    const c = parseLlamaConfig({ ...base, architectures: ['Gemma3ForCausalLM'], sliding_window: 512, sliding_window_pattern: 3 });
    assert.deepEqual(c.variant.layerWindows, [512, 512, null, 512, 512, null]);
    assert.equal(c.variant.localRopeTheta, 10000);
    assert.equal(c.variant.finalSoftcap, null);
    const types = ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention', 'sliding_attention'];
    assert.deepEqual(parseLlamaConfig({ ...base, architectures: ['Gemma3ForCausalLM'], sliding_window: 8, layer_types: types }).variant.layerWindows,
      [null, 8, null, 8, null, 8]);
    const mm = parseLlamaConfig({ architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', eos_token_id: [1, 106],
      text_config: { hidden_size: 2560, intermediate_size: 10240, num_hidden_layers: 34, sliding_window: 1024, rope_scaling: { rope_type: 'linear', factor: 8 } } });
    assert.equal(mm.variant.multimodal, true);
    assert.equal(mm.headDim, 256, 'Gemma3TextConfig default');
    assert.equal(mm.vocabSize, 262208);
    assert.deepEqual(mm.eosTokenIds, [1, 106]);
    assert.equal(mm.variant.layerWindows.filter((w) => w === null).length, 5, 'every sixth layer is global');
  });

  it('multimodal Gemma 3 names: both transformers layouts map onto the text model, the vision tower is left out', () => {
    assert.equal(languageModelName('language_model.model.layers.0.mlp.up_proj.weight'), 'model.layers.0.mlp.up_proj.weight');
    assert.equal(languageModelName('language_model.lm_head.weight'), 'lm_head.weight');
    assert.equal(languageModelName('model.language_model.embed_tokens.weight'), 'model.embed_tokens.weight');
    assert.equal(languageModelName('model.vision_tower.vision_model.post_layernorm.weight'), null);
    assert.equal(languageModelName('multi_modal_projector.mm_input_projection_weight'), null);
    assert.equal(languageModelName('model.layers.3.self_attn.q_proj.weight'), 'model.layers.3.self_attn.q_proj.weight');
  });

  it('Phi-3: fused projections; longrope (and its old name su) picks short_factor below the original context, long above', () => {
    const c = parseLlamaConfig({ ...base, architectures: ['Phi3ForCausalLM'], max_position_embeddings: 131072, original_max_position_embeddings: 4096,
      sliding_window: 262144, partial_rotary_factor: 0.75, rope_scaling: { type: 'su', short_factor: [1, 1, 1, 1, 1, 1], long_factor: [2, 2, 2, 2, 2, 2] } });
    assert.ok(c.variant.fused);
    const rope = { headDim: c.headDim, partialRotaryFactor: c.partialRotaryFactor, maxPositionEmbeddings: c.ropeMaxPositions,
      ropeScaling: c.ropeScaling, originalMaxPositionEmbeddings: c.originalMaxPositionEmbeddings };
    const short = computeInvFreq(rope, 100);
    const long = computeInvFreq(rope, 5000);
    assert.equal(short.invFreq.length, 6, '16 * 0.75 = 12 rotary dims');
    assert.equal(long.invFreq[1], Math.fround(short.invFreq[1]! / 2));
    assert.equal(short.attentionFactor, Math.sqrt(1 + Math.log(32) / Math.log(4096)));
  });
});
