"""LoRA on named per-layer modules via ``peft``, and the block bookkeeping exact unlearning needs.

A model's layers are grouped into L *blocks* numbered from the top (block 1 sits next to the head), as
S3T trains them. Block membership is decided by exact module names, never substrings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from unlearnkit.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class LoraSpec:
    """LoRA hyper-parameters (S3T's code uses rsLoRA; r/α/dropout defaults sized for 64-wide models)."""

    rank: int = 4
    alpha: float = 4.0
    dropout: float = 0.0
    use_rslora: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def attach_lora(model: nn.Module, spec: LoraSpec) -> nn.Module:
    """Wrap ``model`` (in place) with one LoRA adapter on every module of ``model.lora_targets()``.

    The base weights are frozen by peft; LoRA B starts at zero so the wrapped model computes exactly what
    the base did.
    """
    from peft import LoraConfig, get_peft_model

    targets = [name for layer in model.lora_targets() for name in layer]
    modules = dict(model.named_modules())
    # GPT-2's Conv1D stores its weight transposed: peft must be told (fan_in_fan_out)
    conv1d = any(type(modules[t]).__name__ == "Conv1D" for t in targets if t in modules)
    cfg = LoraConfig(
        fan_in_fan_out=conv1d,
        r=spec.rank,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        use_rslora=spec.use_rslora,
        target_modules=targets,
        bias="none",
    )
    return get_peft_model(model, cfg)


def base_of(peft_model: nn.Module) -> nn.Module:
    """The user model inside a peft wrapper (or the model itself)."""
    inner = getattr(peft_model, "base_model", None)
    return getattr(inner, "model", peft_model) if inner is not None else peft_model


def layer_blocks(num_layers: int, num_blocks: int) -> list[list[int]]:
    """Layer indices of each block, block 1 first (top of the network).

    As the S3T code does, each block gets ``num_layers // num_blocks`` consecutive layers counted from
    the top; leftover bottom layers get no trainable LoRA.
    """
    if not 1 <= num_blocks <= num_layers:
        raise ConfigError(f"{num_blocks} slices need at least as many model layers (model has {num_layers})")
    per = num_layers // num_blocks
    return [list(range(num_layers - (b + 1) * per, num_layers - b * per)) for b in range(num_blocks)]


def lora_params(peft_model: nn.Module, layers: list[int]) -> dict[str, nn.Parameter]:
    """LoRA parameters of the given layers, keyed by their (state-dict) names."""
    base = base_of(peft_model)
    wanted = {name for i in layers for name in base.lora_targets()[i]}
    out: dict[str, nn.Parameter] = {}
    for mod_name, module in base.named_modules():
        if mod_name in wanted:  # exact module name: `layers.1` never matches `layers.10`
            for pname, p in module.named_parameters():
                if "lora_" in pname:
                    out[f"{mod_name}.{pname}"] = p
    missing = wanted - {k.rsplit(".lora_", 1)[0] for k in out}
    if missing:
        raise ConfigError(f"no LoRA found on modules {sorted(missing)}")
    return out


def head_params(peft_model: nn.Module) -> dict[str, nn.Parameter]:
    return {f"head.{n}": p for n, p in base_of(peft_model).head.named_parameters()}


def init_lora(params: dict[str, nn.Parameter], generator: torch.Generator) -> None:
    """Re-initialise LoRA A (Kaiming-uniform, as peft) from ``generator`` and LoRA B to zero."""
    import torch
    from torch import nn

    with torch.no_grad():
        for name in sorted(params):
            p = params[name]
            if ".lora_A." in name:
                nn.init.kaiming_uniform_(p, a=math.sqrt(5), generator=generator)
            elif ".lora_B." in name:
                p.zero_()


def zero_lora(params: dict[str, nn.Parameter]) -> None:
    """Deactivate LoRA modules: B = 0 makes their contribution exactly zero."""
    import torch

    with torch.no_grad():
        for name, p in params.items():
            if ".lora_B." in name:
                p.zero_()


def load_tensors(params: dict[str, nn.Parameter], tensors: dict[str, torch.Tensor]) -> None:
    import torch

    with torch.no_grad():
        for name, p in params.items():
            p.copy_(tensors[name])


def snapshot(params: dict[str, nn.Parameter]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in params.items()}
