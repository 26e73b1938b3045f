"""Gradient alignment with the forget set: reject x when cos(∇ℓ(x), ∇ℓ(D_f)) > τ_g at the current model.

The notes' check (3): a recovery step on x moves the loss on D_f by about −η ∇ℓ(x)·∇ℓ(D_f); a strongly
aligned candidate lowers the forget loss, i.e. re-teaches it ("benign relearning", Hu et al., arXiv
2406.13356). Cost: one backward pass per candidate (cheap for small models; vectorised for classifiers).
"""

from __future__ import annotations

import numpy as np

from unlearnkit.recovery.filters.base import FilterInputs, FilterOutcome, RecoveryFilter, register_filter


@register_filter("gradient")
class GradientAlignmentFilter(RecoveryFilter):
    def __init__(self, cosine: float = 0.6) -> None:
        self.cosine = float(cosine)

    def __call__(self, inputs: FilterInputs) -> FilterOutcome:
        keep = np.ones(len(inputs.candidates), dtype=bool)
        reasons: dict[int, str] = {}
        if inputs.forget is None or not len(inputs.forget):
            return FilterOutcome(keep, reasons)
        cos = inputs.subject.alignment(inputs.model, inputs.candidates, inputs.forget)
        for i in np.flatnonzero(cos > self.cosine):
            keep[i] = False
            reasons[int(i)] = f"gradient aligned with the forget set (cos {cos[i]:.2f})"
        return FilterOutcome(keep, reasons)


__all__ = ["GradientAlignmentFilter"]
