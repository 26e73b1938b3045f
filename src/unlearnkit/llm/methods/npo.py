"""NPO: Negative Preference Optimization (Zhang et al., "Negative Preference Optimization: From Catastrophic
Collapse to Effective Unlearning", COLM 2024, arXiv 2404.05868, eq. 3).

Loss minimised: (2/β)·E_{D_f} log(1 + (π_θ(x)/π_ref(x))^β) = −(2/β)·E logsigmoid(−β·[log π_θ(x) − log π_ref(x)]),
with log π(x) the *sequence* log-likelihood (sum over tokens) and π_ref the frozen target; β = 0.1.

Departure from MUSE's code: MUSE's ``iterative.py`` forms the ratio per vocabulary entry from raw logits
(muse_bench issue #2); this follows the paper and OpenUnlearning's ``NPO`` (via ``compute_dpo_loss``).

Known behaviour: the loss is bounded below, so its gradient vanishes as the forget likelihood falls —
slower collapse than GA; with the corrected loss and lr 1e-5 it barely forgets (OpenUnlearning MUSE re-run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.llm.data import TextBatch
from unlearnkit.llm.losses import npo_loss, sequence_logprob
from unlearnkit.llm.methods.base import LMUnlearnConfig, RegularizedConfig, forward
from unlearnkit.llm.methods.ga import GA
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class NPOConfig(LMUnlearnConfig):
    beta: float = field(default=0.1, metadata={"help": "inverse temperature β of the NPO loss (> 0)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.beta > 0, f"beta must be > 0, got {self.beta}")


@dataclass(frozen=True)
class NPORegularizedConfig(NPOConfig, RegularizedConfig):
    """NPO's β plus the retain weight α."""


@register_method(
    "llm_npo", task="llm", family="llm", needs=("forget",), paper="NPO (Zhang et al., COLM 2024, arXiv 2404.05868)"
)
class NPO(GA):
    """Negative preference optimisation on the forget texts against the frozen input model."""

    config_cls = NPOConfig
    display = "NPO"
    uses_reference = True
    toy: ClassVar[dict] = {"lr": 2e-4, "batch_size": 16, "epochs": 40}

    def forget_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        if reference is None:
            raise RuntimeError("NPO needs the reference model")
        current = sequence_logprob(forward(model, batch).logits, batch.labels)
        with torch.no_grad():
            ref = sequence_logprob(forward(reference, batch).logits, batch.labels)
        return npo_loss(current, ref, self.config.beta)
