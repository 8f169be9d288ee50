#!/usr/bin/python3
"""Dev-only: golden logits and greedy tokens for the generation engine, from a torch reference of LlamaForCausalLM
written for this project (fp32 compute; semantics of transformers' modeling_llama.py and modeling_rope_utils.py:
RMSNorm, rotate_half RoPE with default/linear/dynamic/llama3 scaling, GQA via repeat_kv, SiLU MLP, biases, tied
embeddings) and of PEFT's LoRA forward (y = W x + s B(A x), rank/alpha patterns, rsLoRA, embedding LoRA,
modules_to_save with a resized vocabulary).

Run: /usr/bin/python3 scripts/dev/golden_llama.py   (Debian python3-torch, numpy, python3-sentencepiece)
Writes test/fixtures/generate/: two small generated models (GQA in f16 and bf16-sharded; MQA f32 tied with dynamic NTK),
adapters for stories260K, and goldens.json (logits as base64 little-endian f32).
"""
import base64
import json
import math
import os
import shutil
import struct

import numpy as np
import sentencepiece as spm
import torch

torch.set_grad_enabled(False)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIX = os.path.join(ROOT, 'test', 'fixtures')
OUT = os.path.join(FIX, 'generate')
STORIES = os.path.join(FIX, 'stories260K')
BILINGUAL_SP = os.path.join(FIX, 'tokenizer', 'bilingual.model')

DT_NAMES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16'}
DT_FROM = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}


