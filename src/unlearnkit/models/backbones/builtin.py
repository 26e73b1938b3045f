"""The built-in CPU-scale architectures (residual MLP, feature transformer) as backbones.

Without pretrained weights their frozen part is trained on the public split only (never deletable), or
left at a seeded random init when there is none.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from unlearnkit.models.backbones.base import Backbone, Tensors, pretrain_on_public
from unlearnkit.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch
    from torch import nn


class BuiltinBackbone(Backbone):
    """``BuiltinBackbone(ModelSpec(arch="transformer", width=64, depth=4))``: ``resmlp`` or ``transformer``."""

    kind: ClassVar[str] = "builtin"

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.num_classes = spec.num_classes
        self.in_features = spec.in_features

    def bind(self, num_classes: int, in_features: int) -> BuiltinBackbone:
        return BuiltinBackbone(dataclasses.replace(self.spec, num_classes=num_classes, in_features=in_features))

    def build(self) -> nn.Module:
        from unlearnkit.models.zoo import build_model

        return build_model(self.spec)

    def lora_target_names(self) -> list[list[str]]:
        if self.spec.arch == "resmlp":
            return [[f"blocks.{i}.fc"] for i in range(self.spec.depth)]
        return [[f"layers.{i}.attn.q", f"layers.{i}.attn.v"] for i in range(self.spec.depth)]

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
        from unlearnkit.models.zoo import build_model

        module = build_model(self.spec, seed=seed)
        return pretrain_on_public(module, public_x, public_y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)

    def to_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "spec": self.spec.to_dict()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BuiltinBackbone:
        return cls(ModelSpec(**config["spec"]))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "task": self.task,
            "arch": self.spec.arch,
            "width": self.spec.width,
            "depth": self.spec.depth,
            "lora_layers": self.num_layers,
        }
