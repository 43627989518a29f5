"""One text splitter for every platform: a message too long for one send
becomes several, each within the platform's limit (Telegram 4,096 characters
a message, Slack 3,000 a section block)."""

from __future__ import annotations

SEPARATORS = ("\n\n", "\n", " ")
"""Where a cut is made, best first: between paragraphs, lines, then words."""


def split_text(text: str, limit: int) -> list[str]:
    """Parts of `text` of at most `limit` characters, cut at a paragraph, then
    a line, then a word boundary; mid-word only when one word is longer than
    `limit`. Blank parts are dropped, so blank text gives no parts."""
    if limit < 1:
        raise ValueError("the limit must be at least one character")
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = -1
        for sep in SEPARATORS:
            cut = rest.rfind(sep, 0, limit + 1)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p.strip()]