# ---- safetensors (own minimal reader/writer) ------------------------------------------------------------------------
def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().astype('<f4').tobytes()


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {'dtype': DT_NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        raw = data[b:e]
        dt = DT_FROM[info['dtype']]
        if dt == torch.float32:
            t = torch.from_numpy(np.frombuffer(raw, dtype='<f4').copy())
        else:
            t = torch.from_numpy(np.frombuffer(raw, dtype='<i2').copy()).view(dt)
        out[name] = t.reshape(info['shape'])
    return out


# ---- the reference model ---------------------------------------------------------------------------------------------
def base_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def rope_init(cfg, seq_len=None):
    """inv_freq and attention scaling as modeling_rope_utils' ROPE_INIT_FUNCTIONS compute them."""
    head_dim = cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']
    base = cfg.get('rope_theta', 10000.0)
    rs = cfg.get('rope_scaling')
    kind = (rs or {}).get('rope_type', (rs or {}).get('type', 'default'))
    if kind == 'default':
        return base_inv_freq(base, head_dim)
    if kind == 'linear':
        return base_inv_freq(base, head_dim) / rs['factor']
    if kind == 'dynamic':
        mpe = cfg['max_position_embeddings']
        factor = rs['factor']
        sl = seq_len if seq_len is not None and seq_len > mpe else mpe
        base = base * ((factor * sl / mpe) - (factor - 1)) ** (head_dim / (head_dim - 2))
        return base_inv_freq(base, head_dim)
    if kind == 'llama3':
        inv = base_inv_freq(base, head_dim)
        factor, low, high = rs['factor'], rs['low_freq_factor'], rs['high_freq_factor']
        old = rs['original_max_position_embeddings']
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        is_medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
        return torch.where(is_medium, smoothed, inv_l)
    raise ValueError(kind)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Adapter:
    """PEFT LoRA weights keyed by module path; scaling per module from rank/alpha patterns."""

    def __init__(self, folder):
        self.cfg = json.load(open(os.path.join(folder, 'adapter_config.json')))
        st = os.path.join(folder, 'adapter_model.safetensors')
        raw = load_safetensors(st) if os.path.exists(st) else torch.load(os.path.join(folder, 'adapter_model.bin'))
        self.t = {k[len('base_model.model.'):]: v.float() for k, v in raw.items()}

    def pattern(self, patterns, name, default):
        import re
        for key, val in patterns.items():
            if re.match(r'(.*\.)?(%s)$' % key, name):
                return val
        return default

    def scaling(self, module):
        r = self.pattern(self.cfg.get('rank_pattern') or {}, module, self.cfg['r'])
        alpha = self.pattern(self.cfg.get('alpha_pattern') or {}, module, self.cfg['lora_alpha'])
        return alpha / math.sqrt(r) if self.cfg.get('use_rslora') else alpha / r


class Llama:
    def __init__(self, cfg, weights, adapters=()):
        self.cfg = cfg
        self.w = {k: v.float() for k, v in weights.items()}
        self.adapters = list(adapters)  # (Adapter, scale)
        for a, _ in self.adapters:  # modules_to_save: full tensors replace the base ones
            for k, v in a.t.items():
                if 'lora_' not in k:
                    self.w[k] = v
        if 'lm_head.weight' not in self.w or (cfg.get('tie_word_embeddings') and not any('lm_head.weight' in a.t for a, _ in self.adapters)):
            self.w['lm_head.weight'] = weights['model.embed_tokens.weight'].float() if 'lm_head.weight' not in weights or cfg.get('tie_word_embeddings') else self.w['lm_head.weight']
        self.n_h = cfg['num_attention_heads']
        self.n_kv = cfg.get('num_key_value_heads', self.n_h)
        self.hd = cfg.get('head_dim') or cfg['hidden_size'] // self.n_h
        self.orig_max = cfg['max_position_embeddings']
        self.inv_freq = rope_init(cfg)
        self.original_inv_freq = self.inv_freq
        self.max_seq_cached = self.orig_max
        self.k_cache = [None] * cfg['num_hidden_layers']
        self.v_cache = [None] * cfg['num_hidden_layers']

    def linear(self, name, x):
        y = x @ self.w[name + '.weight'].T
        for a, scale in self.adapters:
            if name + '.lora_A.weight' in a.t:
                s = a.scaling(name) * scale
                y = y + s * ((x @ a.t[name + '.lora_A.weight'].T) @ a.t[name + '.lora_B.weight'].T)
        if name + '.bias' in self.w:
            y = y + self.w[name + '.bias']
        return y

    def embed(self, ids):
        x = self.w['model.embed_tokens.weight'][ids]
        for a, scale in self.adapters:
            if 'model.embed_tokens.lora_embedding_A' in a.t:
                s = a.scaling('model.embed_tokens') * scale
                A = a.t['model.embed_tokens.lora_embedding_A']  # (r, vocab)
                B = a.t['model.embed_tokens.lora_embedding_B']  # (hidden, r)
                x = x + s * (A[:, ids].T @ B.T)
        return x

    def dynamic_update(self, seq_len):
        rs = self.cfg.get('rope_scaling') or {}
        if rs.get('rope_type', rs.get('type')) != 'dynamic':
            return
        if seq_len > self.max_seq_cached:
            self.inv_freq = rope_init(self.cfg, seq_len)
            self.max_seq_cached = seq_len
        if seq_len < self.orig_max and self.max_seq_cached > self.orig_max:
            self.inv_freq = self.original_inv_freq
            self.max_seq_cached = self.orig_max

    def forward(self, ids, pos0):
        """Logits (n, vocab) for ids at positions pos0.., extending the KV cache."""
        cfg = self.cfg
        n = len(ids)
        pos = torch.arange(pos0, pos0 + n)
        self.dynamic_update(pos0 + n)
        freqs = pos.float()[:, None] * self.inv_freq.float()[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = self.embed(torch.tensor(ids))
        eps = cfg['rms_norm_eps']
        for l in range(cfg['num_hidden_layers']):
            p = 'model.layers.%d' % l
            h = rms_norm(x, self.w[p + '.input_layernorm.weight'], eps)
            q = self.linear(p + '.self_attn.q_proj', h).view(n, self.n_h, self.hd).transpose(0, 1)
            k = self.linear(p + '.self_attn.k_proj', h).view(n, self.n_kv, self.hd).transpose(0, 1)
            v = self.linear(p + '.self_attn.v_proj', h).view(n, self.n_kv, self.hd).transpose(0, 1)
            q = q * cos[None] + rotate_half(q) * sin[None]
            k = k * cos[None] + rotate_half(k) * sin[None]
            if self.k_cache[l] is not None:
                k = torch.cat((self.k_cache[l], k), dim=1)
                v = torch.cat((self.v_cache[l], v), dim=1)
            self.k_cache[l], self.v_cache[l] = k, v
            rep = self.n_h // self.n_kv
            kk = k.repeat_interleave(rep, dim=0)
            vv = v.repeat_interleave(rep, dim=0)
            scores = (q @ kk.transpose(1, 2)) / math.sqrt(self.hd)
            total = k.shape[1]
            mask = torch.arange(total)[None, :] > (pos[:, None])
            scores = scores.masked_fill(mask[None], float('-inf'))
            att = torch.softmax(scores.float(), dim=-1) @ vv
            att = att.transpose(0, 1).reshape(n, self.n_h * self.hd)
            x = x + self.linear(p + '.self_attn.o_proj', att)
            h = rms_norm(x, self.w[p + '.post_attention_layernorm.weight'], eps)
            g = self.linear(p + '.mlp.gate_proj', h)
            u = self.linear(p + '.mlp.up_proj', h)
            x = x + self.linear(p + '.mlp.down_proj', torch.nn.functional.silu(g) * u)
        x = rms_norm(x, self.w['model.norm.weight'], eps)
        return self.linear('lm_head', x)


def b64(t):
    return base64.b64encode(t.float().contiguous().numpy().astype('<f4').tobytes()).decode('ascii')


def greedy_case(name, m, prompt_ids, steps, all_logits=False):
    """Prefill then `steps` greedy tokens on model `m` (a forward(ids, pos0) -> logits object): the golden case."""
    logits = m.forward(prompt_ids, 0)
    first = logits[-1]
    out, pos, last = [], len(prompt_ids), first
    margins = []
    for step in range(steps):
        top = torch.topk(last, 2).values
        margins.append(float(top[0] - top[1]))
        nid = int(torch.argmax(last))
        out.append(nid)
        if step == steps - 1:
            break  # `last` stays the distribution that picked the final token
        last = m.forward([nid], pos)[-1]
        pos += 1
    case = {'name': name, 'promptIds': prompt_ids, 'greedy': out, 'minMargin': min(margins),
            'lastLogits': b64(first), 'finalLogits': b64(last)}
    if all_logits:
        case['allLogits'] = b64(logits)
    assert min(margins) > 1e-3, (name, min(margins))
    return case


def run_case(name, cfg, weights, prompt_ids, steps, adapters=(), all_logits=False):
    return greedy_case(name, Llama(cfg, weights, adapters), prompt_ids, steps, all_logits)


# ---- generated models ------------------------------------------------------------------------------------------------
def make_model(folder, cfg, dtype, seed, shards=1, std=0.25):
    g = torch.Generator().manual_seed(seed)
    H, I, V = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
    nh = cfg['num_attention_heads']
    nkv = cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or H // nh
    rnd = lambda *s: torch.randn(*s, generator=g) * std
    w = {'model.embed_tokens.weight': rnd(V, H) * 4, 'model.norm.weight': 1 + rnd(H)}
    for l in range(cfg['num_hidden_layers']):
        p = 'model.layers.%d' % l
        w[p + '.input_layernorm.weight'] = 1 + rnd(H)
        w[p + '.post_attention_layernorm.weight'] = 1 + rnd(H)
        for n, (o, i) in {'self_attn.q_proj': (nh * hd, H), 'self_attn.k_proj': (nkv * hd, H), 'self_attn.v_proj': (nkv * hd, H),
                          'self_attn.o_proj': (H, nh * hd), 'mlp.gate_proj': (I, H), 'mlp.up_proj': (I, H), 'mlp.down_proj': (H, I)}.items():
            w['%s.%s.weight' % (p, n)] = rnd(o, i) * (2 / math.sqrt(i)) / std * 0.5
            if (cfg.get('attention_bias') and n.startswith('self_attn')) or (cfg.get('mlp_bias') and n.startswith('mlp')):
                w['%s.%s.bias' % (p, n)] = rnd(o)
    if not cfg.get('tie_word_embeddings'):
        w['lm_head.weight'] = rnd(V, H)
    w = {k: v.to(dtype) for k, v in w.items()}
    os.makedirs(folder, exist_ok=True)
    json.dump(cfg, open(os.path.join(folder, 'config.json'), 'w'), indent=2)
    if shards == 1:
        save_safetensors(os.path.join(folder, 'model.safetensors'), w)
    else:
        names = sorted(w)
        per = math.ceil(len(names) / shards)
        wm, total = {}, 0
        for s in range(shards):
            fname = 'model-%05d-of-%05d.safetensors' % (s + 1, shards)
            part = {k: w[k] for k in names[s * per:(s + 1) * per]}
            save_safetensors(os.path.join(folder, fname), part)
            for k, v in part.items():
                wm[k] = fname
                total += v.numel() * v.element_size()
        json.dump({'metadata': {'total_size': total}, 'weight_map': wm}, open(os.path.join(folder, 'model.safetensors.index.json'), 'w'), indent=2)
    shutil.copy(BILINGUAL_SP, os.path.join(folder, 'tokenizer.model'))
    json.dump({'add_bos_token': True, 'add_eos_token': False, 'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>',
               'legacy': True, 'tokenizer_class': 'LlamaTokenizer'}, open(os.path.join(folder, 'tokenizer_config.json'), 'w'), indent=2)
    json.dump({'bos_token_id': 1, 'eos_token_id': 2}, open(os.path.join(folder, 'generation_config.json'), 'w'), indent=2)
    return w


GQA = {
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_act': 'silu',
    'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
    'head_dim': 16, 'vocab_size': 600, 'max_position_embeddings': 256, 'rms_norm_eps': 1e-6, 'rope_theta': 500000.0,
    'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                     'original_max_position_embeddings': 32},
    'attention_bias': True, 'mlp_bias': False, 'tie_word_embeddings': False, 'bos_token_id': 1, 'eos_token_id': 2,
}
MQA = {
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_act': 'silu',
    'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 1,
    'vocab_size': 600, 'max_position_embeddings': 16, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0,
    'rope_scaling': {'type': 'dynamic', 'factor': 2.0},
    'attention_bias': False, 'mlp_bias': True, 'tie_word_embeddings': True, 'bos_token_id': 1, 'eos_token_id': 2,
}


# ---- adapters for stories260K ------------------------------------------------------------------------------------------
def lora_pair(g, r, i, o, std):
    return torch.randn(r, i, generator=g) * std, torch.randn(o, r, generator=g) * std


def write_adapter(folder, cfg, tensors):
    os.makedirs(folder, exist_ok=True)
    base = {'peft_type': 'LORA', 'task_type': 'CAUSAL_LM', 'base_model_name_or_path': 'stories260K', 'bias': 'none',
            'fan_in_fan_out': False, 'inference_mode': True, 'lora_dropout': 0.0, 'use_dora': False, 'use_rslora': False,
            'rank_pattern': {}, 'alpha_pattern': {}, 'modules_to_save': None}
    base.update(cfg)
    with open(os.path.join(folder, 'adapter_config.json'), 'w') as f:
        f.write(json.dumps(base, indent=2, sort_keys=True))
    save_safetensors(os.path.join(folder, 'adapter_model.safetensors'), {'base_model.model.' + k: v for k, v in tensors.items()})


def make_adapters(stories_cfg):
    g = torch.Generator().manual_seed(9)
    H, I, L = stories_cfg['hidden_size'], stories_cfg['intermediate_size'], stories_cfg['num_hidden_layers']
    kv = stories_cfg['num_key_value_heads'] * H // stories_cfg['num_attention_heads']
    dims = {'self_attn.q_proj': (H, H), 'self_attn.k_proj': (kv, H), 'self_attn.v_proj': (kv, H), 'self_attn.o_proj': (H, H),
            'mlp.gate_proj': (I, H), 'mlp.up_proj': (I, H), 'mlp.down_proj': (H, I)}
    # (1) every linear module, rank/alpha patterns (down_proj r=2, layer 1 q_proj alpha 32).
    t = {}
    for l in range(L):
        for n, (o, i) in dims.items():
            r = 2 if n == 'mlp.down_proj' else 4
            a, b = lora_pair(g, r, i, o, 0.15)
            t['model.layers.%d.%s.lora_A.weight' % (l, n)] = a
            t['model.layers.%d.%s.lora_B.weight' % (l, n)] = b
    pcfg = {'r': 4, 'lora_alpha': 8, 'target_modules': ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
            'rank_pattern': {'down_proj': 2}, 'alpha_pattern': {'layers.1.self_attn.q_proj': 32}}
    write_adapter(os.path.join(OUT, 'adapter-patterns'), pcfg, t)
    # The same adapter as older PEFT saved it: a torch.save zip (adapter_model.bin), only layers 0-1 to stay small.
    binf = os.path.join(OUT, 'adapter-patterns-bin')
    write_adapter(binf, dict(pcfg, layers_to_transform=[0, 1]), {k: v for k, v in t.items() if k.startswith(('model.layers.0.', 'model.layers.1.'))})
    sd = load_safetensors(os.path.join(binf, 'adapter_model.safetensors'))
    os.remove(os.path.join(binf, 'adapter_model.safetensors'))
    torch.save(sd, os.path.join(binf, 'adapter_model.bin'))
    # (2) embedding LoRA + lm_head LoRA, rsLoRA.
    V = stories_cfg['vocab_size']
    t = {'model.embed_tokens.lora_embedding_A': torch.randn(8, V, generator=g) * 0.3,
         'model.embed_tokens.lora_embedding_B': torch.randn(H, 8, generator=g) * 0.3}
    a, b = lora_pair(g, 8, H, V, 0.3)
    t['lm_head.lora_A.weight'], t['lm_head.lora_B.weight'] = a, b
    write_adapter(os.path.join(OUT, 'adapter-embed'), {'r': 8, 'lora_alpha': 8, 'use_rslora': True, 'target_modules': ['embed_tokens', 'lm_head']}, t)
    # (3) resized vocabulary (512 -> 520): modules_to_save embed_tokens + lm_head, its own tokenizer with added tokens.
    sw = load_safetensors(os.path.join(STORIES, 'model.safetensors'))
    extra = 8
    emb = torch.cat((sw['model.embed_tokens.weight'], torch.randn(extra, H, generator=g)), 0)
    head = torch.cat((sw['lm_head.weight'], torch.randn(extra, H, generator=g)), 0)
    head[V + 3] = head[V + 3] * 0 + sw['lm_head.weight'][432] * 1.5  # make added token 515 likely after the prompt
    t = {'model.embed_tokens.weight': emb, 'lm_head.weight': head}
    for l in range(L):
        for n in ('self_attn.q_proj', 'self_attn.v_proj'):
            o, i = dims[n]
            a, b = lora_pair(g, 4, i, o, 0.3)
            t['model.layers.%d.%s.lora_A.weight' % (l, n)] = a
            t['model.layers.%d.%s.lora_B.weight' % (l, n)] = b
    folder = os.path.join(OUT, 'adapter-vocab')
    write_adapter(folder, {'r': 4, 'lora_alpha': 4, 'target_modules': ['q_proj', 'v_proj'], 'modules_to_save': ['embed_tokens', 'lm_head']}, t)
    shutil.copy(os.path.join(STORIES, 'tokenizer.model'), os.path.join(folder, 'tokenizer.model'))
    added = {'<|user|>': 512, '<|assistant|>': 513, '<|end|>': 514, '<pad>': 515}
    for k in range(4, extra):
        added['<extra_%d>' % k] = V + k
    tc = json.load(open(os.path.join(STORIES, 'tokenizer_config.json')))
    for tok, i in added.items():
        tc['added_tokens_decoder'][str(i)] = {'content': tok, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': tok != '<pad>'}
    json.dump(tc, open(os.path.join(folder, 'tokenizer_config.json'), 'w'), indent=2)
    json.dump(added, open(os.path.join(folder, 'added_tokens.json'), 'w'), indent=2)
    return added


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    cases = []
    # stories260K: all prompt logits + greedy.
    scfg = json.load(open(os.path.join(STORIES, 'config.json')))
    sw = load_safetensors(os.path.join(STORIES, 'model.safetensors'))
    ssp = spm.SentencePieceProcessor(model_file=os.path.join(STORIES, 'tokenizer.model'))
    prompt = [1] + ssp.encode('Once upon a time')
    cases.append(dict(run_case('stories260K', scfg, sw, prompt, 40, all_logits=True), model='stories260K', text='Once upon a time'))
    # Generated GQA model in f16 and bf16 (bf16 sharded in two files).
    bsp = spm.SentencePieceProcessor(model_file=BILINGUAL_SP)
    bprompt = [1] + bsp.encode('从前有一个小女孩 Once upon a time')
    for dtype, name, shards in ((torch.float16, 'gqa-f16', 1), (torch.bfloat16, 'gqa-bf16', 2)):
        w = make_model(os.path.join(OUT, name), GQA, dtype, seed=11, shards=shards)
        cases.append(dict(run_case(name, GQA, w, bprompt, 24, all_logits=True), model=name))
    w = make_model(os.path.join(OUT, 'mqa-f32-tied-dynamic'), MQA, torch.float32, seed=5)
    cases.append(dict(run_case('mqa-f32-tied-dynamic', MQA, w, bprompt, 24, all_logits=True), model='mqa-f32-tied-dynamic'))
    # Adapters on stories260K, applied unmerged, alone and together with scales.
    added = make_adapters(scfg)
    ad = lambda n: Adapter(os.path.join(OUT, n))
    for name, adapters in (('patterns', [('adapter-patterns', 1.0)]), ('embed', [('adapter-embed', 1.0)]),
                           ('patterns-bin', [('adapter-patterns-bin', 1.0)]),
                           ('patterns-half+embed', [('adapter-patterns', 0.5), ('adapter-embed', 1.5)])):
        cases.append(dict(run_case('stories260K+' + name, scfg, sw, prompt, 24, [(ad(a), s) for a, s in adapters]),
                          model='stories260K', text='Once upon a time', adapters=[{'path': a, 'scale': s} for a, s in adapters]))
    # Resized vocabulary: the prompt uses added tokens (legacy LlamaTokenizer: each text segment gets the dummy prefix).
    text = '<|user|>Once upon a time<|end|>'
    vprompt = [1, added['<|user|>']] + ssp.encode('Once upon a time') + [added['<|end|>']]
    cases.append(dict(run_case('stories260K+vocab', scfg, sw, vprompt, 24, [(ad('adapter-vocab'), 1.0)]),
                      model='stories260K', text=text, adapters=[{'path': 'adapter-vocab', 'scale': 1.0}]))
    with open(os.path.join(OUT, 'goldens.json'), 'w') as f:
        json.dump({'_comment': 'scripts/dev/golden_llama.py: torch fp32 reference; logits base64 little-endian f32. '
                   'model: a folder under test/fixtures/generate/ or stories260K (test/fixtures/stories260K).',
                   'cases': cases}, f, indent=1)
    for c in cases:
        print(c['name'], 'greedy', c['greedy'][:12], 'margin %.4f' % c['minMargin'])


if __name__ == '__main__':
    main()
