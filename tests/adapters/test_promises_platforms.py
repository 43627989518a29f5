"""A promise over a real platform library: asked of a family on Telegram (real
python-telegram-bot against the fake Bot API) after its date, with quiet hours
and stop respected, then counted in the figures. Recording one with
`/heard promise` in Slack is tested in test_slack_channel.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.telegram import TelegramChannel
from bot.config import Config, TelegramConfig
from bot.runtime.app import App, build
from bot.runtime.followups import FollowUpRunner
from bot.runtime.process import Runtime
from storage.models import OutboxMessage, Promise
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
    figures = app.staff.promises.figures(clock() - timedelta(days=1), clock() + timedelta(days=1))
    [team] = figures.promises_by_team
    assert (team.answered, team.kept, team.families) == (1, 1, 1)
    with app.sessions() as s:
        outcomes = sorted((p.outcome or "-") for p in s.scalars(select(Promise)))
    assert outcomes == ["-", "yes"]
