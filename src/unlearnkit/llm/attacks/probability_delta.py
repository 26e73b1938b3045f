"""Probability Delta attack (Patil et al., arXiv 2309.17410, §3.2; ``experiments/evaluate_wb_grad.py``): the
logit-lens distributions of consecutive attacked layers, Δ_ℓ = p_{ℓ+1} − p_ℓ (``torch.diff``), and
C = ⋃_ℓ top-k(Δ_ℓ) ∪ bottom-k(Δ_ℓ), so B = 2k·(|L| − 1). It catches an answer whose probability a layer
boosts and a later one suppresses — the signature of an edit that hides the answer late.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.llm.attacks.base import ATTACKS, Attack, LensAttackConfig, top_bottom
from unlearnkit.llm.editing.base import prompt_inputs
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import lens_logprobs


@ATTACKS.register("probability_delta")
class ProbabilityDelta(Attack):
    display = "Probability Delta"
    config_cls = LensAttackConfig

    def layers(self, model: nn.Module, edit_layer: int) -> tuple[int, ...]:
        layers = super().layers(model, edit_layer)
        require(len(layers) >= 2, f"probability_delta needs >= 2 attacked layers, got {list(layers)}")
        return layers

    def budget(self, model: nn.Module, edit_layer: int) -> int:
        return 2 * self.config.k * (len(self.layers(model, edit_layer)) - 1)

    @torch.no_grad()
    def candidates(
        self, model: nn.Module, tokenizer: Any, fact: Fact, *, edit_layer: int, generator: torch.Generator
    ) -> list[int]:
        _, lens = lens_logprobs(model, prompt_inputs(tokenizer, [fact.prompt]), self.layers(model, edit_layer))
        return top_bottom(torch.diff(lens[0].exp(), dim=0), self.config.k)
