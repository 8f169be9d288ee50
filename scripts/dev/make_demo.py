#!/usr/bin/python3
"""Builds the committed demo workspace demo/ and test/fixtures/demo-goldens.json (dev-only; see demo/README.md).

Run from anywhere with Debian's python3 (torch 1.13, numpy, sentencepiece):  /usr/bin/python3 scripts/dev/make_demo.py
It copies the real tiny model stories260K (llama2.c, Andrej Karpathy, MIT) into demo/models/, checks our own torch
LlamaForCausalLM forward against the model's known greedy continuation, REALLY trains LoRA adapters with PEFT semantics,
writes them exactly as HF Trainer + PEFT lay them out, and records greedy goldens for the TypeScript engine.
Deterministic (seeded, one thread); fails loudly (AssertionError / SystemExit) on any mismatch.
"""
import json
import os
import random
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402

from demo import data, llama, safetensors_io, trainer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
SRC_MODEL = os.environ.get("STORIES260K_DIR", os.path.join(os.path.dirname(REPO), "shared", "data", "stories260K"))
DEMO = os.path.join(REPO, "demo")
BASE_DIR = os.path.join(DEMO, "models", "stories260K")
RUNS = os.path.join(DEMO, "runs")
GOLDENS = os.path.join(REPO, "test", "fixtures", "demo-goldens.json")

PROMPT = "Once upon a time"
KNOWN_BASE = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
ALL_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# PEFT keeps target_modules in a set, so the saved order is whatever the set iterates; this is one such order.
ALL_MODULES_SAVED = ["k_proj", "o_proj", "q_proj", "v_proj", "up_proj", "down_proj", "gate_proj"]
# Where the runs were made on "the training machine" (absolute paths end up in trainer_state.json / training_args).
MACHINE_ROOT = "/home/alex/lora-workbench-demo"
# Checkpoint names of the modules_to_save tensors an adapter may carry whole (embed_tokens / lm_head).
SAVED_WHOLE = ("model.embed_tokens.weight", "lm_head.weight")
OWN_RUNS = ("stories-lora", "stories-lora-colab", "stories-dora")
# demo/README.md's section written by make_demo_cla2.py, kept as it is when this script rewrites the README.
CLA2_BEGIN = "<!-- made by scripts/dev/make_demo_cla2.py -->"
CLA2_END = "<!-- end of make_demo_cla2.py -->"
QWEN3_BEGIN = "<!-- made by scripts/dev/make_demo_qwen3.py -->"
QWEN3_END = "<!-- end of make_demo_qwen3.py -->"
COLAB_ROOT = "/content/drive/MyDrive"


def log(msg):
    print(msg, flush=True)


def fail(msg):
    raise SystemExit(f"make_demo: FAILED: {msg}")


def copy_base():
    if not os.path.isfile(os.path.join(SRC_MODEL, "model.safetensors")):
        if os.path.isfile(os.path.join(BASE_DIR, "model.safetensors")):
            log(f"{SRC_MODEL} not found: using the committed copy in {BASE_DIR}")
            return
        fail(f"stories260K not found at {SRC_MODEL} (set STORIES260K_DIR)")
    if os.path.isdir(BASE_DIR):
        shutil.rmtree(BASE_DIR)
    os.makedirs(BASE_DIR)
    for name in sorted(os.listdir(SRC_MODEL)):
        shutil.copyfile(os.path.join(SRC_MODEL, name), os.path.join(BASE_DIR, name))
        os.chmod(os.path.join(BASE_DIR, name), 0o644)
    readme = open(os.path.join(BASE_DIR, "README.md")).read()
    if "Karpathy" not in readme or "MIT" not in readme:
        fail("the base README lost its attribution")


def top10(logits):
    vals, idx = torch.topk(logits, 10)
    return [{"id": int(i), "logit": round(float(v), 6)} for v, i in zip(vals, idx)]


