"""Heard's Telegram channel, running for real against the fake Bot API."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import timedelta
from typing import Any

from adapters.telegram import TelegramChannel
from bot.config import Config, TelegramConfig
from bot.core import texts
from bot.runtime.app import App, build
from bot.runtime.process import Runtime
from bot.service import admin
from storage import db, repo
from tests.conftest import SECRET
from tests.fakes.telegram_api import FakeTelegram

WEBHOOK_SECRET = "webhook-secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def telegram_config(tg: FakeTelegram, **overrides: Any) -> TelegramConfig:
    cfg = TelegramConfig(
        enabled=True,
        base_url=tg.base_url,
        bot_username=tg.bot_username,
        max_per_second=0,
        max_per_chat_per_second=0,
    )
    return replace(cfg, **overrides)


class Heard:
    """`heard run` with only the Telegram channel, in the test's event loop."""

    def __init__(self, db_url: str, tg: FakeTelegram, **telegram: Any) -> None:
        self.tg = tg
        self.config = Config(
            database_url=db_url,
            pseudonym_secret=SECRET,
            telegram=telegram_config(tg, **telegram),
        )
        self.app: App = build(self.config)
        self.channel = TelegramChannel(
            self.config.telegram, tg.token, webhook_secret=WEBHOOK_SECRET, poll_timeout=1
        )
        self.runtime = Runtime(self.app, [self.channel])

    async def __aenter__(self) -> Heard:
        await self.runtime.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.stop()
        self.app.close()

    def invite(self, set_id: str = "adult", locale: str = "en") -> str:
        now = self.app.conversation.clock()
        with self.app.sessions.begin() as s:
            team = repo.team_by_name(s, "North") or admin.add_team(s, "North", now)
            found = [w for w in repo.find_workers(s, "Sam") if w.team_id == team.id]
            worker = found[0] if found else admin.add_worker(s, "North", "Sam", None, now)
            card, _ = admin.create_invite(
                s,
                worker,
                set_id=set_id,
                locale=locale,
                now=now,
                valid_for=timedelta(days=30),
                bot_username=self.config.telegram.bot_username,
                texts=texts.load(),
            )
        return card.link.rsplit("start=", 1)[1]

    def answers(self) -> list[tuple[str, str]]:
        with self.app.sessions() as s:
            from sqlalchemy import select

            from storage.models import Answer

            return [(a.question_id, a.code) for a in s.scalars(select(Answer).order_by(Answer.id))]

    def respondent_status(self) -> list[str]:
        with self.app.sessions() as s:
            from sqlalchemy import select

            from storage.models import Respondent

            return list(s.scalars(select(Respondent.status)))


def migrated(db_url: str) -> None:
    eng = db.make_engine(db_url)
    db.upgrade(eng)
    eng.dispose()


async def reply_after(tg: FakeTelegram, chat: int, action: Any, *, count: int = 1) -> str:
    """Do `action` (a user's move at the fake) and wait for `count` new bot messages."""
    before = tg.sent_count(chat)
    action()
    sent = await tg.wait_for_async(
        lambda: tg.sent(chat)[before:] if tg.sent_count(chat) >= before + count else None,
        timeout=10,
        message=f"{count} new message(s) to chat {chat}",
    )
    return "\n".join(m["text"] or "" for m in sent)
