"""Database engines and migrations.

SQLite is the single-instance default: WAL journal, synchronous=FULL so a
committed answer survives power loss, foreign keys on, and every transaction
begun with BEGIN IMMEDIATE (pysqlite's own implicit BEGIN is switched off). A
transaction that reads and then writes would otherwise fail at once with
"database is locked" when another writer got in between; taking the write lock
up front makes it wait on the busy timeout instead. WAL readers outside a
transaction (plain connections) are never blocked.
PostgreSQL is for production and several instances.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.errors import StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _prepare_sqlite_path(url: str) -> None:
    u = make_url(url)
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return
    path = Path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the folder for the database at {path.parent} ({exc.strerror}); "
            "set [database] url to a writable place"
        ) from None
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as exc:
        raise StorageError(
            f"cannot open the database file {path} ({exc}); "
            "check its permissions or set [database] url to a writable place"
        ) from None


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for `url`, with Heard's durability settings."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"[database] url is not a database URL: {url!r}; "
            'use e.g. "sqlite:///heard-data/heard.db" or "postgresql+psycopg://…"'
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_path(url)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        _sqlite_durable(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def _sqlite_durable(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Deleted rows are overwritten with zeros, not just unlinked (see
        # storage/erasure.py for the WAL file).
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (normally the newest)."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise StorageError(f"cannot reach the database to upgrade it ({exc.orig})") from None


def is_current(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(alembic_config(engine))
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot reach the database ({exc.__class__.__name__})") from None
    return current == set(script.get_heads())
