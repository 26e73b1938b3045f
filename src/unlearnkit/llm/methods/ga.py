"""GA: gradient ascent on the forget set, MUSE's first baseline (Shi et al., MUSE, arXiv 2407.06460, §4).

Loss minimised: −E_{x∈D_f} ℓ(x; θ), ℓ = the token-averaged next-token NLL of a forget text (MUSE
``baselines/baselines/iterative.py``, ``loss_type="ga"``; OpenUnlearning ``GradAscent``). Defaults: AdamW lr 1e-5,
constant schedule, batch 32, up to 10 epochs (MUSE's ``unlearn_news.sh``).

Needs: D_f only. Known failure: unbounded below, so past MUSE's stop point it drives every text's likelihood
down and utility collapses (MUSE News: KnowMem_r 0.0 at epoch 1).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from unlearnkit.llm.data import TextBatch
from unlearnkit.llm.losses import sequence_nll
from unlearnkit.llm.methods.base import GradientUnlearner, LMUnlearnConfig, forward
from unlearnkit.registry import register_method


@register_method(
    "llm_ga", task="llm", family="llm", needs=("forget",), paper="MUSE GA baseline (Shi et al., arXiv 2407.06460)"
)
class GA(GradientUnlearner):
    """Ascend the forget texts' NLL."""

    config_cls = LMUnlearnConfig
    display = "GA"
    toy: ClassVar[dict] = {"lr": 2e-4, "batch_size": 16, "epochs": 40}

    def forget_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        return -sequence_nll(forward(model, batch).logits, batch.labels).mean()
