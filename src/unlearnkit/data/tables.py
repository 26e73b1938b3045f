"""The user's own CSV/Parquet files, read in batches: float32 features, int64 ids and labels, no row objects.

:func:`iter_table` streams a file as :class:`TableBatch` es of ``batch_rows`` rows (Parquet through
``pyarrow.parquet.ParquetFile.iter_batches``; CSV through ``pyarrow.csv.open_csv`` when pyarrow is installed,
else the ``csv`` module). Each batch is converted column by column into numpy arrays (vectorised casts); only
when a cast fails is the batch re-read cell by cell, to name the row and column that is wrong. So memory is
the float32 data plus one batch, and :func:`load_table` (which assembles the batches into an
:class:`~unlearnkit.data.IdDataset`) gives the same bits whatever the batch size or the reader.

Integers are parsed as integers (never through float, which rounds ids above 2**53 such as snowflake ids);
``3.0``-style values are accepted only where a float is exact. Features are parsed to float64 and then
rounded to float32, as ``float(text)`` would.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.data.dataset import INT64_MAX, INT64_MIN, IdDataset
from unlearnkit.errors import DataError
from unlearnkit.runtime.memory import release_free_memory

#: An inferred label set (max(label)+1) larger than this is refused: a typo'd label would silently build a
#: huge head (one label of 1000000 made a 497 MB model). Declare the class count to go beyond it.
MAX_INFERRED_CLASSES = 10_000

#: rows per batch when streaming a file (about 10 MB of float32 features at 32 columns)
BATCH_ROWS = 65_536

_INT_TEXT = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class TableBatch:
    """Consecutive rows of a file: ``ids``/``y`` int64 (n,), ``x`` float32 (n, f), optional owners."""

    ids: np.ndarray
    y: np.ndarray
    x: np.ndarray
    owners: list[str | None] | None
    first_row: int  # the file's row number of the first row (a CSV header is row 1)

    def __len__(self) -> int:
        return len(self.ids)


def _parse_int(value: str, column: str, row: int, path: Path) -> int:
    """An integer cell, exactly (see the module docstring)."""
    v = value.strip()
    if _INT_TEXT.fullmatch(v):
        i = int(v)
    else:
        try:
            f = float(v)
        except ValueError:
            raise DataError(f"{path}: row {row}: column {column!r} must be an integer, got {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise DataError(f"{path}: row {row}: column {column!r} must be an integer, got {value!r}")
        if abs(f) > 2**53:
            raise DataError(
                f"{path}: row {row}: column {column!r} value {value!r} is not exact as a float; write it as digits"
            )
        i = int(f)
    if not INT64_MIN <= i <= INT64_MAX:
        raise DataError(f"{path}: row {row}: column {column!r} value {v} does not fit in a signed 64-bit integer")
    return i


def _parse_float(value: str, column: str, row: int, path: Path) -> np.float32:
    try:
        f = np.float32(float(value))
    except ValueError:
        raise DataError(f"{path}: row {row}: feature column {column!r} is not numeric ({value!r})") from None
    except OverflowError:
        f = np.float32(math.inf)
    if not math.isfinite(f):
        raise DataError(f"{path}: row {row}: feature column {column!r} is NaN, infinite or beyond float32")
    return f


# -- column conversion: a fast vectorised cast, or the cell-by-cell parser that names the bad cell ---------------
def _texts(col: Any) -> list[str]:
    """A column's cells as text (Parquet numbers as ``str(v)``, nulls as ``""``)."""
    values = col.to_pylist() if hasattr(col, "to_pylist") else list(col)
    return ["" if v is None else v if isinstance(v, str) else str(v) for v in values]


