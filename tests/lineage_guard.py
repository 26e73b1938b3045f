"""The lineage store's guard inside a deletion's commit, checked the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from unlearnkit.errors import LineageError
from unlearnkit.lineage import LineageStore
from unlearnkit.lineage.requests import BatchItem
from unlearnkit.lineage.schema import DeletionRequest, Sample
from unlearnkit.lineage.store import utcnow


def refused_by_commit_guard(store: LineageStore, sample_id: int) -> None:
    """Commit a deletion of ``sample_id`` that retires nothing (every checkpoint trained on it stays active):
    refused with :class:`LineageError`, and the store is as before."""
    version = store.current_version()
    head = store.chain_state()[:2]
    sample = store.sample_rows([sample_id])[sample_id]
    bad = BatchItem(
        request_id="guard-probe",
        ids=[sample_id],
        to_delete=[sample_id],
        received_at=utcnow(),
        plan={"version_before": version},
        cells={sample_id: (sample["shard"], sample["slice"])},
    )
    with pytest.raises(LineageError, match=r"would leave checkpoint .* active after its data was deleted"):
        store.commit_batch([bad], expected_version=version)
    with store.session() as s:
        assert s.get(Sample, sample_id).status == "active"
        assert s.get(DeletionRequest, "guard-probe") is None
    assert store.current_version() == version and store.chain_state()[:2] == head
    assert store.pending_purges() == {}
