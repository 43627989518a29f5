"""Remove what could identify a family from a free-text comment.

A comment a family writes about their worker may name people ("Sarah",
"Mrs Evans", "our jayden"), give a phone number, an email, an address or
postcode, a date, a child's age, an NHS or National Insurance number, a
school, a small place, or a social media handle. Before any comment is shown
to anyone it goes through `scrub`, which replaces each such detail with a
plain marker ("[name]", "[phone]", …).

The scrubber errs on the side of removing: a capitalised word in the middle
of a sentence that is not an everyday word is treated as a name, because a
missed name can single a family out and an over-eager marker only costs a
word. Pure: the lists it uses are data files under `bot/data/`, read once
on first use, and the worker's and colleagues' names come from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import phonenumbers
from stdnum.gb import nhs

DATA = Path(__file__).resolve().parent.parent / "data"

MARKERS = {
    "name": "[name]",
    "phone": "[phone]",
    "email": "[email]",
    "postcode": "[postcode]",
    "address": "[address]",
    "date": "[date]",
    "age": "[age]",
    "nhs": "[number]",
    "nino": "[number]",
    "number": "[number]",
    "school": "[school]",
    "place": "[place]",
    "handle": "[handle]",
    "link": "[link]",
}


@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    kind: str


# -- patterns ---------------------------------------------------------------------------

_MONTHS_EN = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_MONTHS_CY = (
    "ionawr|chwefror|mawrth|fawrth|ebrill|mai|fai|mehefin|fehefin|gorffennaf|orffennaf|awst|"
    "medi|fedi|hydref|tachwedd|dachwedd|rhagfyr|ragfyr"
)
_MONTH = rf"(?:{_MONTHS_EN}|{_MONTHS_CY})"
_DAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|"
    "fri|sat|sun|dydd llun|dydd mawrth|dydd mercher|dydd iau|dydd gwener|dydd sadwrn|dydd sul"
)
_ORD = r"\d{1,2}(?:st|nd|rd|th|af|ail|il|ydd|edd|ed|fed|eg|ain)?"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "un ar ddeg|un|dau|ddau|dwy|ddwy|tri|dri|thri|tair|dair|pedwar|bedwar|pedair|bedair|pump|bump|"
    "chwech|chwe|saith|wyth|naw|deg|ddeg|deuddeg|ddeuddeg"
)
_NUM = (
    rf"(?:\d{{1,3}}|(?:{_NUMBER_WORDS})(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
)

_STREET = (
    r"road|rd|street|st|lane|ln|avenue|ave|close|drive|dr|way|crescent|cres|court|ct|place|pl|"
    r"terrace|terr|gardens|gdns|grove|park|square|sq|hill|row|walk|view|rise|mews|parade|green|"
    r"heol|ffordd|stryd|lon|lôn|rhodfa|cilgant|teras|maes|stad|clos|llwyn|bryn|rhes|ystad"
)
_CAP = r"[A-ZÀ-ÖØ-ÞŴŶ][\w'’\-]*"
_SHOPS = (
    r"Tesco|Asda|Aldi|Lidl|Co-op|Coop|Spar|Morrisons|Sainsbury'?s|McDonald'?s|Greggs|Boots|"
    r"Argos|Primark|Iceland|Costa|Starbucks|KFC|Wetherspoons?|B&M|Home Bargains|Poundland|"
    r"Currys|Halfords|Matalan|Wilko|Subway|Nando'?s|Londis|Farmfoods|Jobcentre(?: Plus)?|"
    r"Amazon|Screwfix|Toolstation|B&Q|Dunelm|Next|Peacocks"
)
_STREETS = rf"(?i:{_STREET})"
_DETERMINER = r"(?:The|A|An|This|That|These|Those|Our|My|Your|His|Her|Their|Every|Each|Any|No|Y|Yr)"
_CAPN = rf"(?!{_DETERMINER}\b){_CAP}"
"""A capitalised word that is not a determiner starting a sentence ("The hospital")."""
_WORD = r"[\w'’\-]+"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.I)),
    ("link", re.compile(r"\b(?:https?://|www\.)\S+", re.I)),
    (
        "handle",
        re.compile(
            r"(?<![\w@])(?P<h1>@[A-Za-z0-9_.]{2,30})"
            r"|(?<![\w@.])(?P<h2>[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)*_[A-Za-z0-9_.]*[A-Za-z0-9])(?![\w@])"
            r"|\b(?:snap(?:chat)?|insta(?:gram)?|ig|tiktok|tik tok|facebook|fb|twitter|youtube|yt|"
            r"discord|twitch|threads|whatsapp|telegram|reddit|xbox|psn|gamertag)"
            r"(?:\s+(?:name|handle|account|username|is|id|as|on|at|:|-))*\s*[:\-]?\s+"
            r"(?!(?:is|as|the|a|an|and|or|but|me|him|her|them|it|if|so|to|ond|fel|ac|a)\b)"
            r"(?P<h3>[A-Za-z0-9_.]{3,30})",
            re.I,
        ),
    ),
    (
        "postcode",
        re.compile(
            r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s*\d[A-Z]{2}\b",
            re.I,
        ),
    ),
    (
        "nino",
        re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b", re.I),
    ),
    (
        "address",
        re.compile(
            rf"\b(?:(?i:flat|fflat|apartment|apt|unit|rhif)\s*\d+[a-zA-Z]?,?\s*)?"
            rf"\d{{1,4}}[a-zA-Z]?,?\s+(?:[\w'’\-]+\s+){{0,3}}{_STREETS}\b"
            rf"(?:\s+(?:y|yr|'r)(?=\s+[A-Z]))?(?:\s+{_CAP}){{0,2}}"
            rf"|\b(?i:number|no\.?|rhif)\s+\d{{1,4}}[a-zA-Z]?\b"
            rf"|\b(?:Tŷ|Ty|Bryn|Pen|Maes|Pant|Cae|Llys|Plas|Bod|Hafod|Fron|Gwern|Rhos)(?:['’]r)?[\s\-]+"
            rf"(?:(?:y|yr|'r)[\s\-]+)?{_CAP}(?:[\s\-]+{_CAP})?"
            rf"|(?<=\b[Aa]t\s)(?:The|Y|Yr)\s+{_CAP}(?:\s+{_CAP})?"
            rf"|\b(?i:flat|fflat|apartment|apt|unit)\s*\d+[a-zA-Z]?\b"
            rf"|\b(?:\d{{1,4}}[a-zA-Z]?,?\s+)?(?i:heol|ffordd|stryd|lon|lôn|rhodfa|cilgant|teras|stad|clos|rhes|ystad)"
            rf"\s+(?:(?:y|yr|'r)\s+)?(?:{_CAP}\s?){{1,3}}"
            rf"|\b(?:{_CAP}\s+){{1,3}}(?:Road|Rd|Street|St|Lane|Avenue|Ave|Close|Drive|Way|"
            rf"Crescent|Court|Place|Terrace|Gardens|Grove|Park|Square|Hill|Row|Walk|View|Rise|"
            rf"Mews|Parade|Green)\b",
        ),
    ),
    (
        "date",
        re.compile(
            rf"\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b(?!/)|\b\d{{1,2}}[.\-]\d{{1,2}}[.\-]\d{{2,4}}\b"
            rf"|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
            rf"|\b(?:(?:{_DAYS})\s+)?(?:the\s+)?{_ORD}\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?\b"
            rf"|\bthe\s+\d{{1,2}}(?:st|nd|rd|th)\b(?!\s+(?:time|floor|place|worker|one|person|"
            rf"visit|meeting|attempt|call|day|week|month|year|birthday))"
            rf"|\b(?:on|by|from|until|till|since|before|after)\s+the\s+\d{{1,2}}(?:st|nd|rd|th)\b"
            rf"(?:\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?\b)?"
            rf"|\b{_MONTH}\s+(?:19|20)\d{{2}}\b"
            rf"|\b(?:in|since|from|during|until|till|before|after)\s+(?:19|20)\d{{2}}\b"
            rf"|\b\d{{1,2}}(?:st|nd|rd|th)\s+birthday\b"
            rf"|\b(?:(?:{_DAYS})\s+)?{_MONTH}\s+(?:the\s+)?{_ORD}(?:,?\s+\d{{4}})?\b"
            rf"|\b(?:{_DAYS})\s+(?:the\s+)?{_ORD}\b"
            rf"|\b(?:{_DAYS})\s+\d{{1,2}}\s+{_MONTH}\b"
            rf"|\b(?:d?dydd|nos)\s+\w+\s+\d{{1,2}}\s+{_MONTH}\b"
            rf"|\b(?:d?dydd|nos)\s+\w+\s+(?:y\s+|yr\s+)?\d{{1,2}}(?:af|ail|il|ydd|edd|ed|fed|eg|ain)\b"
            rf"|\b(?:y\s+)?\d{{1,2}}(?:af|il|ydd|ed|fed|eg|ain)\s+(?:o\s+)?{_MONTH}\b",
            re.I,
        ),
    ),
    (
        "age",
        re.compile(
            rf"\b{_NUM}(?:[- ]and[- ]a[- ]half)?[- ]?(?:year|yr|yo|month)s?[- ]?old\b"
            rf"|\b{_NUM}\s?(?:yo|y/o|yrs|yr)\b"
            rf"|\b(?:aged|age|oed|yn)\s+{_NUM}(?:\s+(?:oed|years?|mlwydd(?:\s+oed)?))?\b"
            rf"|\b{_NUM}\s+(?:oed|mlwydd oed|mlwydd)\b"
            rf"|\b(?:hes|shes|theyre|(?:s?he|they|he|she)(?:'s|’s|\s+is|\s+are|\s+was|\s+turned|\s+turns)|"
            rf"turned|turns|turning|is|was|are|were)\s+(?:only\s+|just\s+|nearly\s+|almost\s+)?"
            rf"{_NUM}(?:\s+and\s+{_NUM})?\b"
            rf"(?!\s*(?:%|pm|am|p\.m|a\.m|:|\.\d|minutes?|mins?|hours?|hrs?|days?|weeks?|"
            rf"times?|stars?|out of|of|workers?|people|pounds?|quid|miles?|o'clock))"
            rf"|\b(?:in|into|starting|started|starts|going into|moving up to|ym\s+mlwyddyn)\s+"
            rf"(?:year|yr|blwyddyn)\s+\d{{1,2}}\b"
            rf"|\bage of\s+{_NUM}\b"
            rf"|\b(?:o|e|hi|fo|fe|nhw|ni)['’]n\s+{_NUM}(?:\s+(?:oed|mlwydd(?:\s+oed)?))?\b(?!\s*(?:%|:|munud|awr|diwrnod|wythnos|mis|gwaith))"
            rf"|\b(?:will|'ll|’ll|going to)\s+be\s+{_NUM}\b"
            rf"(?!\s*(?:%|pm|am|:|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|times?|pounds?|quid|miles?|o'clock|late|early))"
            rf"|(?<=[A-Za-z])\s*\(\s*\d{{1,2}}\s*\)"
            rf"|(?<=[A-Za-z]),\s*\d{{1,2}}\s*,",
            re.I,
        ),
    ),
    (
        "school",
        re.compile(
            rf"\b(?:[Yy]sgol|[Cc]oleg|[Cc]ylch [Mm]eithrin|[Mm]eithrinfa)\s+"
            rf"(?:(?:y|yr|ar|a)\s+)?{_CAP}(?:\s+(?:(?:y|yr|ar|a)\s+)?{_CAP}){{0,4}}"
            rf"|\b(?:{_CAPN}\s+){{1,4}}(?:[Pp]rimary|[Jj]uniors?|[Ii]nfants?|[Hh]igh|"
            rf"[Cc]omprehensive|[Aa]cademy|[Ss]econdary|[Cc]ollege|[Nn]ursery|[Ss]chool|"
            rf"[Ss]ixth [Ff]orm|[Pp]re-?school)"
            rf"(?:\s+[Ss]chool)?\b",
        ),
    ),
    (
        "place",
        re.compile(
            rf"\b(?:{_CAPN}\s+){{1,3}}(?:surgery|medical centre|health centre|hospital|clinic|"
            rf"infirmary|ward|church|chapel|mosque|temple|arms|inn|tavern|hotel|centre|"
            rf"library|leisure centre|estate|barracks|prison|station)\b"
            rf"|\b(?i:ward|feddygfa|capel|eglwys|canolfan|ysbyty)\s+(?:\d+|[A-Z]\d*|{_CAP})"
            rf"(?:,?\s+(?:at|in|yn)?\s*(?:{_CAP}\s*){{1,3}})?"
            rf"|\b(?:{_CAPN}\s+){{1,2}}(?:General|Royal|Infirmary)(?:\s+Hospital)?\b"
            rf"|\b(?:{_SHOPS})(?:\s+(?i:depot|warehouse|store|superstore|extra|express|"
            rf"factory|office|distribution centre|car park))?"
            rf"(?:\s+(?:in|at|on|yn)\s+{_CAP}(?:\s+{_CAP})?)?"
            rf"|\b(?:{_CAPN}\s+){{1,2}}(?i:depot|warehouse|factory|industrial estate|retail park|"
            rf"business park|community centre|family centre|children's centre|food bank)\b"
            rf"|\b(?:St|Saint)\.?\s+{_CAP}(?:'s|’s)?(?:\s+{_CAP})*"
            rf"|\bthe\s+{_CAP}\s+(?:Arms|Inn|Head|Lion|Oak|Crown|Bull)\b"
            rf"|\b[Tt]he\s+{_CAP}\s+and\s+{_CAP}\b",
        ),
    ),
)

_TITLES = re.compile(
    rf"\b(?i:(?:mr|mrs|ms|mx|dr|cllr)\.?|miss|nurse|sister|father|aunty|auntie|uncle|nan|nana|"
    rf"taid|nain|mamgu|tadcu|anti|yncl|sir)\s+(?:{_CAP})(?:[\s\-]+(?:ap\s+|ab\s+)?{_CAP})?",
)
_TITLED_LOWER = re.compile(
    r"\b(?i:mr|mrs|ms|mx|dr)\.?\s+(?!(?:and|or|to|is|was|the|a|an)\b)[a-z][\w'’\-]+"
)
"""A title before a name written in lower case ("mrs evans")."""
_NOT_A_NAME = re.compile(r"(?:ly|ing|ed|tion|sion|ment|ness|able|ible|ful|less|ous|ive|[^s]s)$")
"""Endings of everyday words that start a sentence ("Seriously", "Forms"),
which first names and surnames almost never have."""
_POSSESSIVE = ("'s", "’s")
_MONTH_NAMES = frozenset({"april", "may", "june", "july", "august"})
_TOKEN = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)
_LONG_DIGITS = re.compile(r"(?<![\w])(?:\+?\d[\d\s\-()]{7,}\d)(?![\w])")


@cache
def _lines(name: str) -> frozenset[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        words.update(w.strip().lower() for w in line.split() if w.strip())
    return frozenset(words)


@cache
def _everyday_words() -> frozenset[str]:
    """Common English words (textstat's Dale-Chall list) plus a few Welsh
    ones: a capitalised word from these mid-sentence is not taken as a name."""
    easy = resources.files("textstat").joinpath("resources/en/easy_words.txt").read_text()
    return frozenset(w.strip().lower() for w in easy.split()) | _lines("welsh_common.txt")


@cache
def _first_names() -> frozenset[str]:
    return _lines("names_first.txt") | _lines("names_world.txt")


def _ordinary_names() -> frozenset[str]:
    return _lines("names_ordinary.txt")


def _surnames() -> frozenset[str]:
    return _lines("names_surnames.txt")


def _skeleton(word: str) -> str:
    """A spelling-blind form: "rianon" and "Rhiannon", "jesica" and
    "Jessica" share one, so a misspelt first name is still found."""
    w = re.sub(r"(?<=[bcdfgjklmnpqrstvwxz])h", "", word.lower())
    w = w.replace("y", "i").replace("ph", "f").replace("ck", "k")
    return re.sub(r"(.)\1+", r"\1", w)


@cache
def _first_skeletons() -> frozenset[str]:
    return frozenset(_skeleton(n) for n in _first_names() if len(n) >= 4)


_MUTATIONS = (
    ("ngh", "c"),
    ("mh", "p"),
    ("nh", "t"),
    ("ng", "g"),
    ("ch", "c"),
    ("ph", "p"),
    ("th", "t"),
    ("dd", "d"),
    ("f", "b"),
    ("f", "m"),
    ("g", "c"),
    ("b", "p"),
    ("d", "t"),
    ("l", "ll"),
    ("r", "rh"),
    ("m", "b"),
    ("n", "d"),
    ("", "g"),
)
"""Welsh initial mutations, mutated start → radical ("Ddafydd" → "Dafydd",
"Nghatrin" → "Catrin", "Eraint" → "Geraint")."""


def _unmutated(key: str) -> list[str]:
    return [radical + key[len(m) :] for m, radical in _MUTATIONS if key.startswith(m)]


def _norm(word: str) -> str:
    w = word.lower().replace("’", "'")
    for suffix in ("'s", "'n", "'r", "'i", "'m", "'th", "'"):
        if w.endswith(suffix):
            w = w[: -len(suffix)]
    return w


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘(")
    return not before or before[-1] in ".!?\n:;…" or before.endswith(("-", "—"))


# -- finding --------------------------------------------------------------------------


def _phones(text: str) -> list[Found]:
    found: list[Found] = []
    lenient = phonenumbers.Leniency.POSSIBLE
    for phone in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=lenient):
        digits = re.sub(r"\D", "", phone.raw_string)
        kind = "nhs" if len(digits) == 10 and nhs.is_valid(digits) else "phone"
        found.append(Found(phone.start, phone.end, kind))
    for run in _LONG_DIGITS.finditer(text):
        digits = re.sub(r"\D", "", run.group())
        if len(digits) == 10 and nhs.is_valid(digits):
            found.append(Found(run.start(), run.end(), "nhs"))
        elif len(digits) >= 9:
            found.append(Found(run.start(), run.end(), "number"))
    return found


def _names(text: str, known: Iterable[str]) -> list[Found]:
    found: list[Found] = []
    for m in (*_TITLES.finditer(text), *_TITLED_LOWER.finditer(text)):
        found.append(Found(m.start(), m.end(), "name"))
    for name in known:
        name = name.strip()
        if len(name) < 2:
            continue
        for part in {name, *name.split()}:
            if len(part) < 2:
                continue
            for m in re.finditer(rf"(?<!\w){re.escape(part)}(?!\w)", text, re.I):
                found.append(Found(m.start(), m.end(), "name"))
    first, ordinary, surnames = _first_names(), _ordinary_names(), _surnames()
    everyday = _everyday_words()
    tokens = list(_TOKEN.finditer(text))
    for i, m in enumerate(tokens):
        word = m.group()
        key = _norm(word)
        capital = word[:1].isupper()
        starts = _sentence_start(text, m.start())
        is_name = False
        if key in first and key not in ordinary:
            is_name = capital or key not in everyday
        elif key in ordinary:
            is_name = capital and (
                not starts
                or (key not in _MONTH_NAMES and bool(_VERB_AFTER_NAME.match(text, m.end())))
                or word[-2:] in _POSSESSIVE
            )
        elif key in surnames:
            is_name = capital and (not starts or key not in everyday)
        elif key in everyday or key in _lines("keep_capitalised.txt"):
            is_name = False
        elif capital and any(r in first and r not in ordinary for r in _unmutated(key)):
            is_name = True
        elif capital and starts:
            is_name = not _NOT_A_NAME.search(key)
        elif capital:
            is_name = not word.isupper() or len(word) > 3
        elif len(key) >= 4 and _skeleton(key) in _first_skeletons():
            is_name = True
        if is_name:
            end = _proper_noun_end(text, tokens, i)
            if text[end - 2 : end] in _POSSESSIVE and end - 2 > m.start():
                end -= 2
            found.append(Found(m.start(), end, "name"))
    return found


_LEADING_PREPOSITION = re.compile(
    r"(?i:on|by|from|until|till|since|before|after|in|during)\s+(?:the\s+)?(?=\d)"
)
"""The "on the " of "on the 3rd of March": kept, as it identifies nobody."""

_VERB_AFTER_NAME = re.compile(
    r"\s+(?:is|was|has|had|knows|knew|said|says|came|comes|rang|rings|called|helped|"
    r"told|tells|promised|never|always|did|does|didn't|doesn't|isn't|wasn't|and|from|at|"
    r"mae|oedd|wnaeth|nath|ddaeth)\b",
    re.I,
)
"""What follows a name that is also an everyday word when it starts a
sentence as a name ("Grace is the best", "Dawn knows")."""

_AGE_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)


def _age(text: str, start: int, end: int) -> Found:
    """An age match from its number on: "aged [age]", "she's [age]"."""
    m = _AGE_NUMBER.search(text, start, end)
    return Found(m.start() if m else start, end, "age")


def _proper_noun_end(text: str, tokens: list[re.Match[str]], i: int) -> int:
    """Where a name that starts at token `i` ends: it runs on through the
    capitalised words that follow ("Glanmor General", "Riverside Child
    Development Centre") and through Welsh "ap"/"ab" ("Dafydd ap Iwan")."""
    end = tokens[i].end()
    for nxt in tokens[i + 1 : i + 5]:
        gap = text[end : nxt.start()]
        word = nxt.group()
        if gap.strip() not in ("", "-"):
            break
        if word[:1].isupper() or (word in ("ap", "ab") and nxt is not tokens[-1]):
            end = nxt.end()
            continue
        break
    return end


def find(text: str, known_names: Iterable[str] = ()) -> list[Found]:
    """Every identifying detail in `text`, as non-overlapping spans."""
    spans: list[Found] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if kind == "age":
                spans.append(_age(text, *m.span()))
            elif kind == "handle":
                group = next(g for g in ("h1", "h2", "h3") if m.group(g))
                spans.append(Found(*m.span(group), kind))
            elif kind == "date":
                lead = _LEADING_PREPOSITION.match(text, m.start(), m.end())
                spans.append(Found(lead.end() if lead else m.start(), m.end(), kind))
            else:
                spans.append(Found(*m.span(), kind))
    spans += _phones(text)
    spans += _names(text, known_names)
    return _merge(spans)


def _merge(spans: list[Found]) -> list[Found]:
    spans.sort(key=lambda f: (f.start, -(f.end - f.start)))
    merged: list[Found] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                longer = span.end - span.start > last.end - last.start
                merged[-1] = Found(last.start, span.end, span.kind if longer else last.kind)
            continue
        merged.append(span)
    return merged


def scrub(text: str, known_names: Iterable[str] = ()) -> str:
    """`text` with every identifying detail replaced by a marker."""
    out: list[str] = []
    at = 0
    for span in find(text, known_names):
        out.append(text[at : span.start])
        out.append(MARKERS[span.kind])
        at = span.end
    out.append(text[at:])
    return "".join(out)
