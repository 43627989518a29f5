"""Typed tables. Contact addresses (the raw chat id needed to send a follow-up)
live in `contacts`, apart from answers, so erasing a person or expiring their
contact data never has to touch aggregate tables' shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Worker(Base):
    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slack_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    telegram_chat: Mapped[str | None] = mapped_column(String(64))
    """Where a worker without Slack gets their digest (a Telegram chat id)."""
    digests_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The worker stopped their scheduled digests (`/heard digest off`)."""
    __table_args__ = (UniqueConstraint("team_id", "name", name="uq_workers_team_name"),)


class Invite(Base):
    """A single-use card a worker gives a family. The invite is the family's
    case reference: team, worker, question set and language."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    set_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When a family first used it; cleared when that family is erased, so the
    card cannot be matched by time to what is left of them (an alert)."""
    used: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Whether it was ever used: it stays single-use after the erasure."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkerInvite(Base):
    """A one-time Telegram link that binds a worker's own chat for their
    digests (`heard worker invite`). Holds nothing about any family."""

    __tablename__ = "worker_invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Respondent(Base):
    """A family member, known only by a keyed pseudonym of platform + chat id."""

    __tablename__ = "respondents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    """active, stopped, declined or unreachable."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Contact(Base):
    """How to reach a respondent. Deleted on forget, case closure and retention."""

    __tablename__ = "contacts"
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Conversation(Base):
    __tablename__ = "conversations"
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Answer(Base):
    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    set_id: Mapped[str] = mapped_column(String(64))
    set_version: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(16))
    value: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        UniqueConstraint("respondent_id", "round", "question_id", name="uq_answers_once"),
        Index("ix_answers_team_time", "team_id", "answered_at", "dimension"),
        Index("ix_answers_worker_time", "worker_id", "answered_at", "dimension"),
        # Covers the report aggregation (storage/reports.py): one month of
        # answers is read from the index alone, grouped in the database.
        Index(
            "ix_answers_report",
            "answered_at",
            "set_id",
            "set_version",
            "question_id",
            "dimension",
            "team_id",
            "worker_id",
            "respondent_id",
            "code",
            "value",
        ),
    )


class FollowUp(Base):
    """A message due later (check-in, reminder). Rows, not scheduler jobs, so
    thousands cost nothing and survive restarts."""

    __tablename__ = "followups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending, claimed, done, cancelled or failed (raised `followup_attempts` times)."""
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How often it was claimed to run; counted in the claim itself, so a run
    that kills its process counts too."""
    __table_args__ = (
        UniqueConstraint("respondent_id", "key", name="uq_followups_key"),
        Index("ix_followups_due", "status", "due_at"),
        Index("ix_followups_lease", "status", "lease_until"),
    )


class ProcessedInbound(Base):
    """Platform delivery ids already handled, so a redelivery is ignored."""

    __tablename__ = "processed_inbound"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SetAsideInbound(Base):
    """An inbound message the database refused again and again (a value it
    cannot hold): recorded so an administrator can count it, then skipped so
    the chat and everyone after it move on. Holds no text, no chat id, no
    pseudonym: only the platform, the kind of error and when."""

    __tablename__ = "set_aside_inbound"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    """A safeguarding alert was raised from it all the same."""
    set_aside_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ScrubRequest(Base):
    """Tables an erasure deleted rows from, waiting for the duty that removes
    the deleted bytes (`storage.erasure.compact`). Names tables only: nothing
    about whom or what was erased."""

    __tablename__ = "scrub_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tables: Mapped[str] = mapped_column(String(400))
    """Comma-separated table names."""
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxMessage(Base):
    """One message waiting to go out, or already sent: follow-ups to families
    and, later, alerts to staff. Written in the same transaction as whatever
    caused it, drained by `bot.outbox.Sender` at the platform's pace.

    `address` is the raw chat or channel id. For a message *to a family*
    `respondent_id` is set, so erasing or closing the case of that family
    deletes the row; a message *about* a family to staff (an alert) leaves it
    empty so it is never lost to an erasure. Lower `priority` goes first.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(128))
    respondent_id: Mapped[int | None] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[Any]] = mapped_column(JSON)
    """[[data, label], ...]: the buttons under the message."""
    columns: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(32))
    """"checkin", "reminder", "alert", ..."""
    ref: Mapped[str | None] = mapped_column(String(64))
    """What the message is about, for the on-sent hook (e.g. an alert id)."""
    priority: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending, claimed, sent, failed or cancelled."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(64))
    """The kind of the last failure (an exception class name), never its text."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_lease", "status", "lease_until"),
        Index("ix_outbox_address", "address", "platform", "id"),
    )


class SafeguardingAlert(Base):
    """What a family wrote that suggests someone is in danger, and what the
    duty team did about it. On erasure the text and every link to the family
    and their case are cleared; the fact, time, categories and response stay."""

    __tablename__ = "safeguarding_alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    categories: Mapped[str] = mapped_column(String(200))
    """Comma-separated detector categories."""
    text: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    respondent_id: Mapped[int | None] = mapped_column(
        ForeignKey("respondents.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    """open or acknowledged."""
    sends: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_ref: Mapped[str | None] = mapped_column(String(64))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16), default="alert", server_default="alert")
    """"alert" (urgent, chased) or "review" (the uncertain band, not chased
    until the family's answer or silence upgrades it)."""
    pseudonym: Mapped[str | None] = mapped_column(String(64))
    """The family's keyed pseudonym, so "forget" finds an alert written before
    an invite was used; cleared on erasure."""
    erased: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The family was erased: the words and links above are gone, the times
    kept to the day, and a copy still on its way loses the words once sent."""
    delivery_key: Mapped[str | None] = mapped_column(String(160))
    """"<platform>:<delivery id>" of the message that raised it: one alert per
    delivery, however often it is spooled or redelivered."""
    __table_args__ = (
        Index("ix_alerts_open", "status", "last_sent_at"),
        Index("ix_safeguarding_alerts_pseudonym", "pseudonym"),
        Index("ux_safeguarding_alerts_delivery", "delivery_key", unique=True),
    )


class Promise(Base):
    """A commitment a worker made to a family, in the worker's words. The
    family is asked after its due time whether it happened; the outcome is
    only ever reported in aggregate (see `storage.promises.record_aggregates`).
    On erasure the case, the family and the words go; the counted outcome
    stays."""

    __tablename__ = "promises"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id"), index=True)
    respondent_id: Mapped[int | None] = mapped_column(
        ForeignKey("respondents.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ask_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    """yes, no or unsure; empty until the family answers."""
    repaired: Mapped[bool | None] = mapped_column(Boolean)
    """After "no": did the worker explain or say sorry."""
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (
        Index("ix_promises_team_time", "team_id", "answered_at"),
        Index("ix_promises_worker_time", "worker_id", "answered_at"),
    )


class CaseChange(Base):
    """A family's case moved from one worker to another, with its date: the
    record continuity figures are counted from."""

    __tablename__ = "case_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    from_worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    to_worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    __table_args__ = (Index("ix_case_changes_team_time", "team_id", "at"),)


class YouSaid(Base):
    """A "you said, we did" message from a team's managers to its families."""

    __tablename__ = "you_said"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    text: Mapped[dict[str, str]] = mapped_column(JSON)
    """Per locale; "en" always present."""
    families: Mapped[int] = mapped_column(Integer)
    """How many families it was queued for."""
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    request_key: Mapped[str | None] = mapped_column(String(64))
    """The confirmed preview's key (Slack); unique, so it is sent once."""
    __table_args__ = (
        Index("ix_you_said_team_time", "team_id", "created_at"),
        Index("ux_you_said_request_key", "request_key", unique=True),
    )


class Manager(Base):
    """A Slack user who may see the reports of one team. One row per team, so
    a manager of several teams has several rows."""

    __tablename__ = "managers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    slack_user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id", name="uq_managers_team_user"),)


