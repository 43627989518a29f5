"""A poison message never blocks: what the database refuses again and again is
set aside after a few attempts, counted without its words, and the family and
everyone else carry on. Its words are still screened for danger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.core.engine import Policy
from bot.core.errors import RejectedData
from bot.core.messages import Inbound, InboundKind
from bot.service.conversation import SET_ASIDE_AFTER, Conversations, ReplyQueue
from storage.models import OutboxMessage, ProcessedInbound, SetAsideInbound
from tests.conftest import Alerts, FakeClock
from tests.helpers import ChatFamily, make_invite, screen_hurt, tiny_sets

POISON = "he said he will hurt me REFUSED-BY-THE-DATABASE"
"""Text that the database refuses to store as an answer (see `_refuse_marked`).

Heard cleans every inbound text at the edge (`bot.core.clean`), so what used
to poison a step, a NUL or a lone surrogate, is stored now; a trigger stands
for whatever else a database may refuse."""


def _refuse_marked(service: Conversations) -> None:
    """A trigger on `answers` that refuses any text holding the marker."""
    statements = {
        "sqlite": [
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON answers "
            "WHEN NEW.text LIKE '%REFUSED-BY-THE-DATABASE%' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ],
        "postgresql": [
            "CREATE FUNCTION refuse_marked() RETURNS trigger AS $$ BEGIN "
            "IF NEW.text LIKE '%REFUSED-BY-THE-DATABASE%' THEN "
            "RAISE EXCEPTION 'refused' USING ERRCODE = '22000'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON answers "
            "FOR EACH ROW EXECUTE FUNCTION refuse_marked()",
        ],
    }[service.store.dialect]
    with service.store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture
def service(make_service: Callable[..., Conversations]) -> Conversations:
    policy = Policy(
        screen=screen_hurt("harm"), help_now={"en": "Call 999 now if you are in danger."}
    )
    made = make_service(sets=tiny_sets(), default_set="tiny", policy=policy)
    _refuse_marked(made)
    return made


def _at_the_comment(service: Conversations, clock: FakeClock, chat: str) -> ChatFamily:
    with service.store.sessions.begin() as s:
        token = make_invite(s, clock()).token
    fam = ChatFamily(service, chat_id=chat)
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    return fam


def test_a_refused_message_is_set_aside_and_still_raises_its_alert(
    service: Conversations, clock: FakeClock, alerts: Alerts
) -> None:
    fam = _at_the_comment(service, clock, "2001")
    poison = Inbound("test", fam.chat_id, "poison-1", InboundKind.TEXT, text=POISON)
    for _ in range(SET_ASIDE_AFTER - 1):
        with pytest.raises(RejectedData):
            service.handle(poison)
    # Meanwhile another family is not held up.
    other = _at_the_comment(service, clock, "2002")
    assert "Thank you" in other.say("Kind and clear")

    replies = service.handle(poison)
    assert replies[0].text.startswith("Call 999 now")
    assert "could not take that message" in replies[-1].text
    alert = alerts.raised[-1]
    assert alert.categories == ("harm",) and "hurt" in alert.text
    assert service.handle(poison) == []  # now a redelivery, ignored
    with service.store.sessions() as s:
        aside = s.scalars(select(SetAsideInbound)).all()
        assert [(a.platform, a.attempts, a.alerted) for a in aside] == [
            ("test", SET_ASIDE_AFTER, True)
        ]
        assert s.get(ProcessedInbound, ("test", "poison-1")) is not None
    # The family can answer again in other words.
    assert "Thank you" in fam.say("Kind and clear")
    assert "Set aside (inbound messages the database refused): 1" in service_report(service)


def test_set_aside_replies_are_durable_too(service: Conversations, clock: FakeClock) -> None:
    fam = _at_the_comment(service, clock, "2003")
    poison = Inbound("test", fam.chat_id, "poison-2", InboundKind.TEXT, text=POISON)
    queue = ReplyQueue("me", timedelta(minutes=2))
    for _ in range(SET_ASIDE_AFTER - 1):
        with pytest.raises(RejectedData):
            service.handle(poison, queue=queue)
    replies = service.handle(poison, queue=queue)
    assert all(r.outbox_id is not None for r in replies)
    with service.store.sessions() as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.kind, r.status, r.claimed_by) for r in rows] == [("reply", "claimed", "me")] * 2
        assert rows[0].text.startswith("Call 999 now")


def service_report(service: Conversations) -> str:
    from bot.config import ScheduleConfig
    from bot.service import cases

    with service.store.read() as tx:
        return cases.report(tx, ScheduleConfig(), service.clock())
