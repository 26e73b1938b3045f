"""String ids and string labels.

External ids (UUIDs, emails, account numbers) are what users know; the engine keys everything by internal
integer ids. A dataset with string ids gets internal ids by row order and keeps the external ones beside
them; the lineage store records only their keyed hashes (HMAC under the model's secret), and a deletion by
external id is resolved through that table — no plain external id is ever written to disk.

Label names must be declared (or come from a public split): a label set read off deletable rows would
change when the last row of a class is deleted, which no deactivation or retraining can undo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from unlearnkit.data.dataset import IdDataset
from unlearnkit.errors import DataError


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | np.integer):
        return True
    return isinstance(v, str) and v.strip().lstrip("-").isdigit()


def split_ids(ids: Sequence[Any] | None, n: int, name: str = "data") -> tuple[np.ndarray, list[str] | None]:
    """``(internal int64 ids, external string ids or None)`` for ``n`` rows."""
    if ids is None:
        return np.arange(n, dtype=np.int64), None
    ids = list(ids)
    if len(ids) != n:
        raise DataError(f"{name}: {len(ids)} ids for {n} rows")
    if all(_is_int(v) for v in ids):
        internal = np.asarray([int(v) for v in ids], dtype=np.int64)
        if len(set(internal.tolist())) != n:
            dup = next(i for k, i in enumerate(internal.tolist()) if i in internal.tolist()[:k])
            raise DataError(f"{name}: duplicate id {dup}")
        return internal, None
    external = []
    seen: dict[str, int] = {}
    for k, v in enumerate(ids):
        if v is None or not str(v).strip():
            raise DataError(f"{name}: row {k + 1} has an empty id")
        s = str(v).strip()
        if s in seen:
            raise DataError(f"{name}: duplicate id {s!r} (rows {seen[s] + 1} and {k + 1})")
        seen[s] = k
        external.append(s)
    return np.arange(n, dtype=np.int64), external


def encode_labels(
    labels: Sequence[Any], label_names: Sequence[str] | None, num_classes: int | None, name: str = "data"
) -> tuple[np.ndarray, list[str] | None, int]:
    """``(int64 labels, label names or None, number of classes)``."""
    names = None if label_names is None else [str(v) for v in label_names]
    if names is not None and len(set(names)) != len(names):
        raise DataError(f"{name}: duplicate label names in {names}")
    if any(v is None or (isinstance(v, str) and not v.strip()) for v in labels):
        raise DataError(
            f"{name}: empty label in row {next(k for k, v in enumerate(labels) if v is None or not str(v).strip()) + 1}"
        )
    if all(_is_int(v) for v in labels):
        y = np.asarray([int(v) for v in labels], dtype=np.int64)
        k = num_classes if num_classes is not None else (len(names) if names is not None else int(y.max()) + 1)
        if names is not None and len(names) != k:
            raise DataError(f"{name}: {len(names)} label names for {k} classes")
        if y.min() < 0 or y.max() >= k:
            raise DataError(f"{name}: labels must lie in [0, {k}), got {int(y.min())}..{int(y.max())}")
        return y, names, k
    if names is None:
        raise DataError(
            f"{name}: string labels need a declared label set (label_names=[...] / --labels a,b,c) or a public "
            "split: a label set read off deletable rows would change when a row is deleted"
        )
    index = {v: i for i, v in enumerate(names)}
    unknown = sorted({str(v) for v in labels if str(v) not in index})
    if unknown:
        raise DataError(f"{name}: label(s) {unknown[:5]} not in the declared label set {names}")
    return np.asarray([index[str(v)] for v in labels], dtype=np.int64), names, len(names)


def encoded_dataset(
    x: torch.Tensor,
    y: np.ndarray,
    ids: Sequence[Any] | None,
    owners: Sequence[str | None] | None,
    label_names: Sequence[str] | None,
    num_classes: int,
    name: str,
    label_source: str = "declared",
) -> IdDataset:
    """An :class:`IdDataset` of encoded rows with internal ids (and external ones when ``ids`` are strings).

    ``label_source="inferred"`` when ``num_classes`` was counted from these rows' labels (exact fits refuse it).
    """
    internal, external = split_ids(ids, len(x), name)
    if owners is not None and len(owners) != len(x):
        raise DataError(f"{name}: {len(owners)} owners for {len(x)} rows")
    order = np.argsort(internal, kind="stable")
    return IdDataset(
        x=x[torch.as_tensor(order)].contiguous(),
        y=torch.as_tensor(y[order]),
        ids=torch.as_tensor(internal[order]),
        owners=None if owners is None else tuple(owners[i] for i in order),
        num_classes=num_classes,
        name=name,
        external_ids=None if external is None else tuple(external[i] for i in order),
        label_names=None if label_names is None else tuple(label_names),
        label_source=label_source,
    )
