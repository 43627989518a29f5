"""Plain language, enforced: the checker behind the tests and `heard lint FILE`.

Families often did not choose social care, many read under stress, some are
children. The research behind Heard says jargon and long, dense wording push
people away, so a question set is checked, not trusted. A `Problem` names the
set, the question (or `title`, `consent`, `thanks`), the language and why, so
an organisation writing its own set knows exactly what to change.

Rules
-----
For every question text, in every language of the set:

* **Length**: at most `MAX_WORDS` (20) words. Emoji and punctuation are not
  words; "don't" and "sy'n" are one word each; "4" is a word.
* **Reading age**: a Flesch-Kincaid grade of at most `MAX_GRADE` (6), which is a
  reading age of about `MAX_READING_AGE` (11): US grade + 5 = age. The design
  asks for about 9-11. FK is the best-known formula and is defined on words per
  sentence and syllables per word, so it can be run in more than one language
  once syllables can be counted:

  - *English* (`en`, `en_GB`, ...): the FK formula with textstat's syllable
    count (pyphen's English hyphenation dictionary). textstat is pinned below
    0.7.5, which fetches data at run time. Words and sentences are counted by
    `words` and `sentences` below for every language, so a consent written as
    short lines without full stops is read as short sentences.
  - *Welsh* (`cy`): textstat has no Welsh formula and pyphen no Welsh
    dictionary (English hyphenation would miscount every "w" and "y", which are
    vowels in Welsh). We use the same FK formula and limit, in two steps:

    1. *Syllables from Welsh spelling* (`welsh_syllables`): one per group of
       vowels, where the vowels are a e i o u **w y** with their accents, since
       Welsh diphthongs (ae, ai, au, aw, ei, eu, ew, oe, wy, yw, ...) are one
       syllable; a "w" between two vowels starts a new syllable (new-id,
       ta-wel, by-wyd); "gw" before l/n/r is a consonant (gwneud, gwlad); a
       diaeresis (ï, ë) and the pairs ea, eo, oa, ua, uo start a new syllable
       (de-all, teu-lu-oedd). Checked by hand on the 290 or so Welsh words
       Heard ships, it is within one syllable of a careful count on every
       word (the misses are mostly "i" before a vowel, as in di-olch).
    2. *Calibrated to English*: the same meaning takes more words and more
       syllables per word in Welsh ("gweithiwr cymdeithasol" is six syllables,
       "social worker" four), so raw FK would rate a faithful Welsh translation
       about four grades harder than its English source. As FK adaptations for
       Spanish (Fernandez-Huerta) and French (Kandel-Moles) re-weight the
       syllable term, we turn Welsh counts into English-equivalent counts by
       dividing by `CY_WORDS_RATIO` (1.1) and `CY_SYLLABLES_RATIO` (1.25), the
       ratios measured on Heard's own parallel plain texts (55 English/Welsh
       pairs from the locale files and both question sets: 831 English and
       931 Welsh words; 1.20 and 1.50 syllables per word). After that, a
       Welsh text still scores about one grade above its English source
       (median), so the Welsh rule errs on the strict side.

    It is a screen for long, dense wording, not a validated Welsh reading age,
    and we say so; re-measure the ratios if the shipped texts change a lot.
  - *Other languages*: length and jargon only; `lint_files` prints a note that
    no reading-age rule ran, rather than pretending one did.

* **Jargon**: no word or phrase from `bot/data/jargon.txt` (English and Welsh
  terms; the file's header says how terms match). Whole words and phrases only,
  any case; acronyms (LAC, CIN, CP) only as whole tokens in capitals or lower
  case, so "lace" and "Cinema" never match. In Welsh text a term is also found
  after an initial mutation (soft, nasal, aspirate, or h- before a vowel), and
  acronyms only in capitals, because "lac" is a Welsh word ("llac", loose,
  after a soft mutation).

* **One thing at a time**: a question must not ask two things at once ("Was
  your worker on time and did they bring the forms?"): `double_question`
  looks for "and"/"or" (Welsh "a", "ac", "neu") followed by a second question
  (an auxiliary such as did/was/do, a question word, "if so"), by a second
  verb, or by a second phrase of the same kind ("at a good time and in a
  place …"), and for two question marks.
* **Verbs, not formal nouns**: no formal phrase or nominalisation from
  `bot/data/formal_phrases.txt` ("the completion of", "with regard to",
  "facilitation"), and no "the …tion of" / "the …ment of" construction.

Answer labels, the title and the thanks are checked for jargon. The consent
text is checked a sentence at a time: each sentence at most `MAX_WORDS` words
and free of jargon (it must still say, honestly, what happens when someone is
in danger, without the word "safeguarding"); the consent as a whole must also
meet the reading-age limit, which is stable over several sentences.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from textstat.textstat import textstatistics

from bot.core.questions import Questionnaire, load_file

MAX_WORDS = 20
"""Most words a question (or one consent sentence) may have."""

MAX_GRADE = 6.0
"""Highest Flesch-Kincaid grade allowed (US school grade)."""

GRADE_TO_AGE = 5
"""US grade + 5 = reading age in years."""

MAX_READING_AGE = int(MAX_GRADE) + GRADE_TO_AGE
"""The same limit as a reading age: 11."""

JARGON_FILE = Path(__file__).resolve().parent.parent / "data" / "jargon.txt"
FORMAL_FILE = Path(__file__).resolve().parent.parent / "data" / "formal_phrases.txt"

_READING_AGE_LOCALES = ("en", "cy")

CY_SYLLABLES_RATIO = 1.25
"""Welsh syllables per word / English syllables per word, in parallel plain text."""

CY_WORDS_RATIO = 1.1
"""Welsh words / English words, in parallel plain text."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix in a question set."""

    set_id: str
    question_id: str
    """A question id, or `title`, `consent`, `thanks`."""
    locale: str
    why: str

    def line(self) -> str:
        return f"{self.set_id} {self.question_id} [{self.locale}]: {self.why}"


