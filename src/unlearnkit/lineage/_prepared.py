"""Statements of the deletion hot path, written once as Core and run on SQLite's own cursor.

A Core statement executed through SQLAlchemy costs about 50 µs on a small machine (parameter processing, the
execution context, the result wrapper) and opening a Core transaction about 100 µs; the same statement on the
``sqlite3`` cursor costs about 3 µs. A single-id deletion runs a dozen statements, so on SQLite that layer was
most of its cost. :class:`Prepared` keeps one definition (the Core statement) and compiles it once per dialect:
on SQLite it runs the compiled SQL on the driver with the column types' own bind processors applied (datetimes
become the text SQLAlchemy stores, so the ORM reads the rows back unchanged); on any other database it runs the
Core statement. :class:`Tx` is the hot path's handle on one write transaction, either kind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Dialect
    from sqlalchemy.orm import Session

#: a unique key refused a row: SQLAlchemy's wrapper (Core) or the driver's own error (SQLite, raw)
IntegrityErrors = (sa_exc.IntegrityError, sqlite3.IntegrityError)


class Prepared:
    """A Core statement (or a per-dialect factory of one) with its SQLite form compiled on first use."""

    def __init__(self, stmt: Any = None, *, per_dialect: Callable[[str], Any] | None = None) -> None:
        if (stmt is None) == (per_dialect is None):
            raise ValueError("give a statement or a per-dialect factory")
        self._stmt, self._factory = stmt, per_dialect
        self._core: dict[str, Any] = {}
        self._raw: tuple[str, Callable[[Mapping[str, Any] | None], tuple[Any, ...]]] | None = None

    def core(self, dialect: str) -> Any:
        if dialect not in self._core:
            self._core[dialect] = self._stmt if self._factory is None else self._factory(dialect)
        return self._core[dialect]

    def sqlite(self, dialect: Dialect) -> tuple[str, Callable[[Mapping[str, Any] | None], tuple[Any, ...]]]:
        """``(SQL, parameters → positional tuple)`` of the statement compiled for SQLite."""
        if self._raw is None:
            compiled = self.core("sqlite").compile(dialect=dialect)
            if "POSTCOMPILE" in compiled.string:  # an expanding parameter: run it through Core instead
                raise ValueError(f"not a fixed statement: {compiled.string}")
            names, literals, processed = [], [], []
            for k, name in enumerate(compiled.positiontup or []):
                bind = compiled.binds[name]
                names.append(name)
                literals.append(None if bind.required else bind.effective_value)
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processed.append((k, process))

            def args(params: Mapping[str, Any] | None) -> tuple[Any, ...]:
                values = list(map((params or {}).get, names, literals))
                for k, process in processed:  # e.g. a datetime as the text SQLAlchemy stores
                    if values[k] is not None:
                        values[k] = process(values[k])
                return tuple(values)

            self._raw = (compiled.string, args)
        return self._raw


class Tx:
    """One transaction of the hot path: the driver's SQLite connection (``raw``) or a Core connection."""

    def __init__(self, conn: Connection | None = None, raw: Any = None, dialect: Dialect | None = None) -> None:
        self.conn = conn
        self.dialect: Dialect = dialect if dialect is not None else conn.dialect  # type: ignore[union-attr]
        self.name = self.dialect.name
        if raw is None and conn is not None and self.name == "sqlite":
            raw = conn.connection.driver_connection  # the same transaction, without the execution layer
        self.raw = raw

    def rows(self, p: Prepared, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The result rows of a query."""
        if self.raw is not None:
            sql, args = p.sqlite(self.dialect)
            return self.raw.execute(sql, args(params)).fetchall()
        return [tuple(r) for r in self.conn.execute(p.core(self.name), dict(params or {}))]  # type: ignore[union-attr]

    def scalar(self, p: Prepared, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (None when there is none)."""
        rows = self.rows(p, params)
        return rows[0][0] if rows else None

    def run(self, p: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None) -> None:
        """Execute a statement once (a mapping) or for every row (a sequence of mappings: executemany)."""
        if isinstance(params, Sequence) and not params:
            return
        if self.raw is None:
            self.conn.execute(p.core(self.name), params if isinstance(params, Sequence) else dict(params or {}))  # type: ignore[union-attr]
            return
        sql, args = p.sqlite(self.dialect)
        if isinstance(params, Sequence):
            self.raw.executemany(sql, [args(row) for row in params])
        else:
            self.raw.execute(sql, args(params))


def dialect_insert(dialect: str, table: Any) -> Any:
    """The dialect's own ``INSERT`` into ``table`` (SQLite and PostgreSQL: the one with ``ON CONFLICT``)."""
    from importlib import import_module

    return import_module(f"sqlalchemy.dialects.{dialect}").insert(table)


def tx_of(target: Session | Connection | Tx) -> Tx:
    """The hot path's handle on the caller's transaction (a session, a Core connection or a :class:`Tx`)."""
    if isinstance(target, Tx):
        return target
    from unlearnkit.lineage._util import connection_of

    return Tx(connection_of(target))
