"""A small re-enactment of transformers' Trainer loop for a PEFT LoRA model, writing the run folder the way
Trainer + PEFT lay it out: output_dir/checkpoint-<step>/ {adapter_model.safetensors, adapter_config.json, README.md,
training_args.bin, tokenizer files, optimizer.pt, scheduler.pt, rng_state.pth, trainer_state.json}, then the final
adapter at output_dir/ (save_model + save_state + save_metrics as transformers' run_clm.py does).

Semantics copied from Trainer (not its code): AdamW (adamw_torch, two param groups: decay / no-decay), linear schedule
with warmup (LambdaLR), clip_grad_norm_ with the pre-clip norm logged as grad_norm, loss logged as the mean over the
logging window rounded to 4 digits, learning_rate logged after scheduler.step(), epoch = epoch + (step+1)/steps_in_epoch,
eval_loss = batch-size-weighted mean of per-batch mean losses, best_* tracked on eval_loss at each save.
Runtimes are NOMINAL (derived from token counts at a fixed rate), so that regenerating gives identical files.
"""
import functools
import json
import math
import os
import random
import shutil

import numpy as np
import torch
import torch.nn.functional as F

from . import llama, peft_files

TOKENIZER_FILES = ("special_tokens_map.json", "tokenizer.model", "tokenizer_config.json")
# A run on a tokenizer.json tokenizer (Qwen) copies these instead (RunSpec.tokenizer_files).
JSON_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
NOMINAL_TOKENS_PER_SECOND = 40000.0  # fixed "throughput" used for *_runtime fields (determinism)


def linear_warmup_lambda(current_step, *, num_warmup_steps, num_training_steps):
    # same curve as transformers.get_linear_schedule_with_warmup
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))


def init_adapter(cfg, weights, r, alpha, dropout, target_modules, use_rslora=False, use_dora=False):
    """PEFT init: lora_A kaiming_uniform_(a=sqrt(5)) (r, in), lora_B zeros (out, r); scaling alpha/r (alpha/sqrt(r)
    for rsLoRA); DoRA magnitude = row norm of W (B is zero so W + s*BA = W)."""
    scaling = alpha / math.sqrt(r) if use_rslora else alpha / r
    modules = {}
    for i in range(cfg.n_layers):
        for m in llama.LINEAR_MODULES:
            if m.split(".")[1] not in target_modules:
                continue
            name = f"model.layers.{i}.{m}"
            W = weights[name + ".weight"]
            out_f, in_f = W.shape
            A = torch.empty(r, in_f)
            torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5))
            B = torch.zeros(out_f, r)
            mag = torch.linalg.norm(W, dim=1).clone() if use_dora else None
            for t in (A, B) + ((mag,) if mag is not None else ()):
                t.requires_grad_(True)
            modules[name] = llama.LoraModule(A, B, scaling, mag)
    return llama.Adapter(modules, dropout=dropout, use_dora=use_dora)


PAD_ID = 2  # eos of the LLaMA tokenizer; a run on another tokenizer sets its own (make_demo_qwen3.py)


def _batch(examples):
    """Right-pad with eos (pad_token = eos_token, as LLaMA fine-tuning scripts set it); labels -100 on padding."""
    T = max(len(e) for e in examples)
    ids = torch.full((len(examples), T), PAD_ID, dtype=torch.int64)
    labels = torch.full((len(examples), T), -100, dtype=torch.int64)
    for j, e in enumerate(examples):
        ids[j, : len(e)] = torch.tensor(e)
        labels[j, : len(e)] = torch.tensor(e)
    return ids, labels


def causal_lm_loss(cfg, weights, adapter, ids, labels, training):
    logits = llama.forward(cfg, weights, ids, adapter, training)
    vocab = logits.shape[-1]  # the adapter's own when it resized the vocabulary
    return F.cross_entropy(logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1), ignore_index=-100)


def evaluate(cfg, weights, adapter, eval_set, batch_size):
    losses, n = 0.0, 0
    tokens = 0
    with torch.no_grad():
        for i in range(0, len(eval_set), batch_size):
            chunk = eval_set[i : i + batch_size]
            ids, labels = _batch(chunk)
            losses += causal_lm_loss(cfg, weights, adapter, ids, labels, False).item() * len(chunk)
            n += len(chunk)
            tokens += ids.numel()
    runtime = round(tokens / NOMINAL_TOKENS_PER_SECOND * 3.0, 4)  # forward only, nominal
    steps = math.ceil(len(eval_set) / batch_size)
    return {
        "eval_loss": losses / n,
        "eval_runtime": runtime,
        "eval_samples_per_second": round(len(eval_set) / runtime, 3),
        "eval_steps_per_second": round(steps / runtime, 3),
    }


def _json(path, obj, indent=2, newline=True):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=indent, sort_keys=True) + ("\n" if newline else ""))


