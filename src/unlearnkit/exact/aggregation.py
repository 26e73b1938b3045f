"""Combining shard models: logit averaging (S3T's ``inference.py::get_acc``) or majority vote (SISA's default);
for regression, the mean of the shard outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearnkit.errors import ConfigError

if TYPE_CHECKING:
    import torch

AGGREGATIONS = ("mean", "vote")


def aggregate(logits: list[torch.Tensor], how: str) -> torch.Tensor:
    """Class probabilities from per-shard logits, each (n, C).

    ``mean``: softmax of the mean logits. ``vote``: the fraction of shards voting for each class (ties are broken
    by the lowest class index at ``argmax``).
    """
    import torch

    if not logits:
        raise ConfigError("no shard models to aggregate")
    stacked = torch.stack(logits)
    if how == "mean":
        return torch.softmax(stacked.mean(dim=0), dim=1)
    if how == "vote":
        votes = torch.nn.functional.one_hot(stacked.argmax(dim=2), stacked.shape[2]).sum(dim=0)
        return votes.to(torch.float32) / len(logits)
    raise ConfigError(f"unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")


def aggregate_values(outputs: list[torch.Tensor]) -> torch.Tensor:
    """Regression: the mean of the shard outputs, each (n, 1), as predicted values of shape (n,)."""
    import torch

    if not outputs:
        raise ConfigError("no shard models to aggregate")
    return torch.stack(outputs).mean(dim=0).reshape(-1)
