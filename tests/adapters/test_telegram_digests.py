"""A worker without Slack gets their digest on Telegram, through real
python-telegram-bot against the fake Bot API: the digest as a message and
the chart as a photo, once."""

from __future__ import annotations

from sqlalchemy import update

from bot.runtime.digests import DigestRunner
from bot.service.staff import cli_viewer
from storage.models import Worker
from tests.adapters.telegram_harness import Heard
from tests.digests_seed import NOW, SAM, seed_team
from tests.fakes.telegram_api import FakeTelegram

CHAT = "424242"


async def test_a_worker_on_telegram_gets_the_digest_and_the_chart_once(db_url: str) -> None:
    with FakeTelegram() as tg:
        heard = Heard(db_url, tg)
        heard.app.conversation.clock = lambda: NOW
        seed_team(heard.app.store.engine)
        with heard.app.store.engine.begin() as conn:
            conn.execute(
                update(Worker)
                .where(Worker.id == SAM)
                .values(slack_user_id=None, telegram_chat=CHAT)
            )
        async with heard:
            runner = DigestRunner(heard.app, {"telegram": heard.channel}, owner="test")
            results = await runner.tick()
            assert ("Sam Jones", "sent") in [(r.who, r.status) for r in results]
            assert await runner.tick() == []
        sent = tg.sent(CHAT)
        assert [s["method"] for s in sent] == ["sendMessage", "sendPhoto"]
        report = heard.app.staff.reports.report(cli_viewer(), worker="Sam Jones", period="2026-11")
        text = sent[0]["text"]
        assert "7 families answered" in text
        overall = next(r for r in report.summary() if r.dimension == "overall" and not r.question)
        assert f"Overall: {overall.mean:.1f} out of 5" in text