def _ints_fast(col: Any) -> np.ndarray | None:
    """int64 values, or None when the cast is not plainly exact (the slow path then decides)."""
    if hasattr(col, "type"):  # a pyarrow array
        import pyarrow as pa
        import pyarrow.compute as pc

        if col.null_count:
            return None
        t = col.type
        try:
            if pa.types.is_integer(t):
                return np.array(pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                return np.array(
                    pc.cast(pc.utf8_trim_whitespace(col), pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64
                )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return None
    try:
        texts = np.asarray(col, dtype=str)
        if not all(_INT_TEXT.fullmatch(t) for t in (texts[0], texts[-1])):
            return None  # e.g. "3.0": the exact parser handles it
        return np.char.strip(texts).astype(np.int64)
    except (ValueError, OverflowError):
        return None


def _floats_fast(col: Any) -> np.ndarray | None:
    """float32 values (parsed as float64, then rounded), or None when some cell does not parse."""
    with np.errstate(over="ignore", invalid="ignore"):
        if hasattr(col, "type"):
            import pyarrow as pa
            import pyarrow.compute as pc

            if col.null_count:
                return None
            t = col.type
            if pa.types.is_float32(t):  # already what is stored (float32 -> float64 -> float32 is the identity)
                out = col.to_numpy(zero_copy_only=False)
                return out if np.isfinite(out).all() else None
            try:
                if pa.types.is_string(t) or pa.types.is_large_string(t):
                    col = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
                elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
                    col = pc.cast(col, pa.float64())
                else:
                    return None
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
            out = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64).astype(np.float32)
        else:
            try:
                out = np.char.strip(np.asarray(col, dtype=str)).astype(np.float64).astype(np.float32)
            except (ValueError, OverflowError):
                return None
    return out if np.isfinite(out).all() else None


def _int_column(col: Any, name: str, rows: np.ndarray, path: Path) -> np.ndarray:
    fast = _ints_fast(col)
    if fast is not None:
        return fast
    return np.asarray([_parse_int(v, name, int(r), path) for v, r in zip(_texts(col), rows, strict=True)], np.int64)


def _float_column(col: Any, name: str, rows: np.ndarray, path: Path) -> np.ndarray:
    fast = _floats_fast(col)
    if fast is not None:
        return fast
    return np.asarray([_parse_float(v, name, int(r), path) for v, r in zip(_texts(col), rows, strict=True)], np.float32)


# -- the header -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    names: list[str]
    features: list[str]
    has_label: bool
    has_owner: bool


def _layout(names: Sequence[str], path: Path, require_label: bool) -> _Layout:
    names = [n.strip().lstrip("\ufeff") for n in names]
    if len(set(names)) != len(names):
        raise DataError(f"{path}: duplicate column names in header")
    for req in ("id", "label") if require_label else ("id",):
        if req not in names:
            raise DataError(f"{path}: missing required column {req!r} (columns are: {', '.join(names)})")
    features = [c for c in names if c not in ("id", "label", "owner")]
    if not features:
        raise DataError(f"{path}: no feature columns besides id/label/owner")
    return _Layout(names, features, "label" in names, "owner" in names)


def _batch(
    columns: Mapping[str, Any], layout: _Layout, rows: np.ndarray, path: Path, out: np.ndarray | None = None
) -> TableBatch:
    """One batch's arrays; the features are written into ``out`` (rows × features float32) when given."""
    ids = _int_column(columns["id"], "id", rows, path)
    y = _int_column(columns["label"], "label", rows, path) if layout.has_label else np.zeros(len(ids), np.int64)
    x = out if out is not None else np.empty((len(ids), len(layout.features)), dtype=np.float32)
    for k, c in enumerate(layout.features):
        x[:, k] = _float_column(columns[c], c, rows, path)
    owners = None
    if layout.has_owner:
        owners = [o.strip() or None for o in _texts(columns["owner"])]
    return TableBatch(ids, y, x, owners, int(rows[0]) if len(rows) else 0)


# -- readers ----------------------------------------------------------------------------------------------------
def _pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        return None
    return pa


def _parquet_file(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install 'unlearnkit[parquet]')") from None
    # pre_buffer off: with it, pyarrow keeps every column chunk read so far (the whole file by the end)
    return pq.ParquetFile(path, pre_buffer=False)


def _iter_parquet(path: Path, batch_rows: int, require_label: bool) -> Iterator[TableBatch]:
    pf = _parquet_file(path)
    names = list(pf.schema_arrow.names)
    if not names:
        raise DataError(f"{path}: empty file")
    layout = _layout(names, path, require_label)
    start = 2
    for rb in pf.iter_batches(batch_size=batch_rows):
        n = rb.num_rows
        if not n:
            continue
        columns = {name: rb.column(k) for k, name in enumerate(rb.schema.names)}
        yield _batch(columns, layout, np.arange(start, start + n, dtype=np.int64), path)
        start += n


class _RowGroupColumns(Mapping[str, Any]):
    """The columns of one Parquet row group, each read when asked for and not kept: converting a row group
    holds one column chunk at a time instead of the whole group."""

    def __init__(self, pf: Any, group: int, names: list[str]) -> None:
        self.pf, self.group, self.names = pf, group, names

    def __getitem__(self, name: str) -> Any:
        return self.pf.read_row_group(self.group, columns=[name], use_threads=False).column(0).combine_chunks()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _iter_parquet_into(path: Path, require_label: bool, into: np.ndarray) -> Iterator[TableBatch]:
    """A Parquet file's row groups as batches, column by column, each group's features written into ``into``
    (the file's rows × features, float32; the batch's ``x`` is a view of it)."""
    pf = _parquet_file(path)
    layout = _layout(list(pf.schema_arrow.names), path, require_label)
    start = 0
    for group in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(group).num_rows
        if not n:
            continue
        columns = _RowGroupColumns(pf, group, layout.names)
        rows = np.arange(start + 2, start + 2 + n, dtype=np.int64)
        yield _batch(columns, layout, rows, path, into[start : start + n])  # type: ignore[arg-type]
        start += n


def _cells_batch(header: list[str], cells: list[list[str]], rows: list[int], layout: _Layout, path: Path) -> TableBatch:
    columns = dict(zip(header, zip(*cells, strict=True), strict=True))
    return _batch(columns, layout, np.asarray(rows, dtype=np.int64), path)


def _iter_csv_python(path: Path, batch_rows: int, require_label: bool) -> Iterator[TableBatch]:
    r = 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise DataError(f"{path}: empty file") from None
            layout = _layout(header, path, require_label)
            width = len(header)
            cells: list[list[str]] = []
            rows: list[int] = []
            for r, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != width:
                    raise DataError(f"{path}: row {r} has {len(row)} fields, the header has {width}")
                cells.append(row)
                rows.append(r)
                if len(cells) == batch_rows:
                    yield _cells_batch(header, cells, rows, layout, path)
                    cells, rows = [], []
            if cells:
                yield _cells_batch(header, cells, rows, layout, path)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text (after row {r}); save the file as UTF-8") from None
    except csv.Error as exc:
        raise DataError(f"{path}: row {r + 1}: malformed CSV ({exc})") from None


def _iter_csv_arrow(path: Path, batch_rows: int, require_label: bool) -> Iterator[TableBatch] | None:
    """Batches through pyarrow's streaming CSV reader; None when this file needs the exact row-by-row reader
    (blank lines shift row numbers, ragged rows, bad UTF-8: that reader names the row)."""
    pa = _pyarrow()
    if pa is None:
        return None
    import pyarrow.csv as pacsv

    with path.open("rb") as fh:
        if not fh.read(1 << 12).strip():
            return None  # empty: the row-by-row reader says so
    try:
        first = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 20, use_threads=False),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
        )
        names = list(first.schema.names)
        first.close()
        layout = _layout(names, path, require_label)  # header errors are the same from either reader
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                block_size=min(1 << 24, max(1 << 20, batch_rows * 40 * len(names))), use_threads=False
            ),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
    except DataError:
        raise
    except (pa.ArrowInvalid, OSError):
        return None

    def gen() -> Iterator[TableBatch]:
        start, done = 2, 0
        pending: list[Any] = []
        npending = 0
        try:
            for rb in reader:
                pending.append(rb)
                npending += rb.num_rows
                while npending >= batch_rows:
                    table = pa.Table.from_batches(pending)
                    chunk, rest = table.slice(0, batch_rows), table.slice(batch_rows)
                    yield _arrow_batch(chunk, layout, start, path)
                    start, done = start + batch_rows, done + batch_rows
                    pending, npending = rest.to_batches(), rest.num_rows
            if npending:
                yield _arrow_batch(pa.Table.from_batches(pending), layout, start, path)
        except (DataError, pa.ArrowInvalid):
            # a bad cell, a blank or ragged line: the row-by-row reader takes over from the first row not yet
            # given out (whole batches were given out) and names the row exactly
            for b in _iter_csv_python(path, batch_rows, require_label):
                if done >= len(b):
                    done -= len(b)
                    continue
                yield b

    return gen()


