"""Checkpoint rows of the lineage store: registration, lookup, and the lineage invariant's queries.

Mixed into :class:`~unlearnkit.lineage.store.LineageStore`. A checkpoint's *seen set* is the union of the members
of the slice generations it was trained on; the invariant is that no active checkpoint's seen set holds a deleted
sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unlearnkit.errors import LineageError, TaintedCheckpointError
from unlearnkit.lineage._util import prefix_str, prefix_tuple, utcnow
from unlearnkit.lineage.schema import Checkpoint, CheckpointSlice, Sample, SliceMember


@dataclass(frozen=True)
class CheckpointInfo:
    key: str
    shard: int
    prefix: tuple[int, ...]
    depth: int
    seen_set_hash: str
    file_sha256: str
    nbytes: int
    status: str


def info_of(c: Checkpoint) -> CheckpointInfo:
    return CheckpointInfo(
        c.key, c.shard, prefix_tuple(c.prefix), c.depth, c.seen_set_hash, c.file_sha256, c.nbytes, c.status
    )


def tainted_query(keys: Sequence[str] | None = None, statuses: Sequence[str] = ("active",)) -> Any:
    """``(checkpoint key, sample id)`` of checkpoints in ``statuses`` whose seen set holds a deleted sample."""
    q = (
        select(Checkpoint.key, Sample.id)
        .join(CheckpointSlice, CheckpointSlice.checkpoint_id == Checkpoint.id)
        .join(SliceMember, SliceMember.slice_row == CheckpointSlice.slice_row)
        .join(Sample, Sample.id == SliceMember.sample_id)
        .where(
            Sample.status == "deleted",
            Checkpoint.status == statuses[0] if len(statuses) == 1 else Checkpoint.status.in_(list(statuses)),
        )
    )
    if keys is not None:
        q = q.where(Checkpoint.key.in_(list(keys)))
    return q


class CheckpointMixin:
    """Checkpoints; needs ``session``, ``read_session`` and ``id_hash`` on the host."""

    session: Any
    read_session: Any
    id_hash: Any

    # -- checkpoints -------------------------------------------------------------------------------------
    def add_checkpoint(
        self,
        *,
        key: str,
        shard: int,
        prefix: Sequence[int],
        slice_rows: Sequence[int],
        seen_set_hash: str,
        seen_count: int,
        file_sha256: str,
        nbytes: int,
        session: Session,
    ) -> None:
        existing = session.execute(select(Checkpoint).where(Checkpoint.key == key)).scalar_one_or_none()
        if existing is not None:
            if existing.status != "active" or existing.file_sha256 != file_sha256:
                raise LineageError(f"checkpoint {key[:12]} exists with status {existing.status}")
            return
        c = Checkpoint(
            key=key,
            shard=shard,
            prefix=prefix_str(prefix),
            depth=len(prefix),
            seen_set_hash=seen_set_hash,
            seen_count=seen_count,
            file_sha256=file_sha256,
            nbytes=nbytes,
            status="active",
            created_at=utcnow(),
        )
        session.add(c)
        session.flush()
        session.add_all(CheckpointSlice(checkpoint_id=c.id, slice_row=r) for r in slice_rows)

    def checkpoints(self, status: str | None = "active", shard: int | None = None) -> list[CheckpointInfo]:
        with self.session() as s:
            q = select(Checkpoint)
            if status is not None:
                q = q.where(Checkpoint.status == status)
            if shard is not None:
                q = q.where(Checkpoint.shard == shard)
            return [info_of(c) for c in s.execute(q.order_by(Checkpoint.id)).scalars()]

    def _tainted_query(self, keys: Sequence[str] | None = None, statuses: Sequence[str] = ("active",)):
        return tainted_query(keys, statuses)

    def assert_loadable(self, keys: Sequence[str]) -> None:
        """Refuse checkpoints whose seen set meets a completed deletion (or that are not active).

        Read from the deleted samples' side (their slice generations, then the checkpoints trained on those), so
        the cost grows with the deletions made, not with the samples held.
        """
        keys = list(keys)
        with self.read_session() as s:
            hit_rows = (
                select(SliceMember.slice_row)
                .join(Sample, Sample.id == SliceMember.sample_id)
                .where(Sample.status == "deleted")
                .scalar_subquery()
            )
            bad = s.execute(
                select(Checkpoint.key, CheckpointSlice.slice_row)
                .join(CheckpointSlice, CheckpointSlice.checkpoint_id == Checkpoint.id)
                .where(Checkpoint.key.in_(keys), CheckpointSlice.slice_row.in_(hit_rows))
                .limit(1)
            ).first()
            if bad is not None:
                sid = s.execute(
                    select(Sample.id)
                    .join(SliceMember, SliceMember.sample_id == Sample.id)
                    .where(SliceMember.slice_row == bad[1], Sample.status == "deleted")
                    .limit(1)
                ).scalar_one()
                raise TaintedCheckpointError(
                    f"checkpoint {bad[0][:12]} saw deleted sample {self.id_hash(sid)[:12]}; refusing to load it"
                )
            rows = s.execute(select(Checkpoint.key, Checkpoint.status).where(Checkpoint.key.in_(keys))).all()
            found = dict(rows)
            for k in keys:
                if found.get(k) != "active":
                    raise TaintedCheckpointError(f"checkpoint {k[:12]} is {found.get(k, 'unknown')}, not active")

    def checkpoints_seeing(self, ids: Iterable[int], shard: int | None = None) -> list[CheckpointInfo]:
        """Active checkpoints whose seen set contains any of ``ids``."""
        wanted = sorted({int(i) for i in ids})
        with self.session() as s:
            q = (
                select(Checkpoint)
                .distinct()
                .join(CheckpointSlice, CheckpointSlice.checkpoint_id == Checkpoint.id)
                .join(SliceMember, SliceMember.slice_row == CheckpointSlice.slice_row)
                .where(Checkpoint.status == "active", SliceMember.sample_id.in_(wanted))
            )
            if shard is not None:
                q = q.where(Checkpoint.shard == shard)
            return [info_of(c) for c in s.execute(q).scalars()]

    def conflicts(self, new_keys: Sequence[str], reused: Sequence[str], session: Session) -> bool:
        """True if a new checkpoint saw a now-deleted sample or a reused one is no longer active (retrain race)."""
        if new_keys and session.execute(self._tainted_query(list(new_keys)).limit(1)).first() is not None:
            return True
        if reused:
            live = session.execute(
                select(func.count())
                .select_from(Checkpoint)
                .where(Checkpoint.key.in_(list(reused)), Checkpoint.status == "active")
            ).scalar_one()
            return int(live) != len(set(reused))
        return False
