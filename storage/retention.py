"""Retention: the statements that find and delete rows past their limit.

Each kind of data is one `Rule`: its table, the key that identifies a row,
and the condition that makes a row expire for a cut-off time. `count` says
how many rows are past it (the dry run); `delete_batch` deletes at most
`limit` of them in the caller's transaction, so the nightly job deletes in
short transactions that never hold locks for long.

What is never deleted here, whatever the policy: an alert the duty team has
not acknowledged, a conversation with a follow-up still to come, and a
respondent who still has anything (they go only when nothing is left).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, exists, func, select, tuple_
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    AuditEntry,
    Base,
    Contact,
    Conversation,
    FollowUp,
    Invite,
    OutboxMessage,
    ProcessedInbound,
    Respondent,
    SafeguardingAlert,
)

Condition = Callable[[datetime, bool], ColumnElement[bool]]
"""(cut-off, counted from case closure) -> which rows are past the limit."""

LIVE_FOLLOWUP = ("pending", "claimed")


def _t(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    """The row label in reports: a table name."""
    policy: str
    """The `[retention]` key whose period applies."""
    model: type[Base]
    key: tuple[str, ...]
    condition: Condition

    def _key(self) -> Any:
        cols = [getattr(_t(self.model).c, k) for k in self.key]
        return cols[0] if len(cols) == 1 else tuple_(*cols)


def _contacts(cutoff: datetime, after_case_closed: bool) -> ColumnElement[bool]:
    if not after_case_closed:
        return Contact.updated_at < cutoff
    closed = (
        select(Respondent.id)
        .join(Invite, Invite.id == Respondent.invite_id)
        .where(Invite.closed_at.is_not(None), Invite.closed_at < cutoff)
    )
    return Contact.respondent_id.in_(closed)


def _no_live_followup(respondent: Any) -> ColumnElement[bool]:
    return ~exists().where(FollowUp.respondent_id == respondent, FollowUp.status.in_(LIVE_FOLLOWUP))


def _conversations(cutoff: datetime, _: bool) -> ColumnElement[bool]:
    return (Conversation.updated_at < cutoff) & _no_live_followup(Conversation.respondent_id)


def _followups(cutoff: datetime, _: bool) -> ColumnElement[bool]:
    return FollowUp.status.not_in(LIVE_FOLLOWUP) & (FollowUp.due_at < cutoff)


def _respondents(cutoff: datetime, _: bool) -> ColumnElement[bool]:
    rid = Respondent.id
    nothing_left = [
        ~exists().where(_t(model).c.respondent_id == rid)
        for model in (Conversation, Contact, Answer, FollowUp, OutboxMessage, SafeguardingAlert)
    ]
    cond: ColumnElement[bool] = Respondent.created_at < cutoff
    for part in nothing_left:
        cond = cond & part
    return cond


RULES: tuple[Rule, ...] = (
    Rule("contacts", "contacts", Contact, ("respondent_id",), _contacts),
    Rule("conversations", "conversations", Conversation, ("respondent_id",), _conversations),
    Rule("followups", "conversations", FollowUp, ("id",), _followups),
    Rule("answers", "answers", Answer, ("id",), lambda c, _: Answer.answered_at < c),
    Rule(
        "safeguarding_alerts",
        "alerts",
        SafeguardingAlert,
        ("id",),
        lambda c, _: (SafeguardingAlert.at < c) & (SafeguardingAlert.status == "acknowledged"),
    ),
    Rule(
        "processed_inbound",
        "processed_inbound",
        ProcessedInbound,
        ("platform", "message_key"),
        lambda c, _: ProcessedInbound.processed_at < c,
    ),
    Rule("audit_log", "audit", AuditEntry, ("id",), lambda c, _: AuditEntry.at < c),
    Rule("respondents", "conversations", Respondent, ("id",), _respondents),
)
"""In the order the job applies them: a respondent goes last, once the
other rules have left nothing of theirs."""


def count(session: Session, rule: Rule, cutoff: datetime, after_case_closed: bool) -> int:
    stmt = (
        select(func.count())
        .select_from(_t(rule.model))
        .where(rule.condition(cutoff, after_case_closed))
    )
    return int(session.scalar(stmt) or 0)


def delete_batch(
    session: Session, rule: Rule, cutoff: datetime, after_case_closed: bool, limit: int
) -> int:
    """Delete up to `limit` rows past the limit; returns how many went."""
    key = rule._key()
    cols: Sequence[Any] = [getattr(_t(rule.model).c, k) for k in rule.key]
    pick = select(*cols).where(rule.condition(cutoff, after_case_closed)).limit(limit)
    result = session.execute(delete(_t(rule.model)).where(key.in_(pick)))
    return int(cast(CursorResult[Any], result).rowcount)