# -- words and sentences ------------------------------------------------------

_LETTERS = r"[^\W\d_]"
_WORD = re.compile(rf"(?:{_LETTERS}|\d)+(?:['’](?:{_LETTERS}|\d)+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("\u2019", "'")


def words(text: str) -> list[str]:
    """The words of `text`: letters or digits, with inner apostrophes kept."""
    return _WORD.findall(_nfc(text))


def sentences(text: str) -> list[str]:
    """`text` split at line breaks and after . ! ?; parts without words dropped."""
    parts = (p.strip() for p in _SENTENCE_END.split(_nfc(text)))
    return [p for p in parts if words(p)]


def _base_locale(locale: str) -> str:
    return locale.replace("-", "_").split("_", 1)[0].lower()


# -- reading age --------------------------------------------------------------

_CY_VOWELS = frozenset("aeiouwyâêîôûŵŷàèìòùẁỳáéíóúẃýäëïöüẅÿ")
_CY_DIAERESIS = frozenset("äëïöüẅÿ")
_CY_HIATUS = frozenset({"ea", "eo", "oa", "ua", "uo"})


def welsh_syllables(word: str) -> int:
    """Syllables in one Welsh word, counted from its spelling (at least 1)."""
    w = _nfc(word).lower().replace("'", "")
    if w.startswith("gw") and len(w) > 2 and w[2] in "lnr":
        w = "g" + w[2:]
    elif w.startswith("w") and len(w) > 1 and w[1] in "ln":
        w = w[1:]
    count = 0
    prev = ""
    for i, ch in enumerate(w):
        if ch not in _CY_VOWELS:
            prev = ""
            continue
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if (
            not prev
            or ch in _CY_DIAERESIS
            or prev + ch in _CY_HIATUS
            or (ch == "w" and nxt in _CY_VOWELS)
        ):
            count += 1
        prev = ch
    return max(1, count)


def _fk(word_count: float, sentence_count: int, syllable_count: float) -> float:
    """Flesch-Kincaid grade, rounded to one decimal place as textstat does."""
    per_sentence = word_count / sentence_count
    per_word = syllable_count / word_count
    return round(0.39 * per_sentence + 11.8 * per_word - 15.59, 1)


@cache
def _english() -> textstatistics:
    stats = textstatistics()
    stats.set_lang("en_US")
    return stats


def _syllables(word: str, base: str) -> int:
    if base == "cy":
        return welsh_syllables(word)
    return max(1, int(_english().syllable_count(word)))


def reading_grade(text: str, locale: str) -> float | None:
    """Flesch-Kincaid grade of `text`, or None where we have no rule for `locale`.

    Both languages share the word and sentence counts of `words` and `sentences`
    (so a consent written as short lines without full stops is read as short
    sentences); only the syllable count is per language.
    """
    base = _base_locale(locale)
    ws = words(text)
    if not ws or base not in _READING_AGE_LOCALES:
        return None
    n_sentences = max(1, len(sentences(text)))
    syllables = sum(_syllables(w, base) for w in ws)
    if base == "cy":
        return _fk(len(ws) / CY_WORDS_RATIO, n_sentences, syllables / CY_SYLLABLES_RATIO)
    return _fk(len(ws), n_sentences, syllables)


def has_reading_rule(locale: str) -> bool:
    return _base_locale(locale) in _READING_AGE_LOCALES


# -- jargon -------------------------------------------------------------------

# Welsh initial mutations of a word's first letters: (radical, mutated forms).
# Longest radical first, so "ll" is tried before "l" and "rh" before "r".
_MUTATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ll", ("l",)),
    ("rh", ("r",)),
    ("ch", ()),
    ("ph", ()),
    ("th", ()),
    ("dd", ()),
    ("ff", ()),
    ("ng", ()),
    ("p", ("b", "mh", "ph")),
    ("t", ("d", "nh", "th")),
    ("c", ("g", "ngh", "ch")),
    ("b", ("f", "m")),
    ("d", ("dd", "n")),
    ("g", ("", "ng")),
    ("m", ("f",)),
)


