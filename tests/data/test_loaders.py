"""Data with identity: built-in loaders, CSV/Parquet validation with clear errors."""

from __future__ import annotations

import pytest
import torch

from unlearnkit.data import IdDataset, load_builtin, load_table, resolve_data, write_csv
from unlearnkit.errors import DataError, UnknownIdError


def test_builtin_splits_are_disjoint_and_stable():
    for name in ("digits", "mnist1d", "synthetic"):
        a, b = load_builtin(name, seed=0), load_builtin(name, seed=0)
        assert a.train.fingerprint() == b.train.fingerprint()
        ids = [set(p.id_list()) for p in (a.train, a.test, a.public) if p is not None]
        assert sum(len(s) for s in ids) == len(set().union(*ids))
        assert a.train.owners is not None and a.num_classes == (6 if name == "synthetic" else 10)


def test_dataset_views_keep_ids(small_train):
    sub = small_train.subset([small_train.id_list()[5], small_train.id_list()[2]])
    assert sub.id_list() == sorted(sub.id_list())
    rest = small_train.without(sub.id_list())
    assert len(rest) == len(small_train) - 2 and not set(sub.id_list()) & set(rest.id_list())
    with pytest.raises(UnknownIdError, match="123456"):
        small_train.positions([123456])
    owner = small_train.owners[0]
    assert small_train.ids_of_owner(owner)
    with pytest.raises(DataError, match="duplicate"):
        IdDataset.create(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), ids=[4, 4])


def test_csv_roundtrip(tmp_path, small_train):
    path = tmp_path / "d.csv"
    write_csv(small_train, path)
    back = load_table(path)
    assert back.id_list() == small_train.id_list()
    assert torch.allclose(back.x, small_train.x) and torch.equal(back.y, small_train.y)
    assert back.owners == small_train.owners


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("id,label,f0\n", "no data rows"),
        ("label,f0\n1,0.5\n", "missing required column 'id'"),
        ("id,f0\n1,0.5\n", "missing required column 'label'"),
        ("id,label,f0\n1,0,0.5\n1,1,0.2\n", "duplicate id 1"),
        ("id,label,f0\n1,0,nan\n", "NaN"),
        ("id,label,f0\n1,0,abc\n", "not numeric"),
        ("id,label,f0\nx,0,0.1\n", "column 'id' must be an integer"),
        ("id,label,f0\n1,0.5,0.1\n", "column 'label' must be an integer"),
        ("id,label\n1,0\n", "no feature columns"),
        ("id,label,f0\n1,0,0.1,9\n", "has 4 fields"),
    ],
)
def test_bad_csv_gets_a_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(DataError, match=message):
        load_table(p)


def test_public_file_must_not_overlap_training_ids(tmp_path, small_train):
    write_csv(small_train, tmp_path / "train.csv")
    write_csv(small_train.take([0, 1]), tmp_path / "pub.csv")
    with pytest.raises(DataError, match="public ids"):
        resolve_data(str(tmp_path / "train.csv"), public=str(tmp_path / "pub.csv"))


def test_missing_file_and_unknown_builtin():
    with pytest.raises(DataError, match="no such file"):
        load_table("/nonexistent/file.csv")
    with pytest.raises(DataError, match="unknown dataset"):
        load_builtin("cifar")


def test_parquet_roundtrip_and_errors(tmp_path, small_train):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": small_train.id_list(),
            "label": small_train.y.tolist(),
            "owner": list(small_train.owners),
            **{f"f{k}": small_train.x[:, k].tolist() for k in range(small_train.num_features)},
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    back = load_table(tmp_path / "d.parquet")
    assert back.id_list() == small_train.id_list() and torch.allclose(back.x, small_train.x)
    assert back.owners == small_train.owners
    pq.write_table(pa.table({"id": [1, 1], "label": [0, 1], "f0": [0.1, 0.2]}), tmp_path / "dup.parquet")
    with pytest.raises(DataError, match="duplicate id 1"):
        load_table(tmp_path / "dup.parquet")


def test_snowflake_ids_are_exact_and_int64_is_enforced(tmp_path):
    big = 2**53 + 1  # a float would round it to 2**53
    p = tmp_path / "ids.csv"
    p.write_text(f"id,label,f0\n{big},0,0.5\n{2**63 - 1},1,0.2\n-5,0,0.1\n")
    assert load_table(p).id_list() == [-5, big, 2**63 - 1]
    p.write_text(f"id,label,f0\n{2**63},0,0.5\n")
    with pytest.raises(DataError, match="does not fit in a signed 64-bit integer"):
        load_table(p)
    p.write_text(f"id,label,f0\n1,{2**64},0.5\n")
    with pytest.raises(DataError, match=r"column .label. value .* does not fit"):
        load_table(p)
    p.write_text("id,label,f0\n1e17,0,0.5\n")
    with pytest.raises(DataError, match="not exact as a float"):
        load_table(p)
    p.write_text("id,label,f0\n3.0,0,0.5\n")
    assert load_table(p).id_list() == [3]


def test_snowflake_ids_in_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    big = 1541815603606036480  # a Twitter snowflake id (> 2**53)
    pq.write_table(pa.table({"id": [big, big + 1], "label": [0, 1], "f0": [0.1, 0.2]}), tmp_path / "s.parquet")
    assert load_table(tmp_path / "s.parquet").id_list() == [big, big + 1]


def test_bom_and_non_utf8_files(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffid,label,f0\n1,0,0.5\n".encode())
    assert load_table(p).id_list() == [1]
    p = tmp_path / "latin1.csv"
    p.write_bytes("id,label,f0,owner\n1,0,0.5,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_table(p)


def test_huge_label_is_a_one_line_error_not_a_huge_model(tmp_path):
    p = tmp_path / "huge.csv"
    p.write_text("id,label,f0\n1,0,0.5\n2,1000000,0.2\n")
    with pytest.raises(DataError, match="row 3: label 1000000 would make a 1000001-class model"):
        load_table(p)
    with pytest.raises(DataError, match=r"outside the label set 0\.\.9"):
        load_table(p, num_classes=10)
    assert load_table(p, num_classes=1000001).num_classes == 1000001  # declared: the user's explicit choice


def test_label_set_comes_from_public_file_or_declaration(tmp_path, small_train):
    write_csv(small_train, tmp_path / "train.csv")
    assert load_table(tmp_path / "train.csv").label_source == "inferred"
    pub = small_train.take([k for k in range(len(small_train)) if int(small_train.y[k]) < 5])
    write_csv(pub, tmp_path / "pub.csv")
    rest = small_train.without(pub.id_list())
    write_csv(rest, tmp_path / "rest.csv")
    with pytest.raises(DataError, match=r"outside the label set 0\.\.4 taken from the public file"):
        resolve_data(str(tmp_path / "rest.csv"), public=str(tmp_path / "pub.csv"))
    b = resolve_data(str(tmp_path / "rest.csv"), public=str(tmp_path / "pub.csv"), num_classes=10)
    assert b.train.label_source == "declared" and b.num_classes == 10
    full_pub = small_train.take(list(range(100)))
    write_csv(full_pub, tmp_path / "pub2.csv")
    write_csv(small_train.without(full_pub.id_list()), tmp_path / "rest2.csv")
    b = resolve_data(str(tmp_path / "rest2.csv"), public=str(tmp_path / "pub2.csv"))
    assert b.train.label_source == "public" and b.num_classes == full_pub.num_classes
