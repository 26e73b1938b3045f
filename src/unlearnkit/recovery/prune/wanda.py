"""Wanda: prune by weight magnitude times input-activation norm, compared per output row.

Sun, Liu, Bair, Kolter, "A Simple and Effective Pruning Approach for Large Language Models", ICLR 2024
(arXiv 2306.11695), Eq. 1: S_ij = |W_ij| · ‖X_j‖₂, where ‖X_j‖₂ is the ℓ2 norm of input feature j over every
calibration token (official code ``locuslab/wanda``, ``lib/prune.py``: ``scaler_row`` accumulated by forward
hooks, then ``torch.sort`` per output row; 128 C4 sequences as calibration). Per-row comparison is the paper's
default (``pattern="row"``); 2:4 is ``pattern="n:m"``.

Unlearning change: the calibration set is *retain* data only (never D_f), because the masks are derived from
data and would otherwise carry forget information; its id hash is recorded with the masks. Departure: the
official code prunes layer by layer, recomputing the next layer's inputs from the already-pruned layers; here all
norms come from one pass of the dense model (the paper's "Wanda" ablation shows the two agree closely).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.errors import DataError
from unlearnkit.recovery.prune.base import Pruner, in_features, prunable, register_pruner, weight_out_in


def activation_norms(model: nn.Module, calibration: Iterable[Any]) -> dict[str, torch.Tensor]:
    """‖X_j‖₂ per input feature of every prunable module over the calibration batches (tensors or dicts)."""
    sums = {name: torch.zeros(in_features(m)) for name, m in prunable(model)}
    seen = {name: 0 for name in sums}
    hooks = []

    def hook_for(name: str) -> Any:
        def hook(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].detach().float().reshape(-1, args[0].shape[-1])
            sums[name] += (x * x).sum(0)
            seen[name] += x.shape[0]

        return hook

    modules = dict(model.named_modules())
    for name in sums:
        hooks.append(modules[name].register_forward_pre_hook(hook_for(name)))
    try:
        batches = 0
        for batch in calibration:
            model(**batch) if isinstance(batch, dict) else model(batch)
            batches += 1
    finally:
        for h in hooks:
            h.remove()
    if not batches:
        raise DataError("wanda: the calibration set is empty (give retain rows)")
    return {name: s.sqrt() for name, s in sums.items()}


@register_pruner(
    "wanda",
    paper="Sun et al., A Simple and Effective Pruning Approach for LLMs (Wanda), ICLR 2024 (arXiv 2306.11695)",
)
class WandaPruner(Pruner):
    """S = |W| · ‖X‖₂ (Eq. 1) with ‖X‖₂ from retain calibration batches."""

    needs_calibration: ClassVar[bool] = True

    def scores(self, model: nn.Module, calibration: Any = None) -> dict[str, torch.Tensor]:
        norms = activation_norms(model, calibration)
        return {name: weight_out_in(m).detach().abs() * norms[name][None, :] for name, m in prunable(model)}


__all__ = ["WandaPruner", "activation_norms"]
