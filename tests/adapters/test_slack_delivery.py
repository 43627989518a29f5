"""Sending on Slack: pacing, 429 and outages, people and channels that cannot
be reached, `deliver` for digests and alerts, extra buttons, and start-up
checks. The real slack_sdk client against the fake Web API on 127.0.0.1; the
database plays no part here, so one SQLite file is enough."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackChannel
from adapters.slack.web import SlackRefused
from bot.config import Config, SafeguardingConfig, SlackConfig
from bot.core import texts
from bot.core.errors import ConfigError
from bot.core.messages import Choice, Inbound, Outbound
from bot.runtime.clock import utc_now
from bot.runtime.run import channels_for
from bot.service.conversation import Conversations
from bot.service.ports import RetryAfter, TransientError, Unreachable
from storage import db
from storage.unit import Store
from tests.conftest import SECRET
from tests.fakes.slack_api import (
    FakeSlack,
    SlackClientForTests,
    block_actions_body,
    dm_channel_id,
)
from tests.helpers import app_of, staff_of

SIGNING_SECRET = "heard-test-signing-secret-0123456789"
DM = "D0FAMILY01"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Conversations]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'heard.db'}")
    db.upgrade(engine)
    yield Conversations(
        Store(engine), secret=SECRET, texts=texts.load(), clock=utc_now, monotonic=time.monotonic
    )
    engine.dispose()


def config_for(fake: FakeSlack, **slack: Any) -> Config:
    settings = {"enabled": True, "base_url": fake.base_url, "port": 0, **slack}
    settings.setdefault("max_per_channel_per_second", 0.0)
    return Config(
        database_url="sqlite://",
        pseudonym_secret=SECRET,
        slack=SlackConfig(**settings),
        safeguarding=SafeguardingConfig(alert_channel="C0DUTY"),
    )


class Recorder:
    def __init__(self) -> None:
        self.inbound: list[Inbound] = []
        self.unreachable: list[tuple[str, str]] = []

    async def on_inbound(self, inbound: Inbound) -> list[Outbound]:
        self.inbound.append(inbound)
        return []

    async def on_unreachable(self, platform: str, chat_id: str) -> None:
        self.unreachable.append((platform, chat_id))


async def started(
    fake: FakeSlack, service: Conversations, recorder: Recorder | None = None, **slack: Any
) -> SlackChannel:
    config = config_for(fake, **slack)
    channel = SlackChannel(
        config,
        staff_of(service, config),
        bot_token=fake.bot_token,
        signing_secret=SIGNING_SECRET,
        backoff=(0.01,),
    )
    recorder = recorder or Recorder()
    await channel.start(recorder.on_inbound, recorder.on_unreachable)
    return channel


@pytest.fixture
async def channel(fake: FakeSlack, service: Conversations) -> AsyncIterator[SlackChannel]:
    running = await started(fake, service)
    yield running
    await running.stop()


def hello(text: str = "Hello") -> Outbound:
    return Outbound("slack", DM, text, (Choice("c1:yes", "Yes"), Choice("c1:no", "No")))


# -- send ------------------------------------------------------------------------


async def test_send_posts_text_and_buttons_and_returns_the_ts(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    ts = await channel.send(hello())
    (message,) = fake.messages(DM)
    assert message["ts"] == ts
    assert message["text"] == "Hello"
    assert [e["value"] for e in message["blocks"][-1]["elements"]] == ["c1:yes", "c1:no"]


async def test_a_429_is_waited_out_and_the_message_sent_once(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    await channel.send(hello())
    calls = fake.calls("chat.postMessage")
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[1]["time"] - calls[0]["time"] >= 0.95
    assert len(fake.messages(DM)) == 1


async def test_a_long_retry_after_is_handed_back_to_the_caller(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=120)
    with pytest.raises(RetryAfter) as info:
        await channel.send(hello())
    assert info.value.seconds == 120
    assert fake.messages(DM) == []


async def test_an_outage_is_retried_then_reported_as_transient(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    fake.fail_next("chat.postMessage", status=503, count=2)
    await channel.send(hello())
    assert [c["status"] for c in fake.calls("chat.postMessage")] == [503, 503, 200]

    fake.fail_next("chat.postMessage", status=500, count=10)
    with pytest.raises(TransientError):
        await channel.send(hello())
    assert len(fake.calls("chat.postMessage")) == 3 + 4


async def test_a_closed_dm_is_unreachable(fake: FakeSlack, channel: SlackChannel) -> None:
    fake.respond_error("chat.postMessage", "channel_not_found")
    with pytest.raises(Unreachable):
        await channel.send(hello())


async def test_a_rejected_token_is_not_blamed_on_the_family(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    fake.respond_error("chat.postMessage", "account_inactive")
    with pytest.raises(SlackRefused) as info:
        await channel.send(hello())
    assert not isinstance(info.value, Unreachable)
    assert info.value.bad_credentials


async def test_messages_to_one_channel_are_paced(fake: FakeSlack, service: Conversations) -> None:
    channel = await started(fake, service, max_per_channel_per_second=10.0)
    try:
        await asyncio.gather(
            *(channel.send(hello(f"m{n}")) for n in range(6)),
            channel.send(Outbound("slack", "D0OTHER", "elsewhere")),
        )
    finally:
        await channel.stop()
    calls = fake.calls("chat.postMessage")
    ours = [c["time"] for c in calls if c["params"]["channel"] == DM]
    (other,) = [c["time"] for c in calls if c["params"]["channel"] == "D0OTHER"]
    assert ours[2] - ours[0] < 0.1  # a burst of three goes at once (unpaced: 0.2 s)
    assert ours[5] - ours[0] >= 0.25  # then one every 0.1 s (0.3 s, less jitter)
    assert other < ours[3]  # another channel does not wait its turn
    assert fake.too_many_requests_count == 0


# -- deliver: people and channels ---------------------------------------------------


async def test_deliver_to_a_person_opens_their_dm(fake: FakeSlack, channel: SlackChannel) -> None:
    ts = await channel.deliver("U0WORKER01", "Your digest is ready.")
    (message,) = fake.messages(dm_channel_id("U0WORKER01"))
    assert message["ts"] == ts and message["text"] == "Your digest is ready."
    await channel.deliver("U0WORKER01", "Again")
    assert len(fake.calls("conversations.open")) == 1


async def test_deliver_to_a_channel_with_own_blocks(fake: FakeSlack, channel: SlackChannel) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Alert* for case 12"}}]
    await channel.deliver("C0DUTYTEAM", "Alert for case 12 <urgent>", blocks)
    (message,) = fake.messages("C0DUTYTEAM")
    assert message["blocks"] == blocks
    assert message["text"] == "Alert for case 12 &lt;urgent&gt;"
    assert fake.calls("conversations.open") == []


async def test_deliver_to_someone_who_left_is_unreachable(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    fake.respond_error("conversations.open", "user_disabled")
    with pytest.raises(Unreachable):
        await channel.deliver("U0GONE0001", "Hello")


async def test_deliver_splits_a_long_text(fake: FakeSlack, channel: SlackChannel) -> None:
    text = "\n".join(f"Line {n}: " + "x" * 90 for n in range(80))
    await channel.deliver("C0DIGESTS", text)
    (message,) = fake.messages("C0DIGESTS")
    sections = [b["text"]["text"] for b in message["blocks"]]
    assert len(sections) == 3 and all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections) == text


# -- extra buttons -------------------------------------------------------------------


async def test_an_extra_button_handler_gets_its_presses(
    fake: FakeSlack, channel: SlackChannel
) -> None:
    pressed: list[tuple[str, str, str, str]] = []
    done = asyncio.Event()

    async def acknowledge(user: str, value: str, channel_id: str, ts: str) -> None:
        pressed.append((user, value, channel_id, ts))
        done.set()

    channel.add_action_handler("heard_alert_ack", acknowledge)
    assert channel.address is not None
    host, port = channel.address
    body = block_actions_body(
        user_id="U0DUTY0001",
        channel_id="C0DUTYTEAM",
        action_id="heard_alert_ack",
        value="alert:17",
        message_ts="1700000000.000100",
    )
    status, _, _ = await SlackClientForTests(SIGNING_SECRET).apost(
        f"http://{host}:{port}/slack/events", body
    )
    assert status == 200
    await asyncio.wait_for(done.wait(), 2)
    assert pressed == [("U0DUTY0001", "alert:17", "C0DUTYTEAM", "1700000000.000100")]

    with pytest.raises(ValueError):
        channel.add_action_handler("heard_choice", acknowledge)


# -- start-up -------------------------------------------------------------------------


async def test_a_rejected_token_stops_start_up_naming_the_key(
    fake: FakeSlack, service: Conversations
) -> None:
    config = config_for(fake)
    channel = SlackChannel(
        config, staff_of(service, config), bot_token="xoxb-revoked", signing_secret=SIGNING_SECRET
    )
    recorder = Recorder()
    with pytest.raises(ConfigError, match=r"\[slack\] bot_token_env: Slack rejected the token"):
        await channel.start(recorder.on_inbound, recorder.on_unreachable)
    assert channel.address is None


async def test_a_port_in_use_stops_start_up_naming_the_key(
    fake: FakeSlack, service: Conversations
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=r"\[slack\] port"):
            await started(fake, service, port=port)


def test_from_config_reads_the_secrets_it_needs(
    fake: FakeSlack, service: Conversations, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_of(service, config_for(fake))
    monkeypatch.delenv("HEARD_SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("HEARD_SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("HEARD_SLACK_APP_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"\[slack\] bot_token_env: .*HEARD_SLACK_BOT_TOKEN"):
        SlackChannel.from_config(app.config, app.staff)
    monkeypatch.setenv("HEARD_SLACK_BOT_TOKEN", fake.bot_token)
    with pytest.raises(ConfigError, match=r"\[slack\] signing_secret_env"):
        SlackChannel.from_config(app.config, app.staff)
    socket_mode = config_for(fake, mode="socket")
    with pytest.raises(ConfigError, match=r"\[slack\] app_token_env"):
        SlackChannel.from_config(socket_mode, app.staff)
    with pytest.raises(ConfigError, match=r"\[slack\] path"):
        SlackChannel.from_config(config_for(fake, path="slack/events"), app.staff)

    monkeypatch.setenv("HEARD_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    (channel,) = channels_for(app)
    assert isinstance(channel, SlackChannel) and channel.platform == "slack"


async def test_socket_mode_with_a_rejected_app_token_stops_start_up(
    fake: FakeSlack, service: Conversations
) -> None:
    config = config_for(fake, mode="socket")
    channel = SlackChannel(
        config, staff_of(service, config), bot_token=fake.bot_token, app_token="xapp-bad"
    )
    recorder = Recorder()
    with pytest.raises(ConfigError, match=r"\[slack\] app_token_env: Slack rejected"):
        await channel.start(recorder.on_inbound, recorder.on_unreachable)
    assert [c["method"] for c in fake.calls()] == ["auth.test", "apps.connections.open"]
