"""Retention with an injected clock: rows past each `[retention]` limit go,
rows inside stay, and the dry run changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.config import RetentionConfig
from bot.core.durations import Retention as Period
from bot.core.durations import parse_retention
from bot.service.conversation import Conversations
from bot.service.retention import RetentionJob
from storage import repo
from storage.models import (
    Answer,
    AuditEntry,
    Base,
    Contact,
    Conversation,
    FollowUp,
    Invite,
    ProcessedInbound,
    Respondent,
    SafeguardingAlert,
)
from tests.conftest import FakeClock
from tests.helpers import ChatFamily, make_invite, tiny_sets
from tests.integration.test_cli import heard

MakeService = Callable[..., Conversations]


@pytest.fixture
def service(make_service: MakeService) -> Conversations:
    return make_service(sets=tiny_sets(), default_set="tiny")


def _finish(service: Conversations, clock: FakeClock, chat: str) -> int:
    with service.store.sessions.begin() as s:
        invite = make_invite(s, clock())
        token, invite_id = invite.token, invite.id
    fam = ChatFamily(service, chat)
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("Kind and clear")
    return invite_id


def _count(service: Conversations, model: type[Base]) -> int:
    with service.store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _all(service: Conversations) -> dict[str, int]:
    models = (
        Answer,
        Contact,
        Conversation,
        FollowUp,
        ProcessedInbound,
        Respondent,
        SafeguardingAlert,
        AuditEntry,
    )
    return {m.__tablename__: _count(service, m) for m in models}


def test_past_each_limit_goes_inside_stays_and_the_dry_run_changes_nothing(
    service: Conversations, clock: FakeClock
) -> None:
    old_case = _finish(service, clock, "100")
    clock.advance(timedelta(days=200))
    _finish(service, clock, "200")
    with service.store.sessions.begin() as s:
        # The old family's case closed 13 months ago, the new one's stays open;
        # a contact row exists for both (a closure normally deletes it at once).
        s.execute(
            update(Invite)
            .where(Invite.id == old_case)
            .values(closed_at=clock() - timedelta(days=400))
        )
        repo.add_alert(
            s,
            at=clock() - timedelta(days=400),
            categories="self_harm",
            text="old",
            platform="test",
            locale="en",
        )
        fresh = repo.add_alert(
            s,
            at=clock() - timedelta(days=400),
            categories="self_harm",
            text="open",
            platform="test",
            locale="en",
        )
        s.execute(
            update(SafeguardingAlert)
            .where(SafeguardingAlert.id != fresh.id)
            .values(status="acknowledged")
        )
        # Follow-ups of the old family are done: nothing more is due to them.
        s.execute(update(FollowUp).values(status="done"))
    config = RetentionConfig(
        contacts=parse_retention("12 months after case closed"),
        conversations=parse_retention("90d"),
        answers=parse_retention("150d"),
        alerts=parse_retention("1y"),
        processed_inbound=parse_retention("7d"),
        audit=Period(None),
        batch_size=2,
    )
    job = RetentionJob(service.store, config, clock)
    before = _all(service)
    plan = {line.table: line.rows for line in job.plan()}
    assert _all(service) == before  # the dry run changes nothing
    assert plan["contacts"] == 1  # the closed case's
    assert plan["conversations"] == 1  # the old family's, idle 200 days
    assert plan["answers"] == 4  # the old family's four answers
    assert plan["safeguarding_alerts"] == 1  # acknowledged and old; the open one stays
    assert plan["audit_log"] == 0  # forever
    assert plan["processed_inbound"] == 6  # the old family's six deliveries
    assert plan["followups"] >= 1

    done = {line.table: line.rows for line in job.apply()}
    for table in ("contacts", "conversations", "answers", "safeguarding_alerts", "followups"):
        assert done[table] == plan[table], table
    assert done["respondents"] == 1  # the old family, once nothing of theirs was left
    after = _all(service)
    assert after["answers"] == 4 and after["contacts"] == 1 and after["conversations"] == 1
    assert after["respondents"] == 1 and after["safeguarding_alerts"] == 1
    with service.store.sessions() as s:
        assert s.scalar(select(SafeguardingAlert.text)) == "open"
        assert s.scalars(select(AuditEntry.action)).all()[-1] == "applied retention"
    assert {line.table: line.rows for line in job.plan()} == dict.fromkeys(plan, 0)


def test_forever_deletes_nothing(service: Conversations, clock: FakeClock) -> None:
    _finish(service, clock, "100")
    clock.advance(timedelta(days=3650))
    forever = Period(None)
    config = RetentionConfig(**dict.fromkeys(RetentionConfig().rules(), forever))
    before = _all(service)
    lines = RetentionJob(service.store, config, clock).apply()
    assert all(line.rows == 0 for line in lines)
    assert {k: v for k, v in _all(service).items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }


def test_a_conversation_with_a_follow_up_to_come_is_kept(
    service: Conversations, clock: FakeClock
) -> None:
    _finish(service, clock, "100")
    clock.advance(timedelta(days=100))
    assert _count(service, FollowUp) and _count(service, Conversation) == 1
    config = replace(RetentionConfig(), conversations=parse_retention("90d"))
    RetentionJob(service.store, config, clock).apply()
    assert _count(service, Conversation) == 1


@pytest.mark.parametrize(
    "text,cutoff",
    [
        ("90d", datetime(2025, 12, 31, 12, tzinfo=UTC)),
        ("3y", datetime(2023, 3, 31, 12, tzinfo=UTC)),
        ("1 month", datetime(2026, 2, 28, 12, tzinfo=UTC)),
        ("12 months after case closed", datetime(2025, 3, 31, 12, tzinfo=UTC)),
        ("2w", datetime(2026, 3, 17, 12, tzinfo=UTC)),
        ("forever", None),
    ],
)
def test_retention_periods_are_calendar_periods(text: str, cutoff: datetime | None) -> None:
    assert parse_retention(text).cutoff(datetime(2026, 3, 31, 12, tzinfo=UTC)) == cutoff


@pytest.mark.parametrize("text", ["90", "3 fortnights", "0d", "15m", "", "-3y"])
def test_bad_retention_values_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"retention period|longer than zero"):
        parse_retention(text)


def test_heard_retention_dry_run_and_a_bad_value(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
        '[retention]\nanswers = "3y"\n'
    )
    assert heard("--config", str(cfg), "db", "upgrade", cwd=tmp_path).returncode == 0
    dry = heard("--config", str(cfg), "retention", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "answers" in dry.stdout and "would delete" in dry.stdout and "3 years" in dry.stdout
    cfg.write_text(cfg.read_text().replace('"3y"', '"three years"'))
    bad = heard("--config", str(cfg), "retention", "--dry-run", cwd=tmp_path)
    assert bad.returncode == 2
    assert "[retention] answers" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
