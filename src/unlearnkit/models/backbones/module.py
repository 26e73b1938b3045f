"""Any PyTorch module as a backbone: a factory that builds it and the LoRA target names of each layer.

``ModuleBackbone("mypkg.nets:make_net", targets=[["enc.0.fc"], ["enc.1.fc"]], head=["out"])``: the
factory is called as ``factory(num_classes=C, in_features=F)`` and must return an ``nn.Module`` mapping a
float batch ``(n, F)`` to logits ``(n, C)``. Its frozen weights are its seeded init, or trained on the
public split only (never on deletable rows). The factory is named by ``module:function`` so a saved model
can rebuild it; a plain callable works for a model that is never reloaded from disk.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.models.backbones.base import Backbone, HeadView, Tensors, check_targets, pretrain_on_public

Factory = Callable[..., nn.Module]


def _resolve(factory: str | Factory) -> Factory:
    if callable(factory):
        return factory
    mod, _, name = str(factory).partition(":")
    if not mod or not name:
        raise ConfigError(f"factory {factory!r} must be 'package.module:function'")
    try:
        return getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import factory {factory!r}: {exc}") from None


class UserModule(HeadView, nn.Module):
    def __init__(self, net: nn.Module, targets: Sequence[Sequence[str]], head: Sequence[str]) -> None:
        super().__init__()
        self.net = net
        self._targets = [[f"net.{n}" for n in layer] for layer in targets]
        self.head_names = tuple(f"net.{h}" for h in head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def lora_targets(self) -> list[list[str]]:
        return [list(t) for t in self._targets]


class ModuleBackbone(Backbone):
    """A user's ``nn.Module`` (see the module docstring).

    Args:
        factory: ``"module:function"`` (reloadable) or a callable ``(num_classes=, in_features=) -> nn.Module``.
        targets: per layer, bottom to top, the exact names (inside the module) of the modules that get LoRA.
        head: names of the task-head submodules (trainable at every stage).
    """

    kind: ClassVar[str] = "module"

    def __init__(
        self,
        factory: str | Factory,
        *,
        targets: Sequence[Sequence[str]],
        head: Sequence[str],
        num_classes: int = 0,
        in_features: int = 0,
    ) -> None:
        self.factory = factory
        self.targets = [list(t) for t in targets]
        self.head = list(head)
        self.num_classes = int(num_classes)
        self.in_features = int(in_features)
        if not self.targets:
            raise ConfigError("a module backbone needs LoRA target names for at least one layer")

    def bind(self, num_classes: int, in_features: int) -> ModuleBackbone:
        return ModuleBackbone(
            self.factory, targets=self.targets, head=self.head, num_classes=num_classes, in_features=in_features
        )

    def build(self) -> nn.Module:
        net = _resolve(self.factory)(num_classes=self.num_classes, in_features=self.in_features)
        if not isinstance(net, nn.Module):
            raise ConfigError(f"factory {self.factory!r} returned {type(net).__name__}, not an nn.Module")
        module = UserModule(net, self.targets, self.head)
        check_targets(module, module.lora_targets())
        names = dict(module.named_modules())
        missing = [h for h in module.head_names if h not in names]
        if missing:
            raise ConfigError(f"head module(s) {[m[4:] for m in missing]} not found in the module")
        return module

    def lora_target_names(self) -> list[list[str]]:
        return [[f"net.{n}" for n in layer] for layer in self.targets]

    def initial_state(
        self,
        public_x: torch.Tensor | None,
        public_y: torch.Tensor | None,
        *,
        epochs: int,
        lr: float,
        batch_size: int,
        seed: int,
    ) -> tuple[Tensors, str]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self.build()
        return pretrain_on_public(module, public_x, public_y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)

    def to_config(self) -> dict[str, Any]:
        name = (
            self.factory if isinstance(self.factory, str) else f"{self.factory.__module__}:{self.factory.__qualname__}"
        )
        return {
            "kind": self.kind,
            "factory": name,
            "targets": self.targets,
            "head": self.head,
            "num_classes": self.num_classes,
            "in_features": self.in_features,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModuleBackbone:
        return cls(
            config["factory"],
            targets=config["targets"],
            head=config["head"],
            num_classes=config["num_classes"],
            in_features=config["in_features"],
        )
