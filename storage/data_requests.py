"""What Heard holds about one family, for data requests (UK GDPR Articles 15
and 17): the rows to export, and the count per table that an erasure removes.

`holdings` counts exactly the rows `repo.erase_respondent` deletes or
anonymises, table by table, so what `heard export` shows is what `heard
forget` then removes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    Base,
    Contact,
    Conversation,
    FollowUp,
    Invite,
    OutboxMessage,
    Promise,
    Respondent,
    SafeguardingAlert,
    Team,
    Worker,
)

PER_RESPONDENT: tuple[type[Base], ...] = (Answer, FollowUp, OutboxMessage, Conversation, Contact)
"""Tables whose rows belong to one respondent and are deleted on erasure."""


def respondents_for_code(session: Session, code: str) -> list[int]:
    """Ids of the respondents whose case is the invite with this code."""
    stmt = (
        select(Respondent.id)
        .join(Invite, Invite.id == Respondent.invite_id)
        .where(Invite.code == code)
        .order_by(Respondent.id)
    )
    return list(session.scalars(stmt))


def invite_exists(session: Session, code: str) -> bool:
    return session.scalar(select(Invite.id).where(Invite.code == code)) is not None


def holdings(session: Session, respondent_id: int) -> dict[str, int]:
    """Rows per table that lead to this respondent (alerts: the ones whose
    link to them an erasure clears)."""
    counts: dict[str, int] = {}
    for model in PER_RESPONDENT:
        table = cast(Table, model.__table__)
        n = session.scalar(
            select(func.count()).select_from(table).where(table.c.respondent_id == respondent_id)
        )
        counts[table.name] = int(n or 0)
    counts["respondents"] = int(
        session.scalar(select(func.count()).where(Respondent.id == respondent_id)) or 0
    )
    counts["promises"] = int(
        session.scalar(select(func.count()).where(Promise.respondent_id == respondent_id)) or 0
    )
    counts["safeguarding_alerts"] = int(
        session.scalar(select(func.count()).where(SafeguardingAlert.respondent_id == respondent_id))
        or 0
    )
    return counts


def respondent_record(session: Session, respondent_id: int) -> dict[str, Any] | None:
    """The respondent, their case and their contact, as plain values."""
    row = session.execute(
        select(Respondent, Invite, Team.name, Worker.name)
        .outerjoin(Invite, Invite.id == Respondent.invite_id)
        .join(Team, Team.id == Respondent.team_id)
        .join(Worker, Worker.id == Respondent.worker_id)
        .where(Respondent.id == respondent_id)
    ).first()
    if row is None:
        return None
    resp, invite, team, worker = row
    contact = session.get(Contact, respondent_id)
    conv = session.get(Conversation, respondent_id)
    return {
        "platform": resp.platform,
        "status": resp.status,
        "first_contact": resp.created_at,
        "case": {
            "team": team,
            "worker": worker,
            "code": invite.code if invite else None,
            "question_set": invite.set_id if invite else None,
            "opened": invite.created_at if invite else None,
            "closed": invite.closed_at if invite else None,
        },
        "contact": (
            {
                "platform": contact.platform,
                "address": contact.address,
                "updated": contact.updated_at,
            }
            if contact
            else None
        ),
        "conversation": ({"state": conv.state, "updated": conv.updated_at} if conv else None),
    }


def answers(session: Session, respondent_id: int) -> Sequence[Answer]:
    return session.scalars(
        select(Answer).where(Answer.respondent_id == respondent_id).order_by(Answer.id)
    ).all()


def promises(session: Session, respondent_id: int) -> Sequence[Promise]:
    return session.scalars(
        select(Promise).where(Promise.respondent_id == respondent_id).order_by(Promise.id)
    ).all()


def followups(session: Session, respondent_id: int) -> Sequence[FollowUp]:
    return session.scalars(
        select(FollowUp).where(FollowUp.respondent_id == respondent_id).order_by(FollowUp.id)
    ).all()


def messages(session: Session, respondent_id: int) -> Sequence[OutboxMessage]:
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.respondent_id == respondent_id)
        .order_by(OutboxMessage.id)
    ).all()


def alerts(session: Session, respondent_id: int) -> Sequence[SafeguardingAlert]:
    return session.scalars(
        select(SafeguardingAlert)
        .where(SafeguardingAlert.respondent_id == respondent_id)
        .order_by(SafeguardingAlert.id)
    ).all()