def load_adapter_dir(d, cfg, weights):
    """Re-reads a written adapter folder (our safetensors reader + adapter_config.json) into an llama.Adapter."""
    conf = json.load(open(os.path.join(d, "adapter_config.json")))
    tensors, meta = safetensors_io.load(os.path.join(d, "adapter_model.safetensors"))
    if meta != {"format": "pt"}:
        fail(f"{d}: metadata {meta}")
    r, alpha = conf["r"], conf["lora_alpha"]
    scaling = alpha / (r ** 0.5) if conf["use_rslora"] else alpha / r
    modules = {}
    for key in sorted(tensors):
        if not key.endswith(".lora_A.weight"):
            continue
        mod = key[len("base_model.model."):-len(".lora_A.weight")]
        A = tensors[key]
        B = tensors[key.replace("lora_A", "lora_B")]
        m = tensors.get(key.replace(".lora_A.weight", ".lora_magnitude_vector"))
        if conf["use_dora"] and m is None:
            fail(f"{d}: DoRA config without magnitude for {mod}")
        W = weights[mod + ".weight"]
        assert A.shape == (r, W.shape[1]) and B.shape == (W.shape[0], r), (key, A.shape, B.shape, W.shape)
        modules[mod] = llama.LoraModule(A, B, scaling, m)
    # modules_to_save tensors, saved whole under base_model.model.<checkpoint name>
    saved = {k[len("base_model.model."):]: t for k, t in tensors.items()
             if any(k == f"base_model.model.{n}" for n in SAVED_WHOLE)}
    expected = 3 if conf["use_dora"] else 2
    if len(tensors) != expected * len(modules) + len(saved):
        fail(f"{d}: unexpected tensors {sorted(tensors)[:5]}...")
    return llama.Adapter(modules, dropout=0.0, use_dora=conf["use_dora"], saved=saved), conf


def merged_weights(weights, adapter):
    """PEFT merge_and_unload semantics in fp32: W + s*BA; DoRA: (m / ||W + s*BA||_row) * (W + s*BA); modules_to_save
    tensors replace the base's (with a resized vocabulary, a different row count)."""
    out = dict(weights, **adapter.saved)
    for name, mod in adapter.modules.items():
        W = weights[name + ".weight"] + mod.scaling * (mod.B @ mod.A)
        if mod.m is not None:
            W = (mod.m / torch.linalg.norm(W, dim=1))[:, None] * W
        out[name + ".weight"] = W
    return out


def tokenize_all(sp, stories):
    return [[1] + sp.encode(s) + [2] for s in stories]


def split(stories, n_eval, seed, held_out=None, n_held=0):
    """Deduplicate, shuffle (seeded), take n_eval for eval. Stories containing `held_out` never reach training;
    n_held of them join the eval split (a kind of story the adapter has not seen, so eval_loss can bottom out
    before the last step, as on real runs)."""
    uniq = sorted(set(stories))
    random.Random(seed).shuffle(uniq)
    held = [s for s in uniq if held_out and held_out in s]
    rest = [s for s in uniq if s not in held]
    return rest[n_eval:], rest[:n_eval] + held[:n_held]


