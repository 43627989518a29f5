"""A worker without Slack binds their own Telegram chat with a one-time
invite link (`heard worker invite`), through real python-telegram-bot against
the fake Bot API: Start binds it and their digest then comes there; a used or
expired link gets a kind reply and binds nothing; the chat never becomes a
family's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.runtime.digests import DigestRunner
from storage.models import Respondent, Worker
from tests.adapters.telegram_harness import Heard, reply_after
from tests.digests_seed import NOW, SAM, seed_team
from tests.fakes.telegram_api import FakeTelegram

WORKER_CHAT = 515151
OTHER_CHAT = 626262


def _token(link: str) -> str:
    assert link.startswith("https://t.me/") and "?start=" in link
    return link.rsplit("start=", 1)[1]


def _chat_of(heard: Heard) -> str | None:
    with heard.app.sessions() as s:
        return s.scalar(select(Worker.telegram_chat).where(Worker.id == SAM))


def _families(heard: Heard) -> int:
    with heard.app.sessions() as s:
        return len(list(s.scalars(select(Respondent.id))))


async def test_a_worker_binds_their_chat_once_and_gets_their_digest_there(db_url: str) -> None:
    with FakeTelegram() as tg:
        heard = Heard(db_url, tg)
        clock = [NOW]
        heard.app.conversation.clock = lambda: clock[0]
        heard.app.staff.clock = lambda: clock[0]
        seed_team(heard.app.store.engine)
        with heard.app.store.engine.begin() as conn:
            conn.execute(update(Worker).where(Worker.id == SAM).values(slack_user_id=None))
        made = heard.app.staff.worker_link("Sam Jones", timedelta(days=7))
        assert made.worker_name == "Sam Jones" and made.expires_at == NOW + timedelta(days=7)
        token = _token(made.link)
        families = _families(heard)
        async with heard:
            reply = await reply_after(
                tg, WORKER_CHAT, lambda: tg.user_sends_start(WORKER_CHAT, token)
            )
            assert "Sam Jones" in reply and "digests will come to this chat" in reply
            assert _chat_of(heard) == str(WORKER_CHAT)

            again = await reply_after(
                tg, OTHER_CHAT, lambda: tg.user_sends_start(OTHER_CHAT, token)
            )
            assert "already been used" in again
            assert _chat_of(heard) == str(WORKER_CHAT)

            stale = _token(heard.app.staff.worker_link("Sam Jones", timedelta(days=7)).link)
            clock[0] = NOW + timedelta(days=8)
            late = await reply_after(tg, OTHER_CHAT, lambda: tg.user_sends_start(OTHER_CHAT, stale))
            assert "expired" in late and "new one" in late
            assert _chat_of(heard) == str(WORKER_CHAT)

            clock[0] = NOW
            runner = DigestRunner(heard.app, {"telegram": heard.channel}, owner="test")
            results = await runner.tick()
            assert ("Sam Jones", "sent") in [(r.who, r.status) for r in results]
        assert any("7 families answered" in (m["text"] or "") for m in tg.sent(WORKER_CHAT))
        assert _families(heard) == families
