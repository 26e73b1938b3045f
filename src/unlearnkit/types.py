"""Core types: deletion receipts, forget splits, unlearning results, and the Unlearner base class."""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import nn

    from unlearnkit.context import RunContext
    from unlearnkit.data import IdDataset

GUARANTEES = ("exact-deactivate", "exact-rollback", "exact-retrain", "approximate")


@dataclass
class DeletionReceipt:
    """What a deletion did, in ids' hashes only (no personal data).

    ``guarantee`` is ``exact-deactivate`` (S3T layers switched off), ``exact-rollback`` (an earlier
    checkpoint served), ``exact-retrain`` (affected parts retrained without the ids) or
    ``approximate:<method>``. ``levels`` lists the levels reached: L0 rows removed from the store, L1 no
    active checkpoint saw the ids, L2 tainted checkpoints purged, L3 a statistical check passed.
    """

    request_id: str
    strategy: str
    guarantee: str
    id_hashes: list[str]
    content_hashes: list[str]
    model_version_before: int
    model_version_after: int
    received_at: str
    completed_at: str
    latency_ms: float
    already_forgotten: list[str] = field(default_factory=list)
    external_id_hashes: list[str] = field(default_factory=list)  # keyed hashes of external (string) ids
    deactivated: list[dict[str, Any]] = field(default_factory=list)
    retrained: list[dict[str, Any]] = field(default_factory=list)
    purged_checkpoints: list[str] = field(default_factory=list)
    pending_retrain: list[int] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    verification: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stale_exports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.id_hashes)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain JSON values (what ``dataclasses.asdict`` gives, at a fraction of its cost: the
        fields hold only JSON values, and every deletion builds one)."""
        return {f.name: _plain(getattr(self, f.name)) for f in _RECEIPT_FIELDS}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeletionReceipt:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


_RECEIPT_FIELDS = dataclasses.fields(DeletionReceipt)


def _plain(value: Any) -> Any:
    """A deep copy of a JSON-like value (lists, tuples and dicts copied; everything else is immutable here)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


@dataclass
class ForgetSplit:
    """The data an approximate method sees: what to forget, what to keep, and held-out data.

    ``val`` is for tuning (never ``test``); ``scenario`` is ``random``, ``class``, ``subclass`` or
    ``owner``; ``forget_class`` is set for class-wise scenarios.
    """

    forget: IdDataset
    retain: IdDataset
    test: IdDataset | None = None
    val: IdDataset | None = None
    scenario: str = "random"
    forget_class: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class UnlearnResult:
    """A new model plus what it cost and what the method recorded (JSON-serialisable metadata)."""

    model: nn.Module
    method: str
    config: dict[str, Any]
    seconds: float
    steps: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def guarantee(self) -> str:
        return f"approximate:{self.method}"


class Unlearner(ABC):
    """An approximate unlearning method: ``Method(config).unlearn(model, split, ctx=ctx)``.

    Subclasses set ``config_cls`` (a dataclass whose defaults come from the paper's official code) and
    are registered with :func:`unlearnkit.registry.register_method`. ``__init__`` only stores the config.
    """

    name: ClassVar[str] = ""
    config_cls: ClassVar[type] = object
    needs: ClassVar[tuple[str, ...]] = ("forget",)
    paper: ClassVar[str] = ""

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None:
            config = self.config_cls()
        elif isinstance(config, dict):
            config = self.config_cls(**config)
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config

    @abstractmethod
    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        """Return a new model (the input is not mutated unless ``ctx.inplace``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
