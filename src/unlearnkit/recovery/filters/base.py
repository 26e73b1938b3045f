"""The filter protocol: a filter sees every candidate (and the forget set) and returns a keep-mask and reasons.

Forget-aware filters (the project's notes §3.2, replacing PASER's consistency filter for recovery after
unlearning) run before clustering, so a cluster's capacity is what survives them. Reasons are short phrases
("near-duplicate of a forget record (cos 0.99)"); the manifest stores only keyed hashes of the rejected ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from torch import nn

from unlearnkit.recovery._registry import lookup, registrar
from unlearnkit.recovery.candidates import Candidates
from unlearnkit.recovery.subject import Subject

#: name -> filter class; filled by :func:`register_filter`
FILTERS: dict[str, type[RecoveryFilter]] = {}


_register = registrar(FILTERS, "recovery filter")


def register_filter(name: str) -> Callable[[type[RecoveryFilter]], type[RecoveryFilter]]:
    return _register(name)


def get_filter(name: str) -> type[RecoveryFilter]:
    return lookup(FILTERS, "recovery filter", "unlearnkit.recovery.filters", name)


@dataclass
class FilterInputs:
    """What a filter may read. ``forget`` is None when there is nothing to protect."""

    candidates: Candidates
    forget: Candidates | None
    subject: Subject
    model: nn.Module
    deny: tuple[str, ...] = ()


@dataclass
class FilterOutcome:
    keep: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return int((~self.keep).sum())


class RecoveryFilter:
    name: ClassVar[str] = ""
    #: True when the filter can only run with a forget set
    needs_forget: ClassVar[bool] = True

    def __call__(self, inputs: FilterInputs) -> FilterOutcome:
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


__all__ = ["FILTERS", "FilterInputs", "FilterOutcome", "RecoveryFilter", "get_filter", "register_filter"]
