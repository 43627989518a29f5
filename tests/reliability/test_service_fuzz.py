"""Whatever a family sends, in whatever order, and however often the platform
delivers it: the service answers, stores each answer at most once, and keeps a
state it can resume from."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.core import texts
from bot.core.engine import State
from bot.core.messages import Inbound, InboundKind
from bot.service.conversation import Conversations
from storage import db
from storage.models import Answer, Conversation
from storage.unit import Store
from tests.conftest import SECRET, FakeClock
from tests.helpers import TINY, make_invite, tiny_sets

moves = st.one_of(
    st.tuples(
        st.just("text"),
        st.sampled_from(
            [
                "1",
                "5",
                "yes",
                "stop",
                "start",
                "skip",
                "help",
                "forget",
                "language",
                "cy",
                "hello",
                "x" * 2100,
            ]
        ),
    ),
    st.tuples(st.just("text"), st.text(max_size=60)),
    st.tuples(
        st.just("button"),
        st.sampled_from(
            [
                "c1:yes",
                "c1:no",
                "q1.0:3",
                "q1.1:no",
                "q1.2:4",
                "q1.3:skip",
                "forget:yes",
                "forget:no",
                "lang:cy",
                "cmd:stop",
            ]
        ),
    ),
    st.tuples(st.just("button"), st.text(max_size=70)),
    st.tuples(st.just("sticker"), st.just("")),
    st.tuples(st.just("start"), st.just("")),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(moves, st.booleans()), min_size=1, max_size=25))
def test_random_conversations_with_redeliveries(
    tmp_path_factory: object, script: list[tuple[tuple[str, str], bool]]
) -> None:
    folder = Path(tmp_path_factory.mktemp("fuzz"))  # type: ignore[attr-defined]
    engine = db.make_engine(f"sqlite:///{folder / 'h.db'}")
    db.upgrade(engine)
    clock = FakeClock()
    service = Conversations(
        Store(engine),
        secret=SECRET,
        texts=texts.load(),
        clock=clock,
        monotonic=time.monotonic,
        sets=tiny_sets(),
        default_set="tiny",
    )
    with service.store.sessions.begin() as s:
        token = make_invite(s, clock()).token
    service.handle(Inbound("fuzz", "1", "start", InboundKind.START, token=token))
    for n, ((kind, value), redeliver) in enumerate(script):
        inbound = {
            "text": Inbound("fuzz", "1", f"m{n}", InboundKind.TEXT, text=value),
            "button": Inbound("fuzz", "1", f"m{n}", InboundKind.BUTTON, data=value),
            "sticker": Inbound(
                "fuzz", "1", f"m{n}", InboundKind.UNSUPPORTED, unsupported_what="sticker"
            ),
            "start": Inbound("fuzz", "1", f"m{n}", InboundKind.START),
        }[kind]
        replies = service.handle(inbound)
        assert replies, f"no reply to {kind} {value!r}"
        assert all(r.text for r in replies if not r.hide_chat)
        if redeliver:
            assert service.handle(inbound) == []
    with service.store.sessions() as s:
        per_question = s.execute(
            select(Answer.round, Answer.question_id, func.count()).group_by(
                Answer.round, Answer.question_id
            )
        ).all()
        assert all(count == 1 for _, _, count in per_question)
        assert len(per_question) <= len(TINY.questions) * 3
        for raw in s.scalars(select(Conversation.state)):
            assert State.from_dict(raw).to_dict() == raw
    engine.dispose()
