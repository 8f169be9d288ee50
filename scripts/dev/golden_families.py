#!/usr/bin/python3
"""Dev-only: golden logits and greedy tokens for the architectures beyond Llama (Qwen3, Gemma 2, Gemma 3 text and its
multimodal checkpoint layout, Phi-3), from plain-torch references written for this project from transformers'
modeling_qwen3.py, modeling_gemma2.py, modeling_gemma3.py, modeling_phi3.py and modeling_rope_utils.py (longrope):
per-head q/k RMSNorm, Gemma's (1 + w) RMSNorm, sandwich norms, GeGLU (tanh gelu), sqrt(hidden) embedding scale in the
weights' dtype, query_pre_attn_scalar, attention and final logit soft-capping, sliding-window layers (mask
q - k >= window), Gemma 3 local RoPE base, fused qkv_proj / gate_up_proj, partial rotary, longrope short/long
switching. PEFT LoRA on top as in golden_llama.py.

Run: /usr/bin/python3 scripts/dev/golden_families.py   (Debian python3-torch, numpy, python3-sentencepiece)
Writes test/fixtures/families/: one tiny random model per architecture in the exact HF layout, one LoRA adapter per
model, and goldens.json (logits as base64 little-endian f32).
"""
import json
import math
import os
import shutil
import sys

import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(__file__))
from golden_llama import (BILINGUAL_SP, FIX, Adapter, Llama, base_inv_freq, greedy_case, rms_norm, rope_init,  # noqa: E402
                          rotate_half, save_safetensors, write_adapter)

torch.set_grad_enabled(False)
OUT = os.path.join(FIX, 'families')
MAX_FIXTURE_BYTES = 200 * 1024
ROUND = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def longrope_inv_freq(cfg, seq_len):
    """modeling_rope_utils._compute_longrope_parameters: per-frequency factors, attention factor from the ratio."""
    hd = cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']
    dim = int(hd * cfg.get('partial_rotary_factor', 1.0))
    rs = cfg['rope_scaling']
    orig = cfg['original_max_position_embeddings']
    factor = cfg['max_position_embeddings'] / orig
    att = math.sqrt(1 + math.log(factor) / math.log(orig)) if factor > 1 else 1.0
    ext = torch.tensor(rs['long_factor'] if seq_len > orig else rs['short_factor'], dtype=torch.float32)
    shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    return 1.0 / (ext * cfg.get('rope_theta', 10000.0) ** shape), att


