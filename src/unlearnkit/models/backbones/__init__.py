"""Backbones: what exact strategies train LoRA blocks on (built-in, Hugging Face, or any ``nn.Module``).

:func:`resolve_backbone` turns what a user gives (``None`` for the built-in architecture, ``"hf:PATH"``, a
:class:`Backbone`) into a backbone; :func:`backbone_from_config` rebuilds one from a model directory. Importing
this package (and describing a built-in backbone) does not import torch; building a module does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from unlearnkit._lazy import lazy_exports
from unlearnkit.errors import ConfigError
from unlearnkit.models.backbones.base import TASKS, Backbone, pretrain_on_public
from unlearnkit.models.backbones.builtin import BuiltinBackbone

if TYPE_CHECKING:
    from unlearnkit.models.backbones.module import ModuleBackbone


# ModuleBackbone defines nn.Module subclasses: it imports torch
__getattr__ = lazy_exports(__name__, {"ModuleBackbone": "unlearnkit.models.backbones.module"})


def resolve_backbone(spec: Backbone | str | None, **builtin: Any) -> Backbone:
    """``None`` → the built-in architecture from ``builtin`` (ModelSpec fields); ``"hf:PATH"`` → HF; else as is."""
    if isinstance(spec, Backbone):
        return spec
    if spec is None or spec in ("builtin", "resmlp", "transformer"):
        from unlearnkit.models.spec import ModelSpec

        if spec in ("resmlp", "transformer"):
            builtin["arch"] = spec
        return BuiltinBackbone(ModelSpec(**builtin))
    if isinstance(spec, str) and spec.startswith("hf:"):
        from unlearnkit.models.backbones.hf import HFBackbone

        return HFBackbone(spec[3:])
    raise ConfigError(f"unknown backbone {spec!r}: give hf:NAME_OR_PATH, resmlp, transformer or a Backbone")


def backbone_from_config(config: dict[str, Any], directory: Path | None = None) -> Backbone:
    kind = config.get("kind")
    if kind == "builtin":
        return BuiltinBackbone.from_config(config)
    if kind == "module":
        from unlearnkit.models.backbones.module import ModuleBackbone

        return ModuleBackbone.from_config(config)
    if kind == "hf":
        from unlearnkit.models.backbones.hf import HFBackbone

        return HFBackbone.from_config(config, directory)
    raise ConfigError(f"unknown backbone kind {kind!r}")


__all__ = [
    "TASKS",
    "Backbone",
    "BuiltinBackbone",
    "ModuleBackbone",
    "backbone_from_config",
    "pretrain_on_public",
    "resolve_backbone",
]
