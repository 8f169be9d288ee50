#!/usr/bin/python3
"""Builds demo/runs/chinese-alpaca2-lora/ and test/fixtures/demo-cla2-goldens.json (dev-only; see demo/README.md).

Run with Debian's python3 (torch 1.13, numpy, sentencepiece) after make_demo.py:  /usr/bin/python3 scripts/dev/make_demo_cla2.py
The seed's story (Chinese-LLaMA-Alpaca-2): the base's SentencePiece vocabulary is extended with Chinese pieces the way
its merge_tokenizers.py does (new pieces appended, old ids unchanged), the embeddings are resized, and a LoRA is REALLY
trained with modules_to_save embed_tokens/lm_head, saved in that project's layout (checkpoint-N/sft_lora_model/ and
output_dir/sft_lora_model/, the merged tokenizer beside the adapter). Deterministic; fails loudly when a check fails.
"""
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402

import make_demo  # noqa: E402
from demo import data_zh, llama, safetensors_io, sp_merge, trainer  # noqa: E402
from make_demo import BASE_DIR, DEMO, MACHINE_ROOT, REPO, fail, log  # noqa: E402

RUN = "chinese-alpaca2-lora"
RUN_DIR = os.path.join(DEMO, "runs", RUN)
# Checkpoint steps 80 and 160: names no other demo run uses, so the e2e tests' row lookups by label stay unambiguous.
GOLDENS = os.path.join(REPO, "test", "fixtures", "demo-cla2-goldens.json")
PROMPT = "从前，有一个小女孩"
NEW_TOKENS = 48  # a story ends (EOS) within this; greedy stops there, as the engine does
# Relative, like the healthy stories-lora run: training ran from the workspace folder, so it resolves there (and breaks,
# as on a real machine, when the base folder moves away: the e2e test's relink step).
BASE_REF = "models/stories260K"
# Chinese-LLaMA-Alpaca-2's run_sft.sh: lora_trainable and modules_to_save (its ranks scaled down to the tiny model).
TARGETS = ["q_proj", "v_proj", "k_proj", "o_proj", "gate_proj", "down_proj", "up_proj"]
TARGETS_SMALL = ["q_proj", "v_proj"]
CHINESE_PIECES = 160
MAX_BYTES = 2_000_000


def chinese_tokenizer(stories):
    """A BPE SentencePiece model of the Chinese stories (the role of Chinese-LLaMA-Alpaca-2's chinese_sp.model)."""
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(stories), model_writer=out, model_type="bpe", vocab_size=CHINESE_PIECES,
        character_coverage=1.0, num_threads=1, hard_vocab_limit=False, minloglevel=2)
    return out.getvalue()


