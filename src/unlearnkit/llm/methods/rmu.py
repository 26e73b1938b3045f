"""RMU: Representation Misdirection for Unlearning (Li et al., "The WMDP Benchmark", ICML 2024, arXiv 2403.03218,
§5 / Algorithm 1).

Loss minimised, at the residual stream after block ``layer`` (hidden_states[layer + 1]):
  E_{D_f} ‖h_θ(x) − c·u‖² + α·E_{D_r} ‖h_θ(x) − h_frozen(x)‖²  (mean over positions and width),
with u a fixed random unit vector (uniform in [0, 1)^d, normalised) and c the steering coefficient. Only the
MLP weights of blocks ``layer − 2 … layer`` are updated. Defaults from the official ``rmu/unlearn.py`` for
Zephyr-7B: layer 7, c = 6.5, α = 1,200, lr 5e-5, 80 batches (OpenUnlearning ``RMU.yaml`` is the same idea).

Known behaviour: scrambles the activations of forget inputs instead of lowering their likelihood directly;
on MUSE Books it barely moves PrivLeak (OpenUnlearning re-run −60).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.context import RunContext
from unlearnkit.llm.data import LMSplit, TextBatch
from unlearnkit.llm.losses import masked_mse
from unlearnkit.llm.methods.base import Callback, GradientUnlearner, RegularizedConfig, forward
from unlearnkit.registry import register_method
from unlearnkit.types import UnlearnResult


@dataclass(frozen=True)
class RMUConfig(RegularizedConfig):
    lr: float = field(default=5e-5, metadata={"help": "AdamW learning rate"})
    batch_size: int = field(default=4, metadata={"help": "texts per step (official: 4)"})
    alpha: float = field(default=1200.0, metadata={"help": "weight of the retain activation-matching term"})
    num_batches: int = field(default=80, metadata={"help": "optimiser steps (official max_num_batches)"})
    layer: int = field(default=7, metadata={"help": "block whose output is steered (0-based)"})
    steering_coeff: float = field(default=6.5, metadata={"help": "norm c of the random control vector"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.layer >= 0, f"layer must be >= 0, got {self.layer}")
        require(self.num_batches >= 0, f"num_batches must be >= 0, got {self.num_batches}")


def _blocks(model: nn.Module) -> int:
    n = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "n_layer", None)
    if n is None:
        raise ValueError("RMU: cannot tell how many blocks the model has (config.num_hidden_layers)")
    return int(n)


@register_method(
    "llm_rmu",
    task="llm",
    family="llm",
    needs=("forget", "retain"),
    paper="RMU (Li et al., ICML 2024, arXiv 2403.03218)",
)
class RMU(GradientUnlearner):
    """Steer forget activations at one layer to a random direction; keep retain activations."""

    config_cls = RMUConfig
    display = "RMU"
    uses_reference = True
    retain_term = "activations"
    toy: ClassVar[dict] = {
        "layer": 2,
        "lr": 1e-3,
        "batch_size": 16,
        "num_batches": 120,
        "alpha": 10.0,
        "steering_coeff": 20.0,
    }

    def total_steps(self, split: LMSplit) -> int:
        return self.config.num_batches

    def _hidden(self, model: nn.Module, batch: TextBatch) -> torch.Tensor:
        return forward(model, batch, output_hidden_states=True).hidden_states[self.config.layer + 1]

    def run(
        self, model: nn.Module, split: LMSplit, *, ctx: RunContext, callback: Callback | None = None
    ) -> UnlearnResult:
        self._u = None
        self._gen = ctx.generator(self.name, "control-vector")
        return super().run(model, split, ctx=ctx, callback=callback)

    def _control(self, model: nn.Module) -> torch.Tensor:
        if getattr(self, "_u", None) is None:
            u = torch.rand(model.config.hidden_size, generator=self._gen)
            self._u = u / u.norm()
        return self.config.steering_coeff * self._u

    def parameters_to_train(self, model: nn.Module) -> list[nn.Parameter]:
        n = _blocks(model)
        require(self.config.layer < n, f"RMU layer {self.config.layer} does not exist (the model has {n} blocks)")
        wanted = {str(i) for i in range(max(0, self.config.layer - 2), self.config.layer + 1)}
        chosen = []
        for name, p in model.named_parameters():
            parts = name.split(".")
            hit = any(parts[i] in wanted and i > 0 and parts[i - 1] in ("h", "layers") for i in range(len(parts)))
            if hit and ("mlp" in parts):
                chosen.append(p)
            else:
                p.requires_grad_(False)
        require(bool(chosen), "RMU found no MLP weights in the chosen blocks")
        return chosen

    def forget_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        h = self._hidden(model, batch)
        return masked_mse(h, self._control(model).to(h.dtype), batch.attention_mask.bool())

    def retain_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        if reference is None:
            raise RuntimeError("RMU needs the frozen model")
        with torch.no_grad():
            target = self._hidden(reference, batch)
        return masked_mse(self._hidden(model, batch), target, batch.attention_mask.bool())
