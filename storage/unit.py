"""The unit of work that the service layer uses: one transaction at a time.

`Store` owns the engine and the session factory; `Store.begin()` is one
transaction (committed when the block ends, rolled back if it raises) and
`Store.read()` a read-only look. Both translate every database error into
`bot.core.errors.StorageError` at their edge, so nothing above `storage/`
imports SQLAlchemy or catches its exceptions. `Tx` is the handle the block
receives; the service passes it to the functions in `storage.repo` and never
uses it directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.errors import RejectedData, StorageError
from storage import db, erasure

Tx = Session
"""An open transaction; pass it to `storage.repo` functions."""


def is_database_error(exc: BaseException) -> bool:
    """True for an error the database raised (as opposed to a bug above it):
    such an error spoils the whole transaction, so it is never caught inside one."""
    return isinstance(exc, SQLAlchemyError | StorageError)


class Store:
    """The database, as the service sees it. Thread-safe: each block opens
    its own session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = db.session_factory(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(db.make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        """One transaction: committed at the end of the block, rolled back if
        it raises. A database failure surfaces as StorageError."""
        try:
            with self.sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise _translate(exc) from exc
        except UnicodeError as exc:
            # pysqlite refuses a lone surrogate while binding, outside SQLAlchemy.
            raise RejectedData(f"the database refused a value ({type(exc).__name__})") from exc

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A session for reads only; nothing it does is committed."""
        try:
            with self.sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"the database is not available ({type(exc).__name__})") from exc

    def compact(self, tables: Collection[str]) -> bool:
        """Remove the bytes of rows deleted from `tables` (outside any
        transaction; see `storage.erasure`). False: try again later."""
        try:
            return erasure.compact(self.engine, tables)
        except SQLAlchemyError as exc:
            raise _translate(exc) from exc
        except sqlite3.Error as exc:
            raise StorageError(f"the database is not available ({type(exc).__name__})") from exc

    def upgrade(self) -> None:
        db.upgrade(self.engine)

    def is_current(self) -> bool:
        return db.is_current(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _translate(exc: SQLAlchemyError) -> StorageError:
    """An outage (the server gone, a lock timeout) may pass; anything else the
    database raised is about the data this transaction carried."""
    outage = isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if outage:
        return StorageError(f"the database is not available ({type(exc).__name__})")
    return RejectedData(f"the database refused the data ({type(exc).__name__})")


@contextmanager
def savepoint(tx: Tx) -> Iterator[Tx]:
    """A nested transaction inside `tx`: rolled back alone if the block raises."""
    with tx.begin_nested():
        yield tx
