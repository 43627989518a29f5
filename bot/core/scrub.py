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
_ORD = r"\d{1,2}(?:st|nd|rd|th|af|ed|ydd|fed)?"
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "un|dau|dwy|tri|tair|pedwar|pedair|pump|chwech|saith|wyth|naw|deg|un ar ddeg|deuddeg"
)
_NUM = (
    rf"(?:\d{{1,3}}|(?:{_NUMBER_WORDS})(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
)

_STREET = (
    r"road|rd|street|st|lane|ln|avenue|ave|close|drive|dr|way|crescent|cres|court|ct|place|pl|"
    r"terrace|terr|gardens|gdns|grove|park|square|sq|hill|row|walk|view|rise|mews|parade|green|"
    r"heol|ffordd|stryd|lon|lôn|rhodfa|cilgant|teras|maes|stad|clos|llwyn|bryn"
)
_CAP = r"[A-ZÀ-ÖØ-ÞŴŶ][\w'’\-]*"
_SHOPS = (
    r"Tesco|Asda|Aldi|Lidl|Co-op|Coop|Spar|Morrisons|Sainsbury'?s|McDonald'?s|Greggs|Boots|"
    r"Argos|Primark|Iceland|Costa|Starbucks|KFC|Wetherspoons?|B&M|Home Bargains|Poundland|"
    r"Currys|Halfords|Matalan|Wilko|Subway|Nando'?s|Londis|Farmfoods|Jobcentre(?: Plus)?|"
    r"Amazon|Screwfix|Toolstation|B&Q|Dunelm|Next|Peacocks"
)
_STREETS = rf"(?i:{_STREET})"
_WORD = r"[\w'’\-]+"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.I)),
    ("link", re.compile(r"\b(?:https?://|www\.)\S+", re.I)),
    (
        "handle",
        re.compile(
            r"(?<![\w@])@[A-Za-z0-9_.]{2,30}"
            r"|\b(?:snap(?:chat)?|insta(?:gram)?|ig|tiktok|tik tok|facebook|fb|twitter|youtube|yt|"
            r"discord|twitch|threads|whatsapp|telegram|reddit|xbox|psn|gamertag)"
            r"(?:\s+(?:name|handle|account|username|is|id|as|on|at|:|-))*\s*[:\-]?\s+"
            r"(?!(?:is|as|the|a|an|and|or|but|me|him|her|them|it)\b)[A-Za-z0-9_.]{3,30}",
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
            rf"|\b(?:Tŷ|Ty|Bryn|Pen|Maes|Pant|Cae|Llys|Plas|Bod|Hafod|Fron|Gwern|Rhos)[\s\-]+"
            rf"(?:(?:y|yr|'r)[\s\-]+)?{_CAP}(?:[\s\-]+{_CAP})?"
            rf"|\b(?i:flat|fflat|apartment|apt|unit)\s*\d+[a-zA-Z]?\b"
            rf"|\b(?:\d{{1,4}}[a-zA-Z]?,?\s+)?(?i:heol|ffordd|stryd|lon|lôn|rhodfa|cilgant|teras|stad|clos)"
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
            rf"|\b(?:y\s+)?\d{{1,2}}(?:af|il|ydd|ed|fed|eg|ain)\s+(?:o\s+)?{_MONTH}\b",
            re.I,
        ),
    ),
    (
        "age",
        re.compile(
            rf"\b{_NUM}[- ]?(?:year|yr|yo|month)s?[- ]?old\b"
            rf"|\b{_NUM}\s?(?:yo|y/o|yrs|yr)\b"
            rf"|\b(?:aged|age|oed|yn)\s+{_NUM}(?:\s+(?:oed|years?|mlwydd(?:\s+oed)?))?\b"
            rf"|\b{_NUM}\s+(?:oed|mlwydd oed|mlwydd)\b"
            rf"|\b(?:(?:s?he|they|he|she)(?:'s|’s|\s+is|\s+are|\s+was|\s+turned|\s+turns)|"
            rf"turned|turns|turning|is|was|are|were)\s+(?:only\s+|just\s+|nearly\s+|almost\s+)?"
            rf"{_NUM}(?:\s+and\s+{_NUM})?\b"
            rf"(?!\s*(?:%|pm|am|p\.m|a\.m|:|\.\d|minutes?|mins?|hours?|hrs?|days?|weeks?|"
            rf"times?|stars?|out of|of|workers?|people|pounds?|quid|miles?|o'clock))"
            rf"|\b(?:in|into|starting|started|starts|going into|moving up to|ym\s+mlwyddyn)\s+"
            rf"(?:year|yr|blwyddyn)\s+\d{{1,2}}\b"
            rf"|\bage of\s+{_NUM}\b"
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
            rf"(?:(?:{_CAP}|y|yr|ar|an|a)\s*){{1,5}}"
            rf"|\b(?:{_CAP}\s+){{1,4}}(?:[Pp]rimary|[Jj]uniors?|[Ii]nfants?|[Hh]igh|"
            rf"[Cc]omprehensive|[Aa]cademy|[Ss]econdary|[Cc]ollege|[Nn]ursery|[Ss]chool|"
            rf"[Ss]ixth [Ff]orm|[Pp]re-?school)"
            rf"(?:\s+[Ss]chool)?\b",
        ),
    ),
    (
        "place",
        re.compile(
            rf"\b(?:{_CAP}\s+){{1,3}}(?:surgery|medical centre|health centre|hospital|clinic|"
            rf"infirmary|ward|church|chapel|mosque|temple|arms|inn|tavern|hotel|centre|"
            rf"library|leisure centre|estate|barracks|prison|station)\b"
            rf"|\b(?i:ward|feddygfa|capel|eglwys|canolfan|ysbyty)\s+(?:\d+|[A-Z]\d*|{_CAP})"
            rf"(?:,?\s+(?:at|in|yn)?\s*(?:{_CAP}\s*){{1,3}})?"
            rf"|\b(?:{_CAP}\s+){{1,2}}(?:General|Royal|Infirmary)(?:\s+Hospital)?\b"
            rf"|\b(?:{_SHOPS})(?:\s+(?i:depot|warehouse|store|superstore|extra|express|"
            rf"factory|office|distribution centre|car park))?"
            rf"(?:\s+(?:in|at|on|yn)\s+{_CAP}(?:\s+{_CAP})?)?"
            rf"|\b(?:{_CAP}\s+){{1,2}}(?i:depot|warehouse|factory|industrial estate|retail park|"
            rf"business park|community centre|family centre|children's centre|food bank)\b"
            rf"|\b(?:St|Saint)\.?\s+{_CAP}(?:'s|’s)?(?:\s+{_CAP})*"
            rf"|\bthe\s+{_CAP}\s+(?:Arms|Inn|Head|Lion|Oak|Crown|Bull)\b",
        ),
    ),
)

