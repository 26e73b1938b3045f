"""Upkeep of an exact model after deletions: held-row purges made durable, what a crashed or concurrent writer
left finished, retired checkpoint files removed, dead shards retrained, and the whole checked (``verify``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from unlearnkit.errors import ConfigError
from unlearnkit.lineage.store import AuditReport

SYNC_EVERY = 256  # queued held-row purges synced (and cleared from the store's queue) in groups of this size


class UpkeepMixin:
    """Purging, retraining and verification over the host's store, held data and checkpoint directory."""

    # ------------------------------------------------------------------------------------------------
    # purging
    def _purge_after_commit(self, cells: dict[int, tuple[int, int]], retired: list[str]) -> None:
        """Overwrite the committed deletions' held rows in place and remove the files of their retired
        checkpoints (already recorded as purged by the commit)."""
        self._unsynced |= self.held_.purge(cells, step=self._fault)
        self._unsynced_count += len(cells)
        for key in retired:
            self.ckpt_.remove(key)
            self._drop_cached(key)
        if self._unsynced_count >= SYNC_EVERY:
            self.sync_purges()

    def sync_purges(self) -> int:
        """Make every queued held-row overwrite durable (write what is missing, fsync) and clear the queue.

        Runs by itself every ``SYNC_EVERY`` deletions, on open, before a retrain and on :meth:`close`; returns
        how many queued rows it settled.
        """
        store = self._require_store()
        with self._writer.hold():
            queued = store.pending_purges()
            if queued:
                self.held_.purge_durably(queued)
                store.clear_purges(queued)
            elif self._unsynced:
                self.held_.sync(self._unsynced)
            self._unsynced, self._unsynced_count = set(), 0
            self.checkpoint_head()
        return len(queued)

    def _catch_up(self) -> None:
        """Finish what a crashed or concurrent writer left: orphan or purged checkpoint files, queued purges."""
        self._caught_up = True
        self.reconcile_files()
        queued = self.store.pending_purges()
        if queued:
            self._unsynced |= self.held_.purge(queued)
        if self.store.current_version() != self._snapshot.version:
            self._load_serving()
            self._assignment = None

    def _purge_files(self) -> dict[str, str]:
        """Delete retired checkpoint files and overwrite held rows still queued (idempotent).

        Returns ``{key: file sha256}`` of the purged checkpoints; the caller records them with
        :meth:`LineageStore.finish`.
        """
        store = self._require_store()
        retired = {c.key: c.file_sha256 for c in store.checkpoints("retired")}
        for key in retired:
            self.ckpt_.remove(key)
            self._drop_cached(key)
        queued = store.pending_purges()
        if queued:
            self._unsynced |= self.held_.purge(queued, step=self._fault)
            self._unsynced_count += len(queued)
        return retired

    # ------------------------------------------------------------------------------------------------
    # retraining and checking
    def pending_retrain(self) -> list[int]:
        """Shards that serve nothing until retrained."""
        self._check_fitted()
        return self._pending_of(self._rows_)

    def retrain(self, shards: Sequence[int] | None = None) -> dict[str, Any]:
        """Rebuild ``shards`` (default: those pending) without any deleted id, swap them in, purge what they replace.

        Deletions are served while it trains (only planning and the final swap take the strategy lock).
        """
        self._check_fitted()
        with self._lock:
            targets = sorted(set(shards) if shards is not None else set(self.pending_retrain()))
        bad = [s for s in targets if not 0 <= s < self.shards]
        if bad:
            raise ConfigError(f"no shard {bad[0]} (the model has {self.shards})")
        if not targets:
            return {"shards": [], "seconds": 0.0, "model_version": self.model_version, "purged": []}
        info = self._train_shards(targets, reason="retrain")
        with self._lock, self._writer.hold():
            purged = self._purge_files()
            self.store.finish(sorted(purged), None, None)
            self.checkpoint_head()
        return {
            "shards": targets,
            "seconds": info["seconds"],
            "model_version": info["model_version"],
            "nodes": len(info["nodes"]),
            "purged": sorted(purged.values()),
        }

    def verify(self) -> AuditReport:
        """The store's hash chain and lineage invariant, plus: every held row of a deleted sample is overwritten
        (or queued to be) and every live held row matches its tag."""
        self._check_fitted()
        store = self.store
        report = store.verify()
        queued = store.pending_purges()
        deleted = store.cells(store.deleted_ids())
        held = [i for i in self.held_.still_held(deleted) if i not in queued]
        if held:
            report.problems.append(f"{len(held)} deleted sample(s) still held in the held data (purge incomplete)")
        report.problems += self.held_.problems()
        report.problems += self.directory_problems()
        report.ok = not report.problems
        return report

    def storage_bytes(self) -> int:
        self._check_fitted()
        return sum(c.nbytes for c in self.store.checkpoints("active"))
