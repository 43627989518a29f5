"""A promise over a real platform library: asked of a family on Telegram (real
python-telegram-bot against the fake Bot API) after its date, with quiet hours
and stop respected, then counted (and, for one family, hidden) in the report.
Recording one with `/heard promise` in Slack is tested in test_slack_channel.py,
and the whole way over Slack in test_slack_promises.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from adapters.telegram import TelegramChannel
from bot.config import Config, TelegramConfig
from bot.core.promises import PROMISES_KEPT
from bot.runtime.app import App, build
from bot.runtime.digests import DigestRunner
from bot.runtime.followups import FollowUpRunner
from bot.runtime.process import Runtime
from bot.service.staff import cli_viewer
from storage.models import OutboxMessage, Promise, Worker
from tests.conftest import SECRET, FakeClock
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers import make_invite


@pytest.fixture
async def telegram(
    db_url: str, clock: FakeClock
) -> AsyncIterator[tuple[App, FakeTelegram, FollowUpRunner]]:
    with FakeTelegram() as tg:
        config = Config(
            database_url=db_url,
            pseudonym_secret=SECRET,
            telegram=TelegramConfig(
                enabled=True, base_url=tg.base_url, bot_username=tg.bot_username
            ),
            promise_ask_after=timedelta(0),
        )
        app = build(config, clock=clock)
        channel = TelegramChannel(config.telegram, tg.token, poll_timeout=1)
        runtime = Runtime(app, [channel])
        await runtime.start()
        runner = FollowUpRunner(app, runtime.channels, executor=runtime.executor, owner="p-test")
        try:
            yield app, tg, runner
        finally:
            await runtime.stop()
            app.close()


async def _settled(app: App) -> None:
    """Wait until the running process has recorded every send it made. The
    test moves the clock on by hours at once, past every lease: a send not
    yet recorded would otherwise be claimed again by the runner's sender."""
    for _ in range(200):
        with app.sessions() as s:
            if not s.scalar(select(func.count()).where(OutboxMessage.status == "claimed")):
                return
        await asyncio.sleep(0.05)
    with app.sessions() as s:
        left = s.execute(
            select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.claimed_by).where(
                OutboxMessage.status == "claimed"
            )
        ).all()
    raise TimeoutError(f"the running process did not record its sends: {left}")


async def _join(tg: FakeTelegram, chat: int, token: str) -> None:
    tg.user_sends_start(chat, token)
    await tg.wait_for_async(lambda: tg.last_keyboard_message(chat))
    tg.user_taps(chat, str(tg.last_keyboard(chat)[0][0]))  # yes, in the family's language
    await tg.wait_for_async(lambda: "(1 o" in (tg.texts(chat)[-1] or ""))


async def test_a_family_on_telegram_is_asked_in_daytime_and_not_after_stop(
    telegram: tuple[App, FakeTelegram, FollowUpRunner], clock: FakeClock
) -> None:
    app, tg, runner = telegram
    clock.now = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    with app.sessions.begin() as s:
        kept = make_invite(s, clock(), set_id="adult", locale="cy")
        stops = make_invite(s, clock(), set_id="adult")
    await _join(tg, 501, kept.token)
    await _join(tg, 502, stops.token)
    for code, words in ((kept.code, "Bydda i'n eich ffonio"), (stops.code, "I will ring you")):
        app.staff.promises.add(code=code, text=words, due="3h", now=clock())
    tg.user_sends_text(502, "stop")
    await tg.wait_for_async(lambda: "any more messages" in (tg.texts(502)[-1] or ""))
    await _settled(app)

    # Either this runner's sender or the running process's may send a
    # message, so what counts is what each family received.
    clock.now = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # due, but quiet hours
    quiet = len(tg.texts(501))
    await runner.tick()
    await runner.sender.drain()
    await asyncio.sleep(0.5)
    assert len(tg.texts(501)) == quiet

    clock.now = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    before, stopped = len(tg.texts(501)), len(tg.texts(502))
    await runner.tick()
    await runner.sender.drain()
    await tg.wait_for_async(lambda: len(tg.texts(501)) >= before + 2)
    asked = tg.texts(501)[before:]
    assert "“Bydda i'n eich ffonio”" in (asked[0] or "")
    assert asked[1] == "Wnaeth hyn ddigwydd?"
    assert len(tg.texts(502)) == stopped

    tg.user_taps(501, "👍 Do")
    await tg.wait_for_async(lambda: "Diolch am ddweud" in (tg.texts(501)[-1] or ""))
    with app.sessions() as s:
        outcomes = sorted((p.outcome or "-") for p in s.scalars(select(Promise)))
    assert outcomes == ["-", "yes"]
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    report = app.staff.reports.report(cli_viewer(), period="2026-03")
    [kept] = [r for r in report.summary() if r.question == PROMISES_KEPT.id]
    assert kept.suppressed and kept.n is None  # one family's answer is never shown


