"""Read-only figures for operators (`/healthz`, `/metrics`): counts and ages,
never a row. Each is one aggregate query over an indexed column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from storage.models import AuditEntry, FollowUp, OutboxMessage, SafeguardingAlert


@dataclass(frozen=True, slots=True)
class Figures:
    outbox_pending: dict[str, int]
    """Messages waiting or being sent, per platform."""
    outbox_oldest_pending: datetime | None
    followups_due: int
    alerts_raised: int
    alerts_acknowledged: int
    report_queries: int


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))


def figures(session: Session, now: datetime) -> Figures:
    pending = OutboxMessage.status.in_(("pending", "claimed"))
    by_platform = {
        str(p): int(n)
        for p, n in session.execute(
            select(OutboxMessage.platform, func.count())
            .where(pending)
            .group_by(OutboxMessage.platform)
        )
    }
    oldest = session.scalar(select(func.min(OutboxMessage.created_at)).where(pending))
    due = session.scalar(
        select(func.count()).where(FollowUp.status == "pending", FollowUp.due_at <= now)
    )
    alerts = dict(
        session.execute(
            select(SafeguardingAlert.status, func.count()).group_by(SafeguardingAlert.status)
        ).all()
    )
    reports = session.scalar(select(func.count()).where(AuditEntry.action.like("%report%")))
    return Figures(
        outbox_pending=by_platform,
        outbox_oldest_pending=oldest,
        followups_due=int(due or 0),
        alerts_raised=int(sum(alerts.values())),
        alerts_acknowledged=int(alerts.get("acknowledged", 0)),
        report_queries=int(reports or 0),
    )