def _arrow_batch(table: Any, layout: _Layout, start: int, path: Path) -> TableBatch:
    table = table.combine_chunks()
    columns = {name: table.column(k).combine_chunks() for k, name in enumerate(layout.names)}
    return _batch(columns, layout, np.arange(start, start + table.num_rows, dtype=np.int64), path)


def iter_table(path: str | Path, *, batch_rows: int = BATCH_ROWS, require_label: bool = True) -> Iterator[TableBatch]:
    """Stream a CSV or Parquet file (columns ``id``, ``label``, optional ``owner``; every other column a feature)
    as :class:`TableBatch` es. Raises :class:`DataError` naming the file, row and column of a bad cell."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    if batch_rows < 1:
        raise DataError(f"batch_rows must be positive, got {batch_rows}")
    if p.suffix.lower() in (".parquet", ".pq"):
        return _iter_parquet(p, batch_rows, require_label)
    fast = _iter_csv_arrow(p, batch_rows, require_label)
    return fast if fast is not None else _iter_csv_python(p, batch_rows, require_label)


def _check_labels(y: np.ndarray, rows: Any, path: Path, num_classes: int | None, source: str | None) -> None:
    if not len(y):
        return
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    if y[lo] < 0:
        raise DataError(f"{path}: row {rows(lo)}: labels must be non-negative integers, found {int(y[lo])}")
    if num_classes is not None and y[hi] >= num_classes:
        raise DataError(
            f"{path}: row {rows(hi)}: label {int(y[hi])} is outside the label set 0..{num_classes - 1}"
            + (" (taken from the public split)" if source == "public" else " (declared)")
        )
    if num_classes is None and int(y[hi]) + 1 > MAX_INFERRED_CLASSES:
        raise DataError(
            f"{path}: row {rows(hi)}: label {int(y[hi])} would make a {int(y[hi]) + 1}-class model; labels must "
            f"be 0..C-1: remap them, or declare the class count (--classes / num_classes)"
        )


def load_table(
    path: str | Path,
    num_classes: int | None = None,
    require_label: bool = True,
    label_source: str | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
) -> IdDataset:
    """A CSV or Parquet file: columns ``id``, ``label``, optional ``owner``; every other column a feature.

    ``num_classes`` declares the label set (``label_source`` says where it came from: ``declared`` by
    default, ``public``); without it the set is inferred from the file's labels (``label_source="inferred"``,
    which exact strategies refuse for deletable data). With ``require_label=False`` (prediction inputs) the
    ``label`` column may be absent. Raises :class:`DataError` naming the problem: a missing ``id``/``label``
    column, duplicate ids, NaN or non-numeric features, non-integer ids or labels, ids or labels beyond
    int64, a label outside the label set, a file that is not UTF-8, an empty file. A UTF-8 byte-order mark is
    accepted. The file is read in batches of ``batch_rows`` (see :func:`iter_table`); the result does not
    depend on the batch size.
    """
    p = Path(path)
    into = _parquet_buffer(p, require_label)  # a Parquet file says how many rows it has: filled in place
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    idss: list[np.ndarray] = []
    owners: list[str | None] | None = None
    seen = 0
    if into is not None:
        batches = _iter_parquet_into(p, require_label, into)
    else:
        batches = iter_table(p, batch_rows=batch_rows, require_label=require_label)
    for b in batches:
        _check_labels(
            b.y,
            lambda k, at=seen: _row_numbers(p, require_label, batch_rows, [at + k])[0],
            p,
            num_classes,
            label_source,
        )
        seen += len(b)
        if into is None:
            xs.append(b.x)
        ys.append(b.y)
        idss.append(b.ids)
        if b.owners is not None:
            owners = owners if owners is not None else []
            owners.extend(b.owners)
    if not idss:
        # the header was valid (or iter_table raised): no rows
        raise DataError(f"{p}: no data rows")
    features = _feature_names(p, require_label)
    ids = idss[0] if len(idss) == 1 else np.concatenate(idss)
    y = ys[0] if len(ys) == 1 else np.concatenate(ys)
    del idss, ys
    x = into[:seen] if into is not None else _stack(xs)
    del xs, into
    release_free_memory()  # the read's batches, freed: not under the caller's next phase
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    dup = np.nonzero(sorted_ids[1:] == sorted_ids[:-1])[0]
    if len(dup):
        value = int(sorted_ids[dup[0]])
        where = np.nonzero(ids == value)[0][:2]
        rows = _row_numbers(p, require_label, batch_rows, where)
        raise DataError(f"{p}: duplicate id {value} (rows {rows[0]} and {rows[1]})")
    return IdDataset.create(
        x,
        y,
        ids,
        owners=owners,
        num_classes=num_classes,
        name=p.stem,
        feature_names=features,
        label_source=label_source if num_classes is not None else None,
        copy=False,  # the arrays are this function's own; a file in id order is not copied again
    )


def _parquet_buffer(path: Path, require_label: bool) -> np.ndarray | None:
    """An empty rows × features float32 array for a Parquet file (its pages are touched only as rows arrive);
    None for CSV, whose row count is known only once read."""
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    pf = _parquet_file(path)
    names = list(pf.schema_arrow.names)
    if not names:
        return None  # iter_table names the problem
    features = _layout(names, path, require_label).features
    return np.empty((pf.metadata.num_rows, len(features)), dtype=np.float32)


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """The batches' feature rows in one array, each batch released as soon as it is copied (not 2× at once)."""
    if len(parts) == 1:
        return parts.pop()
    out = np.empty((sum(len(a) for a in parts), parts[0].shape[1]), dtype=np.float32)
    k = 0
    for j in range(len(parts)):
        part, parts[j] = parts[j], None  # type: ignore[call-overload]
        out[k : k + len(part)] = part
        k += len(part)
        del part
    return out


