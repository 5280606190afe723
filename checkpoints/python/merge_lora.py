"""Merge a SkyRL LoRA sampler checkpoint into its base model and write a complete HF model folder.

SkyRL's `save_weights_for_sampler` writes `<checkpoints_base>/<model_id>/sampler_weights/<name>.tar.gz` holding a PEFT
adapter (`adapter_model.safetensors`, `adapter_config.json`). Its config leaves `target_modules` empty, so PEFT would fall
back to its per-architecture default (q_proj and v_proj only) and silently drop the other adapters: the target modules
are taken from the adapter's own keys instead, and every adapter tensor is checked to have been loaded.
The output folder can be served by the engine as a base model (a fresh LoRA goes on top of it).
Usage: python merge_lora.py --base-model DIR --adapter ARCHIVE_OR_DIR --out DIR
"""

import argparse
import json
import pathlib
import shutil
import tarfile
import tempfile

import torch
from peft import LoraConfig, PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

ADAPTER_PREFIX = "base_model.model."
WEIGHT_FILES = {"model.safetensors", "config.json"}


def unpack_adapter(adapter: pathlib.Path, into: pathlib.Path) -> pathlib.Path:
    if adapter.is_dir():
        return adapter
    with tarfile.open(adapter) as archive:
        archive.extractall(into, filter="data")
    return into


def target_modules(adapter_tensors: dict[str, torch.Tensor]) -> list[str]:
    """`...layers.0.mlp.down_proj.lora_A.weight` -> `down_proj`."""
    return sorted({key.split(".lora_")[0].rsplit(".", 1)[-1] for key in adapter_tensors if ".lora_" in key})


def check_all_loaded(model: PeftModel, adapter_tensors: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    for key, tensor in adapter_tensors.items():
        name = key.replace(".weight", ".default.weight")
        if name not in params:
            raise SystemExit(f"adapter tensor {key} has no place in the model")
        if not torch.equal(params[name].detach(), tensor.to(params[name].dtype)):
            raise SystemExit(f"adapter tensor {key} was not loaded")


def merge(base_model: pathlib.Path, adapter_dir: pathlib.Path) -> tuple[torch.nn.Module, list[str]]:
    adapter_tensors = load_file(adapter_dir / "adapter_model.safetensors")
    config = LoraConfig.from_pretrained(adapter_dir)
    config.target_modules = target_modules(adapter_tensors)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(model, adapter_dir, config=config)
    check_all_loaded(peft_model, adapter_tensors)
    return peft_model.merge_and_unload(), config.target_modules


def write_model_folder(merged: torch.nn.Module, base_model: pathlib.Path, out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    for file in base_model.iterdir():
        if file.is_file() and file.name not in WEIGHT_FILES:
            shutil.copy2(file, out / file.name)
    # SkyRL's loader rejects a config without an explicit dtype.
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = "float32"
    config.pop("torch_dtype", None)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-model", type=pathlib.Path, required=True)
    parser.add_argument("--adapter", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        adapter_dir = unpack_adapter(args.adapter, pathlib.Path(tmp))
        merged, modules = merge(args.base_model, adapter_dir)
    write_model_folder(merged, args.base_model, args.out)
    print(json.dumps({"model_dir": str(args.out), "merged_modules": modules}))


if __name__ == "__main__":
    main()
