"""The exactness suite's cases, read from registries: every loader × strategy variant × backbone.

- Loaders: :data:`unlearnkit.data.LOADERS` (``register_loader``); each runs with its ``tiny`` options.
- Strategies: :data:`unlearnkit.exact.STRATEGIES`, each with its ``variants`` (S3T cyclic/BMS, SISA
  retrain/rollback, Retrain).
- Backbones: the built-in architectures (:data:`unlearnkit.models.zoo.ARCHS`) join automatically; any other
  backbone (a Hugging Face model, a user's ``nn.Module``) joins with one :func:`register_backbone` call below,
  giving the strategy keyword arguments that select it and the data modality it reads.

A loader is paired with a backbone only when the backbone accepts the loader's modality. A regression loader
(float targets) runs every strategy on the built-in ``resmlp`` only (:data:`REGRESSION_BACKBONES`: what
regression changes is the head, the loss and the aggregation, not the backbone). Nothing else needs editing
for a new loader, strategy or backbone to be tested.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearnkit.data import LOADERS
from unlearnkit.exact import STRATEGIES
from unlearnkit.models.zoo import ARCHS

#: small enough for a fraction of a second per fit, large enough that every node trains on some data
SIZES: dict[str, Any] = dict(
    shards=2, slices=2, epochs=1, batch_size=16, width=16, depth=2, backbone_epochs=1, lora_rank=2, seed=0
)
STRATEGY_SIZES: dict[str, dict[str, Any]] = {"s3t": {"budget": 2}, "retrain": {"shards": 1, "slices": 1}}
N_DELETABLE = 40  # deletable samples per case (the lone-class sample included)
REGRESSION_BACKBONES = ("resmlp",)


@dataclass(frozen=True)
class BackboneCase:
    """``kwargs(workdir)`` → strategy keyword arguments selecting the backbone (may build files in workdir)."""

    name: str
    kwargs: Callable[[Path], dict[str, Any]]
    modalities: tuple[str, ...] = ("tabular",)


BACKBONES: dict[str, BackboneCase] = {}


def register_backbone(
    name: str, kwargs: Callable[[Path], dict[str, Any]], modalities: tuple[str, ...] = ("tabular",)
) -> None:
    """Add a backbone to the suite (the one edit a new non-built-in backbone needs)."""
    BACKBONES[name] = BackboneCase(name, kwargs, modalities)


for _arch in ARCHS:
    register_backbone(_arch, lambda _dir, a=_arch: {"arch": a})


def _user_module(_dir: Path) -> dict[str, Any]:
    """A user's own nn.Module (tests/backbones/user_module.py) through ModuleBackbone."""
    from unlearnkit.models.backbones import ModuleBackbone

    return {"backbone": ModuleBackbone("tests.backbones.user_module:make_mlp", targets=[["2"], ["4"]], head=["6"])}


register_backbone("module", _user_module)


@dataclass(frozen=True)
class StrategyCase:
    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def make(self, backbone_kwargs: dict[str, Any]) -> Any:
        opts = {**SIZES, **STRATEGY_SIZES.get(self.kind, {}), **self.options, **backbone_kwargs}
        return STRATEGIES[self.kind](salt="exactness-suite", **opts)


def strategy_cases() -> list[StrategyCase]:
    return [
        StrategyCase(f"{kind}-{variant}" if len(cls.variants) > 1 else kind, kind, dict(options))
        for kind, cls in STRATEGIES.items()
        for variant, options in cls.variants.items()
    ]


@dataclass(frozen=True)
class Combo:
    loader: str
    strategy: StrategyCase
    backbone: BackboneCase

    @property
    def id(self) -> str:
        return f"{self.loader}-{self.strategy.name}-{self.backbone.name}"


@functools.cache
def is_regression(loader: str) -> bool:
    info = LOADERS[loader]
    return info.raw(seed=0, **info.tiny).train.is_regression


def combos() -> list[Combo]:
    return [
        Combo(loader, strategy, backbone)
        for loader, info in LOADERS.items()
        for strategy in strategy_cases()
        for backbone in BACKBONES.values()
        if info.modality in backbone.modalities and (not is_regression(loader) or backbone.name in REGRESSION_BACKBONES)
    ]
