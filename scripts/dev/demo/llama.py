"""LlamaForCausalLM forward in plain torch (and Qwen3ForCausalLM: the same plus per-head q_norm/k_norm before RoPE), with PEFT-style unmerged LoRA / rsLoRA / DoRA on nn.Linear modules.

Semantics follow transformers' modeling_llama.py (RMSNorm in fp32, rotate_half RoPE, GQA via repeat_kv, SiLU-gated MLP,
untied lm_head) and PEFT's lora/layer.py + lora/dora.py (y = W x + s * B(A(dropout(x))); DoRA rescales by m / ||W + s BA||_row
with the norm detached). Weights are kept under their checkpoint names verbatim.
"""
import math

import torch
import torch.nn.functional as F

LINEAR_MODULES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


class LlamaConfig:
    def __init__(self, cfg):
        self.dim = cfg["hidden_size"]                       # 64
        self.hidden = cfg["intermediate_size"]              # 172
        self.n_layers = cfg["num_hidden_layers"]            # 5
        self.n_heads = cfg["num_attention_heads"]           # 8
        self.n_kv_heads = cfg.get("num_key_value_heads", self.n_heads)  # 4
        self.head_dim = cfg.get("head_dim") or self.dim // self.n_heads  # 8
        self.vocab = cfg["vocab_size"]                      # 512
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.tied = cfg.get("tie_word_embeddings", False)
        if cfg.get("rope_scaling"):
            raise NotImplementedError("rope_scaling is not needed for the demo model")


def rms_norm(x, w, eps):
    # transformers LlamaRMSNorm: compute in fp32, scale, cast back
    dt = x.dtype
    x = x.float()
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return w * x.to(dt)


def rope_cos_sin(cfg, positions):
    inv_freq = 1.0 / (cfg.theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.int64).float() / cfg.head_dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]   # (T, head_dim/2)
    emb = torch.cat((freqs, freqs), dim=-1)                  # (T, head_dim)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class LoraModule:
    """Trainable LoRA pieces for one nn.Linear: A (r, in), B (out, r), optional DoRA magnitude m (out)."""

    def __init__(self, A, B, scaling, m=None):
        self.A = A
        self.B = B
        self.m = m
        self.scaling = scaling


class Adapter:
    """A set of LoRA modules keyed by the module path, e.g. 'model.layers.0.self_attn.q_proj', plus whole tensors
    trained in full (PEFT modules_to_save), keyed by checkpoint name, e.g. 'model.embed_tokens.weight'. The forward
    finds those in the weights dict the trainer passes (the same tensor objects), so `saved` only owns them."""

    def __init__(self, modules, dropout=0.0, use_dora=False, saved=None):
        self.modules = modules
        self.dropout = dropout
        self.use_dora = use_dora
        self.saved = saved or {}

    def parameters(self):
        # registration order of PEFT's LoraLayer: lora_A, lora_B, ..., lora_magnitude_vector
        out = []
        for key in self.modules:
            mod = self.modules[key]
            out += [mod.A, mod.B] + ([mod.m] if mod.m is not None else [])
        return out + list(self.saved.values())

    def named_parameters(self):
        for key, mod in self.modules.items():
            yield f"base_model.model.{key}.lora_A.default.weight", mod.A
            yield f"base_model.model.{key}.lora_B.default.weight", mod.B
            if mod.m is not None:
                yield f"base_model.model.{key}.lora_magnitude_vector.default.weight", mod.m

    def state_dict_for_save(self):
        """Keys as PEFT's get_peft_model_state_dict writes them (adapter name stripped)."""
        sd = {}
        for key, mod in self.modules.items():
            sd[f"base_model.model.{key}.lora_A.weight"] = mod.A.detach().clone()
            sd[f"base_model.model.{key}.lora_B.weight"] = mod.B.detach().clone()
            if mod.m is not None:
                sd[f"base_model.model.{key}.lora_magnitude_vector"] = mod.m.detach().clone()
        for name, t in self.saved.items():
            sd[f"base_model.model.{name}"] = t.detach().clone()   # modules_to_save: saved whole, adapter name stripped
        return sd


