"""Heard on Slack, end to end: the real slack-bolt serving Heard's endpoint on
127.0.0.1, a fake Slack Web API on 127.0.0.1, properly signed requests, and
the real service on SQLite and PostgreSQL.

Each test reads as what a family or a worker does in Slack, then checks what
Slack was asked to show and what the database holds.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from adapters.slack import SlackChannel
from bot.config import Config, SlackConfig, TelegramConfig
from bot.core.texts import load
from bot.runtime.process import Runtime
from bot.service.conversation import Conversations
from storage import repo
from storage.models import Answer, Invite, ProcessedInbound, Promise, Respondent, Worker
from tests.conftest import SECRET, FakeClock
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    FakeSlack,
    SlackClientForTests,
    block_actions_body,
    bot_message_event,
    command_body,
    dm_channel_id,
    dm_message_event,
    event_body,
    url_verification_body,
)
from tests.helpers import app_of, make_invite, tiny_sets

MakeService = Callable[..., Conversations]
TEXTS = load()
SORRY = TEXTS.get("en", "try_later")
SORRY_CY = TEXTS.get("cy", "try_later")
SIGNING_SECRET = "heard-test-signing-secret-0123456789"
FAMILY = "U0FAMILY01"
WORKER = "U0WORKER01"


def slack_config(fake: FakeSlack, **slack: Any) -> Config:
    settings = {
        "enabled": True,
        "base_url": fake.base_url,
        "port": 0,
        "max_per_channel_per_second": 0.0,
        **slack,
    }
    return Config(
        database_url="sqlite://",
        pseudonym_secret=SECRET,
        telegram=TelegramConfig(bot_username="HeardTestBot"),
        slack=SlackConfig(**settings),
    )


@dataclass
class Slack:
    """Slack as the people using Heard see it: they write, tap and type
    commands; Slack signs the requests and shows what Heard posts."""

    fake: FakeSlack
    channel: SlackChannel
    service: Conversations
    url: str
    sender: SlackClientForTests = field(default_factory=lambda: SlackClientForTests(SIGNING_SECRET))
    _seen: dict[str, int] = field(default_factory=dict)
    runtime: Runtime | None = None

    async def post(self, body: str, **signing: Any) -> tuple[int, str]:
        status, _, text = await self.sender.apost(self.url, body, **signing)
        return status, text

    async def write(
        self, text: str, *, user: str = FAMILY, event_id: str | None = None, **signing: Any
    ) -> int:
        body = event_body(dm_message_event(user, dm_channel_id(user), text), event_id=event_id)
        status, _ = await self.post(body, **signing)
        return status

    async def tap(self, message: dict[str, Any], code: str, *, user: str = FAMILY) -> int:
        """Press the button whose choice ends in `code` (e.g. "yes", "4")."""
        (button,) = [b for b in _buttons(message) if b["value"].rpartition(":")[2] == code]
        body = block_actions_body(
            user_id=user,
            channel_id=message["channel"],
            action_id=button["action_id"],
            value=button["value"],
            message_ts=message["ts"],
            message={
                "type": "message",
                "ts": message["ts"],
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": message["text"],
                "blocks": message["blocks"],
            },
        )
        status, _ = await self.post(body)
        return status

    async def command(self, text: str, *, user: str = WORKER) -> tuple[int, str]:
        return await self.post(
            command_body(text=text, user_id=user, channel_id=dm_channel_id(user))
        )

    async def next_message(self, user: str = FAMILY) -> dict[str, Any]:
        """The next message Heard posts in `user`'s DM, after those seen so far."""
        channel = dm_channel_id(user)
        seen = self._seen.get(channel, 0)
        found = await self.fake.async_wait_for(
            lambda: self.fake.messages(channel, kind="message")[seen:],
            message=f"message #{seen + 1} in the DM",
        )
        self._seen[channel] = seen + 1
        return dict(found[0])

    async def settle(self) -> None:
        """Let work that Slack has already been acknowledged for finish."""
        for _ in range(200):
            sending = self.runtime.sender.in_flight if self.runtime else 0
            if not self.channel._tasks and not sending:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("Heard's Slack work did not finish")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