class RunSpec:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def train(spec, cfg, weights, base_dir, train_set, eval_set, log=print):
    """Runs the training loop and writes spec.out_dir. Returns (adapter at the end, {step: adapter state dict})."""
    random.seed(spec.seed)
    np.random.seed(spec.seed)
    torch.manual_seed(spec.seed)
    adapter = init_adapter(cfg, weights, spec.r, spec.lora_alpha, spec.lora_dropout, spec.target_modules,
                           spec.use_rslora, spec.use_dora)
    # modules_to_save (Chinese-LLaMA-Alpaca-2: embed_tokens, lm_head): tensors of `weights` trained in full
    adapter.saved = {name: t.clone().requires_grad_(True) for name, t in getattr(spec, "saved_modules", {}).items()}
    params = adapter.parameters()
    n_trainable = sum(p.numel() for p in params)
    n_nonembed = sum(t.numel() for k, t in weights.items() if k != "model.embed_tokens.weight") + n_trainable
    # transformers' get_decay_parameter_names excludes biases and norm weights; LoRA has neither -> empty group 2
    opt = torch.optim.AdamW(
        [{"params": params, "weight_decay": spec.weight_decay}, {"params": [], "weight_decay": 0.0}],
        lr=spec.learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, functools.partial(
        linear_warmup_lambda, num_warmup_steps=spec.warmup_steps, num_training_steps=spec.max_steps))
    bs = spec.batch_size
    steps_per_epoch = math.ceil(len(train_set) / bs)
    num_train_epochs = spec.max_steps // steps_per_epoch + int(spec.max_steps % steps_per_epoch > 0)
    machine_out = spec.machine_output_dir
    training_args = {
        "_note": "plain dict stand-in for transformers.TrainingArguments (made by scripts/dev/make_demo.py without transformers)",
        "output_dir": machine_out, "overwrite_output_dir": False, "do_train": True, "do_eval": True,
        "eval_strategy": "steps", "eval_steps": spec.eval_steps, "per_device_train_batch_size": bs,
        "per_device_eval_batch_size": bs, "gradient_accumulation_steps": 1, "learning_rate": spec.learning_rate,
        "weight_decay": spec.weight_decay, "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8,
        "max_grad_norm": 1.0, "num_train_epochs": 3.0, "max_steps": spec.max_steps, "lr_scheduler_type": "linear",
        "warmup_ratio": 0.0, "warmup_steps": spec.warmup_steps, "logging_strategy": "steps",
        "logging_steps": spec.logging_steps, "logging_first_step": False, "save_strategy": "steps",
        "save_steps": spec.save_steps, "save_total_limit": None, "seed": spec.seed, "data_seed": None,
        "bf16": False, "fp16": False, "load_best_model_at_end": spec.load_best_model_at_end,
        "metric_for_best_model": "eval_loss", "greater_is_better": False, "optim": "adamw_torch",
        "report_to": [], "run_name": machine_out, "remove_unused_columns": False, "dataloader_drop_last": False,
        "logging_dir": os.path.join(machine_out, "runs"), "save_safetensors": True, "push_to_hub": False,
    }
    state = {
        "best_global_step": None, "best_metric": None, "best_model_checkpoint": None, "epoch": 0.0,
        "eval_steps": spec.eval_steps, "global_step": 0, "is_hyper_param_search": False,
        "is_local_process_zero": True, "is_world_process_zero": True, "log_history": [],
        "logging_steps": spec.logging_steps, "max_steps": spec.max_steps, "num_input_tokens_seen": 0,
        "num_train_epochs": num_train_epochs, "save_steps": spec.save_steps, "stateful_callbacks": {},
        "total_flos": 0.0, "train_batch_size": bs, "trial_name": None, "trial_params": None,
    }
    config = peft_files.lora_config(spec.base_model_name_or_path, spec.r, spec.lora_alpha, spec.lora_dropout,
                                    spec.target_modules_saved_order, spec.use_rslora, spec.use_dora)
    config.update(getattr(spec, "config_overrides", {}))
    layout = _Layout(spec, base_dir)
    data_gen = torch.Generator().manual_seed(spec.seed)
    tr_loss_total, tr_loss_window, last_logged = 0.0, 0.0, 0
    total_tokens = 0
    snapshots = {}
    global_step = 0
    done = False
    for epoch in range(num_train_epochs):
        order = torch.randperm(len(train_set), generator=data_gen).tolist()
        for step in range(steps_per_epoch):
            chunk = [train_set[k] for k in order[step * bs : (step + 1) * bs]]
            ids, labels = _batch(chunk)
            loss = causal_lm_loss(cfg, weights, adapter, ids, labels, True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            global_step += 1
            total_tokens += ids.numel()
            state["total_flos"] += float(6 * ids.numel() * n_nonembed)
            state["global_step"] = global_step
            state["epoch"] = epoch + (step + 1) / steps_per_epoch
            tr_loss_total += loss.item()
            tr_loss_window += loss.item()
            should_stop = global_step >= spec.max_steps
            if global_step % spec.logging_steps == 0:
                row = {"epoch": state["epoch"], "grad_norm": grad_norm, "learning_rate": sched.get_last_lr()[0],
                       "loss": round(tr_loss_window / (global_step - last_logged), 4), "step": global_step}
                state["log_history"].append(row)
                log(f"  step {global_step:4d}  loss {row['loss']:.4f}  grad_norm {grad_norm:.3f}  lr {row['learning_rate']:.2e}")
                tr_loss_window, last_logged = 0.0, global_step
            if global_step % spec.eval_steps == 0:
                metrics = evaluate(cfg, weights, adapter, eval_set, bs)
                state["log_history"].append(dict(metrics, epoch=state["epoch"], step=global_step))
                log(f"  step {global_step:4d}  eval_loss {metrics['eval_loss']:.4f}")
                last_eval = metrics["eval_loss"]
            if global_step % spec.save_steps == 0:
                ckpt_name = f"checkpoint-{global_step}"
                if state["best_metric"] is None or last_eval < state["best_metric"]:
                    state["best_metric"] = last_eval
                    state["best_global_step"] = global_step
                    state["best_model_checkpoint"] = os.path.join(machine_out, ckpt_name)
                state["stateful_callbacks"] = {"TrainerControl": {"args": {
                    "should_epoch_stop": False, "should_evaluate": False, "should_log": False,
                    "should_save": True, "should_training_stop": should_stop}, "attributes": {}}}
                snapshots[global_step] = adapter.state_dict_for_save()
                if spec.write_checkpoints:
                    d = os.path.join(spec.out_dir, ckpt_name)
                    layout.save_model(d, adapter, config, training_args)
                    if layout.save_optimizer:
                        torch.save(opt.state_dict(), os.path.join(d, "optimizer.pt"))
                    torch.save(sched.state_dict(), os.path.join(d, "scheduler.pt"))
                    torch.save({"python": random.getstate(), "numpy": np.random.get_state(),
                                "cpu": torch.random.get_rng_state()}, os.path.join(d, "rng_state.pth"))
                    _json(os.path.join(d, "trainer_state.json"), state)
            if should_stop:
                done = True
                break
        if done:
            break
    train_runtime = round(total_tokens / NOMINAL_TOKENS_PER_SECOND, 4)
    train_metrics = {
        "epoch": state["epoch"], "total_flos": state["total_flos"], "train_loss": tr_loss_total / global_step,
        "train_runtime": train_runtime,
        "train_samples_per_second": round(global_step * bs / train_runtime, 3),
        "train_steps_per_second": round(global_step / train_runtime, 3),
    }
    state["log_history"].append(dict(train_metrics, step=global_step))
    if spec.load_best_model_at_end and state["best_global_step"] is not None:
        best = snapshots[state["best_global_step"]]
        for key, mod in adapter.modules.items():
            with torch.no_grad():
                mod.A.copy_(best[f"base_model.model.{key}.lora_A.weight"])
                mod.B.copy_(best[f"base_model.model.{key}.lora_B.weight"])
                if mod.m is not None:
                    mod.m.copy_(best[f"base_model.model.{key}.lora_magnitude_vector"])
    if spec.write_final:
        layout.save_model(spec.out_dir, adapter, config, training_args, final=True)
        _json(os.path.join(spec.out_dir, "trainer_state.json"), state)
        train_results = dict(train_metrics, train_samples=len(train_set))
        final_eval = evaluate(cfg, weights, adapter, eval_set, bs)
        eval_results = dict(final_eval, epoch=state["epoch"], eval_samples=len(eval_set),
                            perplexity=math.exp(final_eval["eval_loss"]))
        _json(os.path.join(spec.out_dir, "train_results.json"), train_results, indent=4)
        _json(os.path.join(spec.out_dir, "eval_results.json"), eval_results, indent=4)
        _json(os.path.join(spec.out_dir, "all_results.json"), dict(train_results, **eval_results), indent=4)
    return adapter, snapshots, state, config


class _Layout:
    """Where a save puts its files. HF Trainer (default): adapter, training_args.bin and tokenizer in the folder itself.
    Chinese-LLaMA-Alpaca-2 (spec.adapter_subdir = "sft_lora_model"): its SavePeftModelCallback writes the adapter and
    the (merged) tokenizer to <folder>/sft_lora_model/, Trainer keeps training_args.bin etc. in <folder>; the final save
    is <output_dir>/sft_lora_model/ only. spec.save_optimizer = False leaves optimizer.pt out (size; with DeepSpeed it
    would sit in global_stepN/, which the demo does not reproduce)."""

    def __init__(self, spec, base_dir):
        self.subdir = getattr(spec, "adapter_subdir", None)
        self.tokenizer_dir = getattr(spec, "tokenizer_dir", None) or base_dir
        self.save_optimizer = getattr(spec, "save_optimizer", True)
        self.tokenizer_files = getattr(spec, "tokenizer_files", TOKENIZER_FILES)

    def save_model(self, d, adapter, config, training_args, final=False):
        adapter_dir = os.path.join(d, self.subdir) if self.subdir else d
        peft_files.save_adapter(adapter_dir, adapter, config)
        if not (final and self.subdir):
            torch.save(training_args, os.path.join(d, "training_args.bin"))
        for name in self.tokenizer_files:
            shutil.copyfile(os.path.join(self.tokenizer_dir, name), os.path.join(adapter_dir, name))
