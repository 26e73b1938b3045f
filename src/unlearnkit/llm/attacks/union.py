"""The union of attacks (Patil et al., arXiv 2309.17410, Table 1's "Max" over attacks, taken per fact): the fact
leaks if any member attack's candidate set holds the answer; B = the sum of the members' budgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.llm.attacks.base import ATTACKS, Attack, AttackConfig
from unlearnkit.llm.facts import Fact

MEMBERS = ("head_projection", "probability_delta", "input_rephrasing")


@dataclass(frozen=True)
class UnionConfig(AttackConfig):
    attacks: tuple[str, ...] = field(default=MEMBERS, metadata={"help": "member attacks (their default configs)"})
    k: int = field(default=4, metadata={"help": "k of the whitebox members"})
    layers: tuple[int, ...] | None = field(
        default=None, metadata={"help": "attacked lens layers of the whitebox members"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.attacks) >= 1 and "union" not in self.attacks, "union needs member attacks (not itself)")


@ATTACKS.register("union")
class Union(Attack):
    display = "Union"
    config_cls = UnionConfig

    def __init__(self, config: Any = None, members: list[Attack] | None = None) -> None:
        super().__init__(config)
        if members is None:
            members = []
            for name in self.config.attacks:
                cls = ATTACKS.get(name)
                lens_keys = (
                    {"k": self.config.k, "layers": self.config.layers}
                    if "k" in cls.config_cls.__dataclass_fields__
                    else {}
                )
                members.append(cls(cls.config_cls(**lens_keys)))
        self.members = members
        self.whitebox = any(m.whitebox for m in members)  # type: ignore[misc]

    def layers(self, model: nn.Module, edit_layer: int) -> tuple[int, ...]:
        return next((m.layers(model, edit_layer) for m in self.members if m.whitebox), ())

    def budget(self, model: nn.Module, edit_layer: int) -> int:
        return sum(m.budget(model, edit_layer) for m in self.members)

    def candidates(
        self, model: nn.Module, tokenizer: Any, fact: Fact, *, edit_layer: int, generator: torch.Generator
    ) -> list[int]:
        out: list[int] = []
        for m in self.members:
            for tok in m.candidates(model, tokenizer, fact, edit_layer=edit_layer, generator=generator):
                if tok not in out:
                    out.append(tok)
        return out
