#!/usr/bin/python3
"""Dev-only: goldens for `lora-workbench eval` (engine/eval) from the project's plain-torch Llama + PEFT forward
(scripts/dev/demo/llama.py, the one that trained the demo adapters), on demo/data/eval.jsonl and the demo checkpoints.

Masking, re-implemented here from the rules (not from the TypeScript):
- raw / alpaca2 on Alpaca records: source = [BOS] + sp(prompt) (alpaca2: the [INST] <<SYS>> template around it),
  target = sp(output) + [EOS], source and target tokenized apart (Chinese-LLaMA-Alpaca-2 build_dataset.py); only the
  target is scored.
- text: [BOS] + sp(text) + [EOS], every token after the first scored.
Per example: the sum of -log softmax (float64, from the fp32 logits) over scored tokens, and their count.

Run: /usr/bin/python3 scripts/dev/golden_eval.py   (Debian python3-torch, numpy, python3-sentencepiece)
Writes test/fixtures/eval-goldens.json.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402

from demo import llama, safetensors_io  # noqa: E402

torch.set_grad_enabled(False)
torch.set_num_threads(1)
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEMO = os.path.join(ROOT, "demo")
BASE = os.path.join(DEMO, "models", "stories260K")
DATA = os.path.join(DEMO, "data", "eval.jsonl")
OUT = os.path.join(ROOT, "test", "fixtures", "eval-goldens.json")
ALPACA2_SYSTEM = "You are a helpful assistant. 你是一个乐于助人的助手。"
CANDIDATES = [None] + [f"runs/stories-lora/checkpoint-{s}" for s in (50, 100, 150, 200)] + ["runs/stories-dora"]


def load_adapter(folder):
    cfg = json.load(open(os.path.join(folder, "adapter_config.json")))
    tensors, _ = safetensors_io.load(os.path.join(folder, "adapter_model.safetensors"))
    scaling = cfg["lora_alpha"] / (cfg["r"] ** 0.5 if cfg.get("use_rslora") else cfg["r"])
    modules = {}
    for name, a in tensors.items():
        if not name.endswith(".lora_A.weight"):
            continue
        mod = name[len("base_model.model."):-len(".lora_A.weight")]
        b = tensors[f"base_model.model.{mod}.lora_B.weight"]
        m = tensors.get(f"base_model.model.{mod}.lora_magnitude_vector")
        modules[mod] = llama.LoraModule(a.float(), b.float(), scaling, None if m is None else m.float())
    return llama.Adapter(modules, dropout=0.0, use_dora=cfg.get("use_dora", False))


def examples(sp, fmt):
    bos, eos = sp.bos_id(), sp.eos_id()
    out = []
    for line in open(DATA, encoding="utf-8"):
        r = json.loads(line)
        prompt = r["instruction"] if not r.get("input") else r["instruction"] + "\n" + r["input"]
        if fmt == "text":
            ids = [bos] + sp.encode(prompt + " " + r["output"]) + [eos]
            out.append((ids, [0] + [1] * (len(ids) - 1)))
            continue
        if fmt == "alpaca2":
            prompt = f"[INST] <<SYS>>\n{ALPACA2_SYSTEM}\n<</SYS>>\n\n{prompt} [/INST]"
        source = [bos] + sp.encode(prompt)
        target = sp.encode(r["output"]) + [eos]
        out.append((source + target, [0] * len(source) + [1] * len(target)))
    return out


def losses(cfg, weights, adapter, exs):
    rows = []
    for ids, mask in exs:
        logits = llama.forward(cfg, weights, torch.tensor([ids[:-1]]), adapter)[0].double()  # (n-1, vocab)
        logp = torch.log_softmax(logits, dim=-1)
        nll = 0.0
        n = 0
        for p in range(len(ids) - 1):
            if mask[p + 1]:
                nll -= float(logp[p, ids[p + 1]])
                n += 1
        rows.append({"nll": nll, "tokens": n})
    return rows


def main():
    cfg = llama.LlamaConfig(json.load(open(os.path.join(BASE, "config.json"))))
    weights = {k: v.float() for k, v in safetensors_io.load(os.path.join(BASE, "model.safetensors"))[0].items()}
    sp = spm.SentencePieceProcessor(model_file=os.path.join(BASE, "tokenizer.model"))
    formats = {}
    for fmt in ("raw", "alpaca2", "text"):
        exs = examples(sp, fmt)
        cases = []
        for c in CANDIDATES:
            adapter = load_adapter(os.path.join(DEMO, c)) if c else None
            cases.append({"adapter": c, "examples": losses(cfg, weights, adapter, exs)})
        formats[fmt] = {"ids": [e[0] for e in exs], "targets": [e[1] for e in exs], "cases": cases}
    doc = {
        "_comment": "Made by scripts/dev/golden_eval.py: per example, the sum of -log p over scored tokens (float64 "
                    "log-softmax of the torch reference's fp32 logits) and the count, for demo/data/eval.jsonl read "
                    "as raw / alpaca2 instruction data and as plain text (prompt + ' ' + output); ids and target masks "
                    "as the reference tokenized them.",
        "model": "demo/models/stories260K", "data": "demo/data/eval.jsonl", "torch": torch.__version__, "formats": formats,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
