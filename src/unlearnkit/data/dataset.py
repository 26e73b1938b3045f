"""Datasets whose every sample has a stable integer id and, optionally, an owner (data subject).

Everything downstream — shards, slices, checkpoints, receipts — is keyed by these ids, never by row
position, so a deletion names exactly what it removes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from unlearnkit.errors import DataError, UnknownIdError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Where a dataset's label set came from. Only "declared" and "public" may shape an exact model: an
#: "inferred" set is max(label)+1 of the rows themselves, which a deletion can change.
LABEL_SOURCES = ("declared", "public", "inferred")

_CHECK_ROWS = 65_536  # rows per block when checking features are finite


def _as_id_array(ids: Iterable[int] | torch.Tensor | np.ndarray) -> np.ndarray:
    if (
        isinstance(ids, torch.Tensor)
        and not ids.is_floating_point()
        and not ids.is_complex()
        and ids.dtype != torch.bool
    ):
        ids = ids.numpy()
    if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu":  # integer arrays as they are: no object per id
        if ids.dtype.kind == "u" and ids.size and int(ids.max()) > INT64_MAX:
            raise DataError("sample ids must fit in a signed 64-bit integer")
        return ids.astype(np.int64, copy=False).reshape(-1)
    try:
        arr = np.asarray(ids.tolist() if isinstance(ids, torch.Tensor) else list(ids), dtype=np.int64)
    except OverflowError:
        raise DataError("sample ids must fit in a signed 64-bit integer") from None
    return arr.reshape(-1)


@dataclass(frozen=True, eq=False)
class IdDataset:
    """Features, labels, stable ids and optional owners, kept sorted by id.

    Args:
        x: float32 features, shape (n, f).
        y: int64 class labels (classification) or float32 targets (regression), shape (n,).
        ids: unique int64 sample ids, shape (n,).
        owners: optional owner (data subject) of each sample; ``None`` entries mean "no owner".
        num_classes: number of classes; 0 for regression.
        name: a label for reports.
        feature_names: optional column names.
        external_ids: optional external (string) id of each sample; the lineage store keeps keyed hashes only.
        label_names: optional declared name of each class.
        label_source: where ``num_classes`` came from: ``declared`` (by the user or a built-in loader),
            ``public`` (the never-deletable public split) or ``inferred`` (max label + 1 of these rows).
    """

    x: torch.Tensor
    y: torch.Tensor
    ids: torch.Tensor
    owners: tuple[str | None, ...] | None = None
    num_classes: int = 0
    name: str = "data"
    feature_names: tuple[str, ...] | None = None
    external_ids: tuple[str, ...] | None = None
    label_names: tuple[str, ...] | None = None
    label_source: str = "declared"
    #: kept for callers that pass ``_pos={}`` to :func:`dataclasses.replace`; positions come from a binary search
    _pos: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        if self.x.ndim != 2:
            raise DataError(f"{self.name}: features must be 2-D (n, f), got shape {tuple(self.x.shape)}")
        if self.y.shape != (n,) or self.ids.shape != (n,):
            raise DataError(
                f"{self.name}: x has {n} rows but y has shape {tuple(self.y.shape)} and ids {tuple(self.ids.shape)}"
            )
        if self.label_source not in LABEL_SOURCES:
            raise DataError(f"{self.name}: label_source must be one of {', '.join(LABEL_SOURCES)}")
        if self.owners is not None and len(self.owners) != n:
            raise DataError(f"{self.name}: {len(self.owners)} owners for {n} samples")
        if self.external_ids is not None and len(self.external_ids) != n:
            raise DataError(f"{self.name}: {len(self.external_ids)} external ids for {n} samples")
        for start in range(0, n, _CHECK_ROWS):  # a block at a time: no temporary the size of the data
            block = self.x[start : start + _CHECK_ROWS]
            if not torch.isfinite(block).all():
                bad = start + int(torch.nonzero(~torch.isfinite(block))[0, 0])
                raise DataError(f"{self.name}: non-finite feature value in sample id {int(self.ids[bad])}")
        ids = self.ids.numpy()
        if n > 1 and not bool((ids[1:] > ids[:-1]).all()):  # vectorised: no Python object per row
            if len(np.unique(ids)) != n:
                seen: set[int] = set()
                dup = next(i for i in ids.tolist() if i in seen or seen.add(i))  # type: ignore[func-returns-value]
                raise DataError(f"{self.name}: duplicate sample id {dup}")
            raise DataError(f"{self.name}: ids must be sorted; build datasets with IdDataset.create")

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        x: np.ndarray | torch.Tensor,
        y: np.ndarray | torch.Tensor,
        ids: Sequence[int] | np.ndarray | torch.Tensor | None = None,
        owners: Sequence[str | None] | None = None,
        num_classes: int | None = None,
        name: str = "data",
        feature_names: Sequence[str] | None = None,
        label_source: str | None = None,
        *,
        copy: bool = True,
    ) -> IdDataset:
        """Build a dataset (sorted by id) from arrays; ids default to 0..n-1.

        Without ``num_classes`` the label set is inferred as max(label)+1 (``label_source="inferred"``):
        fine for analysis, refused by exact strategies, whose label set must not depend on deletable rows.
        ``copy=False`` lets the dataset share already-sorted float32/int64 arrays with the caller (a loader that
        owns them), instead of copying them into id order.
        """
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        yn = np.asarray(y)
        regression = num_classes == 0 or (num_classes is None and yn.dtype.kind == "f")
        yt = torch.as_tensor(yn, dtype=torch.float32 if regression else torch.int64)
        idt = (
            torch.arange(len(xt), dtype=torch.int64)
            if ids is None
            else torch.as_tensor(_as_id_array(ids), dtype=torch.int64)
        )
        if len(idt) != len(xt):
            raise DataError(f"{name}: {len(idt)} ids for {len(xt)} samples")
        ids_np = idt.numpy()
        in_order = not copy and (len(ids_np) < 2 or bool((ids_np[1:] > ids_np[:-1]).all()))
        order = torch.arange(len(idt)) if in_order else torch.argsort(idt, stable=True)
        inferred = num_classes is None and not regression
        if num_classes is None:
            num_classes = 0 if regression else (int(yt.max()) + 1 if len(yt) else 0)
        if not regression and len(yt) and (int(yt.min()) < 0 or int(yt.max()) >= num_classes):
            raise DataError(f"{name}: labels must lie in [0, {num_classes}), got {int(yt.min())}..{int(yt.max())}")
        own = None if owners is None else tuple(owners) if in_order else tuple(owners[int(i)] for i in order)
        return cls(
            x=xt.contiguous() if in_order else xt[order].contiguous(),
            y=yt.contiguous() if in_order else yt[order].contiguous(),
            ids=idt.contiguous() if in_order else idt[order].contiguous(),
            owners=own,
            num_classes=num_classes,
            name=name,
            feature_names=tuple(feature_names) if feature_names is not None else None,
            label_source=label_source or ("inferred" if inferred else "declared"),
        )

    # -- basic access ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def is_regression(self) -> bool:
        return self.num_classes == 0

    def id_list(self) -> list[int]:
        return self.ids.tolist()

    def __contains__(self, sample_id: object) -> bool:
        if isinstance(sample_id, bool) or not isinstance(sample_id, int | np.integer):
            return False
        if not INT64_MIN <= int(sample_id) <= INT64_MAX or not len(self):
            return False
        ids = self.ids.numpy()
        k = int(np.searchsorted(ids, sample_id))
        return k < len(ids) and int(ids[k]) == int(sample_id)

    def positions(self, ids: Iterable[int]) -> torch.Tensor:
        """Row positions of ``ids`` (a binary search in the sorted ids: no per-row index is kept); raises
        :class:`UnknownIdError` naming any id not present."""
        arr = _as_id_array(ids)
        held = self.ids.numpy()
        pos = np.searchsorted(held, arr)
        found = pos < len(held)
        found[found] = held[pos[found]] == arr[found]
        if not found.all():
            raise UnknownIdError([int(i) for i in arr[~found]])
        return torch.as_tensor(pos.astype(np.int64), dtype=torch.int64)

    def take(self, positions: torch.Tensor | Sequence[int]) -> IdDataset:
        """Rows at ``positions`` (kept in id order)."""
        pos = torch.as_tensor(positions, dtype=torch.int64).sort().values
        return IdDataset(
            x=self.x[pos],
            y=self.y[pos],
            ids=self.ids[pos],
            owners=None if self.owners is None else tuple(self.owners[int(p)] for p in pos),
            num_classes=self.num_classes,
            name=self.name,
            feature_names=self.feature_names,
            external_ids=None if self.external_ids is None else tuple(self.external_ids[int(p)] for p in pos),
            label_names=self.label_names,
            label_source=self.label_source,
        )

    def subset(self, ids: Iterable[int]) -> IdDataset:
        return self.take(self.positions(ids))

    def without(self, ids: Iterable[int]) -> IdDataset:
        keep = ~np.isin(self.ids.numpy(), _as_id_array(ids))
        return self.take(torch.as_tensor(np.nonzero(keep)[0], dtype=torch.int64))

    def filter(self, mask: torch.Tensor) -> IdDataset:
        return self.take(torch.nonzero(mask).flatten())

    def with_replaced(self, sample_id: int, x: torch.Tensor | None = None, y: int | float | None = None) -> IdDataset:
        """A copy where one sample's features and/or label differ (for counterfactual tests)."""
        k = int(self.positions([sample_id])[0])
        nx, ny = self.x.clone(), self.y.clone()
        if x is not None:
            nx[k] = torch.as_tensor(x, dtype=nx.dtype)
        if y is not None:
            ny[k] = y
        return dataclasses.replace(self, x=nx, y=ny, ids=self.ids.clone(), _pos={})

    def with_labels(self, y: torch.Tensor) -> IdDataset:
        return dataclasses.replace(self, y=y, _pos={})

    def external_to_internal(self) -> dict[str, int]:
        """``{external id: internal id}`` (empty when the dataset has integer ids only)."""
        if self.external_ids is None:
            return {}
        return dict(zip(self.external_ids, self.id_list(), strict=True))

    # -- owners ------------------------------------------------------------------------------------
    def ids_of_owner(self, owner: str) -> list[int]:
        """Ids of every sample owned by ``owner``; raises :class:`UnknownIdError` if there are none."""
        if self.owners is None:
            raise UnknownIdError(owner=owner)
        found = [int(i) for i, o in zip(self.id_list(), self.owners, strict=True) if o == owner]
        if not found:
            raise UnknownIdError(owner=owner)
        return found

    # -- hashing -----------------------------------------------------------------------------------
    def content_hashes(self, key: bytes | None = None) -> list[str]:
        """Hash of each sample's features (float32 bytes) and label, taken at ingest.

        With ``key`` (the model's secret pepper) an HMAC-SHA256: anyone holding a receipt cannot confirm a
        guessed low-entropy record by hashing it. Without, a plain sha256 (for comparisons in tests).
        """
        xs = self.x.contiguous().numpy()
        ys = self.y.numpy()
        rows = (xs[k].tobytes() + np.asarray(ys[k]).tobytes() for k in range(len(self)))
        if key is None:
            return [hashlib.sha256(r).hexdigest() for r in rows]
        return [hmac.new(key, b"content:" + r, hashlib.sha256).hexdigest() for r in rows]

    def fingerprint(self, key: bytes | None = None) -> str:
        """sha256 (HMAC with ``key``) over ids, features and labels: changes when any sample changes."""
        h = hmac.new(key, b"fingerprint:", hashlib.sha256) if key is not None else hashlib.sha256()
        h.update(self.ids.numpy().tobytes())
        h.update(self.x.contiguous().numpy().tobytes())
        h.update(self.y.numpy().tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        kind = "regression" if self.is_regression else f"{self.num_classes} classes"
        return f"IdDataset({self.name!r}, n={len(self)}, features={self.num_features}, {kind})"


def ids_hash(ids: Iterable[int]) -> str:
    """sha256 of the sorted ids, comma-joined: the name of a seen set (as SISA's ``getShardHash``)."""
    return hashlib.sha256(",".join(str(i) for i in sorted(int(i) for i in ids)).encode()).hexdigest()


def concat(parts: Sequence[IdDataset], name: str | None = None) -> IdDataset:
    """Concatenate datasets with disjoint ids."""
    if not parts:
        raise DataError("concat needs at least one dataset")
    owners = None
    if any(p.owners is not None for p in parts):
        owners = [o for p in parts for o in (p.owners or (None,) * len(p))]
    return IdDataset.create(
        torch.cat([p.x for p in parts]),
        torch.cat([p.y for p in parts]),
        torch.cat([p.ids for p in parts]),
        owners=owners,
        num_classes=max(p.num_classes for p in parts),
        name=name or parts[0].name,
        feature_names=parts[0].feature_names,
        label_source="inferred" if any(p.label_source == "inferred" for p in parts) else parts[0].label_source,
    )
