"""An exact language model (S3T/SISA/Retrain on a causal-LM backbone) seen as a causal LM, for the LM metrics.

:class:`~unlearnkit.exact.EnsembleLM` serves the mean of the alive shards' next-token logits; :class:`EnsembleModule`
exposes those logits for every position (``.logits``), so VerbMem, KnowMem, PrivLeak and the MIAs evaluate an
exact model exactly as they evaluate an edited one. Each call reads the served snapshot, so after ``forget``
the metrics see only checkpoints that never saw the forgotten text.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn


class EnsembleModule(nn.Module):
    """``EnsembleModule(EnsembleLM(model))``: ``forward(input_ids)`` → an object with averaged ``.logits``."""

    def __init__(self, lm: Any) -> None:
        super().__init__()
        self.lm = lm
        self.config = lm.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> Any:
        return SimpleNamespace(logits=self.lm.logits(input_ids))


def is_exact_dir(directory: Path) -> bool:
    return (Path(directory) / "strategy.json").is_file()


def load_exact_lm(directory: Path) -> tuple[EnsembleModule, Any, dict[str, Any]]:
    """An exact model directory fitted on a causal-LM backbone → (module, tokenizer, meta)."""
    from unlearnkit.exact import EnsembleLM, load_strategy

    model = load_strategy(directory)
    lm = EnsembleLM(model)
    meta = {
        "kind": "exact",
        "method": type(model).__name__,
        "guarantee": "exact (served shards never saw deleted text)",
        "model_version": lm.model_version,
    }
    return EnsembleModule(lm), lm.tokenizer, meta


__all__ = ["EnsembleModule", "is_exact_dir", "load_exact_lm"]
