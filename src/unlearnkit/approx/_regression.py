"""Shared pieces of the regression unlearning methods (Tarun et al., Deep Regression Unlearning, arXiv 2210.08196).

- :class:`RegressionConfig` — ``epochs``, ``lr``, ``batch_size`` (validated by :class:`TrainingConfig`), the
  regression ``loss`` (l1 | mse) and Adam, the optimiser of every loop in the authors' code.
- :func:`regression_loss_fn` — the per-batch ``loss_fn`` of :func:`~unlearnkit.approx._common.train_loop`.
- :func:`attention_map` / :func:`at_distance` — Zagoruyko & Komodakis' attention transfer as the authors'
  ``unlearn.py`` computes it: mean of squares over the channel dimension, flattened per sample,
  L2-normalised; the distance is the mean squared difference of two maps. On a 2-D activation ``(n, c)``
  the channel mean is one scalar per sample, so the normalised map is the constant 1 and the distance is
  exactly 0 (the documented pitfall of the authors' LSTM linear layers; an MLP gets no layer-wise term).
- :func:`require_regression` — the one-line error a classification split gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import LossFn, TrainingConfig, make_optimizer, require
from unlearnkit.errors import ConfigError
from unlearnkit.models.regression import LOSSES
from unlearnkit.types import ForgetSplit


@dataclass(frozen=True)
class RegressionConfig(TrainingConfig):
    """Adam training fields of a regression method: ``epochs``, ``lr``, ``batch_size`` and ``loss``."""

    loss: str = field(default="l1", metadata={"help": "l1 (vision code) | mse (STS-B code)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}")

    def optimizer_for(self, params):  # type: ignore[no-untyped-def]
        return make_optimizer("adam", params, self.lr)


def pointwise(name: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 or MSE between ``pred`` and ``target``."""
    return F.l1_loss(pred, target) if name == "l1" else F.mse_loss(pred, target)


def regression_loss_fn(name: str) -> LossFn:
    def loss_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return pointwise(name, model(x).reshape(-1), y)

    return loss_fn


def attention_map(a: torch.Tensor) -> torch.Tensor:
    """``normalize(mean_c(a²).flatten(1))``: the attention map of an activation ``(n, c, …)``."""
    return F.normalize(a.pow(2).mean(dim=1).reshape(a.shape[0], -1), dim=1)


def at_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the attention maps (0 for 2-D activations, see the module docstring)."""
    return (attention_map(student) - attention_map(teacher)).pow(2).mean()


def activations(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(predictions, activations)`` of a model with ``forward_with_activations`` (else no activations)."""
    fwa = getattr(model, "forward_with_activations", None)
    if fwa is None:
        return model(x).reshape(-1), []
    out, acts = fwa(x)
    return out.reshape(-1), list(acts)


def require_regression(split: ForgetSplit, method: str) -> None:
    data = split.retain if len(split.retain) else split.forget
    if not data.is_regression:
        raise ConfigError(f"{method} is a regression method; the split has {data.num_classes} classes")