async def _running(
    fake: FakeSlack, service: Conversations, monkeypatch: pytest.MonkeyPatch, config: Config
) -> AsyncIterator[Slack]:
    monkeypatch.setenv("HEARD_SLACK_BOT_TOKEN", fake.bot_token)
    monkeypatch.setenv("HEARD_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    app = app_of(service, config)
    channel = SlackChannel.from_config(config, app.staff)
    runtime = Runtime(app, [channel])
    await runtime.start()
    assert channel.address is not None
    host, port = channel.address
    try:
        yield Slack(
            fake, channel, service, f"http://{host}:{port}{config.slack.path}", runtime=runtime
        )
    finally:
        await runtime.stop()


@pytest.fixture
async def slack(
    fake: FakeSlack, make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Slack]:
    """Heard with the tiny question set, as `heard run` would start it."""
    service = make_service(sets=tiny_sets(), default_set="tiny")
    async for running in _running(fake, service, monkeypatch, slack_config(fake)):
        yield running


@pytest.fixture
async def slack_shipped(
    fake: FakeSlack, make_service: MakeService, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Slack]:
    """Heard with the question sets it ships with, for invites made in Slack."""
    service = make_service()
    async for running in _running(fake, service, monkeypatch, slack_config(fake)):
        yield running


def _invite_code(service: Conversations, clock: FakeClock, locale: str = "en") -> str:
    with service.store.sessions.begin() as s:
        return make_invite(s, clock(), locale=locale).code


def _processed(service: Conversations) -> int:
    with service.store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(ProcessedInbound)) or 0)


def _register_worker(service: Conversations, clock: FakeClock, slack_user: str = WORKER) -> int:
    with service.store.sessions.begin() as s:
        team = repo.team_by_name(s, "North") or repo.add_team(s, "North", clock())
        return repo.add_worker(s, team, "Sam Jones", slack_user, clock()).id


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


# -- the family conversation --------------------------------------------------------


async def test_a_family_answers_the_whole_survey_in_a_dm(slack: Slack, clock: FakeClock) -> None:
    code = _invite_code(slack.service, clock)

    assert await slack.write(code.lower()) == 200
    consent = await slack.next_message()
    assert "four quick questions" in consent["blocks"][0]["text"]["text"]
    assert [b["text"]["text"] for b in _buttons(consent)] == ["Yes, let's start", "No, thanks"]

    await slack.tap(consent, "yes")
    first = await slack.next_message()
    assert "(1 of 4) Does your worker tell you the truth?" in first["text"]
    await slack.tap(first, "4")

    second = await slack.next_message()
    assert "(2 of 4)" in second["text"]
    await slack.write("no")

    third = await slack.next_message()
    assert "(3 of 4)" in third["text"]
    await slack.tap(third, "2")

    fourth = await slack.next_message()
    assert "(4 of 4)" in fourth["text"]
    await slack.write("Kind &amp; clear, see <https://example.org|her note>")

    thanks = await slack.next_message()
    assert "Thank you." in thanks["text"]

    with slack.service.store.sessions() as s:
        answers = s.scalars(select(Answer).order_by(Answer.id)).all()
        assert [(a.question_id, a.code, a.text) for a in answers] == [
            ("truth", "4", None),
            ("same_worker", "no", None),
            ("how_many", "2", None),
            ("comment", "text", "Kind & clear, see her note"),
        ]

    # Each pressed question now shows the choice and offers no buttons.
    await slack.settle()
    updates = {u["ts"]: u for u in slack.fake.messages(kind="update")}
    assert set(updates) == {consent["ts"], first["ts"], third["ts"]}
    for update in updates.values():
        assert not _buttons(update)
    assert updates[first["ts"]]["blocks"][-1]["elements"][0]["text"] == "✓ 🙂 Mostly"
    assert "(1 of 4)" in json.dumps(updates[first["ts"]]["blocks"], ensure_ascii=False)


async def test_typed_commands_work_in_a_dm(slack: Slack, clock: FakeClock) -> None:
    await slack.write(_invite_code(slack.service, clock))
    await slack.next_message()
    await slack.write("help")
    help_text = await slack.next_message()
    assert "SKIP" in help_text["text"]
    again = await slack.next_message()
    assert "four quick questions" in again["text"]
    await slack.write("stop")
    assert "not send you any more messages" in (await slack.next_message())["text"]


async def test_hide_deletes_heards_messages_and_says_what_to_do_in_slack(
    slack: Slack, clock: FakeClock
) -> None:
    channel = dm_channel_id(FAMILY)
    await slack.write(_invite_code(slack.service, clock))
    await slack.next_message()
    await slack.write("help")
    help_message = await slack.next_message()
    await slack.next_message()
    before = [m["ts"] for m in slack.fake.messages(channel, kind="message")]
    assert len(before) == 3

    assert await slack.tap(help_message, "hide") == 200
    hidden = await slack.next_message()
    await slack.settle()

    assert hidden["text"] == TEXTS.get("en", "slack_hidden")
    assert "Close conversation" in hidden["text"]
    deleted = {c["params"]["ts"] for c in slack.fake.calls("chat.delete")}
    assert deleted == set(before)
    assert all(m["deleted"] for m in slack.fake.messages(channel, kind="message")[:3])
    assert not slack.fake.messages(channel, kind="message")[-1]["deleted"]
    posts = slack.fake.calls("chat.postMessage")
    assert all(c["response"].get("ok") for c in posts), "no post failed (no_text)"
    assert len(posts) == 4


