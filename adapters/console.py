"""The console adapter: the family conversation in a terminal.

Buttons become numbered lines; typing the number presses the button, and
typing words works as it does in any chat. `[sticker]`, `[voice]` and
`[photo]` stand in for things a terminal cannot send.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable
from typing import TextIO

from bot.core.errors import StorageError
from bot.core.messages import Choice, Inbound, InboundKind, Outbound
from bot.core.texts import Texts, load

PLATFORM = "console"
UNSUPPORTED = {"[sticker]": "sticker", "[voice]": "voice", "[photo]": "photo", "[file]": "file"}


def render(out: Outbound) -> str:
    """Text, then each choice on its own numbered line."""
    lines = [f"Heard: {out.text}"]
    lines += [f"  {n}. {c.label}" for n, c in enumerate(out.choices, start=1)]
    return "\n".join(lines)


def to_inbound(line: str, choices: tuple[Choice, ...], chat_id: str, key: str) -> Inbound:
    """A typed line as an `Inbound`: a number within the last choices presses
    that button; anything else is text."""
    stripped = line.strip()
    if stripped.isdigit() and 1 <= int(stripped) <= len(choices):
        data = choices[int(stripped) - 1].data
        return Inbound(PLATFORM, chat_id, key, InboundKind.BUTTON, data=data)
    if stripped.lower() in UNSUPPORTED:
        what = UNSUPPORTED[stripped.lower()]
        return Inbound(PLATFORM, chat_id, key, InboundKind.UNSUPPORTED, unsupported_what=what)
    return Inbound(PLATFORM, chat_id, key, InboundKind.TEXT, text=line.rstrip("\n"))


class ConsoleChat:
    """Drives one conversation from lines of input."""

    platform = PLATFORM

    def __init__(
        self,
        handle: Callable[[Inbound], list[Outbound]],
        chat_id: str,
        output: TextIO,
        *,
        texts: Texts | None = None,
        locale: str = "",
    ) -> None:
        """`locale`: the family's language when the caller knows it; when it
        is empty, what the console itself says is written in every language."""
        self.handle = handle
        self.chat_id = chat_id
        self.output = output
        self.texts = texts or load()
        self.locale = locale
        self.choices: tuple[Choice, ...] = ()
        self._keys = (f"{uuid.uuid4().hex}:{n}" for n in itertools.count())

    def next_key(self) -> str:
        return next(self._keys)

    def send(self, inbound: Inbound) -> None:
        try:
            replies = self.handle(inbound)
        except StorageError:
            sorry = self.texts.for_anyone("try_later", self.locale)
            print(f"Heard: {sorry}", file=self.output, flush=True)
            return
        for out in replies:
            if out.hide_chat:
                print(self.texts.for_anyone("console_hidden", self.locale), file=self.output)
                continue
            print(render(out), file=self.output, flush=True)
            if out.choices:
                self.choices = out.choices

    def start(self, token: str = "") -> None:
        self.send(Inbound(PLATFORM, self.chat_id, self.next_key(), InboundKind.START, token=token))

    def run(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not line.strip():
                continue
            self.send(to_inbound(line, self.choices, self.chat_id, self.next_key()))
