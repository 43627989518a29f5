"""What Heard says, per language, loaded from `bot/locales/*.toml`.

All user-facing wording lives in those files; code refers to keys only.
`[text]` is what families read (held to the plain-language check); `[staff]`
is what workers and the duty team read; both are looked up with `get`. A
missing key in one language falls back to English so a half-finished
translation never leaves a family without an answer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.core.errors import ConfigError

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
FALLBACK = "en"
COMMANDS = ("stop", "forget", "help", "skip", "language", "start", "hide")
"""Every command word a family can type; the engine and `word_for` use this list."""
STAFF_LOCALE = FALLBACK
"""The organisation's staff language: duty-team alerts are written in it."""


def normalise(text: str) -> str:
    """Lower-case, trim, drop a leading slash and trailing punctuation, fold spaces
    and curly apostrophes, so "/STOP", "Stop!" and "stop" read the same."""
    t = text.strip().lower().replace("\u2019", "'")
    if t.startswith("/"):
        t = t[1:].split("@", 1)[0]
    t = t.strip(" .!?,;:")
    return " ".join(t.split())


@dataclass(frozen=True, slots=True)
class Texts:
    names: dict[str, str]
    strings: dict[str, dict[str, str]]
    words: dict[str, frozenset[str]]
    """Typed forms for each command and answer word, across every language."""

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self.names)

    def get(self, locale: str, key: str, **values: object) -> str:
        table = self.strings.get(locale) or self.strings[FALLBACK]
        template = table.get(key) or self.strings[FALLBACK][key]
        return template.format(**values) if values else template

    def for_anyone(self, key: str, locale: str = "", *, first: str = FALLBACK) -> str:
        """`key` in `locale` (a code such as "cy" or "en-GB") when that is a
        language we have; when the reader's
        language is not known, in every language, `first` first, so whoever
        reads it understands (an apology after a failure, before any state
        could be read)."""
        code = locale.split("-", 1)[0].lower()
        if code in self.strings:
            return self.get(code, key)
        order = [first] if first in self.strings else []
        order += [code for code in self.locales if code not in order]
        said: list[str] = []
        for code in order:
            text = self.get(code, key)
            if text not in said:
                said.append(text)
        return "\n\n".join(said)

    def word_for(self, text: str) -> str | None:
        """The command or answer word that `text` means, if any."""
        t = normalise(text)
        for key in (*COMMANDS, "yes", "no", "unsure"):
            if t in self.words.get(key, ()):
                return key
        return None

    def locale_named(self, text: str) -> str | None:
        t = normalise(text)
        for code, name in self.names.items():
            if t in (code, name.lower()):
                return code
        return None


@cache
def load(directory: Path = LOCALES_DIR) -> Texts:
    names: dict[str, str] = {}
    strings: dict[str, dict[str, str]] = {}
    words: dict[str, set[str]] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read this language file ({exc})") from None
        code = path.stem
        names[code] = str(raw.get("name", code))
        family = {k: str(v) for k, v in raw.get("text", {}).items()}
        staff = {k: str(v) for k, v in raw.get("staff", {}).items()}
        if clash := sorted(family.keys() & staff.keys()):
            raise ConfigError(f"{path}: {', '.join(clash)} is in both [text] and [staff]")
        strings[code] = family | staff
        for key, forms in raw.get("words", {}).items():
            words.setdefault(key, set()).update(normalise(f) for f in forms)
    if FALLBACK not in strings:
        raise ConfigError(f"{directory}: the English file {FALLBACK}.toml is missing")
    ordered = {FALLBACK: names.pop(FALLBACK), **names}
    return Texts(ordered, strings, {k: frozenset(v) for k, v in words.items()})
