"""Text rows for Hugging Face backbones: CSV/Parquet/JSONL with ``text`` (and ``text_pair``), tokenised by
the backbone's own tokenizer — pretrained, never fitted on deletable rows.

A text dataset is an :class:`IdDataset` whose ``x`` holds the packed int64 token rows the backbone
encodes (see :mod:`unlearnkit.models.backbones.hf`). Ids may be integers or external strings (UUIDs,
emails): strings get internal ids by row order and are kept as ``external_ids`` for the lineage store,
which records only their keyed hashes. String labels need a declared label set (``label_names``) or a
public split to take it from: a label set read off deletable rows would change when one is deleted.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.data.dataset import IdDataset
from unlearnkit.data.external_ids import encode_labels, encoded_dataset
from unlearnkit.errors import DataError

TEXT_COLUMNS = ("text", "text_pair")


def text_dataset(
    backbone: Any,
    texts: Sequence[str],
    labels: Sequence[Any] | None = None,
    *,
    text_pair: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
    owners: Sequence[str | None] | None = None,
    label_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    name: str = "text",
) -> IdDataset:
    """Tokenise ``texts`` with ``backbone`` (an HF backbone) into an :class:`IdDataset`.

    Without ``labels`` (causal-LM corpora) every row gets label 0 of a single class.
    """
    n = len(texts)
    if n == 0:
        raise DataError(f"{name}: no texts")
    if text_pair is not None and len(text_pair) != n:
        raise DataError(f"{name}: {len(text_pair)} text_pair values for {n} texts")
    x = backbone.encode_texts(list(texts), None if text_pair is None else list(text_pair))
    inferred = False
    if labels is None:
        y, names, k = np.zeros(n, dtype=np.int64), None, 1
    else:
        if len(labels) != n:
            raise DataError(f"{name}: {len(labels)} labels for {n} texts")
        y, names, k = encode_labels(list(labels), label_names, num_classes, name)
        inferred = num_classes is None and label_names is None  # k = max(label) + 1 of these rows
    return encoded_dataset(x, y, ids, owners, names, k, name, "inferred" if inferred else "declared")


def read_rows(path: str | Path) -> dict[str, list[Any]]:
    """Columns of a CSV, Parquet or JSONL file (JSONL: one object per line)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(f"{p}: reading Parquet needs pyarrow (pip install 'unlearnkit[parquet]')") from None
        table = pq.read_table(p)
        return {c: table.column(c).to_pylist() for c in table.column_names}
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for k, line in enumerate(p.read_text().splitlines()):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{p}: line {k + 1} is not JSON ({exc.msg})") from None
        cols: dict[str, list[Any]] = {}
        for r, row in enumerate(rows):
            if not isinstance(row, dict):
                raise DataError(f"{p}: line {r + 1} is not a JSON object")
            for key in row:
                cols.setdefault(key, [None] * r)
            for key in cols:
                cols[key].append(row.get(key))
        return cols
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise DataError(f"{p}: empty file")
        out: dict[str, list[Any]] = {h: [] for h in reader.fieldnames}
        for row in reader:
            for h in out:
                out[h].append(row[h])
        return out


def load_text(
    path: str | Path,
    backbone: Any,
    *,
    label_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    require_label: bool = True,
) -> IdDataset:
    """A text file: columns ``text`` (+ ``text_pair``), ``label`` (int or name), optional ``id`` and ``owner``."""
    p = Path(path)
    cols = read_rows(p)
    if "text" not in cols:
        raise DataError(f"{p}: no 'text' column (columns: {', '.join(cols) or 'none'})")
    n = len(cols["text"])
    if n == 0:
        raise DataError(f"{p}: no data rows")
    missing = [k for k, t in enumerate(cols["text"]) if not isinstance(t, str) or not t.strip()]
    if missing:
        raise DataError(f"{p}: row {missing[0] + 1} has an empty text")
    if require_label and "label" not in cols:
        raise DataError(f"{p}: no 'label' column")
    labels = cols.get("label")
    if labels is not None:
        labels = [_maybe_int(v) for v in labels]
    return text_dataset(
        backbone,
        cols["text"],
        labels,
        text_pair=cols.get("text_pair"),
        ids=cols.get("id"),
        owners=[(o or None) if o is None or isinstance(o, str) else str(o) for o in cols["owner"]]
        if "owner" in cols
        else None,
        label_names=label_names,
        num_classes=num_classes,
        name=p.stem,
    )


def _maybe_int(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        if s.lstrip("-").isdigit():
            return int(s)
        return s
    return v
