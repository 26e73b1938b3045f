"""The deletable training data a model holds for retraining: one fixed-width record file per (shard, slice).

Layout: ``MODEL_DIR/held/<shard>-<slice>.rows``, the cell's rows sorted by id, each a record of

    id <i8 | live u1 | tag 16 bytes | y (<i8 labels or <f4 targets) | x <f4 × features

A deletion overwrites its rows *in place* (``live`` = 0, tag, label and features zeroed, the id kept so the file
stays sorted): O(rows deleted), no other row is read or moved, and the content is gone from the file rather than
unlinked from an index. The lineage store queues each overwrite in the deletion's own transaction
(``pending_purges``); the engine writes it right after the commit and clears the queue once the files are synced,
so a crash in between is finished on the next open (:meth:`HeldData.finish_purges`).

Integrity: the files change at every deletion, so they are not in the signed manifest. Each row instead carries
``tag`` = HMAC-SHA256(key, id ‖ y ‖ x)[:16] under a key derived from the model's secret; a training task checks
the tag of every row it reads (a changed, swapped or forged row is refused) and :meth:`HeldData.problems` checks
them all for an audit. Features are stored as given (the public-fitted scaling is applied when training).

A training task reads its rows itself from a :class:`SliceRef` (file path + the ids it trains on), so a task
shipped to another machine carries ids, not data (the model directory must be on a shared filesystem there).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import mmap
import os
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unlearnkit.errors import IntegrityError

if TYPE_CHECKING:
    import torch

HELD_DIR = "held"
FORMAT = "rows-v1"
TAG_BYTES = 16
_WRITE_ROWS = 8192  # rows gathered at a time when writing a cell's file
_READ_ROWS = 16384  # rows read, checked and scaled at a time by a training task
_OWN_MAPPING_BYTES = 1 << 20  # a task's feature matrix at least this large gets a mapping of its own
_ID = struct.Struct("<q")  # a record's first field


class PurgedRowError(IntegrityError):
    """A task was planned with a row a deletion has purged since: its result would be refused; plan again."""


def held_key(pepper: bytes) -> bytes:
    """The key tagging held rows, derived from the model's secret (it unlinks nothing else)."""
    return hmac.new(pepper, b"unlearnkit:held-rows", hashlib.sha256).digest()


@functools.lru_cache(maxsize=64)
def _record_dtype(features: int, y_dtype: str) -> np.dtype:
    fields = [("id", "<i8"), ("live", "u1"), ("tag", f"V{TAG_BYTES}"), ("y", y_dtype), ("x", "<f4", (features,))]
    return np.dtype(fields)


