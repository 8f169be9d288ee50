#!/usr/bin/python3
"""Dev-only: generate the merge fixtures (tiny bases and adapters of every variant) and their golden merged tensors.

Run with Debian's /usr/bin/python3 (python3-torch + numpy): `/usr/bin/python3 scripts/dev/golden_merge.py`.
Writes test/fixtures/merge/. PEFT and the safetensors package are not used: safetensors files are written by hand and
PEFT's merge_and_unload semantics are implemented here from its documented behaviour (tuners/lora/layer.py,
variants.py), independently of the TypeScript implementation under test.

Two goldens per case:
  golden/<case>.safetensors          exact arithmetic: delta and sum in float64, rounded once to f32 (the merge's f32 sum),
                                     then once (round-to-nearest-even) to the output dtype. The merge must match this
                                     bit for bit (0 ulp) with the reference backend.
  golden/<case>.torch32.safetensors  PEFT's literal float32 torch arithmetic ((B @ A) * s + W, each step rounded to f32).
                                     It may differ from the exact golden by 1 ulp where the f32 sum sits next to a rounding
                                     boundary of the output dtype; the numerics test counts and explains each such element.
"""
import json
import math
import os
import pickle
import shutil
import struct
import zipfile

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'merge')
DT_NAMES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64'}


def save_st(path, tensors, metadata=None):
    """Write a safetensors file by hand (header JSON padded to 8 bytes, tensors back to back in the given order)."""
    header = {'__metadata__': metadata or {'format': 'pt'}}
    blobs = []
    off = 0
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {'dtype': DT_NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True)


g = torch.Generator().manual_seed(1234)


def rnd(*shape, scale=0.5):
    return (torch.randn(*shape, generator=g) * scale).float()


V, D, F, L = 32, 16, 24, 2
LLAMA_CONFIG = {
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': D, 'intermediate_size': F,
    'num_hidden_layers': L, 'num_attention_heads': 2, 'num_key_value_heads': 2, 'vocab_size': V, 'rms_norm_eps': 1e-5,
    'tie_word_embeddings': False, 'torch_dtype': 'float32', 'bos_token_id': 1, 'eos_token_id': 2,
}
LINEARS = {'q_proj': (D, D), 'k_proj': (D, D), 'v_proj': (D, D), 'o_proj': (D, D),
           'gate_proj': (F, D), 'up_proj': (F, D), 'down_proj': (D, F)}


def llama_weights():
    w = {'model.embed_tokens.weight': rnd(V, D)}
    for i in range(L):
        p = f'model.layers.{i}.'
        w[p + 'input_layernorm.weight'] = 1 + rnd(D, scale=0.1)
        for m, (o, n) in LINEARS.items():
            sub = 'self_attn.' if m.endswith(('q_proj', 'k_proj', 'v_proj', 'o_proj')) else 'mlp.'
            w[p + sub + m + '.weight'] = rnd(o, n)
        w[p + 'post_attention_layernorm.weight'] = 1 + rnd(D, scale=0.1)
    w['model.norm.weight'] = 1 + rnd(D, scale=0.1)
    w['lm_head.weight'] = rnd(V, D)
    return w


def module_path(name):
    return name[:-len('.weight')]


def write_tokenizer(folder, tag, vocab):
    write_json(os.path.join(folder, 'tokenizer_config.json'), {
        'tokenizer_class': 'LlamaTokenizer', 'bos_token': '<s>', 'eos_token': '</s>', 'model_max_length': 256,
        'chat_template': '{% for m in messages %}' + tag + '{{ m.content }}{% endfor %}', 'x_vocab': vocab})
    write_json(os.path.join(folder, 'special_tokens_map.json'), {'bos_token': '<s>', 'eos_token': '</s>', 'x_from': tag})


