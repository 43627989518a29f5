"""What a database keeps of deleted rows, and how Heard removes it.

Deleting a row does not remove its bytes at once:

- SQLite: every connection sets `PRAGMA secure_delete=ON` (`storage.db`), so
  a deleted or rewritten row is overwritten with zeros in its page. The WAL
  file still holds earlier images of those pages until a checkpoint copies
  the WAL into the database and truncates it: `PRAGMA wal_checkpoint(TRUNCATE)`.
- PostgreSQL: a deleted row stays in the table's heap as a dead tuple until
  VACUUM removes it; index entries likewise. Plain VACUUM makes the space
  reusable but does not zero it: after a "forget" the pseudonym, the chat id
  and an alert's words were still readable in the heap files. VACUUM FULL
  rewrites a table into a new file, so the small per-family tables are
  rewritten (`REWRITTEN`); the large ones get plain VACUUM and their freed
  space is overwritten as pages are reused. Neither can run inside a
  transaction. pg_wal and backups keep old images until they are recycled;
  see docs/DEPLOY.md.

So an erasure records, in its own transaction, which tables it deleted from
(`request`), and a duty outside any transaction (`bot.service.erasure`)
checkpoints or vacuums them (`compact`) and then settles the request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storage.models import Base, OutboxMessage, ScrubRequest

FAREWELL_KIND = "farewell"
"""Outbox kind of the last reply to a family who has just been erased: it is
addressed to their raw chat id and belongs to no respondent, so it is deleted
as soon as it is sent (`delete_farewells`), before the tables are scrubbed."""

_WAITING = ("pending", "claimed")


def request(session: Session, tables: Iterable[str], now: datetime) -> None:
    """Ask for `tables` to be scrubbed once this transaction commits."""
    names = sorted(set(tables))
    unknown = [t for t in names if t not in Base.metadata.tables]
    if unknown:
        raise ValueError(f"not Heard tables: {unknown}")
    if names:
        session.add(ScrubRequest(tables=",".join(names), requested_at=now))


@dataclass(frozen=True, slots=True)
class Pending:
    ids: tuple[int, ...]
    tables: tuple[str, ...]


def pending(session: Session) -> Pending:
    """Every request not yet settled, and the tables they name together."""
    rows = session.execute(select(ScrubRequest.id, ScrubRequest.tables)).all()
    tables = {t for _, names in rows for t in names.split(",") if t}
    return Pending(tuple(int(i) for i, _ in rows), tuple(sorted(tables)))


def settle(session: Session, ids: Collection[int]) -> None:
    if ids:
        session.execute(delete(ScrubRequest).where(ScrubRequest.id.in_(ids)))


def farewells_waiting(session: Session) -> bool:
    """True while a last reply to an erased family is still to be sent."""
    stmt = select(OutboxMessage.id).where(
        OutboxMessage.kind == FAREWELL_KIND, OutboxMessage.status.in_(_WAITING)
    )
    return session.scalar(stmt.limit(1)) is not None


def delete_farewells(session: Session) -> int:
    """Delete the last replies to erased families that are finished with."""
    stmt = delete(OutboxMessage).where(
        OutboxMessage.kind == FAREWELL_KIND, OutboxMessage.status.not_in(_WAITING)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


REWRITTEN = frozenset(
    {
        "contacts",
        "conversations",
        "followups",
        "invites",
        "outbox",
        "promises",
        "respondents",
        "safeguarding_alerts",
    }
)
"""PostgreSQL tables that `compact` rewrites (VACUUM FULL): plain VACUUM was
seen to leave a deleted row's bytes in a page's free space. They are small
(a row or two per family, the outbox a week of messages), so the rewrite is
quick; the large ones (answers, delivery ids, the audit log) get plain VACUUM."""

LOCK_TIMEOUT = "2s"
"""How long a rewrite may wait for its table (every other use of the table
waits behind it meanwhile); past that it gives up and is tried again later."""

_LOCK_NOT_AVAILABLE = "55P03"


def compact(engine: Engine, tables: Collection[str]) -> bool:
    """Remove the bytes of deleted rows: a WAL checkpoint (TRUNCATE) on SQLite;
    on PostgreSQL VACUUM FULL of the `REWRITTEN` tables among `tables` and
    plain VACUUM of the others. Runs outside any transaction. False when it
    could not finish now (SQLite: another connection was reading; PostgreSQL:
    a table stayed locked); try again later. A database error is raised."""
    names = [t for t in sorted(tables) if t in Base.metadata.tables]
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cur.fetchone()
            cur.close()
        finally:
            raw.close()
        return row is not None and int(row[0]) == 0
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            for name in names:
                full = "FULL " if name in REWRITTEN else ""
                conn.exec_driver_sql(f"VACUUM {full}{quote(name)}")
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                return False
            raise
        finally:
            conn.exec_driver_sql("RESET lock_timeout")
    return True