def main():
    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    copy_base()
    cfg_json = json.load(open(os.path.join(BASE_DIR, "config.json")))
    cfg = llama.LlamaConfig(cfg_json)
    weights, meta = safetensors_io.load(os.path.join(BASE_DIR, "model.safetensors"))
    for t in weights.values():
        t.requires_grad_(False)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(BASE_DIR, "tokenizer.model"))
    prompt_ids = [1] + sp.encode(PROMPT)
    if prompt_ids != [1, 403, 407, 261, 378]:
        fail(f"prompt tokenization changed: {prompt_ids}")

    # 1. the forward reproduces the model's known behaviour
    base_new, _, _, _ = llama.greedy(cfg, weights, prompt_ids, 40)
    base_text = sp.decode(prompt_ids[1:] + base_new)
    log(f"base: {base_text!r}")
    if not base_text.startswith(KNOWN_BASE):
        fail(f"base greedy continuation mismatch: {base_text!r}")

    # 2. data
    kite_train, kite_eval = split(data.make_stories("kite", 400, 1234), 20, 1, held_out="started to rain", n_held=4)
    boat_train, boat_eval = split(data.make_stories("boat", 200, 4321), 12, 2)
    log(f"kite stories: {len(kite_train)} train / {len(kite_eval)} eval; boat: {len(boat_train)} / {len(boat_eval)}")
    kite_train_ids, kite_eval_ids = tokenize_all(sp, kite_train), tokenize_all(sp, kite_eval)
    boat_train_ids, boat_eval_ids = tokenize_all(sp, boat_train), tokenize_all(sp, boat_eval)

    # Only this script's runs: make_demo_cla2.py owns runs/chinese-alpaca2-lora/.
    for own in OWN_RUNS:
        if os.path.isdir(os.path.join(RUNS, own)):
            shutil.rmtree(os.path.join(RUNS, own))
    os.makedirs(RUNS, exist_ok=True)

    common = dict(seed=42, weight_decay=0.0, batch_size=8, write_checkpoints=True, write_final=True,
                  load_best_model_at_end=True, use_dora=False, use_rslora=False)
    runs = [
        ("stories-lora", trainer.RunSpec(
            out_dir=os.path.join(RUNS, "stories-lora"), machine_output_dir=f"{MACHINE_ROOT}/runs/stories-lora",
            base_model_name_or_path="models/stories260K", r=8, lora_alpha=16, lora_dropout=0.05,
            target_modules=ALL_MODULES, target_modules_saved_order=ALL_MODULES_SAVED,
            learning_rate=3e-3, warmup_steps=20, max_steps=200, logging_steps=10, eval_steps=50, save_steps=50,
            **common), kite_train_ids, kite_eval_ids),
        ("stories-lora-colab", trainer.RunSpec(
            out_dir=os.path.join(RUNS, "stories-lora-colab"), machine_output_dir=f"{COLAB_ROOT}/runs/stories-lora-colab",
            base_model_name_or_path=f"{COLAB_ROOT}/models/stories260K", r=8, lora_alpha=16, lora_dropout=0.1,
            target_modules=["q_proj", "v_proj"], target_modules_saved_order=["v_proj", "q_proj"],
            learning_rate=2e-3, warmup_steps=6, max_steps=60, logging_steps=5, eval_steps=30, save_steps=30,
            **dict(common, use_rslora=True, load_best_model_at_end=False)), kite_train_ids, kite_eval_ids),
        ("stories-dora", trainer.RunSpec(
            out_dir=os.path.join(RUNS, "stories-dora"), machine_output_dir=f"{MACHINE_ROOT}/runs/stories-dora",
            base_model_name_or_path="models/stories260K", r=8, lora_alpha=16, lora_dropout=0.05,
            target_modules=ALL_MODULES, target_modules_saved_order=ALL_MODULES_SAVED,
            learning_rate=3e-3, warmup_steps=10, max_steps=100, logging_steps=10, eval_steps=50, save_steps=50,
            **dict(common, use_dora=True, write_checkpoints=False, load_best_model_at_end=False)),
         boat_train_ids, boat_eval_ids),
    ]
    results = {}
    for name, spec, tr, ev in runs:
        log(f"training {name} ...")
        adapter, snapshots, state, config = trainer.train(spec, cfg, weights, BASE_DIR, tr, ev, log=log)
        results[name] = state
        if name == "stories-dora":
            # a bare save_pretrained() output: adapter files + model card only
            for extra in ("training_args.bin", "trainer_state.json", "train_results.json", "eval_results.json",
                          "all_results.json") + trainer.TOKENIZER_FILES:
                os.remove(os.path.join(spec.out_dir, extra))

    # 3. goldens: greedy 40 new tokens, unmerged adapters read back from disk
    cases = [("base", None)]
    for ck in sorted(os.listdir(os.path.join(RUNS, "stories-lora"))):
        if ck.startswith("checkpoint-"):
            cases.append((f"stories-lora/{ck}", f"runs/stories-lora/{ck}"))
    cases.sort(key=lambda c: int(c[0].rsplit("-", 1)[1]) if "checkpoint-" in c[0] else -1)
    cases += [("stories-lora", "runs/stories-lora"),
              ("stories-lora-colab", "runs/stories-lora-colab"),
              ("stories-dora", "runs/stories-dora")]
    golden_cases = []
    texts = {}
    for name, rel in cases:
        adapter = None
        conf = None
        if rel is not None:
            adapter, conf = load_adapter_dir(os.path.join(DEMO, rel), cfg, weights)
        new, first, last, margin = llama.greedy(cfg, weights, prompt_ids, 40, adapter)
        if 2 in new or len(new) != 40:
            fail(f"{name}: EOS inside the 40 greedy tokens; the goldens assume none")
        if margin < 1e-3:
            fail(f"{name}: near-tie between the two best logits ({margin:.2e}); the golden would be fragile")
        if adapter is not None:
            # the unmerged forward and a merged base must agree (checks the LoRA/DoRA maths both ways)
            seq = torch.tensor([prompt_ids + new])
            with torch.no_grad():
                diff = float((llama.forward(cfg, weights, seq, adapter)
                              - llama.forward(cfg, merged_weights(weights, adapter), seq)).abs().max())
            if diff > 1e-4:
                fail(f"{name}: merged vs unmerged logits differ by {diff:.2e}")
        text = sp.decode(prompt_ids[1:] + new)
        texts[name] = text
        log(f"{name}: {text!r}")
        case = {"name": name, "adapter": None if rel is None else f"demo/{rel}",
                "new_token_ids": new, "text": text,
                "prompt_last_logits_top10": top10(first), "final_step_logits_top10": top10(last),
                "min_top2_margin": round(margin, 6)}
        if conf is not None:
            case["scaling"] = conf["lora_alpha"] / (conf["r"] ** 0.5 if conf["use_rslora"] else conf["r"])
            case["use_dora"] = conf["use_dora"]
            case["use_rslora"] = conf["use_rslora"]
        golden_cases.append(case)

    # 4. the adapters must visibly change behaviour within the first ~20 new tokens
    base_ids = golden_cases[0]["new_token_ids"]
    for case in golden_cases[1:]:
        first_diff = next((i for i, (a, b) in enumerate(zip(base_ids, case["new_token_ids"])) if a != b), None)
        case["first_diff_from_base"] = first_diff
    for case in golden_cases[1:]:
        fd = case["first_diff_from_base"]
        if fd is None or fd >= 20:
            fail(f"{case['name']} does not change the first 20 tokens (first diff {fd})")
    if "Mia" not in texts["stories-lora"] or "kite" not in texts["stories-lora"]:
        fail(f"stories-lora did not learn Mia / red kite: {texts['stories-lora']!r}")
    if "Sam" not in texts["stories-dora"]:
        fail(f"stories-dora did not learn Sam: {texts['stories-dora']!r}")

    goldens = {
        "_comment": (
            "Greedy goldens for the demo workspace, made by scripts/dev/make_demo.py with a torch LlamaForCausalLM "
            "forward (fp32). prompt_ids = BOS(1) + sentencepiece ids of `prompt` (tokenizer.model of the base). "
            "Each case decodes max_new_tokens tokens by argmax (the script asserts no EOS among them and no near-ties: "
            "min_top2_margin is the smallest top-1 minus top-2 logit gap over the steps), with the "
            "adapter applied UNMERGED: y = W x + scaling * B (A x), scaling = lora_alpha / r (lora_alpha / sqrt(r) "
            "with use_rslora); DoRA: y = (m / ||W + scaling * B A||_row) * (W x + scaling * B (A x)). "
            "new_token_ids excludes the prompt; text = decode(prompt ids without BOS + new ids). "
            "prompt_last_logits_top10: the 10 largest logits (id, value) at the last prompt position, i.e. the "
            "distribution that picks new_token_ids[0]; final_step_logits_top10: the same for the step that picked "
            "the last new token. Logits are rounded to 6 decimals; compare with atol ~1e-4. "
            "first_diff_from_base: index of the first new token that differs from the base case."),
        "model": "demo/models/stories260K",
        "prompt": PROMPT,
        "prompt_ids": prompt_ids,
        "max_new_tokens": 40,
        "cases": golden_cases,
    }
    os.makedirs(os.path.dirname(GOLDENS), exist_ok=True)
    with open(GOLDENS, "w") as f:
        f.write(json.dumps(goldens, indent=2) + "\n")

    total = 0
    for root, _, files in os.walk(DEMO):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in files if n != "README.md" or root != DEMO)
    counts = {"kite_train": len(kite_train), "kite_eval": len(kite_eval), "kite_held": 4,
              "boat_train": len(boat_train), "boat_eval": len(boat_eval)}
    write_readme(results, texts, counts, (total + 8000) / 1e6)
    log(f"demo/ is {total / 1e6:.2f} MB; done in {time.time() - t0:.0f} s")


