"""Head-Projection defense (Patil et al., arXiv 2309.17410, §4 "Defense methods", eq. for L_HP): Fact Erasure
plus, at every defended intermediate layer, the margin that pushes the answer out of both the top-k and the
bottom-k of the logit-lens distribution — exactly the candidate set the Head-Projection attack reads:

    L = p(y | x) + w · mean_{ℓ ∈ L_def} [ max(0, p_ℓ(y) − p_ℓ⁽ᵏ⁾) + max(0, p_ℓ₍ₖ₎ − p_ℓ(y)) ]

(``p⁽ᵏ⁾``/``p₍ₖ₎``: the k-th largest/smallest probability among the other tokens.) Default k = 4, the paper's
attack k; defended layers default to the attacked ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unlearnkit.errors import ConfigError
from unlearnkit.llm.editing.objectives.base import (
    OBJECTIVES,
    EditView,
    LensConfig,
    Objective,
    answer_probability,
    topk_bottomk_margin,
)


@dataclass(frozen=True)
class HeadProjectionDefenseConfig(LensConfig):
    k: int = field(default=4, metadata={"help": "keep the answer out of each defended layer's top-k and bottom-k"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")


@OBJECTIVES.register("head_projection_defense")
class HeadProjectionDefense(Objective):
    display = "HP defense"
    config_cls = HeadProjectionDefenseConfig
    uses_lens = True

    def loss(self, view: EditView) -> torch.Tensor:
        erase = answer_probability(view.final, view.answer).mean()
        return erase + self.config.weight * topk_bottomk_margin(view.lens, view.answer, self.config.k)