async def test_a_typed_hide_in_welsh_gets_the_welsh_slack_reply(
    slack: Slack, clock: FakeClock
) -> None:
    await slack.write(_invite_code(slack.service, clock, locale="cy"))
    await slack.next_message()
    await slack.write("cuddio")
    hidden = await slack.next_message()
    assert hidden["text"] == TEXTS.get("cy", "slack_hidden")
    assert "Close conversation" in hidden["text"] and "Wedi'i wneud" in hidden["text"]
    await slack.settle()
    assert len(slack.fake.calls("chat.delete")) == 1
    # A second hide deletes the first one's reply and answers again.
    await slack.write("hide")
    again = await slack.next_message()
    assert again["text"] == TEXTS.get("cy", "slack_hidden")
    await slack.settle()
    assert len(slack.fake.calls("chat.delete")) == 2


async def test_hide_still_answers_when_slack_will_not_delete(
    slack: Slack, clock: FakeClock
) -> None:
    await slack.write(_invite_code(slack.service, clock))
    await slack.next_message()
    slack.fake.respond_error("chat.delete", "cant_delete_message")
    await slack.write("hide")
    hidden = await slack.next_message()
    assert hidden["text"] == TEXTS.get("en", "slack_hidden")


async def test_the_bots_own_messages_are_ignored(slack: Slack) -> None:
    channel = dm_channel_id(FAMILY)
    status, _ = await slack.post(event_body(bot_message_event(channel, "Hello from Heard")))
    assert status == 200
    # An edit Heard makes itself (chat.update) arrives as message_changed: ignored too.
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel_type": "im",
        "channel": channel,
        "hidden": True,
        "message": {"type": "message", "bot_id": BOT_ID, "user": BOT_USER_ID, "text": "✓"},
        "previous_message": {"type": "message", "bot_id": BOT_ID, "text": "Q"},
        "ts": "1.2",
    }
    status, _ = await slack.post(event_body(edit))
    assert status == 200
    await slack.write("hello")
    reply = await slack.next_message()
    assert "type the code" in reply["text"]
    await slack.settle()
    assert len(slack.fake.messages(channel, kind="message")) == 1
    assert _processed(slack.service) == 1


async def test_a_file_gets_a_kind_reply(slack: Slack, clock: FakeClock) -> None:
    await slack.write(_invite_code(slack.service, clock))
    await slack.next_message()
    event = dm_message_event(FAMILY, dm_channel_id(FAMILY), "")
    event.update(subtype="file_share", files=[{"id": "F1", "name": "voice.m4a"}])
    await slack.post(event_body(event))
    assert "only read typed words and button taps" in (await slack.next_message())["text"]
    assert "four quick questions" in (await slack.next_message())["text"]


