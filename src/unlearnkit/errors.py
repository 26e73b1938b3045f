"""The project's exceptions. Validation raises these, never ``assert``."""

from __future__ import annotations


class UnlearnkitError(Exception):
    """Base class of every error unlearnkit raises on purpose."""


class ConfigError(UnlearnkitError, ValueError):
    """A configuration value is out of range or inconsistent."""


class DataError(UnlearnkitError, ValueError):
    """Input data is malformed (missing columns, duplicate ids, NaN, ...)."""


class UnknownIdError(UnlearnkitError, KeyError):
    """A deletion names sample ids (or an owner) the model never saw."""

    def __init__(self, ids: list[int] | None = None, owner: str | None = None) -> None:
        self.ids = list(ids or [])
        self.owner = owner
        if owner is not None:
            msg = f"unknown owner {owner!r}: no training sample belongs to it"
        else:
            shown = ", ".join(str(i) for i in self.ids[:10])
            more = f" (+{len(self.ids) - 10} more)" if len(self.ids) > 10 else ""
            msg = f"unknown sample id(s): {shown}{more}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class NotFittedError(UnlearnkitError, RuntimeError):
    """The strategy or method was used before ``fit``."""


class RetrainRequiredError(UnlearnkitError, RuntimeError):
    """Every shard is dead: no exact model can be served until a retrain."""


class TaintedCheckpointError(UnlearnkitError, RuntimeError):
    """A checkpoint's seen set meets a completed deletion; loading it would resurrect deleted data."""


class LineageError(UnlearnkitError, RuntimeError):
    """The lineage store or audit chain is inconsistent."""


class RequestConflictError(ConfigError):
    """A request id or external reference was reused for a different deletion (nothing was done)."""


class StalePlanError(LineageError):
    """Another writer changed the model after this deletion was planned: reload and plan again."""


class IntegrityError(LineageError):
    """A model file, the file manifest or the audit chain does not match what was signed."""


class ReferenceRequiredError(UnlearnkitError, ValueError):
    """A metric needs a retrained reference model and got none."""