def linear(x, weights, name, adapter, training):
    """nn.Linear without bias (+ LoRA/DoRA if `adapter` targets `name`). x: (..., in); W: (out, in)."""
    W = weights[name + ".weight"]
    y = F.linear(x, W)
    if adapter is None or name not in adapter.modules:
        return y
    mod = adapter.modules[name]
    xd = F.dropout(x, p=adapter.dropout, training=training) if adapter.dropout > 0 else x
    lora = F.linear(F.linear(xd, mod.A), mod.B)          # B(A(dropout(x)))
    if mod.m is None:
        return y + lora * mod.scaling
    # DoRA (PEFT dora.py): norm of W + s*BA per output row, detached from the graph
    delta = (mod.B @ mod.A).detach()
    wnorm = torch.linalg.norm(W + mod.scaling * delta, dim=1).detach()
    mag = (mod.m / wnorm).view(*([1] * (y.dim() - 1)), -1)
    base = y if (not training or adapter.dropout == 0) else F.linear(xd, W)
    return y + (mag - 1) * base + mag * lora * mod.scaling


def forward(cfg, weights, ids, adapter=None, training=False):
    """ids: (B, T) int64 -> logits (B, T, vocab), causal, positions 0..T-1 (no padding on the left)."""
    Bsz, T = ids.shape
    h = F.embedding(ids, _whole(weights, adapter, "model.embed_tokens.weight"))  # (B, T, dim)
    cos, sin = rope_cos_sin(cfg, torch.arange(T))
    mask = torch.full((T, T), float("-inf")).triu(1)
    groups = cfg.n_heads // cfg.n_kv_heads
    for i in range(cfg.n_layers):
        p = f"model.layers.{i}."
        x = rms_norm(h, weights[p + "input_layernorm.weight"], cfg.eps)
        q = linear(x, weights, p + "self_attn.q_proj", adapter, training).view(Bsz, T, cfg.n_heads, cfg.head_dim)
        k = linear(x, weights, p + "self_attn.k_proj", adapter, training).view(Bsz, T, cfg.n_kv_heads, cfg.head_dim)
        if p + "self_attn.q_norm.weight" in weights:
            # Qwen3: RMSNorm over each head's dims (weight of size head_dim), before RoPE (modeling_qwen3.py)
            q = rms_norm(q, weights[p + "self_attn.q_norm.weight"], cfg.eps)
            k = rms_norm(k, weights[p + "self_attn.k_norm.weight"], cfg.eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = linear(x, weights, p + "self_attn.v_proj", adapter, training).view(Bsz, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(groups, dim=1)   # repeat_kv: kv head j serves query heads j*groups..(j+1)*groups-1
        v = v.repeat_interleave(groups, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(cfg.head_dim) + mask
        att = torch.softmax(att.float(), dim=-1).to(q.dtype)
        o = (att @ v).transpose(1, 2).reshape(Bsz, T, cfg.n_heads * cfg.head_dim)
        h = h + linear(o, weights, p + "self_attn.o_proj", adapter, training)
        x = rms_norm(h, weights[p + "post_attention_layernorm.weight"], cfg.eps)
        g = linear(x, weights, p + "mlp.gate_proj", adapter, training)
        u = linear(x, weights, p + "mlp.up_proj", adapter, training)
        h = h + linear(F.silu(g) * u, weights, p + "mlp.down_proj", adapter, training)
    h = rms_norm(h, weights["model.norm.weight"], cfg.eps)
    head = _whole(weights, adapter, "model.embed_tokens.weight" if cfg.tied else "lm_head.weight")
    return F.linear(h, head)


def _whole(weights, adapter, name):
    """A tensor the adapter saves whole (modules_to_save) replaces the base's, as PEFT's ModulesToSaveWrapper does;
    with a resized vocabulary it has more rows (vocab', dim)."""
    return adapter.saved[name] if adapter is not None and name in adapter.saved else weights[name]


@torch.no_grad()
def greedy(cfg, weights, prompt_ids, n_new, adapter=None, eos_id=None):
    """Greedy decoding without a KV cache (the model is tiny). Returns (new_ids, first_logits, last_logits, margin):
    first_logits are the logits at the last prompt position, last_logits those that chose the final new token,
    margin the smallest top-1 minus top-2 logit gap over all steps (how safe the argmax is against rounding)."""
    ids = list(prompt_ids)
    new, first, last, margin = [], None, None, float("inf")
    for _ in range(n_new):
        logits = forward(cfg, weights, torch.tensor([ids]), adapter)[0, -1]
        if first is None:
            first = logits.clone()
        last = logits.clone()
        top2 = torch.topk(logits, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        nxt = int(torch.argmax(logits))
        ids.append(nxt)
        new.append(nxt)
        if eos_id is not None and nxt == eos_id:
            break
    return new, first, last, margin