def write_base(name, weights, dtype, shards=1, config=None):
    folder = os.path.join(ROOT, 'bases', name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    cast = {k: v.to(dtype) for k, v in weights.items()}
    cfg = dict(config or LLAMA_CONFIG)
    cfg['torch_dtype'] = {torch.float32: 'float32', torch.float16: 'float16', torch.bfloat16: 'bfloat16'}[dtype]
    write_json(os.path.join(folder, 'config.json'), cfg)
    write_json(os.path.join(folder, 'generation_config.json'), {'bos_token_id': 1, 'eos_token_id': 2, 'max_new_tokens': 32})
    write_tokenizer(folder, 'base', cfg.get('vocab_size', V))
    if shards == 1:
        save_st(os.path.join(folder, 'model.safetensors'), cast)
    else:
        names = list(cast)
        per = math.ceil(len(names) / shards)
        wm = {}
        total = 0
        for s in range(shards):
            fname = f'model-{s + 1:05d}-of-{shards:05d}.safetensors'
            part = {n: cast[n] for n in names[s * per:(s + 1) * per]}
            save_st(os.path.join(folder, fname), part)
            for n, t in part.items():
                wm[n] = fname
                total += t.numel() * t.element_size()
        write_json(os.path.join(folder, 'model.safetensors.index.json'), {'metadata': {'total_size': total}, 'weight_map': wm})
    return cast


def torch_save_zip(path, state):
    torch.save(state, path)


def write_adapter(name, config, tensors, fmt='safetensors', tokenizer_vocab=None):
    folder = os.path.join(ROOT, 'adapters', name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    cfg = {'peft_type': 'LORA', 'task_type': 'CAUSAL_LM', 'base_model_name_or_path': '../bases/llama_f32',
           'bias': 'none', 'fan_in_fan_out': False, 'lora_dropout': 0.0, 'inference_mode': True,
           'modules_to_save': None, 'rank_pattern': {}, 'alpha_pattern': {}}
    cfg.update(config)
    write_json(os.path.join(folder, 'adapter_config.json'), cfg)
    if fmt == 'safetensors':
        save_st(os.path.join(folder, 'adapter_model.safetensors'), tensors)
    else:
        torch_save_zip(os.path.join(folder, 'adapter_model.bin'), dict(tensors))
    if tokenizer_vocab is not None:
        write_tokenizer(folder, 'adapter', tokenizer_vocab)
    return cfg


def pattern_value(patterns, module, default):
    import re
    for key, val in patterns.items():
        if re.match(rf'(.*\.)?({key})$', module):
            return val
    return default


def scaling_for(cfg, module):
    r = pattern_value(cfg.get('rank_pattern') or {}, module, cfg['r'])
    alpha = pattern_value(cfg.get('alpha_pattern') or {}, module, cfg['lora_alpha'])
    return r, alpha, (alpha / math.sqrt(r) if cfg.get('use_rslora') else alpha / r)


def merge(base, cfg, adapter, out_dtype, conv1d=False):
    """Exact golden and PEFT float32 golden of every tensor the adapter changes (dict name -> (exact, torch32))."""
    prefix = 'base_model.model.'
    mods = {}
    full = {}
    for k, t in adapter.items():
        n = k[len(prefix):]
        for part in ('.lora_A.weight', '.lora_B.weight', '.lora_B.bias', '.lora_embedding_A', '.lora_embedding_B', '.lora_magnitude_vector'):
            if n.endswith(part):
                mods.setdefault(n[:-len(part)], {})[part] = t
                break
        else:
            full[n] = t
    out = {}
    layers = cfg.get('layers_to_transform')
    for m, p in mods.items():
        if layers is not None:
            import re
            idx = re.search(r'\.layers\.(\d+)\.', m)
            if idx and int(idx.group(1)) not in layers:
                continue
        r, alpha, s = scaling_for(cfg, m)
        W = base[m + '.weight']
        if '.lora_embedding_A' in p:
            A, B = p['.lora_embedding_A'], p['.lora_embedding_B']
            emb = True
        else:
            A, B = p['.lora_A.weight'], p['.lora_B.weight']
            emb = False
        transposed = emb or conv1d
        d64 = (B.double() @ A.double())
        d64 = (d64.T if transposed else d64) * s
        S = (W.double() + d64).float()
        d32 = (B.float() @ A.float())
        d32 = (d32.T if transposed else d32) * s
        S32 = W.float() + d32
        if '.lora_magnitude_vector' in p:
            mag = p['.lora_magnitude_vector'].float()
            norm = torch.linalg.norm(S.double(), dim=1).float()
            S = (mag / norm).view(-1, 1) * S
            norm32 = torch.linalg.norm(S32, dim=1)
            S32 = (mag / norm32).view(-1, 1) * S32
        out[m + '.weight'] = (S.to(out_dtype), S32.to(out_dtype))
        if '.lora_B.bias' in p:
            bias = base[m + '.bias'].float().numpy()
            t = (p['.lora_B.bias'].float().numpy() * np.float32(s)).astype(np.float32)
            nb = torch.from_numpy((bias + t).astype(np.float32))
            out[m + '.bias'] = (nb.to(out_dtype), nb.to(out_dtype))
    for n, t in full.items():
        out[n] = (t.to(out_dtype), t.to(out_dtype))
    return out


def write_golden(case, merged):
    gdir = os.path.join(ROOT, 'golden')
    os.makedirs(gdir, exist_ok=True)
    save_st(os.path.join(gdir, f'{case}.safetensors'), {k: v[0] for k, v in sorted(merged.items())})
    save_st(os.path.join(gdir, f'{case}.torch32.safetensors'), {k: v[1] for k, v in sorted(merged.items())})


def lora_pair(prefix, module, r, n_in, n_out, scale=0.3):
    return {f'{prefix}{module}.lora_A.weight': rnd(r, n_in, scale=scale), f'{prefix}{module}.lora_B.weight': rnd(n_out, r, scale=scale)}


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    w = llama_weights()
    bases = {
        'llama_f32': write_base('llama_f32', w, torch.float32),
        'llama_bf16_sharded': write_base('llama_bf16_sharded', w, torch.bfloat16, shards=3),
        'llama_f16': write_base('llama_f16', w, torch.float16),
    }
    P = 'base_model.model.'
    cases = []

    def linear_modules(names, layers=range(L)):
        out = []
        for i in layers:
            for m in names:
                sub = 'self_attn.' if m in ('q_proj', 'k_proj', 'v_proj', 'o_proj') else 'mlp.'
                out.append((f'model.layers.{i}.{sub}{m}', *LINEARS[m]))
        return out

    # Plain LoRA on q/v.
    t = {}
    for mod, o, n in linear_modules(['q_proj', 'v_proj']):
        t.update(lora_pair(P, mod, 4, n, o))
    cfg = write_adapter('lora', {'r': 4, 'lora_alpha': 8, 'target_modules': ['q_proj', 'v_proj']}, t)
    cases.append(('lora_f32', 'llama_f32', 'lora', cfg, t, torch.float32))
    cases.append(('lora_bf16_sharded', 'llama_bf16_sharded', 'lora', cfg, t, torch.bfloat16))
    cases.append(('lora_f16', 'llama_f16', 'lora', cfg, t, torch.float16))

    # rsLoRA, all-linear, rank/alpha patterns (first matching key in dict order wins).
    rank_pattern = {'down_proj': 2, 'layers.1.self_attn.q_proj': 6}
    alpha_pattern = {'o_proj': 3, 'layers.1.self_attn.q_proj': 5}
    t = {}
    cfg0 = {'r': 4, 'lora_alpha': 16, 'use_rslora': True, 'rank_pattern': rank_pattern, 'alpha_pattern': alpha_pattern}
    for mod, o, n in linear_modules(list(LINEARS)):
        r, _, _ = scaling_for(cfg0, mod)
        t.update(lora_pair(P, mod, r, n, o))
    cfg = write_adapter('rslora_patterns', {**cfg0, 'target_modules': 'all-linear'}, t)
    cases.append(('rslora_patterns_bf16', 'llama_bf16_sharded', 'rslora_patterns', cfg, t, torch.bfloat16))

    # DoRA (fp16 adapter weights: upcast).
    t = {}
    for mod, o, n in linear_modules(['q_proj', 'k_proj', 'v_proj', 'o_proj']):
        t.update(lora_pair(P, mod, 4, n, o))
        t[f'{P}{mod}.lora_magnitude_vector'] = (torch.linalg.norm(w[mod + '.weight'], dim=1) * (1 + rnd(o, scale=0.05))).float()
    t = {k: v.half() if 'lora_' in k and 'magnitude' not in k else v for k, v in t.items()}
    cfg = write_adapter('dora', {'r': 4, 'lora_alpha': 4, 'use_dora': True, 'target_modules': ['q_proj', 'k_proj', 'v_proj', 'o_proj']}, t)
    cases.append(('dora_bf16', 'llama_bf16_sharded', 'dora', cfg, t, torch.bfloat16))
    cases.append(('dora_f32', 'llama_f32', 'dora', cfg, t, torch.float32))

    # .bin adapter (torch.save zip), LoRA on gate/up/down.
    t = {}
    for mod, o, n in linear_modules(['gate_proj', 'up_proj', 'down_proj']):
        t.update(lora_pair(P, mod, 8, n, o))
    cfg = write_adapter('bin', {'r': 8, 'lora_alpha': 32.0, 'target_modules': ['gate_proj', 'up_proj', 'down_proj']}, t, fmt='bin')
    cases.append(('bin_f16', 'llama_f16', 'bin', cfg, t, torch.float16))

    # Resized vocabulary through modules_to_save (+ LoRA on q), adapter ships its tokenizer.
    V2 = 40
    t = {}
    for mod, o, n in linear_modules(['q_proj']):
        t.update(lora_pair(P, mod, 4, n, o))
    t[P + 'model.embed_tokens.weight'] = torch.cat([w['model.embed_tokens.weight'], rnd(V2 - V, D)]).float()
    t[P + 'lm_head.weight'] = torch.cat([w['lm_head.weight'], rnd(V2 - V, D)]).float()
    cfg = write_adapter('resized_vocab', {'r': 4, 'lora_alpha': 8, 'target_modules': ['q_proj'], 'modules_to_save': ['embed_tokens', 'lm_head']}, t, tokenizer_vocab=V2)
    cases.append(('resized_vocab_bf16', 'llama_bf16_sharded', 'resized_vocab', cfg, t, torch.bfloat16))

    # Embedding LoRA.
    t = {P + 'model.embed_tokens.lora_embedding_A': rnd(4, V, scale=0.3), P + 'model.embed_tokens.lora_embedding_B': rnd(D, 4, scale=0.3)}
    cfg = write_adapter('embedding', {'r': 4, 'lora_alpha': 8, 'target_modules': ['embed_tokens']}, t)
    cases.append(('embedding_f32', 'llama_f32', 'embedding', cfg, t, torch.float32))
    cases.append(('embedding_bf16', 'llama_bf16_sharded', 'embedding', cfg, t, torch.bfloat16))

    # layers_to_transform: weights for both layers, only layer 1 counts.
    t = {}
    for mod, o, n in linear_modules(['q_proj', 'v_proj']):
        t.update(lora_pair(P, mod, 4, n, o))
    cfg = write_adapter('layers', {'r': 4, 'lora_alpha': 8, 'target_modules': ['q_proj', 'v_proj'], 'layers_to_transform': [1]}, t)
    cases.append(('layers_f32', 'llama_f32', 'layers', cfg, t, torch.float32))

    # GPT-2 style Conv1D base ([in, out] weights) with biases; the config claims fan_in_fan_out=false (must warn);
    # lora_bias merges B.bias.
    gw = {'transformer.wte.weight': rnd(V, D), 'transformer.h.0.attn.c_attn.weight': rnd(D, 3 * D), 'transformer.h.0.attn.c_attn.bias': rnd(3 * D, scale=0.1),
          'transformer.h.0.attn.c_proj.weight': rnd(D, D), 'transformer.h.0.attn.c_proj.bias': rnd(D, scale=0.1)}
    gcfg = {'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'n_embd': D, 'n_layer': 1, 'vocab_size': V, 'tie_word_embeddings': True}
    bases['gpt2_f32'] = write_base('gpt2_f32', gw, torch.float32, config=gcfg)
    t = {}
    t.update(lora_pair(P, 'transformer.h.0.attn.c_attn', 4, D, 3 * D))
    t.update(lora_pair(P, 'transformer.h.0.attn.c_proj', 4, D, D))
    t[P + 'transformer.h.0.attn.c_attn.lora_B.bias'] = rnd(3 * D, scale=0.2)
    t[P + 'transformer.h.0.attn.c_proj.lora_B.bias'] = rnd(D, scale=0.2)
    cfg = write_adapter('conv1d', {'r': 4, 'lora_alpha': 8, 'target_modules': ['c_attn', 'c_proj'], 'lora_bias': True, 'fan_in_fan_out': False}, t)
    cases.append(('conv1d_f32', 'gpt2_f32', 'conv1d', cfg, t, torch.float32))

    index = []
    for case, base_name, adapter_name, cfg, tensors, dtype in cases:
        merged = merge(bases[base_name], cfg, tensors, dtype, conv1d=base_name.startswith('gpt2'))
        write_golden(case, merged)
        index.append({'case': case, 'base': base_name, 'adapter': adapter_name, 'dtype': DT_NAMES[dtype]})
    write_json(os.path.join(ROOT, 'golden', 'cases.json'), index)

    # A pickle that would execute code if torch.load'ed it (torch.save of an object with __reduce__ -> os.system).
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned > /tmp/lora-workbench-pwned',))

    mal = os.path.join(ROOT, 'adapters', 'malicious')
    os.makedirs(mal)
    write_json(os.path.join(mal, 'adapter_config.json'), {'peft_type': 'LORA', 'r': 4, 'lora_alpha': 8, 'target_modules': ['q_proj']})
    torch.save({'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': Evil()}, os.path.join(mal, 'adapter_model.bin'))
    # A torch.save file whose pickle calls builtins.eval through STACK_GLOBAL/REDUCE instead.
    class Eval:
        def __reduce__(self):
            return (eval, ('1+1',))
    torch.save({'x': Eval()}, os.path.join(ROOT, 'eval.bin'))
    # A non-contiguous tensor and a tensor sharing a storage at an offset (a view), both legitimate torch.save output.
    base_t = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    torch.save({'view': base_t[1:3], 'whole': base_t, 'half': base_t.half()[0]}, os.path.join(ROOT, 'views.bin'))
    torch.save({'t': base_t.t()}, os.path.join(ROOT, 'noncontig.bin'))
    print('wrote', ROOT)


if __name__ == '__main__':
    main()