def welsh_mutations(word: str) -> set[str]:
    """`word` and the forms it can take after a Welsh initial mutation."""
    forms = {word}
    lower = word.lower()
    if lower[:1] in "aeiouwyâêîôûŵŷ":
        forms.add("h" + lower)
        return forms
    for radical, mutated in _MUTATIONS:
        if lower.startswith(radical):
            forms.update(m + lower[len(radical) :] for m in mutated)
            break
    return {f for f in forms if f}


@dataclass(frozen=True, slots=True)
class _Term:
    term: str
    plain: re.Pattern[str]
    welsh: re.Pattern[str]


def _phrase_pattern(parts: Sequence[str], first_forms: Iterable[str]) -> str:
    first = "|".join(re.escape(f) for f in sorted(first_forms, key=len, reverse=True))
    rest = "".join(r"[\s\-]*" + re.escape(p) for p in parts[1:])
    return rf"(?<!\w)(?:{first}){rest}(?:e?s)?(?!\w)"


def _compile(term: str) -> _Term:
    if term != term.lower():  # an acronym: exact, all capitals or all lower case
        capitals = "|".join(rf"{re.escape(f)}s?" for f in sorted({term, term.upper()}))
        lower = re.escape(term.lower())
        return _Term(
            term,
            re.compile(rf"(?<!\w)(?:{capitals}|{lower})(?!\w)"),
            # Lower case is left out in Welsh: "lac" is "llac" (loose) after a mutation.
            re.compile(rf"(?<!\w)(?:{capitals})(?!\w)"),
        )
    parts = [p for p in re.split(r"[\s\-]+", term) if p]
    plain = re.compile(_phrase_pattern(parts, [parts[0]]), re.IGNORECASE)
    welsh = re.compile(_phrase_pattern(parts, welsh_mutations(parts[0])), re.IGNORECASE)
    return _Term(term, plain, welsh)


def parse_jargon(text: str) -> tuple[str, ...]:
    """Terms from the jargon file format: one a line, `#` comments, blanks ignored."""
    terms: list[str] = []
    for raw in text.splitlines():
        line = _nfc(raw.split("#", 1)[0]).strip()
        if line and line not in terms:
            terms.append(" ".join(line.split()))
    return tuple(terms)


@cache
def _jargon(path: Path = JARGON_FILE) -> tuple[_Term, ...]:
    return tuple(_compile(t) for t in parse_jargon(path.read_text(encoding="utf-8")))