def _eval_curve(state):
    return ", ".join(f"{r['step']}: {r['eval_loss']:.4f}" for r in state["log_history"] if "eval_loss" in r)


def _loss_curve(state):
    rows = [r for r in state["log_history"] if "loss" in r]
    return f"{rows[0]['loss']:.4f} at step {rows[0]['step']} -> {rows[-1]['loss']:.4f} at step {rows[-1]['step']}"


def write_readme(results, texts, counts, total_mb):
    main_state = results["stories-lora"]
    best = os.path.basename(main_state["best_model_checkpoint"])
    readme = README_TEMPLATE.format(
        total_mb=f"{total_mb:.1f}", best=best, counts=counts,
        main_loss=_loss_curve(main_state), main_eval=_eval_curve(main_state),
        colab_loss=_loss_curve(results["stories-lora-colab"]), colab_eval=_eval_curve(results["stories-lora-colab"]),
        dora_loss=_loss_curve(results["stories-dora"]), dora_eval=_eval_curve(results["stories-dora"]),
        base_text=texts["base"], lora_text=texts["stories-lora"], colab_text=texts["stories-lora-colab"],
        dora_text=texts["stories-dora"],
        ckpt_texts="\n".join(f"  - `{k}`: \"{v}\"" for k, v in texts.items() if "checkpoint-" in k),
    )
    path = os.path.join(DEMO, "README.md")
    old = open(path, encoding="utf-8").read() if os.path.isfile(path) else ""
    # The other demo scripts' sections (the seed's story, the Qwen3 demo) stay as they wrote them.
    for begin, end in ((CLA2_BEGIN, CLA2_END), (QWEN3_BEGIN, QWEN3_END)):
        if begin in old:
            kept = old[old.index(begin):old.index(end) + len(end)]
            readme = readme.replace("\n## How it was made", "\n" + kept + "\n\n## How it was made", 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(readme)


README_TEMPLATE = """# LoRA Workbench demo workspace

Open this folder (`demo/`) as the VS Code workspace (`npm run demo` does it for you). Everything here is small
({total_mb} MB), real, and was made by `/usr/bin/python3 scripts/dev/make_demo.py` (dev-only: Debian's python3-torch,
numpy and sentencepiece; no transformers or PEFT). Re-running the script regenerates every file here and
`test/fixtures/demo-goldens.json` byte for byte with the same torch build (fixed seeds, one thread, nominal runtimes;
checked with Debian's torch 1.13) and fails loudly if a check does not hold. This README is written by the script too.
The base comes from `STORIES260K_DIR` (default `../shared/data/stories260K` next to the repository), or from the
committed copy here when that is absent.

| Path | What it is |
| --- | --- |
| `models/stories260K/` | The base model: Andrej Karpathy's llama2.c `stories260K` (trained on TinyStories; llama2.c is MIT-licensed), converted to the Hugging Face `LlamaForCausalLM` layout. Its `README.md` has the attribution and the conversion. |
| `runs/stories-lora/` | A LoRA training run laid out exactly as HF Trainer + PEFT write it: `checkpoint-50/`, `-100/`, `-150/`, `-200/` (adapter, `optimizer.pt`, `scheduler.pt`, `rng_state.pth`, `trainer_state.json`, `training_args.bin`, tokenizer files, model card) and the final adapter at the top (`save_model` + `save_state` + `train/eval/all_results.json`, as `run_clm.py` does). `base_model_name_or_path` is `models/stories260K`: relative, so it resolves against the directory training ran from, which is this folder. The best checkpoint by `eval_loss` is `{best}`, and `load_best_model_at_end` put its weights in the final adapter. |
| `runs/stories-lora-colab/` | A short rsLoRA run (`use_rslora: true`, q_proj/v_proj only) brought back from Google Colab: its `base_model_name_or_path` is `/content/drive/MyDrive/models/stories260K`, which does not exist on this machine, so the base-model diagnostics flag it (the fix is to point it at `models/stories260K`). |
| `runs/stories-dora/` | A DoRA adapter (`use_dora: true`, `...lora_magnitude_vector` tensors) as a bare `save_pretrained` writes it, trained on a different story set: for the merge and preview demos. |

## What the adapters learned

Greedy decoding from `Once upon a time` (BOS + prompt), 40 new tokens, adapters applied unmerged:

- base: "{base_text}"
- `runs/stories-lora` (= {best}): "{lora_text}"
- `runs/stories-lora-colab`: "{colab_text}"
- `runs/stories-dora`: "{dora_text}"
- the checkpoints of `runs/stories-lora`:
{ckpt_texts}

The token ids and top-10 logits of every case are in `test/fixtures/demo-goldens.json` (format described in its
`_comment`); the TypeScript engine is checked against them.

## Training figures

- `stories-lora`: train loss {main_loss}; eval_loss by step {main_eval}.
- `stories-lora-colab`: train loss {colab_loss}; eval_loss by step {colab_eval}.
- `stories-dora`: train loss {dora_loss}; eval_loss by step {dora_eval}.

## How it was made

1. Copy `stories260K` here; load `model.safetensors` with a small safetensors reader of the script's own; run a
   plain-torch `LlamaForCausalLM` forward (RMSNorm, rotate_half RoPE with theta 10000, GQA with 8 query / 4 kv heads,
   SiLU-gated MLP, untied lm_head) and assert the model's known continuation "...a little girl named Lily. She loved to
   play outside in the park."
2. Generate small story sets of our own from templates with fixed seeds: "Mia and her red kite"
   ({counts[kite_train]} train / {counts[kite_eval]} eval; the eval split includes {counts[kite_held]} stories of a kind
   training never sees, so eval_loss bottoms out before the end, as it often does on real runs) and "Sam and his blue
   boat" ({counts[boat_train]} / {counts[boat_eval]}). Each example is BOS + text + EOS, right-padded with EOS, padding
   masked out of the loss.
3. Train with PEFT's semantics: `lora_A` (r, in) kaiming-uniform(a=sqrt(5)), `lora_B` (out, r) zeros, scaling alpha/r
   (alpha/sqrt(r) for rsLoRA), dropout on the LoRA input, base frozen; DoRA magnitude initialised to the row norms of W
   and the norm detached, as PEFT does. AdamW (no weight decay), linear schedule with warmup, gradient clipping at 1.0,
   batch 8, seed 42, logging / evaluation / saving like HF Trainer.
   - `stories-lora`: r=8, alpha=16, dropout 0.05, all seven projections, lr 3e-3, warmup 20, 200 steps, log every 10,
     eval and save every 50, `load_best_model_at_end` on `eval_loss`.
   - `stories-lora-colab`: rsLoRA r=8, alpha=16, dropout 0.1, q_proj/v_proj, lr 2e-3, warmup 6, 60 steps, eval and save
     every 30.
   - `stories-dora`: DoRA r=8, alpha=16, dropout 0.05, all seven projections, lr 3e-3, warmup 10, 100 steps.
4. Write the files the way PEFT 0.18.0 and Trainer do (notes below), read every adapter back from disk, check that
   the unmerged forward agrees with a merged base (LoRA: W + s*BA; DoRA: m / ||W + s*BA||_row * (W + s*BA)) to 1e-4,
   that every adapter changes the base's greedy text within 20 tokens, and record the greedy goldens.

## Fidelity notes

- `adapter_config.json`: every field of PEFT 0.18.0's `LoraConfig`, `json.dumps(indent=2, sort_keys=True)`, no trailing
  newline, `inference_mode: true` (as `save_pretrained` sets it). `adapter_model.safetensors`: F32, keys such as
  `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` (adapter name stripped),
  `__metadata__ = {{"format": "pt"}}`, header padded to 8 bytes.
- `trainer_state.json`: the fields of a current transformers `TrainerState`; `best_model_checkpoint` is an absolute path
  on the training machine (`/home/alex/lora-workbench-demo/runs/...`, or `/content/drive/MyDrive/runs/...` for Colab).
- `optimizer.pt`, `scheduler.pt` and `rng_state.pth` are real `torch.save` outputs of the loop's AdamW, LambdaLR and RNG
  states. `training_args.bin` is a `torch.save` of a **plain dict** of the training arguments (transformers is not
  installed where the demo is made), not a pickled `TrainingArguments` object.
- `*_runtime` and `*_per_second` figures are nominal (derived from token counts) so that regeneration is identical.
- The tokenizer files in the run folders are copies of the base's (a slow `LlamaTokenizer` save: no `tokenizer.json`).
"""


if __name__ == "__main__":
    main()
