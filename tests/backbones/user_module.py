"""A user's own module for :class:`~unlearnkit.models.backbones.ModuleBackbone` (no transformers needed)."""

from __future__ import annotations

from torch import nn


def make_mlp(num_classes: int, in_features: int) -> nn.Module:
    """Three hidden layers (LoRA targets ``2`` and ``4``) and a head ``6``."""
    return nn.Sequential(
        nn.Linear(in_features, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, num_classes),
    )
