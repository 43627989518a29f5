"""Statements on the per-message path, compiled once and run on the driver's
own cursor.

Every inbound message runs the same handful of statements (record the
delivery id, load the conversation, store the answer and the state, queue the
reply). Through `Connection.execute` each costs SQLAlchemy's whole execution
pipeline (cache-key lookup, execution context, result wrapper, events) every
time, several times the cost of the statement itself in SQLite. Here a
statement is compiled by SQLAlchemy once per dialect, so the SQL text and the
type conversions (UTC datetimes, JSON) are exactly the ones the rest of
`storage/` uses, and each execution is one `cursor.execute` on the connection
the session's transaction already holds: the same transaction, the same
durability.

A driver error is turned into the SQLAlchemy exception `Connection.execute`
would raise (and a lost connection invalidated), so `storage.unit.Store`
translates it into `StorageError` / `RejectedData` as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DRIVER = "heard.driver"
"""Key in `Session.info` of the (Connection, driver connection) in use."""

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


class Prepared:
    """One statement compiled for one dialect. `keys` names the columns an
    INSERT without `.values()` is given (each execution supplies them all)."""

    __slots__ = ("_plan", "_positional", "_results", "sql")

    def __init__(
        self, stmt: ClauseElement, dialect: Dialect, keys: Sequence[str] | None = None
    ) -> None:
        compiled = cast(
            SQLCompiler, stmt.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        )
        late = compiled.insert_prefetch or compiled.update_prefetch
        if late or any(b.expanding or b.literal_execute for b in compiled.binds.values()):
            raise ValueError(f"statement needs values filled at execution: {compiled}")
        self.sql = str(compiled)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        self._positional = compiled.positiontup is not None
        order = compiled.positiontup if compiled.positiontup is not None else list(binds)
        # Per parameter: (name, True, the converted constant) for a value
        # fixed in the statement, (name, False, converter or None) otherwise.
        self._plan: list[tuple[str, bool, Any]] = []
        for name in order:
            bind = binds[name]
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                self._plan.append((name, False, proc))
            else:
                value = bind.effective_value
                self._plan.append((name, True, proc(value) if proc else value))
        columns: Sequence[Any] = list(
            getattr(stmt, "selected_columns", None) or getattr(stmt, "exported_columns", None) or ()
        )
        self._results: tuple[Processor, ...] = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )

    def parameters(self, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        values = [
            conv if fixed else (conv(params[name]) if conv else params[name])
            for name, fixed, conv in self._plan
        ]
        if self._positional:
            return values
        return {name: v for (name, _, _), v in zip(self._plan, values, strict=True)}

    def row(self, raw: Sequence[Any] | None) -> tuple[Any, ...] | None:
        if raw is None:
            return None
        return tuple(p(v) if p else v for p, v in zip(self._results, raw, strict=True))


def driver_of(session: Session) -> tuple[Connection, Any]:
    """The session's connection and the driver connection under it, kept in
    `Session.info` while that connection stays open (one transaction)."""
    held: tuple[Connection, Any] | None = session.info.get(_DRIVER)
    if held is not None and not held[0].closed and not held[0].invalidated:
        return held
    conn = session.connection()
    pair = (conn, conn.connection.driver_connection)
    session.info[_DRIVER] = pair
    return pair


def connection_of(session: Session) -> Connection:
    return driver_of(session)[0]


def first(
    conn: Connection, driver: Any, prepared: Prepared, params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """Run `prepared` on `driver`, the driver connection under `conn` (from
    `driver_of`); its first row, converted, or None."""
    return _call(conn, driver, prepared, params, lambda cur: prepared.row(cur.fetchone()))


def count(conn: Connection, driver: Any, prepared: Prepared, params: Mapping[str, Any]) -> int:
    """Run `prepared` like `first`; how many rows it changed."""
    return _call(conn, driver, prepared, params, lambda cur: int(cur.rowcount))


def _call(
    conn: Connection,
    driver: Any,
    prepared: Prepared,
    params: Mapping[str, Any],
    take: Callable[[Any], T],
) -> T:
    args = prepared.parameters(params)
    cursor = driver.cursor()
    try:
        cursor.execute(prepared.sql, args)
        return take(cursor)
    except conn.dialect.loaded_dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, driver, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            prepared.sql,
            args,
            exc,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from exc
    finally:
        cursor.close()
