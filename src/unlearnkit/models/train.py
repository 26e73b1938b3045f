"""Deterministic training and inference loops shared by every strategy.

Batches are drawn by a permutation from an explicit generator over the dataset's id order, and every
stage uses a fresh Adam: on CPU with one thread, the same data and seeds give bitwise-equal weights,
which is what the exactness tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def train_epochs(
    model: nn.Module,
    params: Iterable[nn.Parameter],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    weight_decay: float = 0.0,
    loss_fn: nn.Module | None = None,
    compute_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Train ``params`` with a fresh Adam for ``epochs``; returns the mean loss per epoch.

    The loss is ``loss_fn(model(x), y)`` (cross-entropy by default; mean squared error on a one-wide output
    for float targets, i.e. regression) or ``compute_loss(x, y)`` when given (a causal LM's next-token loss).
    """
    params = list(params)
    if not params or len(x) == 0 or epochs <= 0:
        return []
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    loss_fn = loss_fn or (one_wide_mse if is_regression_target(y) else nn.CrossEntropyLoss())
    model.train()
    history = []
    n = len(x)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = compute_loss(x[idx], y[idx]) if compute_loss is not None else loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / n)
    model.eval()
    return history


def is_regression_target(y: torch.Tensor) -> bool:
    """Float targets of shape (n,): regression (class labels are int64; soft labels are (n, C))."""
    return y.is_floating_point() and y.ndim == 1


def one_wide_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error between a one-wide output ``(n, 1)`` and float targets ``(n,)``."""
    return nn.functional.mse_loss(out.reshape(y.shape), y)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    was = model.training
    model.eval()
    out = (
        torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]) if len(x) else (torch.empty(0))
    )
    model.train(was)
    return out


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == y).float().mean()) if len(y) else float("nan")
