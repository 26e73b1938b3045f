"""Small helpers every part of the lineage store shares: timestamps, canonical JSON, prefix strings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(dt: datetime | None) -> str | None:
    """``2026-01-02T03:04:05.123456Z`` of a naive UTC time (as stored) or of an aware one (converted to UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat() + "Z"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def prefix_str(prefix: Sequence[int]) -> str:
    return ",".join(str(int(p)) for p in prefix)


def prefix_tuple(s: str) -> tuple[int, ...]:
    return tuple(int(p) for p in s.split(",")) if s else ()


def connection_of(target: Session | Connection) -> Connection:
    """The Core connection of a session's transaction (statements on it skip the ORM layer)."""
    from sqlalchemy.orm import Session

    return target.connection() if isinstance(target, Session) else target
