"""The console as a family uses it: "hide" and a failure on our side get
their words from the locale files, in the family's language where known."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from adapters.console import ConsoleChat
from bot.core.texts import load
from bot.service.conversation import Conversations
from storage import repo
from tests.conftest import FakeClock
from tests.helpers import make_invite, tiny_sets

TEXTS = load()


def _chat(
    make_service: Callable[..., Conversations], clock: FakeClock, locale: str = ""
) -> tuple[ConsoleChat, io.StringIO, str]:
    service = make_service(sets=tiny_sets(), default_set="tiny")
    with service.store.sessions.begin() as s:
        code = make_invite(s, clock(), locale=locale or "en").code
    out = io.StringIO()
    return ConsoleChat(service.handle, "console-1", out, locale=locale), out, code


def test_hide_says_what_telegram_would_do_and_gives_the_hidden_reply(
    make_service: Callable[..., Conversations], clock: FakeClock
) -> None:
    chat, out, code = _chat(make_service, clock)
    chat.run([code, "hide"])
    said = out.getvalue()
    assert TEXTS.get("en", "console_hidden") in said
    assert TEXTS.get("cy", "console_hidden") in said  # language not given: both
    assert f"Heard: {TEXTS.get('en', 'hidden')}" in said
    assert "Heard: \n" not in said and not said.rstrip().endswith("Heard:")


def test_in_welsh_the_console_speaks_welsh_only(
    make_service: Callable[..., Conversations], clock: FakeClock
) -> None:
    chat, out, code = _chat(make_service, clock, locale="cy")
    chat.run([code, "cuddio"])
    said = out.getvalue()
    assert TEXTS.get("cy", "console_hidden") in said
    assert TEXTS.get("en", "console_hidden") not in said
    assert TEXTS.get("cy", "hidden") in said


@pytest.mark.parametrize(("locale", "first", "absent"), [("", "en", ""), ("cy", "cy", "en")])
def test_a_database_that_is_down_gets_an_apology(
    make_service: Callable[..., Conversations],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    locale: str,
    first: str,
    absent: str,
) -> None:
    chat, out, code = _chat(make_service, clock, locale=locale)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(repo, "save_state", broken)
    chat.run([code])
    said = out.getvalue()
    assert said.startswith(f"Heard: {TEXTS.get(first, 'try_later')}")
    if absent:
        assert TEXTS.get(absent, "try_later") not in said
    else:
        assert TEXTS.get("cy", "try_later") in said
