"""Safeguarding alerts as the duty team meets them: a family on Telegram writes
something that means danger, is shown help at once, and the duty channel on
Slack gets an alert it can acknowledge; outages delay it, never lose it; an
alert nobody acknowledges is chased; the worker concerned never sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack import SlackChannel
from adapters.telegram import TelegramChannel
from bot.config import Config, SafeguardingConfig, ScheduleConfig, SlackConfig
from bot.core import texts
from bot.core.errors import ConfigError
from bot.runtime import alerts as runtime_alerts
from bot.runtime import followups
from bot.runtime.app import App, build
from bot.runtime.run import serve
from bot.service import admin, alerts
from storage import repo
from storage.models import OutboxMessage, SafeguardingAlert
from storage.unit import Store
from tests.adapters.telegram_harness import reply_after, telegram_config
from tests.conftest import SECRET, FakeTime
from tests.fakes.slack_api import FakeSlack, SlackClientForTests, block_actions_body, dm_channel_id
from tests.fakes.telegram_api import FakeTelegram

SIGNING = "alerts-test-signing-secret-0123"
DUTY, FALLBACK, WORKER_SLACK = "C0DUTY", "C0FALLBACK", "U0WORKER"
CHAT = 8101
DISCLOSURE = "my step dad hits me and im scared to go home"
LEASE = ScheduleConfig().lease
IGNORED = "from outside the duty channels was ignored"


@dataclass
class Running:
    app: App
    tg: FakeTelegram
    slack: FakeSlack
    slack_url: str
    token: str

    def alerts(self) -> list[SafeguardingAlert]:
        with self.app.sessions() as s:
            return list(s.scalars(select(SafeguardingAlert).order_by(SafeguardingAlert.id)))

    def duty_messages(
        self, channel: str = DUTY, contains: str = "alert #1"
    ) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(channel, kind="message") if contains in m["text"]]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeSlack]]:
    with FakeTelegram() as tg, FakeSlack() as slack:
        yield tg, slack


async def _start(
    db_url: str,
    fakes: tuple[FakeTelegram, FakeSlack],
    monkeypatch: pytest.MonkeyPatch,
    ack_within: timedelta = timedelta(minutes=15),
    time: FakeTime | None = None,
    lease: timedelta = LEASE,
) -> AsyncIterator[Running]:
    tg, slack = fakes
    monkeypatch.setenv("HEARD_SLACK_BOT_TOKEN", slack.bot_token)
    monkeypatch.setenv("HEARD_SLACK_SIGNING_SECRET", SIGNING)
    config = Config(
        database_url=db_url,
        pseudonym_secret=SECRET,
        telegram=telegram_config(tg),
        slack=SlackConfig(enabled=True, base_url=slack.base_url, port=0),
        schedule=replace(
            ScheduleConfig(),
            sweep_every=timedelta(seconds=0.2),
            quiet_start=ScheduleConfig().quiet_end,
            lease=lease,
        ),
        safeguarding=replace(
            SafeguardingConfig(),
            alert_channel=DUTY,
            fallback_channel=FALLBACK,
            ack_within=ack_within,
        ),
    )
    app = build(config, time=time.time() if time else None)
    now = app.conversation.clock()
    with app.sessions.begin() as s:
        admin.add_team(s, "North", now)
        worker = admin.add_worker(s, "North", "Sam Jones", WORKER_SLACK, now)
        card, _ = admin.create_invite(
            s,
            worker,
            set_id="adult",
            locale="en",
            now=now,
            valid_for=timedelta(days=1),
            bot_username=tg.bot_username,
            texts=texts.load(),
        )
    telegram = TelegramChannel(config.telegram, tg.token, poll_timeout=1)
    slack_channel = SlackChannel.from_config(config, app.staff)
    stop = asyncio.Event()
    desk = app.alert_desk
    task = asyncio.create_task(
        serve(
            app,
            [telegram, slack_channel],
            stop=stop,
            extras=(followups.extra(on_sent=desk.on_sent), runtime_alerts.extra(desk)),
        )
    )
    await tg.wait_for_async(lambda: tg.commands, timeout=10)
    await slack.async_wait_for(lambda: slack_channel.address, timeout=10)
    assert slack_channel.address is not None
    host, port = slack_channel.address
    try:
        yield Running(app, tg, slack, f"http://{host}:{port}/slack/events", card.token)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        app.close()


@pytest.fixture
async def heard(
    db_url: str, fakes: tuple[FakeTelegram, FakeSlack], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    async for running in _start(db_url, fakes, monkeypatch):
        yield running


async def _disclose(h: Running) -> str:
    await reply_after(h.tg, CHAT, lambda: h.tg.user_sends_start(CHAT, h.token))
    await reply_after(h.tg, CHAT, lambda: h.tg.user_taps(CHAT, "Yes, let's start"))
    return await reply_after(h.tg, CHAT, lambda: h.tg.user_sends_text(CHAT, DISCLOSURE), count=2)


async def test_a_disclosure_gets_help_at_once_and_an_alert_to_the_duty_channel(
    heard: Running,
) -> None:
    text = await _disclose(heard)
    help_now, question = text.split("\n", 1)[0], text
    assert "call 999" in help_now and "Childline" in question and "(1 of" in question
    await heard.slack.async_wait_for(lambda: heard.duty_messages(), timeout=15)
    (message,) = heard.duty_messages()
    assert DISCLOSURE in message["text"]
    assert "team North" in message["text"] and "worker Sam Jones" in message["text"]
    assert "harm from others" in message["text"] and "invite code" in message["text"]
    (alert,) = heard.alerts()
    assert alert.status == "open" and alert.worker_id is not None
    await heard.slack.async_wait_for(lambda: heard.alerts()[0].delivered_at, timeout=5)
    worker_dm = dm_channel_id(WORKER_SLACK)
    assert heard.slack.messages(worker_dm) == []
    assert [c for c in heard.slack.calls() if DISCLOSURE in str(c["params"])] == [
        c for c in heard.slack.calls("chat.postMessage") if c["params"].get("channel") == DUTY
    ], "the family's words went to Slack only in the message to the duty channel"


async def test_an_alert_survives_a_slack_outage_and_arrives_once(heard: Running) -> None:
    heard.slack.fail_for("chat.postMessage", 3.0, status=500)
    await _disclose(heard)
    await heard.slack.async_wait_for(lambda: heard.duty_messages(), timeout=30)
    await heard.slack.async_wait_for(lambda: _outbox_settled(heard), timeout=10)
    assert len(heard.duty_messages()) == 1
    failures = [c for c in heard.slack.calls("chat.postMessage") if c["status"] == 500]
    assert failures, "the outage never happened"


def _outbox_settled(h: Running) -> bool:
    """Nothing left waiting or in flight in the outbox."""
    with h.app.sessions() as s:
        return not s.scalars(
            select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "claimed")))
        ).all()


async def test_the_duty_team_acknowledges_and_a_forged_press_is_ignored(
    heard: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await _disclose(heard)
    await heard.slack.async_wait_for(lambda: heard.duty_messages(), timeout=15)
    (message,) = heard.duty_messages()
    button = message["blocks"][-1]["elements"][0]
    client = SlackClientForTests(SIGNING)

    forged = block_actions_body(
        user_id="U0FAMILY",
        channel_id=dm_channel_id("U0FAMILY"),
        action_id=button["action_id"],
        value=button["value"],
        message_ts=message["ts"],
    )
    assert (await client.apost(heard.slack_url, forged))[0] == 200
    heard.tg.user_presses(CHAT, heard.tg.sent(CHAT)[-1]["message_id"], button["value"])

    def ignored() -> int:
        return sum(IGNORED in r.getMessage() for r in caplog.records)

    await heard.slack.async_wait_for(lambda: ignored() == 2, timeout=10)
    assert heard.alerts()[0].status == "open"

    real = block_actions_body(
        user_id="U0DUTY1",
        channel_id=DUTY,
        action_id=button["action_id"],
        value=button["value"],
        message_ts=message["ts"],
    )
    assert (await client.apost(heard.slack_url, real))[0] == 200
    await heard.slack.async_wait_for(lambda: heard.alerts()[0].status == "acknowledged", timeout=5)
    alert = heard.alerts()[0]
    assert alert.acknowledged_by == "slack:U0DUTY1" and alert.acknowledged_at is not None
    await heard.slack.async_wait_for(
        lambda: heard.duty_messages(contains="acknowledged by U0DUTY1"), timeout=5
    )


async def test_an_unacknowledged_alert_is_chased_to_the_fallback_until_someone_acts(
    db_url: str, fakes: tuple[FakeTelegram, FakeSlack], monkeypatch: pytest.MonkeyPatch
) -> None:
    async for h in _start(db_url, fakes, monkeypatch, ack_within=timedelta(seconds=1)):

        def chases(h: Running = h) -> int:
            return len(h.duty_messages(FALLBACK, "NOT YET ACKNOWLEDGED"))

        await _disclose(h)
        await h.slack.async_wait_for(lambda: chases() >= 2, timeout=20)
        h.app.alert_desk.acknowledge("alert:ack:1", "slack:U0DUTY1", f"slack:{DUTY}")
        await asyncio.sleep(1.2)  # a chase under way finishes and is sent
        await h.slack.async_wait_for(lambda h=h: _outbox_settled(h), timeout=10)
        chased, sends = chases(), h.alerts()[0].sends
        await asyncio.sleep(2.5)  # two more chase checks
        assert chases() == chased and h.alerts()[0].sends == sends
        assert h.alerts()[0].status == "acknowledged"
        assert h.slack.messages(dm_channel_id(WORKER_SLACK)) == []


async def test_forget_keeps_the_alert_but_removes_the_familys_words_and_case(
    heard: Running,
) -> None:
    await _disclose(heard)
    await heard.slack.async_wait_for(lambda: heard.alerts()[0].delivered_at, timeout=15)
    await reply_after(heard.tg, CHAT, lambda: heard.tg.user_sends_text(CHAT, "forget"))
    await reply_after(heard.tg, CHAT, lambda: heard.tg.user_taps(CHAT, "Yes, delete it"))
    (alert,) = heard.alerts()
    assert alert.text is None and alert.invite_id is None and alert.respondent_id is None
    assert alert.categories and alert.at
    with heard.app.sessions() as s:
        assert repo.count_answers(s) == 0


@pytest.mark.parametrize("target", ["U0WORKER", "D0DM", "telegram:abc", "slack:U1"])
def test_a_duty_channel_must_be_a_channel_not_a_person(target: str) -> None:
    with pytest.raises(ConfigError, match=r"\[safeguarding\] alert_channel"):
        alerts.Alerts(replace(SafeguardingConfig(), alert_channel=target))


def test_duty_targets_accept_slack_and_telegram_channels() -> None:
    a = alerts.Alerts(
        replace(SafeguardingConfig(), alert_channel="slack:C1", fallback_channel="telegram:-1001")
    )
    assert a.duty_targets() == {"slack:C1", "telegram:-1001"}


def test_an_alert_is_never_sent_to_a_channel_registered_as_the_workers_own(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker registered with the duty channel as their Slack id (an
    administrator's slip: `heard worker add --slack-user C0DUTY`) must not be
    sent the alert about their own case; another worker's alert still goes."""
    desk = alerts.Alerts(replace(SafeguardingConfig(), alert_channel=DUTY))
    store = Store.open(db_url)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    try:
        with store.begin() as tx:
            admin.add_team(tx, "North", now)
            own = admin.add_worker(tx, "North", "Sam Jones", DUTY, now)
            other = admin.add_worker(tx, "North", "Ali Khan", "U0OTHER", now)
            for worker in (own, other):
                desk(tx, _alert_for(worker.id, worker.team_id, now))
        with store.begin() as tx:
            queued = list(tx.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            raised = list(tx.scalars(select(SafeguardingAlert).order_by(SafeguardingAlert.id)))
        assert [a.worker_id for a in raised] == [own.id, other.id]
        assert [(m.address, m.ref) for m in queued] == [(DUTY, str(raised[1].id))]
        (line,) = [r.getMessage() for r in caplog.records if "worker's own" in r.getMessage()]
        assert line == (
            f"alert #{raised[0].id}: the duty channel is the worker's own; not sent there"
        )
    finally:
        store.dispose()


def test_an_alert_about_the_duty_channels_own_worker_goes_to_the_fallback(db_url: str) -> None:
    """When the alert channel is the worker's own, the fallback channel hears
    of it at once: an alert never reaches nobody."""
    desk = alerts.Alerts(
        replace(SafeguardingConfig(), alert_channel=DUTY, fallback_channel=FALLBACK)
    )
    store = Store.open(db_url)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    try:
        with store.begin() as tx:
            admin.add_team(tx, "North", now)
            own = admin.add_worker(tx, "North", "Sam Jones", DUTY, now)
            desk(tx, _alert_for(own.id, own.team_id, now))
        with store.begin() as tx:
            queued = list(tx.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert [m.address for m in queued] == [FALLBACK]
    finally:
        store.dispose()


def _alert_for(worker_id: int, team_id: int, now: datetime) -> alerts.AlertContext:
    return alerts.AlertContext(
        respondent_id=None,
        team_id=team_id,
        worker_id=worker_id,
        invite_id=None,
        platform="telegram",
        locale="en",
        categories=("harm_from_others",),
        text=DISCLOSURE,
        at=now,
    )
