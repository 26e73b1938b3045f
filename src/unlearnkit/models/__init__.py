"""Model zoo, LoRA utilities and deterministic training loops.

The names are loaded on first use (``import unlearnkit.models`` does not import torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearnkit._lazy import lazy_exports

_LAZY = {
    "ARCHS": "unlearnkit.models.spec",
    "ModelSpec": "unlearnkit.models.spec",
    "LoraSpec": "unlearnkit.models.lora",
    "attach_lora": "unlearnkit.models.lora",
    "layer_blocks": "unlearnkit.models.lora",
    "accuracy": "unlearnkit.models.train",
    "predict_logits": "unlearnkit.models.train",
    "train_epochs": "unlearnkit.models.train",
    "FeatureTransformer": "unlearnkit.models.zoo",
    "ResMLP": "unlearnkit.models.zoo",
    "build_model": "unlearnkit.models.zoo",
}

if TYPE_CHECKING:
    from unlearnkit.models.lora import LoraSpec, attach_lora, layer_blocks
    from unlearnkit.models.spec import ARCHS, ModelSpec
    from unlearnkit.models.train import accuracy, predict_logits, train_epochs
    from unlearnkit.models.zoo import FeatureTransformer, ResMLP, build_model


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ARCHS",
    "FeatureTransformer",
    "LoraSpec",
    "ModelSpec",
    "ResMLP",
    "accuracy",
    "attach_lora",
    "build_model",
    "layer_blocks",
    "predict_logits",
    "train_epochs",
]
