"""Worker invite links: a one-time token that binds a worker's Telegram chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import Worker, WorkerInvite


def add(session: Session, token: str, worker_id: int, now: datetime, expires_at: datetime) -> None:
    session.add(
        WorkerInvite(token=token, worker_id=worker_id, created_at=now, expires_at=expires_at)
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class Redeemed:
    outcome: str
    """bound, used, expired or unknown."""
    worker: str = ""
    worker_id: int | None = None


def redeem(session: Session, token: str, chat: str, now: datetime) -> Redeemed:
    """Bind `chat` as the worker's Telegram chat if `token` is a live,
    unused link; at most once, even with two presses at the same moment."""
    invite = session.scalars(select(WorkerInvite).where(WorkerInvite.token == token)).first()
    if invite is None:
        return Redeemed("unknown")
    worker = session.get(Worker, invite.worker_id)
    if worker is None or not worker.active:
        return Redeemed("unknown")
    if invite.used_at is not None:
        same = worker.telegram_chat == chat
        return Redeemed("bound" if same else "used", worker.name, worker.id)
    if invite.expires_at <= now:
        return Redeemed("expired", worker.name, worker.id)
    claimed = session.execute(
        update(WorkerInvite)
        .where(WorkerInvite.id == invite.id, WorkerInvite.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return Redeemed("used", worker.name, worker.id)
    worker.telegram_chat = chat
    session.flush()
    return Redeemed("bound", worker.name, worker.id)