@dataclass(frozen=True)
class HeldSpec:
    """The record layout (``features``, label dtype) and the tag key; picklable, a few bytes."""

    features: int
    y_dtype: str  # "<i8" (class labels) or "<f4" (regression targets)
    key: bytes

    @property
    def dtype(self) -> np.dtype:
        return _record_dtype(self.features, self.y_dtype)

    def config(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": self.features, "y": self.y_dtype}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], key: bytes) -> HeldSpec:
        if config.get("format") != FORMAT:
            raise IntegrityError(f"held data format {config.get('format')!r} is not {FORMAT!r}")
        return cls(int(config["features"]), str(config["y"]), key)

    def record_tags(self, rec: np.ndarray) -> np.ndarray:
        """The tag each record should carry, from the records' own bytes (``id`` and ``y ‖ x`` are contiguous in
        a record, so a row's message is two slices of one buffer: no copy of a field)."""
        raw = np.ascontiguousarray(rec, dtype=self.dtype).tobytes()
        width, at_y = self.dtype.itemsize, self.dtype.fields["y"][1]  # type: ignore[index]
        key, digest = self.key, hmac.digest  # one C call per row (no HMAC object)
        out = b"".join(
            digest(key, b"held:" + raw[k : k + 8] + raw[k + at_y : k + width], "sha256")[:TAG_BYTES]
            for k in range(0, len(raw), width)
        )
        return np.frombuffer(out, dtype=f"V{TAG_BYTES}")


@dataclass(frozen=True)
class SliceRef:
    """What a training task reads: one cell's file and the ids (sorted) it trains on from it."""

    path: str
    ids: np.ndarray


def cell_name(shard: int, sl: int) -> str:
    return f"{HELD_DIR}/{int(shard)}-{int(sl)}.rows"


def read_rows(
    spec: HeldSpec, refs: Sequence[SliceRef], transform: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """``(x float32, y, ids)`` of the referenced rows, slice by slice in ``refs`` order (by id within a slice);
    every row's tag is checked. Rows are read, checked and ``transform`` ed (row-wise, e.g. the public-fitted
    scaling) a block at a time into the output, so reading holds the output plus one block's records."""
    import torch

    total = sum(len(r.ids) for r in refs)
    x = _own_mapping(total, spec.features)
    y = torch.empty(total, dtype=torch.float32 if spec.y_dtype == "<f4" else torch.int64)
    ids = np.empty(total, dtype=np.int64)
    k = 0
    for ref in refs:
        want = np.asarray(ref.ids, dtype=np.int64)
        if not len(want):
            continue
        name = Path(ref.path).name
        for rec in _select(spec, Path(ref.path), want):
            if not rec["live"].all():
                dead = int(rec["id"][~rec["live"].astype(bool)][0])
                raise PurgedRowError(f"{name}: the row of sample {dead} was purged after planning")
            if spec_tags_differ(spec, rec):
                raise IntegrityError(f"{name}: a held row does not match its tag (the data was changed)")
            m = len(rec)
            part = torch.from_numpy(np.ascontiguousarray(rec["x"]))
            x[k : k + m] = transform(part) if transform is not None else part
            y[k : k + m] = torch.from_numpy(np.ascontiguousarray(rec["y"]))
            ids[k : k + m] = rec["id"]
            k += m
            del rec, part
    return x, y, ids


def _own_mapping(rows: int, features: int) -> torch.Tensor:
    """An empty float32 (rows, features) tensor in an anonymous mapping of its own, unmapped when the tensor is
    freed: a task's jobs read growing prefixes one after another, and blocks the C heap kept from earlier jobs
    would add to the next job's peak."""
    import torch

    nbytes = rows * features * 4
    if nbytes < _OWN_MAPPING_BYTES:
        return torch.empty((rows, features), dtype=torch.float32)
    return torch.frombuffer(mmap.mmap(-1, nbytes), dtype=torch.float32).view(rows, features)


def _select(spec: HeldSpec, path: Path, want: np.ndarray) -> Iterator[np.ndarray]:
    """The records of ``want`` (sorted ids) from one cell's file, a block of ``_READ_ROWS`` at a time (copies)."""
    if not path.is_file():
        raise IntegrityError(f"{path.name}: held data file is missing")
    mm = np.memmap(path, dtype=spec.dtype, mode="r")
    try:
        held_ids = mm["id"]
        for a in range(0, len(want), _READ_ROWS):
            block = want[a : a + _READ_ROWS]
            pos = np.searchsorted(held_ids, block)
            ok = pos < len(mm)
            if not ok.all() or not (held_ids[pos] == block).all():
                missing = block[~ok] if not ok.all() else block[held_ids[pos] != block]
                raise IntegrityError(f"{path.name}: no held row for sample {int(missing[0])}")
            yield np.array(mm[pos])  # a copy: the mapping is closed below
    finally:
        del mm


class HeldData:
    """The held files of one model directory."""

    def __init__(self, directory: Path, spec: HeldSpec) -> None:
        self.directory = Path(directory)
        self.spec = spec
        #: a cell's id column by (path, inode, size): fixed once the file is written (a purge keeps the id)
        self._ids: dict[tuple[str, int, int], np.ndarray] = {}
        self._files: dict[tuple[int, int], str] = {}  # a cell's file name, made once

    def _cell_file(self, shard: int, sl: int) -> str:
        name = self._files.get((shard, sl))
        if name is None:
            name = self._files[(shard, sl)] = os.fspath(self.path(shard, sl))
        return name

    def _id_column(self, path: str, fd: int) -> np.ndarray:
        st = os.fstat(fd)
        key = (path, st.st_ino, st.st_size)
        ids = self._ids.get(key)
        if ids is None:
            mm = np.memmap(path, dtype=self.spec.dtype, mode="r")
            ids = np.array(mm["id"])
            del mm
            self._ids = {k: v for k, v in self._ids.items() if k[0] != path}
            self._ids[key] = ids
        return ids

    def path(self, shard: int, sl: int) -> Path:
        return self.directory / cell_name(shard, sl)

    def ref(self, shard: int, sl: int, ids: np.ndarray) -> SliceRef:
        return SliceRef(str(self.path(shard, sl)), np.asarray(ids, dtype=np.int64))

    # -- writing at fit ---------------------------------------------------------------------------------
    def write(self, ids: np.ndarray, y: np.ndarray, x: np.ndarray, shard: np.ndarray, sl: np.ndarray) -> None:
        """Write every cell's file (rows sorted by id), synced; one cell's records in memory at a time."""
        (self.directory / HELD_DIR).mkdir(parents=True, exist_ok=True)
        cell = shard.astype(np.int32) * (int(sl.max()) + 1 if len(sl) else 1) + sl  # ids are sorted: a stable
        order = np.argsort(cell, kind="stable")  # sort by cell keeps them sorted within each cell
        keys = cell[order]
        del cell
        for g in np.split(order, np.flatnonzero(np.diff(keys)) + 1) if len(order) else []:
            rec = np.zeros(len(g), dtype=self.spec.dtype)
            rec["live"] = 1
            for a in range(0, len(g), _WRITE_ROWS):  # gathered a block at a time: no copy of the cell's features
                take = g[a : a + _WRITE_ROWS]
                rec["id"][a : a + len(take)], rec["y"][a : a + len(take)] = ids[take], y[take]
                rec["x"][a : a + len(take)] = x[take]
            rec["tag"] = self.spec.record_tags(rec)
            path = self.path(int(shard[g[0]]), int(sl[g[0]]))
            with path.open("wb") as fh:
                rec.tofile(fh)
                fh.flush()
                os.fsync(fh.fileno())
            del rec

    # -- purging ----------------------------------------------------------------------------------------------
    def purge(self, cells: Mapping[int, tuple[int, int]], step: Any = None) -> set[Path]:
        """Overwrite the rows of ``{id: (shard, slice)}`` in place (idempotent); returns the files written.

        Not synced here (see :meth:`sync`): a kill -9 loses nothing the kernel already has, and the queue in the
        store finishes the overwrite after a power loss. ``step`` is called between files (fault injection).
        """
        by_cell: dict[tuple[int, int], list[int]] = {}
        for i, c in cells.items():
            by_cell.setdefault((int(c[0]), int(c[1])), []).append(int(i))
        touched: set[Path] = set()
        size = self.spec.dtype.itemsize
        blank = bytes(size - 8)  # a record after the id: all zero once overwritten
        for (sh, sl), ids in sorted(by_cell.items()):
            name = self._cell_file(sh, sl)
            try:
                fd = os.open(name, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                column = self._id_column(name, fd)
                wrote = False
                for i in sorted(ids):
                    q = int(column.searchsorted(i))
                    if q >= len(column) or int(column[q]) != i:
                        continue
                    if os.pread(fd, size - 8, q * size + 8) != blank:  # one already overwritten is left alone
                        os.pwrite(fd, _ID.pack(i) + blank, q * size)  # the id stays: the file stays sorted
                        wrote = True
                if wrote:
                    touched.add(Path(name))
            finally:
                os.close(fd)
            if step is not None:
                step("mid_purge")
        return touched

    @staticmethod
    def sync(paths: Iterable[Path]) -> None:
        for p in sorted(set(paths)):
            fd = os.open(p, os.O_RDWR)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def purge_durably(self, cells: Mapping[int, tuple[int, int]]) -> None:
        """Overwrite and sync every file holding one of ``cells``' rows (the queue's recovery)."""
        self.purge(cells)
        self.sync({self.path(*c) for c in cells.values() if self.path(*c).is_file()})

    # -- checking ---------------------------------------------------------------------------------------------
    def still_held(self, cells: Mapping[int, tuple[int, int]]) -> list[int]:
        """Ids among ``cells`` whose row still holds content (a purge not done)."""
        out = []
        by_cell: dict[tuple[int, int], list[int]] = {}
        for i, c in cells.items():
            by_cell.setdefault((int(c[0]), int(c[1])), []).append(int(i))
        for (sh, sl), ids in by_cell.items():
            path = self.path(sh, sl)
            if not path.is_file():
                continue
            mm = np.memmap(path, dtype=self.spec.dtype, mode="r")
            want = np.sort(np.asarray(ids, dtype=np.int64))
            pos = np.searchsorted(mm["id"], want)
            out += [
                int(i) for i, p in zip(want, pos, strict=True) if p < len(mm) and mm["id"][p] == i and _dirty(mm[p])
            ]
            del mm
        return sorted(out)

    def live_ids(self) -> list[int]:
        """Ids of every live row (an O(N) read)."""
        out: list[int] = []
        folder = self.directory / HELD_DIR
        for path in sorted(folder.glob("*.rows")) if folder.is_dir() else []:
            mm = np.memmap(path, dtype=self.spec.dtype, mode="r")
            out += mm["id"][mm["live"] == 1].tolist()
            del mm
        return sorted(out)

    def problems(self) -> list[str]:
        """Every live row's tag checked (an O(N) audit)."""
        out = []
        folder = self.directory / HELD_DIR
        for path in sorted(folder.glob("*.rows")) if folder.is_dir() else []:
            if path.stat().st_size % self.spec.dtype.itemsize:
                out.append(f"{HELD_DIR}/{path.name}: size is not a whole number of rows")
                continue
            mm = np.memmap(path, dtype=self.spec.dtype, mode="r")
            for k in range(0, len(mm), 65536):
                rec = np.array(mm[k : k + 65536])
                live = rec[rec["live"] == 1]
                if spec_tags_differ(self.spec, live):
                    out.append(f"{HELD_DIR}/{path.name}: a held row does not match its tag (the data was changed)")
                    break
            del mm
        return out


def spec_tags_differ(spec: HeldSpec, rec: np.ndarray) -> bool:
    return spec.record_tags(rec).tobytes() != rec["tag"].tobytes()


def _dirty(record: np.void) -> bool:
    """True while a record holds anything besides its id (live flag, tag, label or features)."""
    raw = record.tobytes()
    return any(raw[8:])
