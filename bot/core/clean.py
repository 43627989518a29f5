"""What any database or platform accepts of a text, decided once at the edge.

PostgreSQL refuses NUL in text columns, neither SQLite nor PostgreSQL can
store a lone surrogate (it has no UTF-8 form), and chat platforms refuse or
mangle control characters and Unicode non-characters. A message carrying any
of them would fail to store on every redelivery, so the service cleans every
inbound text with `clean_text` before anything else (dedupe, the safeguarding
screen, the engine) sees it.

Invisible characters are dropped rather than replaced, so a word split by a
NUL ("hu\\x00rt") is whole again for the detector; the control characters
that separate text (vertical tab, form feed, the information separators,
NEL) become a space, so words they separate stay apart. A surrogate pair that
arrives as two code points is joined into the character it encodes.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any

from bot.core.messages import Inbound

_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SPACE_LIKE = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_DROP = re.compile(f"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff{_NONCHARACTERS}]")
_ANY_BAD = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")


def _join_pair(match: re.Match[str]) -> str:
    pair = match.group()
    return chr(0x10000 + ((ord(pair[0]) - 0xD800) << 10) + (ord(pair[1]) - 0xDC00))


def clean_text(text: str) -> str:
    """`text` without NUL, control characters (tab, newline and carriage
    return are kept), lone surrogates and non-characters. Idempotent; a
    clean text is returned as it is."""
    if not _ANY_BAD.search(text):
        return text
    text = _PAIR.sub(_join_pair, text)
    text = _SPACE_LIKE.sub(" ", text)
    return _DROP.sub("", text)


def clean_inbound(inbound: Inbound) -> Inbound:
    """`inbound` with `clean_text` applied to every string it carries (the
    same object when nothing needed cleaning)."""
    changes: dict[str, Any] = {}
    for f in fields(inbound):
        current = getattr(inbound, f.name)
        if isinstance(current, str):
            cleaned = clean_text(current)
            if cleaned is not current:
                changes[f.name] = cleaned
    return replace(inbound, **changes) if changes else inbound
