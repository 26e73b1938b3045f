"""The attack base: a candidate set of at most B tokens for a fact (Patil et al., arXiv 2309.17410, §3, eq. 1).

An attack succeeds on a fact iff the answer's first token is in its candidate set C with |C| ≤ B;
Attack-Success@B is the share of facts on which it succeeds. Whitebox attacks read the model's hidden states
(the attacked lens layers default to those after the edit: :func:`~unlearnkit.llm.lens.default_attack_layers`);
blackbox attacks only sample. Attacks are registered in :data:`ATTACKS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import MethodConfig, config_to_dict, require
from unlearnkit.llm.components import Registry
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import default_attack_layers, lm_parts

ATTACKS = Registry("attack", "unlearnkit.llm.attacks")


@dataclass(frozen=True)
class AttackConfig(MethodConfig):
    """Attacks have no step budget; ``max_steps`` is inherited and unused."""


@dataclass(frozen=True)
class LensAttackConfig(AttackConfig):
    """Top-k ∪ bottom-k per attacked layer (the paper's default k = 4)."""

    k: int = field(default=4, metadata={"help": "top-k and bottom-k tokens taken per attacked layer"})
    layers: tuple[int, ...] | None = field(
        default=None, metadata={"help": "attacked lens layers (None: edit+2 .. n_layer−1)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.k >= 1, f"k must be >= 1, got {self.k}")
        require(self.layers is None or len(self.layers) >= 1, "layers must name at least one lens layer")


class Attack:
    """Base: :meth:`candidates` returns distinct token ids, at most :meth:`budget` of them."""

    name: ClassVar[str] = ""
    display: ClassVar[str] = ""
    whitebox: ClassVar[bool] = True
    config_cls: ClassVar[type] = AttackConfig

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_cls()

    def layers(self, model: nn.Module, edit_layer: int) -> tuple[int, ...]:
        layers = getattr(self.config, "layers", None)
        return tuple(layers) if layers else default_attack_layers(lm_parts(model).n_layer, edit_layer)

    def budget(self, model: nn.Module, edit_layer: int) -> int:
        raise NotImplementedError

    def candidates(
        self, model: nn.Module, tokenizer: Any, fact: Fact, *, edit_layer: int, generator: torch.Generator
    ) -> list[int]:
        raise NotImplementedError

    def record(self, model: nn.Module, edit_layer: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": config_to_dict(self.config),
            "budget": self.budget(model, edit_layer),
            **({"layers": list(self.layers(model, edit_layer))} if self.whitebox else {}),
        }


def top_bottom(scores: torch.Tensor, k: int) -> list[int]:
    """The top-k and bottom-k token ids of each row of ``scores`` (rows × V), distinct, in reading order."""
    out: list[int] = []
    kk = min(k, scores.shape[-1])
    for row in scores:
        for tok in (*row.topk(kk).indices.tolist(), *(-row).topk(kk).indices.tolist()):
            if tok not in out:
                out.append(tok)
    return out


__all__ = ["ATTACKS", "Attack", "AttackConfig", "LensAttackConfig", "top_bottom"]
