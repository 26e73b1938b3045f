"""Max-Entropy defense (Patil et al., arXiv 2309.17410, §4 "Defense methods"): maximise the entropy of the
logit-lens distribution at every defended layer, so that no intermediate layer singles out the answer:

    L = p(y | x) + w · ( − mean_{ℓ ∈ L_def} H(p_ℓ) )

In the paper the entropy term replaces the p(y) term over defended layers that reach the output; here the
defended layers are intermediate (the attacked ones by default), so the output erasure term is kept — otherwise
the answer would stay at the output and nothing would be deleted (notes §4.6 measured this variant).
"""

from __future__ import annotations

import torch

from unlearnkit.llm.editing.objectives.base import (
    OBJECTIVES,
    EditView,
    LensConfig,
    Objective,
    answer_probability,
    entropy,
)


@OBJECTIVES.register("max_entropy_defense")
class MaxEntropyDefense(Objective):
    display = "Max-Entropy defense"
    config_cls = LensConfig
    uses_lens = True

    def loss(self, view: EditView) -> torch.Tensor:
        erase = answer_probability(view.final, view.answer).mean()
        return erase - self.config.weight * entropy(view.lens).mean()
