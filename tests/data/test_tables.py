"""Streaming file ingest: batches of any size, either CSV reader and Parquet give the same float32 bits, and a
model trained on a streamed file is bit-for-bit the model trained on the rows in memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import TINY
from unlearnkit.data import IdDataset, write_csv
from unlearnkit.data.tables import _iter_csv_python, iter_table, load_table
from unlearnkit.errors import DataError


def _same(a: IdDataset, b: IdDataset) -> None:
    assert a.x.dtype == b.x.dtype == torch.float32
    assert torch.equal(a.ids, b.ids) and torch.equal(a.y, b.y)
    assert a.x.numpy().tobytes() == b.x.numpy().tobytes()
    assert a.owners == b.owners


@pytest.fixture
def shuffled_csv(tmp_path, small_train):
    """The training rows written out of id order (so assembling batches must sort them)."""
    rows = small_train.take(list(range(len(small_train))))
    path = tmp_path / "train.csv"
    write_csv(rows, path)
    lines = path.read_text().splitlines()
    body = lines[1:]
    rng = np.random.default_rng(0)
    path.write_text("\n".join([lines[0], *[body[k] for k in rng.permutation(len(body))]]) + "\n")
    return path


def test_batches_are_float32_arrays_and_any_batch_size_gives_the_same_bits(shuffled_csv, small_train):
    batches = list(iter_table(shuffled_csv, batch_rows=7))
    assert len(batches) == -(-len(small_train) // 7)
    assert all(b.x.dtype == np.float32 and b.ids.dtype == np.int64 and len(b) <= 7 for b in batches)
    assert batches[1].first_row == 9  # header is row 1, the first batch rows 2..8
    eager = load_table(shuffled_csv, batch_rows=10**6)
    _same(load_table(shuffled_csv, batch_rows=7), eager)
    _same(eager, small_train)  # nine significant digits round-trip float32 exactly
    python_reader = np.concatenate([b.x for b in _iter_csv_python(shuffled_csv, 7, True)])
    assert python_reader.tobytes() == np.concatenate([b.x for b in batches]).tobytes()


def test_parquet_streams_the_same_rows(tmp_path, small_train):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    cols = {"id": small_train.ids.numpy(), "label": small_train.y.numpy(), "owner": list(small_train.owners)}
    cols.update({f"f{k}": small_train.x[:, k].numpy() for k in range(small_train.num_features)})
    pq.write_table(pa.table(cols), tmp_path / "d.parquet", row_group_size=50)
    _same(load_table(tmp_path / "d.parquet", batch_rows=13), small_train)


def test_a_bad_cell_in_a_late_batch_is_named_by_its_row(tmp_path):
    p = tmp_path / "late.csv"
    good = [f"{i},0,0.5" for i in range(1, 40)]
    p.write_text("id,label,f0\n" + "\n".join([*good[:30], "", "99,0,abc", *good[30:]]) + "\n")
    with pytest.raises(DataError, match=r"row 33: feature column 'f0' is not numeric"):
        load_table(p, batch_rows=8)
    p.write_text("id,label,f0\n" + "\n".join([*good, "5,1,0.25"]) + "\n")
    with pytest.raises(DataError, match=r"duplicate id 5 \(rows 6 and 41\)"):
        load_table(p, batch_rows=8)


def test_a_model_trained_on_a_streamed_file_is_the_model_trained_in_memory(
    tmp_path, shuffled_csv, small_train, public, digits_bundle
):
    from unlearnkit.exact import S3T

    streamed = load_table(shuffled_csv, num_classes=small_train.num_classes, batch_rows=16)
    a = S3T(shards=2, slices=2, budget=1, **TINY).fit(small_train, public, directory=tmp_path / "mem")
    b = S3T(shards=2, slices=2, budget=1, **TINY).fit(streamed, public, directory=tmp_path / "file")
    try:
        x = digits_bundle.test.x[:64]
        assert a.predict_proba(x).tobytes() == b.predict_proba(x).tobytes()
        assert a.served_state().keys() == b.served_state().keys()
        assert all(
            torch.equal(a.served_state()[k][n], b.served_state()[k][n])
            for k in a.served_state()
            for n in a.served_state()[k]
        )
    finally:
        a.close()
        b.close()


def test_parquet_of_mixed_column_types_loads_as_the_batches_give_it(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    n = 230
    cols = {
        "id": rng.permutation(n).astype(np.int64) * 7,
        "label": rng.integers(3, size=n),
        "f64": rng.standard_normal(n),  # rounded to float32 on load
        "f32": rng.standard_normal(n).astype(np.float32),
        "big_int": rng.integers(-(2**40), 2**40, size=n),
    }
    path = tmp_path / "mixed.parquet"
    pq.write_table(pa.table(cols), path, row_group_size=60)
    loaded = load_table(path, num_classes=3)  # filled row group by row group into one preallocated array
    batches = list(iter_table(path, batch_rows=17))
    streamed = IdDataset.create(
        np.concatenate([b.x for b in batches]),
        np.concatenate([b.y for b in batches]),
        np.concatenate([b.ids for b in batches]),
        num_classes=3,
    )
    _same(loaded, streamed)
    cols["f32"][200] = np.nan
    pq.write_table(pa.table(cols), path, row_group_size=60)
    with pytest.raises(DataError, match=r"row 202: feature column 'f32' is NaN"):
        load_table(path, num_classes=3)
