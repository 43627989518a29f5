"""Helpers shared by test modules: making teams, workers and invites, and a
family that talks to the service like a chat would."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from bot.config import Config
from bot.core.messages import Inbound, InboundKind, Outbound
from bot.core.questions import Questionnaire, load_file
from bot.core.safeguarding.decision import Level, Screening
from bot.runtime.app import App
from bot.service.alerts import Alerts
from bot.service.conversation import Conversations
from bot.service.staff import Staff
from storage import repo
from storage.models import Invite

TINY = load_file(Path(__file__).parent / "data" / "tiny.toml")
_keys = itertools.count(1)


def make_invite(
    session: Session,
    now: datetime,
    *,
    set_id: str = "tiny",
    locale: str = "en",
    token: str | None = None,
    code: str | None = None,
    team: str = "North",
    worker: str = "Sam",
    valid_for: timedelta = timedelta(days=30),
) -> Invite:
    n = next(_keys)
    t = repo.team_by_name(session, team) or repo.add_team(session, team, now)
    found = [w for w in repo.find_workers(session, worker) if w.team_id == t.id]
    w = found[0] if found else repo.add_worker(session, t, worker, None, now)
    invite = Invite(
        token=token or f"tok{n:06d}",
        code=code or f"CODE-{n:04d}",
        team_id=t.id,
        worker_id=w.id,
        set_id=set_id,
        locale=locale,
        created_at=now,
        expires_at=now + valid_for,
    )
    assert repo.add_invite(session, invite), "invite token or code taken"
    return invite


class ChatFamily:
    """A family in one chat, talking to the service."""

    def __init__(
        self, service: Conversations, chat_id: str = "1001", platform: str = "test"
    ) -> None:
        self.service = service
        self.chat_id = chat_id
        self.platform = platform
        self.replies: list[Outbound] = []

    def _send(self, kind: InboundKind, key: str | None = None, **fields: str) -> str:
        inbound = Inbound(self.platform, self.chat_id, key or f"k{next(_keys)}", kind, **fields)
        self.replies = self.service.handle(inbound)
        return "\n".join(r.text for r in self.replies)

    def start(self, token: str = "", key: str | None = None) -> str:
        return self._send(InboundKind.START, key, token=token)

    def say(self, text: str, key: str | None = None) -> str:
        return self._send(InboundKind.TEXT, key, text=text)

    def press(self, data: str, key: str | None = None) -> str:
        return self._send(InboundKind.BUTTON, key, data=data)

    def tap(self, code: str) -> str:
        for reply in reversed(self.replies):
            for c in reply.choices:
                if c.data.rpartition(":")[2] == code or c.label == code:
                    return self.press(c.data)
        raise AssertionError(f"no button {code!r} in the last replies")


def tiny_sets() -> dict[str, Questionnaire]:
    return {"tiny": TINY}


def staff_of(service: Conversations, config: Config) -> Staff:
    """The staff use cases over the same database as `service`."""
    return Staff(service, config)


def app_of(service: Conversations, config: Config) -> App:
    """An `App` around an existing service (for tests that build channels)."""
    return App(config, service.store, service, Alerts(config.safeguarding))


def screen_hurt(category: str) -> Callable[[str], Screening | None]:
    """A stand-in screen: an alert for any text with "hurt" in it."""

    def screen(text: str) -> Screening | None:
        return Screening(Level.ALERT, (category,), 1.0) if "hurt" in text else None

    return screen


def screen_words(alert: str = "hurt", review: str = "wobbly") -> Callable[[str], Screening | None]:
    """A stand-in screen: an alert for `alert`, the uncertain band for `review`."""

    def screen(text: str) -> Screening | None:
        if alert in text:
            return Screening(Level.ALERT, ("self_harm",), 0.99)
        if review in text:
            return Screening(Level.REVIEW, ("concern",), 0.5)
        return None

    return screen