def merged_tokenizer(stories, folder):
    """merge_tokenizers.py: LLaMA pieces first (ids unchanged), then the Chinese pieces it lacks, score 0."""
    base_bytes = open(os.path.join(BASE_DIR, "tokenizer.model"), "rb").read()
    merged, added = sp_merge.merge(base_bytes, chinese_tokenizer(stories))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tokenizer.model"), "wb") as f:
        f.write(merged)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(BASE_DIR, name), os.path.join(folder, name))
    base_sp = spm.SentencePieceProcessor(model_file=os.path.join(BASE_DIR, "tokenizer.model"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
    if [sp.id_to_piece(i) for i in range(base_sp.get_piece_size())] != [base_sp.id_to_piece(i) for i in range(base_sp.get_piece_size())]:
        fail("the merged tokenizer renumbered old pieces")
    if sp.encode(make_demo.PROMPT) != base_sp.encode(make_demo.PROMPT):
        fail("the merged tokenizer encodes English differently")
    return sp, base_sp, len(added)


def resized(t, rows):
    """resize_token_embeddings with mean_resizing (transformers >= 4.46): new rows start at the mean of the old."""
    return torch.cat([t, t.mean(0, keepdim=True).expand(rows - t.shape[0], -1)]).contiguous()


def is_chinese(text):
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")


def train(cfg, weights, sp, tok_dir):
    stories = sorted(set(data_zh.make_stories(400, 2024)))
    train_s, eval_s = make_demo.split(stories, 16, 3)
    vocab = sp.get_piece_size()
    spec = trainer.RunSpec(
        out_dir=RUN_DIR, machine_output_dir=f"{MACHINE_ROOT}/output/{RUN}", base_model_name_or_path=BASE_REF,
        r=8, lora_alpha=16.0, lora_dropout=0.05, target_modules=TARGETS_SMALL, target_modules_saved_order=TARGETS_SMALL,
        learning_rate=5e-3, warmup_steps=10, max_steps=160, logging_steps=10, eval_steps=80, save_steps=80,
        seed=42, weight_decay=0.0, batch_size=8, write_checkpoints=True, write_final=True, load_best_model_at_end=False,
        use_dora=False, use_rslora=False, adapter_subdir="sft_lora_model", tokenizer_dir=tok_dir, save_optimizer=False,
        saved_modules={"model.embed_tokens.weight": resized(weights["model.embed_tokens.weight"], vocab),
                       "lm_head.weight": resized(weights["lm_head.weight"], vocab)},
        config_overrides={"modules_to_save": ["embed_tokens", "lm_head"]})
    log(f"training {RUN}: vocab {cfg.vocab} -> {vocab}, {len(train_s)} train / {len(eval_s)} eval stories ...")
    _, _, state, _ = trainer.train(spec, cfg, weights, BASE_DIR, make_demo.tokenize_all(sp, train_s),
                                   make_demo.tokenize_all(sp, eval_s), log=log)
    return state, len(train_s), len(eval_s)


def golden_case(name, cfg, weights, sp, rel):
    adapter, conf = (None, None) if rel is None else make_demo.load_adapter_dir(os.path.join(DEMO, rel), cfg, weights)
    prompt_ids = [1] + sp.encode(PROMPT)
    new, first, last, margin = llama.greedy(cfg, weights, prompt_ids, NEW_TOKENS, adapter, eos_id=2)
    if 2 in new[:-1] or not new:
        fail(f"{name}: no tokens, or tokens after EOS")
    if margin < 1e-3:
        fail(f"{name}: near-tie between the two best logits ({margin:.2e}); the golden would be fragile")
    if adapter is not None:
        seq = torch.tensor([prompt_ids + new])
        with torch.no_grad():
            diff = float((llama.forward(cfg, weights, seq, adapter)
                          - llama.forward(cfg, make_demo.merged_weights(weights, adapter), seq)).abs().max())
        if diff > 1e-4:
            fail(f"{name}: merged vs unmerged logits differ by {diff:.2e}")
    text = sp.decode(prompt_ids[1:] + new)
    log(f"{name}: {text!r}")
    case = {"name": name, "adapter": None if rel is None else f"demo/{rel}", "prompt_ids": prompt_ids,
            "new_token_ids": new, "text": text, "prompt_last_logits_top10": make_demo.top10(first),
            "final_step_logits_top10": make_demo.top10(last), "min_top2_margin": round(margin, 6)}
    if conf is not None:
        case["scaling"] = conf["lora_alpha"] / conf["r"]
    return case


def write_goldens(cases, vocab):
    goldens = {
        "_comment": (
            "Greedy goldens of the Chinese-LLaMA-Alpaca-2-style demo run, made by scripts/dev/make_demo_cla2.py with the "
            "torch forward of make_demo.py (fp32). The base case encodes `prompt` with the base's tokenizer (vocab 512: "
            "the Chinese characters become byte pieces); the adapter cases with the adapter's merged tokenizer "
            f"(vocab {vocab}) and apply the adapter UNMERGED: y = W x + scaling * B (A x), embed_tokens and lm_head "
            "replaced by the saved (resized) ones. prompt_ids include BOS; new_token_ids exclude the prompt; "
            "text = decode(prompt ids without BOS + new ids); decoding stops after EOS (id 2), which is then the last new id. Logits rounded to 6 decimals (compare with atol ~1e-4)."),
        "model": "demo/models/stories260K", "prompt": PROMPT, "max_new_tokens": NEW_TOKENS, "vocab_size": vocab,
        "cases": cases,
    }
    with open(GOLDENS, "w") as f:
        f.write(json.dumps(goldens, indent=2, ensure_ascii=False) + "\n")


def run_bytes():
    return sum(os.path.getsize(os.path.join(r, n)) for r, _, files in os.walk(RUN_DIR) for n in files)


def main():
    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg_json = json.load(open(os.path.join(BASE_DIR, "config.json")))
    cfg = llama.LlamaConfig(cfg_json)
    weights, _ = safetensors_io.load(os.path.join(BASE_DIR, "model.safetensors"))
    if os.path.isdir(RUN_DIR):
        shutil.rmtree(RUN_DIR)
    with tempfile.TemporaryDirectory() as tok_dir:
        sp, base_sp, n_added = merged_tokenizer(sorted(set(data_zh.make_stories(400, 2024))), tok_dir)
        state, n_train, n_eval = train(cfg, weights, sp, tok_dir)
    vocab = sp.get_piece_size()
    base = golden_case("base", cfg, weights, base_sp, None)
    cases = [base] + [golden_case(f"{RUN}/{rel}", cfg, weights, sp, f"runs/{RUN}/{rel}")
                      for rel in ("checkpoint-80/sft_lora_model", "sft_lora_model")]
    if is_chinese(base["text"][len(PROMPT):]) > 0:
        fail(f"the base produced Chinese on its own: {base['text']!r}")
    for c in cases[1:]:
        if is_chinese(c["text"][len(PROMPT):]) < 20:
            fail(f"{c['name']} did not learn to write Chinese: {c['text']!r}")
    write_goldens(cases, vocab)
    size = run_bytes()
    if size > MAX_BYTES:
        fail(f"{RUN_DIR} is {size} bytes (limit {MAX_BYTES})")
    write_readme_section(state, base, cases[-1], vocab, n_added, n_train, n_eval)
    log(f"{RUN} is {size / 1e6:.2f} MB; done in {time.time() - t0:.0f} s")


def write_readme_section(state, base, final, vocab, n_added, n_train, n_eval):
    """Replaces the run's section of demo/README.md (make_demo.py keeps it when it rewrites the rest) and the size."""
    section = README_SECTION.format(
        run=RUN, vocab=vocab, n_added=n_added, base_ref=BASE_REF, n_train=n_train, n_eval=n_eval,
        loss=make_demo._loss_curve(state), eval=make_demo._eval_curve(state), prompt=PROMPT,
        base_text=base["text"], final_text=final["text"], mb=f"{run_bytes() / 1e6:.1f}")
    path = os.path.join(DEMO, "README.md")
    text = open(path, encoding="utf-8").read()
    start, end = make_demo.CLA2_BEGIN, make_demo.CLA2_END
    if start in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.replace("\n## How it was made", "\n" + section + "\n\n## How it was made", 1)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, fs in os.walk(DEMO) for n in fs if n != "README.md" or r != DEMO)
    text = re.sub(r"small\n\(\d+\.\d MB\)", f"small\n({(total + 8000) / 1e6:.1f} MB)", text, count=1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


README_SECTION = make_demo.CLA2_BEGIN + """
## The seed's story: `runs/{run}/` (Chinese-LLaMA-Alpaca-2)

Made by `/usr/bin/python3 scripts/dev/make_demo_cla2.py` ({mb} MB), in Chinese-LLaMA-Alpaca-2's layout:
`checkpoint-80/sft_lora_model/`, `checkpoint-160/sft_lora_model/` (adapter + the merged tokenizer, written by its
`SavePeftModelCallback`; `trainer_state.json`, `training_args.bin`, `scheduler.pt`, `rng_state.pth` beside it) and the
final `sft_lora_model/`. The base's SentencePiece vocabulary (512 pieces) was extended the way its
`merge_tokenizers.py` does - a BPE model trained on {n_train} + {n_eval} small Chinese stories, its {n_added} pieces the
base lacks appended with score 0, old ids unchanged - to {vocab}; the embeddings were resized (new rows at the mean of
the old) and a LoRA (r=8, lora_alpha=16.0, q_proj/v_proj) trained with `modules_to_save: ["embed_tokens", "lm_head"]`:
train loss {loss}; eval_loss by step {eval}. `base_model_name_or_path` is `{base_ref}` (relative, training ran from
this folder).

Greedy, at most 48 new tokens (until EOS) from `{prompt}`:
- base (its own tokenizer: the Chinese characters are byte pieces): "{base_text}"
- base + `runs/{run}/sft_lora_model`: "{final_text}"

The story it tells: each checkpoint holds **only the adapter** (LoRA factors, the saved embeddings, the tokenizer) - not
a model. Loading it needs the base it was trained on, at the path recorded in `adapter_config.json`; move or delete the
base and the checkpoint stops working. For deployment (a container), merge the adapter into the base ("Merge into Base
Model": `vocab_size` {vocab}, the adapter's tokenizer), shrink the base (quantize, prune, a smaller model), or share
one base between adapters on common storage. Goldens: `test/fixtures/demo-cla2-goldens.json`.
""" + make_demo.CLA2_END


if __name__ == "__main__":
    main()
