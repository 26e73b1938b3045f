"""Head Projection attack (Patil et al., arXiv 2309.17410, §3.2; ``experiments/evaluate.py::get_metrics``,
``topk_or_bottomk_metric_agg``): the logit lens at every attacked layer ℓ,
p_ℓ = softmax(W_U · LN_f(h_ℓ)) at the prompt's last position; C = ⋃_ℓ top-k(p_ℓ) ∪ bottom-k(p_ℓ), so
B = 2k·|L|. The bottom-k catches an answer the edit pushed to the very bottom (an over-suppressed answer is
as recognisable as a top one).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unlearnkit.llm.attacks.base import ATTACKS, Attack, LensAttackConfig, top_bottom
from unlearnkit.llm.editing.base import prompt_inputs
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import lens_logprobs


@ATTACKS.register("head_projection")
class HeadProjection(Attack):
    display = "Head Projection"
    config_cls = LensAttackConfig

    def budget(self, model: nn.Module, edit_layer: int) -> int:
        return 2 * self.config.k * len(self.layers(model, edit_layer))

    @torch.no_grad()
    def candidates(
        self, model: nn.Module, tokenizer: Any, fact: Fact, *, edit_layer: int, generator: torch.Generator
    ) -> list[int]:
        _, lens = lens_logprobs(model, prompt_inputs(tokenizer, [fact.prompt]), self.layers(model, edit_layer))
        return top_bottom(lens[0], self.config.k)
