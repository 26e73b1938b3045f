"""Magnitude pruning: remove the smallest |W| (one shot, no calibration).

Han et al., "Learning both Weights and Connections for Efficient Neural Networks", NeurIPS 2015
(arXiv 1506.02626): score S_ij = |W_ij|. The baseline every LLM-pruning paper compares to (Wanda's Table 2
"Magnitude") and the one-shot pruner of "Model Sparsity Can Simplify Machine Unlearning" (arXiv 2304.04934).
Needs no data, so nothing deletable can shape the masks. Fails at high sparsity on LMs (Wanda: magnitude at 50%
on LLaMA-7B leaves perplexity 17 vs 7); the classifier zoo tolerates it better.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unlearnkit.recovery.prune.base import Pruner, prunable, register_pruner, weight_out_in


@register_pruner(
    "magnitude", paper="Han et al., Learning both Weights and Connections, NeurIPS 2015 (arXiv 1506.02626)"
)
class MagnitudePruner(Pruner):
    """S = |W|, compared per layer, per output row or within N:M groups (``pattern``)."""

    def scores(self, model: nn.Module, calibration: Any = None) -> dict[str, torch.Tensor]:
        return {name: weight_out_in(m).detach().abs().clone() for name, m in prunable(model)}


__all__ = ["MagnitudePruner"]