def _feature_names(path: Path, require_label: bool) -> list[str]:
    if path.suffix.lower() in (".parquet", ".pq"):
        names = list(_parquet_file(path).schema_arrow.names)
    else:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            names = next(csv.reader(fh))
    return _layout(names, path, require_label).features


def _row_numbers(path: Path, require_label: bool, batch_rows: int, positions: np.ndarray) -> list[int]:
    """File row numbers of the rows at ``positions`` (in file order); the error path only: reads the file again."""
    want = {int(q) for q in positions}
    found: dict[int, int] = {}
    seen = 0
    exact = path.suffix.lower() not in (".parquet", ".pq")  # the CSV reader that counts blank lines
    batches = _iter_csv_python(path, batch_rows, require_label) if exact else iter_table(path, batch_rows=batch_rows)
    for b in batches:
        for q in [q for q in want if seen <= q < seen + len(b)]:
            found[q] = b.first_row + (q - seen)
        seen += len(b)
    return [found[int(q)] for q in positions]


def write_csv(data: IdDataset, path: str | Path, with_label: bool = True) -> None:
    """Write ``data`` in the format :func:`load_table` reads (features with 9 significant digits: exact float32)."""
    names = list(data.feature_names or [f"f{k}" for k in range(data.num_features)])
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *(["label"] if with_label else []), *(["owner"] if data.owners else []), *names])
        for k in range(len(data)):
            row: list[object] = [int(data.ids[k])]
            if with_label:
                row.append(int(data.y[k]))
            if data.owners:
                row.append(data.owners[k] or "")
            row.extend(f"{v:.9g}" for v in data.x[k].tolist())
            w.writerow(row)


__all__ = ["BATCH_ROWS", "MAX_INFERRED_CLASSES", "TableBatch", "iter_table", "load_table", "write_csv"]