class Decoder(Llama):
    """One forward pass for every family: `kind` is qwen3, gemma2, gemma3 or phi3 (text config fields as HF names).
    The LoRA-aware linear and embedding lookup are Llama's."""

    def __init__(self, kind, cfg, weights, adapters=(), embed_dtype=torch.float32):
        self.kind, self.cfg = kind, cfg
        self.gemma = kind in ('gemma2', 'gemma3')
        self.w = {k: v.float() for k, v in weights.items()}
        self.adapters = list(adapters)
        if 'lm_head.weight' not in self.w:
            self.w['lm_head.weight'] = self.w['model.embed_tokens.weight']
        self.n_h = cfg['num_attention_heads']
        self.n_kv = cfg['num_key_value_heads']
        self.hd = cfg.get('head_dim') or cfg['hidden_size'] // self.n_h
        self.L = cfg['num_hidden_layers']
        self.scaling = cfg['query_pre_attn_scalar'] ** -0.5 if self.gemma else self.hd ** -0.5
        self.embed_scale = torch.tensor(cfg['hidden_size'] ** 0.5, dtype=embed_dtype).float() if self.gemma else None
        self.k_cache = [None] * self.L
        self.v_cache = [None] * self.L

    # ---- pieces -------------------------------------------------------------------------------------------------
    def norm(self, x, name):
        w = self.w[name]
        if self.gemma:  # Gemma*RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w), all in f32
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg['rms_norm_eps']) * (1.0 + w)
        return rms_norm(x, w, self.cfg['rms_norm_eps'])

    def sliding(self, l):
        if self.kind == 'gemma2':
            return l % 2 == 0
        if self.kind == 'gemma3':
            return (l + 1) % self.cfg['sliding_window_pattern'] != 0
        return False

    def rope_for(self, l, seq_len):
        """(inv_freq, attention factor) of layer l for a forward reaching seq_len."""
        if self.kind == 'phi3' and (self.cfg.get('rope_scaling') or {}).get('type') == 'longrope':
            return longrope_inv_freq(self.cfg, seq_len)
        if self.kind == 'gemma3' and self.sliding(l):
            return base_inv_freq(self.cfg['rope_local_base_freq'], self.hd), 1.0
        cfg = dict(self.cfg)
        if self.kind == 'phi3':
            cfg['head_dim'] = int(self.hd * cfg.get('partial_rotary_factor', 1.0))
        return rope_init(cfg), 1.0

    def apply_rope(self, x, inv, att, pos):
        """Partial rotary as modeling_phi3: rotate_half over the first rotary_dim dims, the rest pass through."""
        freqs = pos.float()[:, None] * inv.float()[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos() * att, emb.sin() * att
        rd = cos.shape[-1]
        xr, xp = x[..., :rd], x[..., rd:]
        return torch.cat((xr * cos[None] + rotate_half(xr) * sin[None], xp), dim=-1)

    def qkv(self, p, h, n):
        if self.kind == 'phi3':
            qkv = self.linear(p + '.self_attn.qkv_proj', h)
            qd, kd = self.n_h * self.hd, self.n_kv * self.hd
            q, k, v = qkv[..., :qd], qkv[..., qd:qd + kd], qkv[..., qd + kd:]
        else:
            q = self.linear(p + '.self_attn.q_proj', h)
            k = self.linear(p + '.self_attn.k_proj', h)
            v = self.linear(p + '.self_attn.v_proj', h)
        q = q.view(n, self.n_h, self.hd)
        k = k.view(n, self.n_kv, self.hd)
        if self.kind in ('qwen3', 'gemma3'):  # q_norm / k_norm over head_dim, before RoPE
            q = self.norm(q, p + '.self_attn.q_norm.weight')
            k = self.norm(k, p + '.self_attn.k_norm.weight')
        return q.transpose(0, 1), k.transpose(0, 1), v.view(n, self.n_kv, self.hd).transpose(0, 1)

    def attention(self, l, q, k, v, pos):
        rep = self.n_h // self.n_kv
        kk, vv = k.repeat_interleave(rep, dim=0), v.repeat_interleave(rep, dim=0)
        scores = (q @ kk.transpose(1, 2)) * self.scaling
        cap = self.cfg.get('attn_logit_softcapping') if self.gemma else None
        if cap is not None:
            scores = torch.tanh(scores / cap) * cap
        t = torch.arange(k.shape[1])[None, :]
        mask = t > pos[:, None]
        if self.sliding(l):  # modeling_gemma2: tril(ones, diagonal=-window) is masked, i.e. q - k >= window
            mask = mask | (t <= pos[:, None] - self.cfg['sliding_window'])
        scores = scores.masked_fill(mask[None], float('-inf'))
        return torch.softmax(scores, dim=-1) @ vv

    def mlp(self, p, h):
        if self.kind == 'phi3':
            gu = self.linear(p + '.mlp.gate_up_proj', h)
            g, u = gu.chunk(2, dim=-1)
        else:
            g, u = self.linear(p + '.mlp.gate_proj', h), self.linear(p + '.mlp.up_proj', h)
        act = gelu_tanh(g) if self.gemma else torch.nn.functional.silu(g)
        return self.linear(p + '.mlp.down_proj', act * u)

    def embed(self, ids):
        x = Llama.embed(self, ids)
        return x * self.embed_scale if self.embed_scale is not None else x

    # ---- the model ------------------------------------------------------------------------------------------------
    def forward(self, ids, pos0):
        n = len(ids)
        pos = torch.arange(pos0, pos0 + n)
        x = self.embed(torch.tensor(ids))
        for l in range(self.L):
            p = 'model.layers.%d' % l
            inv, att = self.rope_for(l, pos0 + n)
            q, k, v = self.qkv(p, self.norm(x, p + '.input_layernorm.weight'), n)
            q, k = self.apply_rope(q, inv, att, pos), self.apply_rope(k, inv, att, pos)
            if self.k_cache[l] is not None:
                k, v = torch.cat((self.k_cache[l], k), dim=1), torch.cat((self.v_cache[l], v), dim=1)
            self.k_cache[l], self.v_cache[l] = k, v
            a = self.attention(l, q, k, v, pos).transpose(0, 1).reshape(n, self.n_h * self.hd)
            a = self.linear(p + '.self_attn.o_proj', a)
            if self.gemma:
                x = x + self.norm(a, p + '.post_attention_layernorm.weight')
                m = self.mlp(p, self.norm(x, p + '.pre_feedforward_layernorm.weight'))
                x = x + self.norm(m, p + '.post_feedforward_layernorm.weight')
            else:
                x = x + a
                x = x + self.mlp(p, self.norm(x, p + '.post_attention_layernorm.weight'))
        logits = self.linear('lm_head', self.norm(x, 'model.norm.weight'))
        cap = self.cfg.get('final_logit_softcapping') if self.gemma else None
        return torch.tanh(logits / cap) * cap if cap is not None else logits


def run_case(name, kind, cfg, weights, prompt, steps, adapters=(), embed_dtype=torch.float32, all_logits=False):
    # all_logits: every prompt position, where the sliding window starts to matter
    return greedy_case(name, Decoder(kind, cfg, weights, adapters, embed_dtype), prompt, steps, all_logits)


# ---- tiny models in the exact HF layout ------------------------------------------------------------------------------
def tensor_shapes(kind, cfg):
    H, I, V = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
    nh, nkv = cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or H // nh
    shapes = {'model.embed_tokens.weight': (V, H), 'model.norm.weight': (H,)}
    for l in range(cfg['num_hidden_layers']):
        p = 'model.layers.%d.' % l
        norms = ['input_layernorm', 'post_attention_layernorm']
        if kind.startswith('gemma'):
            norms += ['pre_feedforward_layernorm', 'post_feedforward_layernorm']
        shapes.update({p + n + '.weight': (H,) for n in norms})
        if kind in ('qwen3', 'gemma3'):
            shapes[p + 'self_attn.q_norm.weight'] = (hd,)
            shapes[p + 'self_attn.k_norm.weight'] = (hd,)
        if kind == 'phi3':
            shapes[p + 'self_attn.qkv_proj.weight'] = ((nh + 2 * nkv) * hd, H)
            shapes[p + 'mlp.gate_up_proj.weight'] = (2 * I, H)
        else:
            shapes.update({p + 'self_attn.q_proj.weight': (nh * hd, H), p + 'self_attn.k_proj.weight': (nkv * hd, H),
                           p + 'self_attn.v_proj.weight': (nkv * hd, H), p + 'mlp.gate_proj.weight': (I, H),
                           p + 'mlp.up_proj.weight': (I, H)})
        shapes[p + 'self_attn.o_proj.weight'] = (H, nh * hd)
        shapes[p + 'mlp.down_proj.weight'] = (H, I)
    if not cfg.get('tie_word_embeddings'):
        shapes['lm_head.weight'] = (V, H)
    return shapes


def random_weights(kind, cfg, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape in tensor_shapes(kind, cfg).items():
        if len(shape) == 1:  # norms: around 1 (Gemma stores the offset from 1)
            t = torch.randn(*shape, generator=g) * 0.2 + (0.0 if kind.startswith('gemma') else 1.0)
        elif 'embed_tokens' in name:  # small next to the layers' output, or a tied head just repeats the input token
            t = torch.randn(*shape, generator=g) * (0.1 if kind.startswith('gemma') else 0.4)
        else:
            t = torch.randn(*shape, generator=g) * 2 / math.sqrt(shape[1])
        w[name] = t.to(dtype)
    return w


def write_model(folder, cfg, weights, renamed=None):
    os.makedirs(folder, exist_ok=True)
    json.dump(cfg, open(os.path.join(folder, 'config.json'), 'w'), indent=2)
    save_safetensors(os.path.join(folder, 'model.safetensors'), renamed or weights)
    shutil.copy(BILINGUAL_SP, os.path.join(folder, 'tokenizer.model'))
    json.dump({'add_bos_token': True, 'add_eos_token': False, 'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>',
               'legacy': True, 'tokenizer_class': 'LlamaTokenizer'}, open(os.path.join(folder, 'tokenizer_config.json'), 'w'), indent=2)
    json.dump({'bos_token_id': 1, 'eos_token_id': [2, 3]}, open(os.path.join(folder, 'generation_config.json'), 'w'), indent=2)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    assert size < MAX_FIXTURE_BYTES, (folder, size)


def make_adapter(folder, base, kind, cfg, seed, targets, extra=None):
    """A LoRA on `targets` (module suffixes) of every layer, r=4, alpha=8; `extra` adds full-module LoRAs (lm_head)."""
    g = torch.Generator().manual_seed(seed)
    shapes = tensor_shapes(kind, cfg)
    t = {}
    for name, shape in shapes.items():
        mod = name[:-len('.weight')]
        if len(shape) == 2 and (mod.split('.')[-1] in targets or mod in (extra or [])):
            o, i = shape if mod != 'lm_head' else (cfg['vocab_size'], cfg['hidden_size'])
            t[mod + '.lora_A.weight'] = torch.randn(4, i, generator=g) * 0.3
            t[mod + '.lora_B.weight'] = torch.randn(o, 4, generator=g) * 0.3
    if 'lm_head' in (extra or []) and 'lm_head.lora_A.weight' not in t:
        t['lm_head.lora_A.weight'] = torch.randn(4, cfg['hidden_size'], generator=g) * 0.3
        t['lm_head.lora_B.weight'] = torch.randn(cfg['vocab_size'], 4, generator=g) * 0.3
    write_adapter(folder, {'r': 4, 'lora_alpha': 8, 'target_modules': sorted(set(targets) | set(extra or [])),
                           'base_model_name_or_path': base}, t)


QWEN3 = {
    'architectures': ['Qwen3ForCausalLM'], 'model_type': 'qwen3', 'hidden_act': 'silu', 'hidden_size': 32,
    'intermediate_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 16,
    'vocab_size': 600, 'max_position_embeddings': 512, 'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0, 'rope_scaling': None,
    'attention_bias': False, 'tie_word_embeddings': True, 'use_sliding_window': False, 'sliding_window': None,
    'max_window_layers': 2, 'bos_token_id': 1, 'eos_token_id': 2, 'torch_dtype': 'float32',
}
GEMMA2 = {
    'architectures': ['Gemma2ForCausalLM'], 'model_type': 'gemma2', 'hidden_act': 'gelu_pytorch_tanh',
    'hidden_activation': 'gelu_pytorch_tanh', 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
    'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 24, 'query_pre_attn_scalar': 20, 'vocab_size': 600,
    'max_position_embeddings': 256, 'rms_norm_eps': 1e-6, 'rope_theta': 10000.0, 'attention_bias': False,
    'attn_logit_softcapping': 3.0, 'final_logit_softcapping': 5.0, 'sliding_window': 5, 'cache_implementation': 'hybrid',
    'tie_word_embeddings': True, 'bos_token_id': 1, 'eos_token_id': [2, 3], 'pad_token_id': 0, 'torch_dtype': 'bfloat16',
}
GEMMA3_TEXT = {
    'model_type': 'gemma3_text', 'hidden_activation': 'gelu_pytorch_tanh', 'hidden_size': 32, 'intermediate_size': 64,
    'num_hidden_layers': 3, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 16,
    'query_pre_attn_scalar': 16, 'vocab_size': 600, 'max_position_embeddings': 256, 'rms_norm_eps': 1e-6,
    'rope_theta': 1000000.0, 'rope_local_base_freq': 10000.0, 'rope_scaling': {'rope_type': 'linear', 'factor': 2.0},
    'sliding_window': 4, 'sliding_window_pattern': 3, 'attn_logit_softcapping': None, 'final_logit_softcapping': None,
    'attention_bias': False, 'tie_word_embeddings': True, 'bos_token_id': 1, 'eos_token_id': [2, 3], 'pad_token_id': 0,
}
GEMMA3 = dict(GEMMA3_TEXT, architectures=['Gemma3ForCausalLM'], torch_dtype='float16')
PHI3 = {
    'architectures': ['Phi3ForCausalLM'], 'model_type': 'phi3', 'hidden_act': 'silu', 'hidden_size': 32,
    'intermediate_size': 48, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
    'vocab_size': 600, 'max_position_embeddings': 64, 'original_max_position_embeddings': 8, 'partial_rotary_factor': 0.5,
    'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'sliding_window': None, 'tie_word_embeddings': False,
    'rope_scaling': {'type': 'longrope', 'short_factor': [1.0, 1.5], 'long_factor': [3.0, 7.5]},
    'bos_token_id': 1, 'eos_token_id': 2, 'torch_dtype': 'bfloat16',
}


def multimodal(weights):
    """Gemma3ForConditionalGeneration (transformers >= 4.52 layout): model.language_model.*, a vision tower beside it."""
    out = {('model.language_model.' + k[len('model.'):]): v for k, v in weights.items()}
    out['model.vision_tower.vision_model.embeddings.patch_embedding.weight'] = torch.zeros(4, 3, 2, 2, dtype=torch.float16)
    out['model.multi_modal_projector.mm_input_projection_weight'] = torch.zeros(4, 32, dtype=torch.float16)
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    sp = spm.SentencePieceProcessor(model_file=BILINGUAL_SP)
    short = [1] + sp.encode('从前有一个小女孩 Once upon a time')
    tiny = [1] + sp.encode('Once upon')
    long = [1] + sp.encode('Once upon a time there was a girl. 她喜欢在公园里玩。')
    cases = []
    models = [
        ('qwen3-f32-tied', 'qwen3', QWEN3, torch.float32, 21, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], ['lm_head']),
        ('gemma2-bf16', 'gemma2', GEMMA2, torch.bfloat16, 22, ['q_proj', 'v_proj', 'o_proj', 'down_proj'], None),
        ('gemma3-f16', 'gemma3', GEMMA3, torch.float16, 23, ['q_proj', 'k_proj', 'gate_proj', 'up_proj'], None),
        ('phi3-bf16-longrope', 'phi3', PHI3, torch.bfloat16, 24, ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'], None),
    ]
    for name, kind, cfg, dtype, seed, targets, extra in models:
        w = random_weights(kind, cfg, dtype, seed)
        write_model(os.path.join(OUT, name), cfg, w)
        adapter = 'adapter-' + name
        make_adapter(os.path.join(OUT, adapter), name, kind, cfg, seed + 100, targets, extra)
        ad = Adapter(os.path.join(OUT, adapter))
        prompts = [('short', short), ('long', long)]
        if kind == 'phi3':  # starts below original_max_position_embeddings (short_factor), generation crosses it
            prompts.append(('switch', tiny))
            assert len(tiny) < PHI3['original_max_position_embeddings'] < len(tiny) + 12
        for prompt_name, prompt in prompts:
            for with_adapter in (False, True):
                case = run_case('%s/%s%s' % (name, prompt_name, '+lora' if with_adapter else ''), kind, cfg, w, prompt, 12,
                                [(ad, 1.0)] if with_adapter else (), embed_dtype=dtype,
                                all_logits=prompt_name == 'long' and not with_adapter)
                case.update(model=name, adapters=[{'path': adapter, 'scale': 1.0}] if with_adapter else [])
                cases.append(case)
        if kind == 'gemma3':
            mm = dict(architectures=['Gemma3ForConditionalGeneration'], model_type='gemma3', text_config=GEMMA3_TEXT,
                      vision_config={'model_type': 'siglip_vision_model', 'hidden_size': 4}, eos_token_id=[2, 3],
                      torch_dtype='float16')
            write_model(os.path.join(OUT, 'gemma3-multimodal'), mm, w, renamed=multimodal(w))
            case = run_case('gemma3-multimodal/long', kind, cfg, w, long, 12, embed_dtype=dtype)
            case.update(model='gemma3-multimodal', adapters=[])
            cases.append(case)
    assert len(long) > max(GEMMA2['sliding_window'], GEMMA3['sliding_window']) * 3, len(long)
    # One goldens file per model keeps each fixture small.
    for name, *_ in models:
        mine = [c for c in cases if c['model'].split('-')[0] == name.split('-')[0]]
        path = os.path.join(OUT, 'goldens-%s.json' % name.split('-')[0])
        with open(path, 'w') as f:
            json.dump({'_comment': 'scripts/dev/golden_families.py: torch fp32 reference; logits base64 little-endian f32. '
                       'model and adapter paths are folders under test/fixtures/families/.', 'cases': mine}, f, indent=1)
        assert os.path.getsize(path) < MAX_FIXTURE_BYTES, (path, os.path.getsize(path))
    for c in cases:
        print(c['name'], len(c['promptIds']), 'greedy', c['greedy'][:8], 'margin %.4f' % c['minMargin'])


if __name__ == '__main__':
    main()