_TITLES = re.compile(
    rf"\b(?i:mr|mrs|ms|miss|mx|dr|nurse|sister|father|aunty|auntie|uncle|nan|nana|taid|nain|"
    rf"mamgu|tadcu|anti|yncl|cllr|sir)\.?\s+(?:{_CAP})(?:[\s\-]+(?:ap\s+|ab\s+)?{_CAP})?",
)
_NOT_A_NAME = re.compile(r"(?:ly|ing|ed|tion|sion|ment|ness|able|ible|ful|less|ous|ive|[^s]s)$")
"""Endings of everyday words that start a sentence ("Seriously", "Forms"),
which first names and surnames almost never have."""
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


def _first_names() -> frozenset[str]:
    return _lines("names_first.txt")


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


def _norm(word: str) -> str:
    w = word.lower().replace("’", "'")
    for suffix in ("'s", "'"):
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
    for m in _TITLES.finditer(text):
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
            is_name = capital and not starts
        elif key in surnames:
            is_name = capital and (not starts or key not in everyday)
        elif key in everyday or key in _lines("keep_capitalised.txt"):
            is_name = False
        elif capital and starts:
            is_name = not _NOT_A_NAME.search(key)
        elif capital:
            is_name = not word.isupper() or len(word) > 3
        elif len(key) >= 4 and _skeleton(key) in _first_skeletons():
            is_name = True
        if is_name:
            found.append(Found(m.start(), _proper_noun_end(text, tokens, i), "name"))
    return found


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
            spans.append(_age(text, *m.span()) if kind == "age" else Found(*m.span(), kind))
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
                merged[-1] = Found(last.start, span.end, last.kind)
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