def find_jargon(text: str, locale: str) -> list[str]:
    """The jargon terms found in `text`, in the order of the jargon file.

    Where one term contains another ("interim care order", "care order"), both
    are listed; rewriting the longer one removes both.
    """
    normal = _nfc(text)
    welsh = _base_locale(locale) == "cy"
    found: list[str] = []
    for term in _jargon():
        pattern = term.welsh if welsh else term.plain
        if pattern.search(normal):
            found.append(term.term)
    return found


# -- checks -------------------------------------------------------------------


def _jargon_reasons(text: str, locale: str) -> list[str]:
    return [
        f"jargon '{term}': say what you mean in everyday words"
        for term in find_jargon(text, locale)
    ]


def _grade_reason(text: str, locale: str) -> list[str]:
    grade = reading_grade(text, locale)
    if grade is None or grade <= MAX_GRADE:
        return []
    age = math.ceil(grade) + GRADE_TO_AGE
    about = f"about {age}" if age <= 18 else "over 18"
    return [
        f"too hard to read: reading age {about} (Flesch-Kincaid grade {grade:.1f}); "
        f"the limit is {MAX_READING_AGE} (grade {MAX_GRADE:g}): use shorter words and sentences"
    ]


_AUX_EN = (
    "did|was|were|is|are|do|does|have|has|had|can|could|will|would|should|shall|may|might|"
    "how|who|what|why|when|where|whether|which|if so|if not|then"
)
_VERBS_EN = (
    "stay|stayed|come|came|bring|brought|help|helped|explain|explained|listen|listened|call|"
    "called|ring|rang|phone|phoned|tell|told|give|gave|given|keep|kept|send|sent|visit|visited|"
    "ask|asked|answer|answered|talk|talked|speak|spoke|write|wrote|written|read|make|made|show|"
    "showed|shown|say|said|go|went|get|got|leave|left|arrive|arrived|reply|replied|turn|turned|"
    "follow|followed|check|checked|agree|agreed|understand|understood|treat|treated|return|"
    "returned|respond|responded|share|shared|stop|stopped|start|started|offer|offered"
)
_PREPS_EN = "in|on|at|with|to|for|by|from|about|during|after|before"
_DOUBLE_EN = re.compile(
    rf"\b(?:and|or)\s+(?:(?:{_AUX_EN})\b|(?:then\s+)?(?:{_VERBS_EN})\b)"
    rf"|,\s*and\s+\w+"
    rf"|\b(?P<prep>{_PREPS_EN})\s+[\w' ]{{2,40}}?\s+(?:and|or)\s+(?P=prep)\b"
    rf"|\b(?:{_PREPS_EN})\s+(?:a|an|the|your|their)\s+[\w']+(?:\s+[\w']+)?\s+and\s+"
    rf"(?:{_PREPS_EN})\s+(?:a|an|the|your|their)\b",
    re.I,
)
_DOUBLE_CY = re.compile(
    r"\b(?:a|ac|neu)\s+(?:sut|pwy|pam|beth|be|ble|lle|pryd|faint|oedd|oes|ydy|ydi|ydych|ydach|"
    r"wyt|wnaeth|wnaethon|nath|naeth|ddaru|gafodd|gest|gawsoch|fyddech|fysech|fysat|allech|"
    r"allwch|fedrwch|os felly|wedyn)\b"
    r"|,\s*(?:a|ac)\s+\w+",
    re.I,
)


def double_question(text: str, locale: str) -> bool:
    """True when `text` asks two things at once (see the module docstring)."""
    if text.count("?") > 1:
        return True
    pattern = _DOUBLE_CY if _base_locale(locale) == "cy" else _DOUBLE_EN
    return bool(pattern.search(text))


@cache
def _formal(path: Path = FORMAL_FILE) -> tuple[tuple[str, re.Pattern[str]], ...]:
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        term = line.strip()
        if not term or term.startswith("#"):
            continue
        body = r"\s+".join(r"[\w'’-]+" if w == "*" else re.escape(w) for w in term.split())
        terms.append((term, re.compile(rf"(?<![\w'’-]){body}(?![\w'’-])", re.I)))
    return tuple(terms)


