"""SimNPO (Fan et al., "Simplicity Prevails: Rethinking Negative Preference Optimization for LLM Unlearning",
arXiv 2410.07163, eq. 4): reference-free, length-normalised NPO.

Loss minimised: γ·E_{D_f} −(2/β)·logsigmoid(β·(ℓ̄(x; θ) − δ)) + α·E_{D_r} ℓ(x; θ), ℓ̄ the token-averaged NLL.
Defaults from OpenUnlearning ``configs/trainer/SimNPO.yaml``: β = 4.5, δ = 0, γ = 0.125, α = 1, NLL retain.

Known behaviour: in OpenUnlearning's MUSE re-run it behaves like NPO (News PrivLeak −86 at lr 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from unlearnkit.llm.data import TextBatch
from unlearnkit.llm.losses import sequence_nll, simnpo_loss
from unlearnkit.llm.methods.base import forward
from unlearnkit.llm.methods.npo import NPO, NPORegularizedConfig
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class SimNPOConfig(NPORegularizedConfig):
    beta: float = field(default=4.5, metadata={"help": "inverse temperature β (> 0)"})
    gamma: float = field(default=0.125, metadata={"help": "weight of the forget term"})
    delta: float = field(default=0.0, metadata={"help": "reward margin δ"})


@register_method(
    "llm_simnpo", task="llm", family="llm", needs=("forget", "retain"), paper="SimNPO (Fan et al., arXiv 2410.07163)"
)
class SimNPO(NPO):
    """Length-normalised, reference-free NPO with an NLL retain term."""

    config_cls = SimNPOConfig
    display = "SimNPO"
    uses_reference = False
    retain_term = "nll"
    toy: ClassVar[dict] = {"lr": 1e-3, "batch_size": 16, "epochs": 40}  # saturates at 2e-4 (γ = 0.125)

    def forget_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        avg = sequence_nll(forward(model, batch).logits, batch.labels)
        return simnpo_loss(avg, self.config.beta, self.config.delta)