async def _answer_the_survey(tg: FakeTelegram, chat: int) -> None:
    """Tap the first button of every question (on a text question, the only
    one: skip) until Heard says thank you."""
    for _ in range(40):
        if "Thank you. We share" in " ".join(t or "" for t in tg.texts(chat)[-2:]):
            return
        message = tg.last_keyboard_message(chat)
        assert message is not None, tg.texts(chat)[-3:]
        buttons = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
        await _tap_and_wait(tg, chat, buttons[0])
    raise AssertionError("the survey did not end")


async def _tap_and_wait(tg: FakeTelegram, chat: int, button: str) -> None:
    seen = tg.sent_count(chat)
    tg.user_taps(chat, button)
    await tg.wait_for_async(lambda: tg.sent_count(chat) > seen)


async def _until_said(tg: FakeTelegram, chat: int, words: str) -> None:
    await tg.wait_for_async(lambda: words in (tg.texts(chat)[-1] or ""))


@pytest.mark.parametrize("answered", [4, 5])
async def test_a_worker_on_telegram_sees_the_share_kept_only_from_k_families(
    telegram: tuple[App, FakeTelegram, FollowUpRunner], clock: FakeClock, answered: int
) -> None:
    """Five families answer on Telegram; `answered` of them answer their
    promise question (3 kept, then not kept). The worker's digest, sent to
    their own Telegram chat, shows the share kept at k families and nothing
    of it below k."""
    app, tg, runner = telegram
    clock.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    chats = list(range(601, 606))
    codes = []
    for chat in chats:
        with app.sessions.begin() as s:
            invite = make_invite(s, clock(), set_id="adult", worker="Sam Jones")
        codes.append(invite.code)
        await _join(tg, chat, invite.token)
        await _answer_the_survey(tg, chat)
    for code in codes:
        app.staff.promises.add(code=code, text="I will ring you on Friday", due="2h", now=clock())
    await _settled(app)

    clock.now = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    await runner.tick()
    await runner.sender.drain()
    for chat, happened in list(zip(chats, ["👍 Yes"] * 3 + ["👎 No"] * 2, strict=True))[:answered]:
        await _until_said(tg, chat, "Did this happen?")
        tg.user_taps(chat, happened)
        if "No" in happened:
            await _until_said(tg, chat, "say sorry")
            tg.user_taps(chat, str(tg.last_keyboard(chat)[0][0]))
        await _until_said(tg, chat, "Thank you for telling us")
    await _settled(app)

    worker_chat = 699
    with app.sessions.begin() as s:
        s.execute(update(Worker).where(Worker.name == "Sam Jones").values(telegram_chat="699"))
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    digests = DigestRunner(app, runner.sender.channels, owner="t-test")
    results = await digests.tick()
    assert ("Sam Jones", "sent") in [(r.who, r.status) for r in results]
    [text] = [
        str(m["text"])
        for m in tg.sent(worker_chat)
        if m["method"] == "sendMessage" and "What families said" in str(m["text"])
    ]
    assert "5 families answered" in text
    assert "Promises not kept" not in text, "two families' answers are never a share"
    if answered < 5:
        assert "Promises kept" not in text
    else:
        assert "Promises kept, as families told us: 60%" in text
