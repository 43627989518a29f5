"""Question sets as data.

Each set lives in one TOML file in this folder (see `adult.toml` for the
format). Sets are validated when loaded, and every problem names the file and
the question so an organisation writing its own set knows what to fix.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from bot.core.errors import QuestionSetError

QUESTIONS_DIR = Path(__file__).resolve().parent.parent / "questions"
DIMENSIONS = ("honesty", "clarity", "continuity", "overall", "comment", "next_steps")
"""`next_steps`: what the family thinks happens next, in their own words; a
comment of its own kind, shown under its own heading in digests."""


class Kind(StrEnum):
    SCALE5 = "scale5"
    YES_NO_UNSURE = "yes_no_unsure"
    COUNT = "count"
    TEXT = "text"


# Stored values for each closed kind, in the order of their labels.
# None means "don't know": an answer, but not a number.
KIND_VALUES: dict[Kind, tuple[int | None, ...]] = {
    Kind.SCALE5: (1, 2, 3, 4, 5),
    Kind.YES_NO_UNSURE: (1, 0, None),
    Kind.COUNT: (1, 2, 3, 4, None),
    Kind.TEXT: (),
}

KIND_CODES: dict[Kind, tuple[str, ...]] = {
    Kind.SCALE5: ("1", "2", "3", "4", "5"),
    Kind.YES_NO_UNSURE: ("yes", "no", "unsure"),
    Kind.COUNT: ("1", "2", "3", "4", "unsure"),
    Kind.TEXT: (),
}


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    dimension: str
    kind: Kind
    text: dict[str, str]
    labels: dict[str, tuple[str, ...]]
    only_after: tuple[str, ...] = ()
    """Asked only when the question before was answered with one of these
    codes; empty means always asked."""

    @property
    def codes(self) -> tuple[str, ...]:
        return KIND_CODES[self.kind]

    def value_of(self, code: str) -> int | None:
        return KIND_VALUES[self.kind][self.codes.index(code)]


@dataclass(frozen=True, slots=True)
class Questionnaire:
    id: str
    version: int
    locales: tuple[str, ...]
    title: dict[str, str]
    consent: dict[str, str]
    thanks: dict[str, str]
    questions: tuple[Question, ...]
    source: str = ""

    def question(self, index: int) -> Question:
        return self.questions[index]

    def locale_or_default(self, locale: str) -> str:
        return locale if locale in self.locales else self.locales[0]


def _need(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise QuestionSetError(f"{where}: missing key '{key}'")
    return table[key]


def _per_locale(value: Any, locales: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise QuestionSetError(f'{where}: expected a table of locale = "text"')
    out: dict[str, str] = {}
    for loc in locales:
        text = value.get(loc)
        if not isinstance(text, str) or not text.strip():
            raise QuestionSetError(f"{where}: missing text for locale '{loc}'")
        out[loc] = text.strip()
    return out


def _labels(
    value: Any, kind: Kind, locales: tuple[str, ...], where: str
) -> dict[str, tuple[str, ...]]:
    need = len(KIND_CODES[kind])
    out: dict[str, tuple[str, ...]] = {}
    for loc in locales:
        items = value.get(loc) if isinstance(value, dict) else None
        if not isinstance(items, list) or len(items) != need:
            raise QuestionSetError(
                f"{where}: labels for locale '{loc}' must be a list of {need} strings "
                f"(kind {kind.value})"
            )
        if not all(isinstance(i, str) and i.strip() for i in items):
            raise QuestionSetError(f"{where}: every label for locale '{loc}' must be text")
        out[loc] = tuple(i.strip() for i in items)
    return out


def parse_questionnaire(raw: dict[str, Any], source: str) -> Questionnaire:
    """Validate a decoded TOML document and build a `Questionnaire`."""
    set_id = _need(raw, "id", source)
    version = _need(raw, "version", source)
    if not isinstance(set_id, str) or not set_id.isidentifier():
        raise QuestionSetError(f"{source}: 'id' must be a short name like \"adult\"")
    if not isinstance(version, int) or version < 1:
        raise QuestionSetError(f"{source}: 'version' must be a whole number from 1")
    locales_raw = _need(raw, "locales", source)
    if not isinstance(locales_raw, list) or not locales_raw:
        raise QuestionSetError(f"{source}: 'locales' must list at least one language code")
    locales = tuple(str(loc) for loc in locales_raw)
    default_labels = raw.get("labels", {})
    questions: list[Question] = []
    seen: set[str] = set()
    for n, q in enumerate(_need(raw, "questions", source), start=1):
        where = f"{source}: question {q.get('id', f'#{n}')!s}"
        qid = _need(q, "id", where)
        if qid in seen:
            raise QuestionSetError(f"{where}: the id is used twice")
        seen.add(qid)
        dimension = _need(q, "dimension", where)
        if dimension not in DIMENSIONS:
            raise QuestionSetError(
                f"{where}: dimension '{dimension}' is not one of {', '.join(DIMENSIONS)}"
            )
        try:
            kind = Kind(_need(q, "kind", where))
        except ValueError:
            kinds = ", ".join(k.value for k in Kind)
            raise QuestionSetError(f"{where}: kind must be one of {kinds}") from None
        labels: dict[str, tuple[str, ...]] = {}
        if kind is not Kind.TEXT:
            labels = _labels(q.get("labels", default_labels.get(kind.value)), kind, locales, where)
        only_after = q.get("only_after", [])
        if not isinstance(only_after, list) or not all(isinstance(c, str) for c in only_after):
            raise QuestionSetError(f'{where}: only_after must be a list of answer codes like ["4"]')
        if only_after and not questions:
            raise QuestionSetError(f"{where}: only_after needs a question before this one")
        if only_after:
            before = questions[-1]
            wrong = [c for c in only_after if c not in before.codes]
            if wrong:
                raise QuestionSetError(
                    f"{where}: only_after {', '.join(wrong)} is not an answer to "
                    f"'{before.id}' (its answers: {', '.join(before.codes) or 'free text'})"
                )
        questions.append(
            Question(
                qid,
                dimension,
                kind,
                _per_locale(_need(q, "text", where), locales, where),
                labels,
                tuple(only_after),
            )
        )
    if not questions:
        raise QuestionSetError(f"{source}: a question set needs at least one question")
    return Questionnaire(
        id=set_id,
        version=version,
        locales=locales,
        title=_per_locale(_need(raw, "title", source), locales, f"{source}: title"),
        consent=_per_locale(_need(raw, "consent", source), locales, f"{source}: consent"),
        thanks=_per_locale(_need(raw, "thanks", source), locales, f"{source}: thanks"),
        questions=tuple(questions),
        source=source,
    )


def load_file(path: Path) -> Questionnaire:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise QuestionSetError(f"{path}: cannot read the file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise QuestionSetError(f"{path}: not valid TOML ({exc})") from None
    return parse_questionnaire(raw, str(path))


def shipped_files() -> list[Path]:
    return sorted(QUESTIONS_DIR.glob("*.toml"))


@cache
def shipped() -> dict[str, Questionnaire]:
    """The question sets that ship with Heard, by id."""
    sets = [load_file(p) for p in shipped_files()]
    return {q.id: q for q in sets}


def get(set_id: str) -> Questionnaire:
    sets = shipped()
    if set_id not in sets:
        raise QuestionSetError(f"no question set '{set_id}'; available: {', '.join(sorted(sets))}")
    return sets[set_id]
