"""The backbone protocol: what an exact strategy needs from a model, whatever library built it.

A backbone is a frozen module (never deletable: pretrained weights, or weights fitted on the public split
only), its layers bottom to top with the exact names of the modules that get a LoRA block in each layer,
a task head (trainable at every S3T stage) and an input encoder (tokenizer or image preprocessing,
pretrained or fixed — never fitted on deletable rows).

The module :meth:`Backbone.build` returns is an ``nn.Module`` with

- ``forward(x) -> logits`` on the encoded input tensor ``x`` (one row per sample),
- ``lora_targets() -> list[list[str]]``: per LoRA layer, bottom to top, exact module names,
- ``head``: an ``nn.Module`` holding the task head's parameters (empty for a causal LM),
- optionally ``task_loss(x, y) -> loss`` when the loss is not cross-entropy on ``forward`` (causal LMs).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from unlearnkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch
    from torch import nn

Tensors = dict[str, "torch.Tensor"]

TASKS = ("classification", "causal-lm")


class Backbone(ABC):
    """A frozen backbone, its LoRA layers and task head; see the module docstring for the contract.

    Subclasses are light, picklable descriptions (they travel to shard workers); heavy objects (weights,
    tokenizers) are built on demand.
    """

    kind: ClassVar[str] = ""
    task: str = "classification"
    num_classes: int = 0
    in_features: int = 0  # width of one encoded input row

    # -- what the engine calls -------------------------------------------------------------------------
    @abstractmethod
    def bind(self, num_classes: int, in_features: int) -> Backbone:
        """A copy sized for the data: ``num_classes`` outputs, encoded rows ``in_features`` wide."""

    @abstractmethod
    def build(self) -> nn.Module:
        """A fresh module with this architecture (weights are replaced by :meth:`initial_state`'s)."""

    @abstractmethod
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
        """The frozen weights (backbone + initial head) and a one-line description of where they come from."""

    @abstractmethod
    def to_config(self) -> dict[str, Any]:
        """JSON-able description; with :meth:`save_assets` enough to rebuild the backbone offline."""

    def save_assets(self, directory: Path) -> None:
        """Write what rebuilding needs besides the weights (architecture config, tokenizer) under ``directory``."""
        return None  # the built-in and module backbones need nothing besides their config

    @property
    def num_layers(self) -> int:
        """Layers that carry LoRA (the S3T slices are cut from these, top first)."""
        return len(self.lora_target_names())

    @abstractmethod
    def lora_target_names(self) -> list[list[str]]:
        """Per LoRA layer, bottom to top, the exact names of the modules that get LoRA."""

    def describe(self) -> dict[str, Any]:
        """What the model card says about the backbone."""
        return {"kind": self.kind, "task": self.task, "lora_layers": self.num_layers, **self.to_config()}

    # -- inputs ----------------------------------------------------------------------------------------
    def as_input(self, x: Any) -> torch.Tensor:
        """Encoded inputs for :meth:`build`'s module: numeric rows ``(n, in_features)`` by default."""
        import numpy as np
        import torch

        t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.float()
        if t.ndim != 2 or t.shape[1] != self.in_features:
            raise DataError(f"expected inputs of shape (n, {self.in_features}), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise DataError("inputs contain NaN or infinite values")
        return t


def pretrain_on_public(
    module: nn.Module,
    x: torch.Tensor | None,
    y: torch.Tensor | None,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> tuple[Tensors, str]:
    """Train every weight of ``module`` on the public split (never deletable); without one keep its init."""
    import torch

    from unlearnkit.models.train import train_epochs

    if x is None or len(x) == 0 or epochs <= 0:
        return {k: v.detach().clone() for k, v in module.state_dict().items()}, (
            "randomly initialised and frozen (no public data was given): only LoRA and the head learn, "
            "so accuracy is lower than with a pretrained backbone"
        )
    gen = torch.Generator().manual_seed(seed)
    losses = train_epochs(
        module, list(module.parameters()), x, y, epochs=epochs, lr=lr, batch_size=batch_size, generator=gen
    )
    return {k: v.detach().clone() for k, v in module.state_dict().items()}, (
        f"pretrained on {len(x)} public (never deletable) samples for {epochs} epochs "
        f"(final loss {losses[-1]:.3f}), then frozen"
    )


def check_targets(module: nn.Module, targets: Sequence[Sequence[str]]) -> None:
    """Every target name must name a module with a weight matrix (LoRA needs a Linear-like layer)."""
    import torch

    names = dict(module.named_modules())
    if not targets or any(not layer for layer in targets):
        raise ConfigError("every LoRA layer needs at least one target module name")
    for layer in targets:
        for n in layer:
            if n not in names:
                raise ConfigError(f"LoRA target {n!r} is not a module of the model")
            w = getattr(names[n], "weight", None)
            if not isinstance(w, torch.Tensor) or w.ndim != 2:
                raise ConfigError(f"LoRA target {n!r} has no 2-D weight (LoRA wraps Linear-like layers)")
    flat = [n for layer in targets for n in layer]
    if len(set(flat)) != len(flat):
        raise ConfigError("a module is listed as a LoRA target of two layers")


class HeadView:
    """Mixin: ``head`` as a view over named submodules (not re-registered, so state dicts hold them once)."""

    head_names: tuple[str, ...] = ()

    @property
    def head(self) -> nn.Module:
        from torch import nn

        mods = dict(self.named_modules())  # type: ignore[attr-defined]
        return nn.ModuleDict({n.replace(".", "_"): mods[n] for n in self.head_names})
