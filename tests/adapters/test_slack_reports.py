"""`/heard report` in Slack, through real Bolt against the fake Web API: a
manager sees their team's figures privately and gets the chart (and the CSV)
in their DM by the files upload v2 flow; anyone else gets a polite refusal."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.service.staff import Staff
from storage.models import AuditEntry
from tests.adapters.test_slack_channel import (
    MakeService,
    Slack,
    _running,
    fake,
    slack_config,
)
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlack, dm_channel_id
from tests.reports_seed import random_org, seed

__all__ = ["fake"]  # the FakeSlack fixture, shared with test_slack_channel

MANAGER = "U0MANAGER1"
ADMIN = "U0ADMIN001"


@pytest.fixture
async def reporting(
    fake: FakeSlack,
    make_service: MakeService,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
) -> AsyncIterator[Slack]:
    clock.now = datetime(2026, 12, 2, 9, tzinfo=UTC)
    service = make_service()
    rng = random.Random(5)
    org = random_org(
        rng, teams=2, workers_per_team=3, families=120, months=[(2026, m) for m in range(9, 12)]
    )
    seed(service.store.engine, org, rng)
    config: Config = replace(slack_config(fake), admins=(ADMIN,))
    Staff(service, config).add_manager("Team 001", MANAGER, "Alex")
    async for running in _running(fake, service, monkeypatch, config):
        yield running


async def _completed(slack: Slack, count: int) -> list[dict[str, object]]:
    def done() -> list[dict[str, object]]:
        ups = [u for u in slack.fake.uploads if u["completed"]]
        return ups if len(ups) >= count else []

    return list(await slack.fake.async_wait_for(done, timeout=20, message="report uploads"))


def _audit(slack: Slack) -> list[tuple[str, str]]:
    with slack.service.store.sessions() as s:
        return [(e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


async def test_a_manager_gets_their_team_report_and_the_chart_in_their_dm(
    reporting: Slack,
) -> None:
    status, _ = await reporting.command("report 2026-11", user=MANAGER)
    assert status == 200
    reply = await reporting.fake.async_wait_for_message(
        dm_channel_id(MANAGER), kind="ephemeral", contains="Based on", timeout=30
    )
    text = str(reply["blocks"])
    assert "Team 001" in reply["text"] and "2026-11" in reply["text"]
    assert "Honesty and trust" in text and "Average" in text
    (upload,) = await _completed(reporting, 1)
    await reporting.settle()
    assert upload["is_png"] and upload["completed"] and upload["filename"].endswith(".png")
    assert upload["channel"] == dm_channel_id(MANAGER)
    assert _audit(reporting)[-1] == (f"slack:{MANAGER}", "report")


async def test_csv_comes_too_when_asked(reporting: Slack) -> None:
    await reporting.command("report Team 001 2026-Q3 csv", user=MANAGER)
    files = await _completed(reporting, 2)
    await reporting.settle()
    names = [f["filename"] for f in files]
    assert names == ["heard-team-001-2026-Q3.png", "heard-team-001-2026-Q3.csv"]
    assert all(f["channel"] == dm_channel_id(MANAGER) for f in files)


@pytest.mark.parametrize(
    ("user", "words"),
    [(MANAGER, "report Team 002 2026-11"), ("U0STRANGER", "report 2026-11")],
)
async def test_others_are_refused_politely_with_no_numbers(
    reporting: Slack, user: str, words: str
) -> None:
    await reporting.command(words, user=user)
    refusal = await reporting.fake.async_wait_for_message(
        dm_channel_id(user), kind="ephemeral", contains="only for managers", timeout=30
    )
    assert not any(ch.isdigit() for ch in refusal["text"])
    await reporting.settle()
    assert reporting.fake.uploads == []
    assert _audit(reporting)[-1] == (f"slack:{user}", "report refused")


async def test_an_admin_sees_any_team_and_bad_input_is_explained(reporting: Slack) -> None:
    await reporting.command("report Team 002 2026-11", user=ADMIN)
    await reporting.fake.async_wait_for_message(
        dm_channel_id(ADMIN), kind="ephemeral", contains="Team 002", timeout=30
    )
    await reporting.command("report Team 002 2026-12", user=ADMIN)
    problem = await reporting.fake.async_wait_for_message(
        dm_channel_id(ADMIN), kind="ephemeral", contains="has not ended", timeout=30
    )
    assert "could not make that report" in problem["text"]