_NOMINAL_OF = re.compile(
    r"\bthe\s+(?:\w+\s+)?\w{3,}(?:tion|sion|ment|ance|ence|ancy|ency|ity|ness|ure|al)s?\s+of\b",
    re.I,
)


def formal_phrases(text: str, locale: str) -> list[str]:
    """Formal phrases and nominalisations in `text` (see the module docstring)."""
    found = [term for term, pattern in _formal() if pattern.search(text)]
    if _base_locale(locale) != "cy":
        found += [m.group() for m in _NOMINAL_OF.finditer(text) if m.group() not in found]
    return found


def check_text(text: str, locale: str) -> list[str]:
    """Why the question text `text` in `locale` is not plain enough; [] if it is."""
    reasons: list[str] = []
    n = len(words(text))
    if n > MAX_WORDS:
        reasons.append(f"{n} words; keep a question to {MAX_WORDS} or fewer")
    reasons += _grade_reason(text, locale)
    reasons += _jargon_reasons(text, locale)
    if double_question(text, locale):
        reasons.append("asks two things at once: split it into two questions")
    reasons += [
        f"formal wording '{phrase}': use a verb or everyday words instead"
        for phrase in formal_phrases(text, locale)
    ]
    return reasons


def _snippet(sentence: str, limit: int = 40) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def check_consent(text: str, locale: str) -> list[str]:
    """Why a consent text is not plain enough: per sentence, and as a whole."""
    reasons: list[str] = []
    for sentence in sentences(text):
        n = len(words(sentence))
        if n > MAX_WORDS:
            reasons.append(
                f'sentence "{_snippet(sentence)}" has {n} words; '
                f"keep each sentence to {MAX_WORDS} or fewer"
            )
    reasons += _grade_reason(text, locale)
    reasons += _jargon_reasons(text, locale)
    return reasons


def check_questionnaire(q: Questionnaire) -> list[Problem]:
    """Every plain-language problem in a question set, in reading order."""
    problems: list[Problem] = []

    def add(question_id: str, locale: str, reasons: Iterable[str]) -> None:
        problems.extend(Problem(q.id, question_id, locale, why) for why in reasons)

    for loc in q.locales:
        add("title", loc, _jargon_reasons(q.title[loc], loc))
        add("consent", loc, check_consent(q.consent[loc], loc))
    for question in q.questions:
        for loc in q.locales:
            add(question.id, loc, check_text(question.text[loc], loc))
            for label in question.labels.get(loc, ()):
                add(
                    question.id,
                    loc,
                    (f"answer '{label}': {why}" for why in _jargon_reasons(label, loc)),
                )
    for loc in q.locales:
        add("thanks", loc, _jargon_reasons(q.thanks[loc], loc))
    return problems


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def lint_files(paths: Sequence[Path]) -> tuple[list[str], int]:
    """Check question set files; return the lines to print and the exit code.

    Exit code 0: every file loaded and passed. 1: at least one plain-language
    problem. 2: at least one file could not be loaded (missing, not TOML, not a
    valid set); each such file gets one line saying why, never a traceback, and
    the other files are still checked.
    """
    lines: list[str] = []
    problems = 0
    broken = 0
    for path in paths:
        try:
            q = load_file(Path(path))
        except Exception as exc:  # a linter of untrusted files reports, never crashes
            broken += 1
            message = _one_line(str(exc)) or type(exc).__name__
            if str(path) not in message:
                message = f"{path}: {message}"
            lines.append(f"error: {message}")
            continue
        for p in check_questionnaire(q):
            problems += 1
            lines.append(f"{path}: {p.line()}")
        lines.extend(
            f"note: {path}: no reading-age rule for locale '{loc}'; checked length and jargon only"
            for loc in q.locales
            if not has_reading_rule(loc)
        )
    files = f"{len(paths)} file{'s' if len(paths) != 1 else ''}"
    summary = [f"{problems} problem{'s' if problems != 1 else ''}"] if problems else []
    if broken:
        summary.append(f"{broken} could not be loaded")
    lines.append(f"checked {files}: {', '.join(summary) if summary else 'all plain'}")
    code = 2 if broken else 1 if problems else 0
    return lines, code