async def test_a_database_that_is_down_gets_a_kind_reply_and_the_retry_works(
    slack: Slack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _invite_code(slack.service, clock)
    real = repo.save_state

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(repo, "save_state", broken)
    await slack.write(code, event_id="EvDOWN0001")
    sorry = await slack.next_message()
    # Slack does not tell us the family's language: English first, then Welsh.
    assert sorry["text"] == f"{SORRY}\n\n{SORRY_CY}"
    assert "Traceback" not in json.dumps(slack.fake.messages())
    assert _processed(slack.service) == 0

    monkeypatch.setattr(repo, "save_state", real)
    await slack.write(code, event_id="EvDOWN0001", retry_num=1, retry_reason="http_error")
    assert "four quick questions" in (await slack.next_message())["text"]
    assert _processed(slack.service) == 1


# -- HTTP safety ------------------------------------------------------------------


async def test_a_bad_signature_is_refused_and_nothing_is_stored(slack: Slack) -> None:
    assert await slack.write("hello", bad_signature=True) == 401
    status, _ = await slack.post(
        command_body(text="invite", user_id=WORKER, channel_id="D1"), bad_signature=True
    )
    assert status == 401
    await asyncio.sleep(0.2)
    await slack.settle()
    assert slack.fake.messages() == []
    assert _processed(slack.service) == 0


async def test_a_stale_timestamp_is_refused(slack: Slack) -> None:
    assert await slack.write("hello", timestamp_offset=-6 * 60) == 401
    assert await slack.write("hello", timestamp_offset=+6 * 60) == 401
    await asyncio.sleep(0.2)
    await slack.settle()
    assert slack.fake.messages() == []
    assert _processed(slack.service) == 0


async def test_a_retried_event_is_handled_once(slack: Slack, clock: FakeClock) -> None:
    code = _invite_code(slack.service, clock)
    body = event_body(dm_message_event(FAMILY, dm_channel_id(FAMILY), code), event_id="EvRETRY01")
    assert (await slack.post(body))[0] == 200
    assert (await slack.post(body, retry_num=1, retry_reason="http_timeout"))[0] == 200
    assert (await slack.post(body, retry_num=2, retry_reason="http_timeout"))[0] == 200
    await slack.write("help")
    await slack.settle()
    texts = [m["text"] for m in slack.fake.messages(dm_channel_id(FAMILY), kind="message")]
    assert sum("four quick questions" in t for t in texts) == 2  # the start, and after help
    assert not any("used already" in t for t in texts)
    with slack.service.store.sessions() as s:
        keys = s.scalars(select(ProcessedInbound.message_key)).all()
    assert "EvRETRY01" in keys and len(keys) == 2


async def test_acknowledged_within_three_seconds_while_the_web_api_is_slow(
    slack: Slack,
) -> None:
    slack.fake.set_latency("chat.postMessage", 0.8)
    started = time.monotonic()
    assert await slack.write("hello") == 200
    assert time.monotonic() - started < 0.4
    assert "type the code" in (await slack.next_message())["text"]


async def test_url_verification_is_answered(slack: Slack) -> None:
    status, text = await slack.post(url_verification_body("c-42"))
    assert (status, json.loads(text)) == (200, {"challenge": "c-42"})


async def test_the_endpoint_listens_on_loopback_by_default(slack: Slack) -> None:
    assert slack.channel.address is not None
    assert slack.channel.address[0] == "127.0.0.1"
    assert [c["method"] for c in slack.fake.calls()] == ["auth.test"]


# -- workers: /heard ---------------------------------------------------------------


async def test_a_registered_worker_gets_an_invite_card_with_a_qr_code(
    slack_shipped: Slack, clock: FakeClock
) -> None:
    slack = slack_shipped
    worker_id = _register_worker(slack.service, clock)

    status, text = await slack.command("invite young cy")
    assert (status, text) == (200, "")

    card = await slack.fake.async_wait_for_message(
        dm_channel_id(WORKER), kind="ephemeral", contains="Code"
    )
    assert card["user"] == WORKER
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    code = re.search(r"`([A-Z0-9]{4}-[A-Z0-9]{4})`", shown)
    assert code is not None
    assert "https://t.me/HeardTestBot?start=" in shown
    assert "Cymraeg" in shown and "You and your social worker" in shown
    assert f"<@{BOT_USER_ID}>" in shown

    (upload,) = await slack.fake.async_wait_for(
        lambda: [u for u in slack.fake.uploads if u["completed"]]
    )
    assert upload["is_png"] is True
    assert upload["channel"] == dm_channel_id(WORKER)
    assert code.group(1) in upload["filename"]

    with slack.service.store.sessions() as s:
        invite = s.scalars(select(Invite)).one()
        assert (invite.worker_id, invite.set_id, invite.locale) == (worker_id, "young", "cy")
        assert invite.code == code.group(1) and invite.used_at is None

    # The family may instead send the code to the app in Slack.
    await slack.write(code.group(1))
    welcome = await slack.next_message()
    assert "Helo! Heard sydd yma." in welcome["text"]
    with slack.service.store.sessions() as s:
        assert s.scalars(select(Invite)).one().used_at == clock()


async def test_an_invite_uses_the_default_set_and_language(
    slack_shipped: Slack, clock: FakeClock
) -> None:
    _register_worker(slack_shipped.service, clock)
    await slack_shipped.command("invite")
    await slack_shipped.fake.async_wait_for(
        lambda: [u for u in slack_shipped.fake.uploads if u["completed"]]
    )
    with slack_shipped.service.store.sessions() as s:
        invite = s.scalars(select(Invite)).one()
        assert (invite.set_id, invite.locale) == ("adult", "en")
        assert invite.expires_at == clock() + timedelta(days=30)


async def test_someone_who_is_not_a_worker_is_refused_politely(
    slack_shipped: Slack, clock: FakeClock
) -> None:
    slack = slack_shipped
    _register_worker(slack.service, clock)
    stranger = "U0STRANGER"
    status, _ = await slack.command("invite", user=stranger)
    assert status == 200
    refusal = await slack.fake.async_wait_for_message(
        dm_channel_id(stranger), kind="ephemeral", contains="only social workers"
    )
    assert f"--slack-user {stranger}" in refusal["text"]
    await slack.settle()
    assert slack.fake.uploads == []
    with slack.service.store.sessions() as s:
        assert s.scalars(select(Invite)).all() == []


async def test_an_inactive_worker_is_refused(slack_shipped: Slack, clock: FakeClock) -> None:
    worker_id = _register_worker(slack_shipped.service, clock)
    with slack_shipped.service.store.sessions.begin() as s:
        worker = s.get(Worker, worker_id)
        assert worker is not None
        worker.active = False
    await slack_shipped.command("invite")
    await slack_shipped.fake.async_wait_for_message(kind="ephemeral", contains="only social")


async def test_help_and_report_answer_plainly(slack_shipped: Slack) -> None:
    status, text = await slack_shipped.command("help")
    assert status == 200
    help_text = json.loads(text)["text"]
    assert "/heard invite young" in help_text and "`cy` (Cymraeg)" in help_text

    status, _ = await slack_shipped.command("report team North")
    assert status == 200
    await slack_shipped.fake.async_wait_for_message(
        dm_channel_id(WORKER), kind="ephemeral", contains="only for managers"
    )

    status, text = await slack_shipped.command("")
    assert "/heard invite" in json.loads(text)["text"]

    status, text = await slack_shipped.command("invite teenager")
    assert status == 200
    assert "teenager" in json.loads(text)["text"]
    await slack_shipped.settle()
    assert [m["kind"] for m in slack_shipped.fake.messages()] == ["ephemeral"]


async def test_a_language_the_set_lacks_is_explained(
    slack_shipped: Slack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_worker(slack_shipped.service, clock)
    original = slack_shipped.service.texts
    names = {**original.names, "fr": "Français"}
    monkeypatch.setattr(
        slack_shipped.service, "texts", type(original)(names, original.strings, original.words)
    )
    await slack_shipped.command("invite fr")
    answer = await slack_shipped.fake.async_wait_for_message(kind="ephemeral")
    assert "not available" in answer["text"] and "Traceback" not in answer["text"]


async def test_an_invite_while_the_database_is_down_gets_a_kind_answer(
    slack_shipped: Slack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_worker(slack_shipped.service, clock)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(repo, "worker_by_slack_user", broken)
    await slack_shipped.command("invite")
    answer = await slack_shipped.fake.async_wait_for_message(kind="ephemeral")
    assert answer["text"] == SORRY  # workers are answered in the staff language


async def test_a_family_who_closed_the_dm_is_marked_unreachable(
    slack: Slack, clock: FakeClock
) -> None:
    await slack.write(_invite_code(slack.service, clock))
    await slack.next_message()
    slack.fake.respond_error("chat.postMessage", "channel_not_found")
    await slack.write("yes")
    await slack.settle()
    with slack.service.store.sessions() as s:
        assert s.scalars(select(Respondent.status)).one() == "unreachable"


async def test_a_worker_records_a_promise_with_slash_heard(
    slack_shipped: Slack, clock: FakeClock
) -> None:
    slack = slack_shipped
    _register_worker(slack.service, clock)
    with slack.service.store.sessions.begin() as s:
        invite = make_invite(s, clock(), set_id="adult", worker="Sam Jones")
        code = invite.code
        other = make_invite(s, clock(), set_id="adult", worker="Ola", code="OTHR-2345").code
    await slack.write(code)
    await slack.next_message()

    status, _ = await slack.command(f'promise {code} "I will ring you on Friday" by 3d')
    assert status == 200
    answer = await slack.fake.async_wait_for_message(
        dm_channel_id(WORKER), kind="ephemeral", contains="Promise recorded"
    )
    assert code in answer["text"] and "never one family's answer" in answer["text"]

    for text, says in (
        (f'promise {other} "I will ring you" by 3d', "another worker's"),
        ('promise ZZZZ-9999 "I will ring you" by 3d', "No case with the code"),
        (f'promise {code} "I will ring you" by 2020-01-01', "in the past"),
        (f'promise {code} "I will review your care plan" by 3d', "care plan"),
    ):
        await slack.command(text)
        reply = await slack.fake.async_wait_for_message(
            dm_channel_id(WORKER), kind="ephemeral", contains=says
        )
        assert reply["text"].startswith("Nothing was recorded")

    status, usage = await slack.command(f"promise {code} ring you")
    assert status == 200 and "Write it like this" in usage

    with slack.service.store.sessions() as s:
        assert [p.text for p in s.scalars(select(Promise))] == ["I will ring you on Friday"]