class ReportSnapshot(Base):
    """One finished calendar month whose report cells have been computed and
    frozen (for one k). Figures of a finished period never change afterwards,
    so two reports asked at different times cannot be subtracted."""

    __tablename__ = "report_snapshots"
    k: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    """"2026-11": the month that finished; quarter and year cells ending with it
    are computed in the same snapshot."""
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    """Which kinds of figure the snapshot holds (`bot.service.reports`
    `FREEZE_VERSION`): a month frozen before a kind existed gains that kind's
    cells later, once, and keeps every cell it had."""


class ReportCell(Base):
    """One aggregate after disclosure control: a scope (organisation, team or
    worker), a fixed period, and a dimension or a question of one set version.
    Counts only; no answer, family or text. `n` is kept for suppressed cells
    so later snapshots can protect them, and is never shown."""

    __tablename__ = "report_cells"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    k: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(7))
    snapshot: Mapped[str] = mapped_column(String(7))
    """The month of the snapshot that computed this cell."""
    team_id: Mapped[int | None] = mapped_column(Integer)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    dimension: Mapped[str] = mapped_column(String(32))
    set_id: Mapped[str] = mapped_column(String(64))
    """Empty for a dimension cell."""
    set_version: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(64))
    """Empty for a dimension cell."""
    n: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)
    """Sum of the numeric values (scale answers), for the mean."""
    valued: Mapped[int] = mapped_column(Integer)
    """How many answers had a numeric value."""
    distribution: Mapped[dict[str, Any]] = mapped_column(JSON)
    """{code: number of answers}."""
    suppressed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_report_cells_lookup", "k", "period", "team_id", "worker_id"),
        Index("ix_report_cells_snapshot", "k", "snapshot"),
    )


class Digest(Base):
    """One scheduled digest: a worker's, for one period, or a manager's
    monthly summary. `key` makes it exactly once: a second process or a
    restart that plans the same digest finds the row already there, and a
    row is claimed (with a lease) before it is sent."""

    __tablename__ = "digests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    """"worker:<id>:<period>" or "manager:<slack user>:<period>"."""
    kind: Mapped[str] = mapped_column(String(16))
    """worker or manager."""
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    manager: Mapped[str | None] = mapped_column(String(64))
    """The manager's Slack user id, for a manager's summary."""
    period: Mapped[str] = mapped_column(String(7))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending, claimed, sent, skipped (nowhere to send it) or failed."""
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(64))
    """The kind of the last failure, never its text."""
    platform: Mapped[str | None] = mapped_column(String(16))
    """Where it went: slack or telegram."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (Index("ix_digests_due", "status", "due_at"),)


class DigestComment(Base):
    """A family's free-text answer on its way to a worker's digest: already
    scrubbed, and released, withheld or waiting for a manager. Tied to the
    answer it came from, so erasing the family erases it too. Holds no date
    a digest would show; `month` only places it in a period."""

    __tablename__ = "digest_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("answers.id", ondelete="CASCADE"),
        unique=True,
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    month: Mapped[str] = mapped_column(String(7))
    heading: Mapped[str] = mapped_column(String(16))
    """"comment" or "next_steps" (what happens next, in the family's words)."""
    text: Mapped[str] = mapped_column(Text)
    """The scrubbed text (or a manager's edit of it)."""
    status: Mapped[str] = mapped_column(String(16))
    """pending, released or withheld."""
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When it was shown to the team's managers for moderation."""
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        Index("ix_digest_comments_worker", "worker_id", "month", "status"),
        Index("ix_digest_comments_offer", "status", "offered_at"),
    )
