"""What PEFT 0.18.0 writes for a LoRA adapter: adapter_config.json (every LoraConfig field, json indent=2 +
sort_keys, no trailing newline), adapter_model.safetensors (adapter name stripped from keys, {"format":"pt"}), and
its model card README.md (huggingface_hub's default template + peft tags + "Framework versions")."""
import json
import os

from . import safetensors_io

PEFT_VERSION = "0.18.0"


def lora_config(base_model_name_or_path, r, lora_alpha, lora_dropout, target_modules, use_rslora=False, use_dora=False):
    # Field set of peft 0.18.0 LoraConfig.to_dict() (runtime_config popped), values as save_pretrained writes them:
    # inference_mode is set True while saving; target_modules is a set in memory, so its saved order is arbitrary.
    return {
        "alora_invocation_tokens": None,
        "alpha_pattern": {},
        "arrow_config": None,
        "auto_mapping": None,
        "base_model_name_or_path": base_model_name_or_path,
        "bias": "none",
        "corda_config": None,
        "ensure_weight_tying": False,
        "eva_config": None,
        "exclude_modules": None,
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": lora_alpha,
        "lora_bias": False,
        "lora_dropout": lora_dropout,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "peft_version": PEFT_VERSION,
        "qalora_group_size": 16,
        "r": r,
        "rank_pattern": {},
        "revision": None,
        "target_modules": list(target_modules),
        "target_parameters": None,
        "task_type": "CAUSAL_LM",
        "trainable_token_indices": None,
        "use_dora": use_dora,
        "use_qalora": False,
        "use_rslora": use_rslora,
    }


_CARD_BODY = """
# Model Card for Model ID

<!-- Provide a quick summary of what the model is/does. -->



## Model Details

### Model Description

<!-- Provide a longer summary of what this model is. -->



- **Developed by:** [More Information Needed]
- **Funded by [optional]:** [More Information Needed]
- **Shared by [optional]:** [More Information Needed]
- **Model type:** [More Information Needed]
- **Language(s) (NLP):** [More Information Needed]
- **License:** [More Information Needed]
- **Finetuned from model [optional]:** [More Information Needed]

## Uses

<!-- Address questions around how the model is intended to be used, including the foreseeable users of the model and those affected by the model. -->

### Direct Use

[More Information Needed]

## Bias, Risks, and Limitations

[More Information Needed]

## How to Get Started with the Model

Use the code below to get started with the model.

[More Information Needed]

## Training Details

### Training Data

[More Information Needed]

### Training Procedure

#### Training Hyperparameters

- **Training regime:** [More Information Needed]

## Evaluation

[More Information Needed]

## Environmental Impact

- **Hardware Type:** [More Information Needed]
- **Hours used:** [More Information Needed]

## Model Card Contact

[More Information Needed]
### Framework versions

- PEFT {peft}"""


def model_card(base_model_name_or_path):
    # A shortened huggingface_hub default card, with the front matter PEFT's create_or_update_model_card sets.
    front = (
        "---\n"
        f"base_model: {base_model_name_or_path}\n"
        "library_name: peft\n"
        "pipeline_tag: text-generation\n"
        "tags:\n"
        f"- base_model:adapter:{base_model_name_or_path}\n"
        "- lora\n"
        "- transformers\n"
        "---\n"
    )
    return front + _CARD_BODY.replace("{peft}", PEFT_VERSION)


def save_adapter(out_dir, adapter, config):
    """Like PeftModel.save_pretrained(out_dir): adapter_model.safetensors + adapter_config.json + README.md."""
    os.makedirs(out_dir, exist_ok=True)
    safetensors_io.save(os.path.join(out_dir, "adapter_model.safetensors"), adapter.state_dict_for_save(), {"format": "pt"})
    with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(model_card(config["base_model_name_or_path"]))
