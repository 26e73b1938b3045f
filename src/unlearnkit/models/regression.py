"""Regression models and their training loop (deep regression unlearning, arXiv 2210.08196).

Two small architectures, each with a scalar output and ``forward_with_activations(x) -> (out, [a_1, …])``,
the intermediate activations Blindspot's layer-wise (attention-transfer) term compares, as the authors'
models return ``(output, act_1, …, act_k)``:

- ``mlp`` — ``relu(embed) → [relu(fc)] × depth → head``; its activations are 2-D, on which the attention
  map is constant (so the layer-wise term is exactly zero, as in the authors' LSTM linear layers).
- ``cnn`` — the notes' digits recipe (E.1): 3 conv blocks (16-32-32 channels, BN, ReLU, stride 2 on the
  last two), global average pooling, linear; input rows of ``side²`` pixels are reshaped to one channel.

``model(x)`` returns predictions of shape ``(n,)``. :func:`fit_regressor` trains a fresh model with the
deterministic Adam loop of :mod:`unlearnkit.models.train` (L1 loss by default, as the authors' vision code).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from unlearnkit.context import derive_seed
from unlearnkit.data import IdDataset, ids_hash
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.models.train import train_epochs

REGRESSION_ARCHS = ("mlp", "cnn")
LOSSES = ("l1", "mse")


@dataclass(frozen=True)
class RegressorSpec:
    """Architecture of a regression model: ``arch`` (mlp | cnn), ``in_features``, ``width``, ``depth``."""

    arch: str = "mlp"
    in_features: int = 10
    width: int = 64
    depth: int = 2

    def __post_init__(self) -> None:
        if self.arch not in REGRESSION_ARCHS:
            raise ConfigError(f"unknown regression arch {self.arch!r}; choose one of {', '.join(REGRESSION_ARCHS)}")
        if self.in_features < 1 or self.width < 1 or self.depth < 1:
            raise ConfigError(f"model sizes must be positive: {self}")
        if self.arch == "cnn" and math.isqrt(self.in_features) ** 2 != self.in_features:
            raise ConfigError(f"the cnn reads square images: {self.in_features} features is not a square")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RegressionMLP(nn.Module):
    """``relu(embed) → [relu(fc)] × depth → head`` with a scalar output."""

    def __init__(self, spec: RegressorSpec) -> None:
        super().__init__()
        self.spec = spec
        self.embed = nn.Linear(spec.in_features, spec.width)
        self.blocks = nn.ModuleList(nn.Linear(spec.width, spec.width) for _ in range(spec.depth))
        self.head = nn.Linear(spec.width, 1)

    def forward_with_activations(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = torch.relu(self.embed(x))
        acts = [h]
        for fc in self.blocks:
            h = torch.relu(fc(h))
            acts.append(h)
        return self.head(h).squeeze(-1), acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_activations(x)[0]


class RegressionCNN(nn.Module):
    """Three conv blocks (16-32-32, BN, ReLU; stride 2 on the last two), global average pool, linear."""

    def __init__(self, spec: RegressorSpec) -> None:
        super().__init__()
        self.spec = spec
        self.side = math.isqrt(spec.in_features)
        chans = (1, 16, 32, 32)
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=1 if i == 0 else 2, padding=1),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(),
            )
            for i in range(3)
        )
        self.head = nn.Linear(chans[-1], 1)

    def forward_with_activations(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = x.view(x.shape[0], 1, self.side, self.side)
        acts = []
        for block in self.convs:
            h = block(h)
            acts.append(h)
        return self.head(h.mean(dim=(2, 3))).squeeze(-1), acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_activations(x)[0]


def build_regressor(spec: RegressorSpec, seed: int | None = None) -> nn.Module:
    """A fresh regression model; with ``seed`` its initial weights depend on nothing else."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_regressor(spec)
    return RegressionMLP(spec) if spec.arch == "mlp" else RegressionCNN(spec)


def regression_loss(name: str) -> nn.Module:
    """``l1`` (the authors' vision code) or ``mse`` (their STS-B code)."""
    if name not in LOSSES:
        raise ConfigError(f"unknown regression loss {name!r}; choose one of {', '.join(LOSSES)}")
    return nn.L1Loss() if name == "l1" else nn.MSELoss()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Predictions ``(n,)`` in eval mode (the model's mode is restored)."""
    was = model.training
    model.eval()
    out = (
        torch.cat([model(x[i : i + batch_size]).reshape(-1) for i in range(0, len(x), batch_size)])
        if len(x)
        else (torch.zeros(0))
    )
    model.train(was)
    return out


def fit_regressor(
    train: IdDataset,
    spec: RegressorSpec,
    *,
    epochs: int = 15,
    lr: float = 1e-2,
    batch_size: int = 64,
    loss: str = "l1",
    seed: int = 0,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train a fresh regressor on ``train`` (deterministic on CPU); return ``(model, hyper)``.

    Defaults are the notes' CPU recipe for the authors' schedule (Adam lr 0.01, L1, batch 64; 15 epochs in
    place of 100 with a plateau scheduler). ``hyper`` is what a from-scratch Retrain reuses.
    """
    if not train.is_regression:
        raise DataError("fit_regressor needs float targets (a regression dataset)")
    if len(train) == 0:
        raise DataError("cannot train a model on an empty training set")
    if spec.in_features != train.num_features:
        raise ConfigError(f"model spec has {spec.in_features} features, the data {train.num_features}")
    if epochs < 0 or lr <= 0 or batch_size < 1:
        raise ConfigError(f"invalid training hyper-parameters: epochs={epochs}, lr={lr}, batch_size={batch_size}")
    model = build_regressor(spec, seed=derive_seed(seed, "regressor", "init"))
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, "regressor", "order"))
    train_epochs(
        model,
        model.parameters(),
        train.x,
        train.y,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        generator=gen,
        loss_fn=regression_loss(loss),
    )
    model.eval()
    hyper = {
        "strategy": "standard",
        "task": "regression",
        "spec": spec.to_dict(),
        "optimizer": "adam",
        "epochs": int(epochs),
        "lr": float(lr),
        "batch_size": int(batch_size),
        "loss": loss,
        "seed": int(seed),
        "num_train": len(train),
        "train_ids_hash": ids_hash(train.id_list()),
        "train_mae": float((predict(model, train.x) - train.y).abs().mean()),
    }
    return model, hyper


__all__ = [
    "LOSSES",
    "REGRESSION_ARCHS",
    "RegressionCNN",
    "RegressionMLP",
    "RegressorSpec",
    "build_regressor",
    "fit_regressor",
    "predict",
    "regression_loss",
]
