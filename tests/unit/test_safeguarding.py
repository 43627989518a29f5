"""The safeguarding detector (DESIGN.md §8): a missed disclosure is the worst bug we can have.

The labelled set (tests/data/safeguarding_labelled.csv) holds realistic synthetic
messages.  Its ``holdout`` rows were not used to write the rules; they measure
generalisation (see bench/safeguarding_eval.py for the figures).
"""

from __future__ import annotations

import csv
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.core.errors import ConfigError
from bot.core.safeguarding import CATEGORIES, Detection, Detector, default_detector
from bot.core.safeguarding.normalise import fold, skeleton

LABELLED = Path(__file__).resolve().parents[1] / "data" / "safeguarding_labelled.csv"


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    category: str
    language: str
    split: str


def _rows() -> list[Row]:
    with LABELLED.open(encoding="utf-8", newline="") as handle:
        return [
            Row(r["text"], r["label"], r["category"], r["language"], r["split"])
            for r in csv.DictReader(handle)
        ]


ROWS = _rows()
ALERTS = [row for row in ROWS if row.label == "alert"]
ORDINARY = [row for row in ROWS if row.label == "ok"]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return default_detector()


# ---------------------------------------------------------------------------
# The labelled set itself


def test_labelled_set_is_big_and_balanced_enough() -> None:
    assert len(ROWS) >= 170
    assert len(ALERTS) >= 75
    assert len(ORDINARY) >= 75
    assert sum(1 for row in ALERTS if row.language == "cy") >= 15
    assert sum(1 for row in ORDINARY if row.language == "cy") >= 5
    assert {row.label for row in ROWS} == {"alert", "ok"}
    assert {row.language for row in ROWS} == {"en", "cy"}
    assert {row.split for row in ROWS} == {"dev", "holdout"}
    assert {row.category for row in ALERTS} == set(CATEGORIES)
    assert all(row.category == "" for row in ORDINARY)
    holdout = sum(1 for row in ROWS if row.split == "holdout") / len(ROWS)
    assert 0.3 <= holdout <= 0.55
    texts = [row.text for row in ROWS]
    assert len(texts) == len(set(texts)), "duplicate messages in the labelled set"


# ---------------------------------------------------------------------------
# Recall, false alerts, categories


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_every_must_alert_message_alerts(detector: Detector, split: str) -> None:
    missed = [
        row.text for row in ALERTS if row.split == split and detector.detect(row.text) is None
    ]
    assert missed == [], f"{len(missed)} missed disclosures ({split})"


def test_false_alert_rate_on_ordinary_feedback_is_at_most_ten_percent(
    detector: Detector,
) -> None:
    false_alerts = [row.text for row in ORDINARY if detector.detect(row.text) is not None]
    rate = len(false_alerts) / len(ORDINARY)
    assert rate <= 0.10, f"false-alert rate {rate:.1%}: {false_alerts}"


def test_expected_category_is_among_those_detected(detector: Detector) -> None:
    wrong = []
    for row in ALERTS:
        found = detector.detect(row.text)
        if found is not None and row.category not in found.categories:
            wrong.append((row.text, row.category, found.categories))
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I don't feel safe at home", "harm_from_others"),
        ("he said he'd make me pay if I told", "harm_from_others"),
        ("i cant go on", "self_harm"),
        ("nobody would miss me", "self_harm"),
        ("mum's boyfriend hits us", "harm_from_others"),
        ("I'm scared to go home", "harm_from_others"),
        ("I want to kill myself", "self_harm"),
        ("i took an overdose", "self_harm"),
        ("he touched me", "harm_from_others"),
        ("I was raped", "harm_from_others"),
        ("the kids are left alone all weekend", "child_at_risk"),
        ("he's outside with a knife right now", "immediate_danger"),
        ("dw i ddim eisiau byw", "self_harm"),
        ("mae o'n fy nharo i", "harm_from_others"),
    ],
)
def test_examples_from_the_issue_alert(detector: Detector, text: str, category: str) -> None:
    found = detector.detect(text)
    assert found is not None
    assert category in found.categories


@pytest.mark.parametrize(
    "text",
    [
        "I could kill for a cup of tea",
        "the wait was murder",
        "I'm dying to know what happens next",
        "that meeting was a nightmare",
        "she is useless and never calls back",
        # Documented decision (data/en.toml): a thing as subject is an idiom.
        "this service is killing me with the paperwork",
        "my feet are killing me",
        "she beat me to it",
        "i cant go on the course next week",
        "Mae'r gwaith papur yn fy lladd i",
        "Dwi'n marw isio gwybod",
    ],
)
def test_everyday_idioms_and_criticism_do_not_alert(detector: Detector, text: str) -> None:
    assert detector.detect(text) is None


# ---------------------------------------------------------------------------
# The shape of a detection


def test_detection_names_categories_and_rules_but_never_user_text(detector: Detector) -> None:
    text = "my stepdad hits me and says he will kill me if i tell, please help now"
    found = detector.detect(text)
    assert isinstance(found, Detection)
    assert found.categories == tuple(sorted(set(found.categories)))
    assert found.categories and set(found.categories) <= set(CATEGORIES)
    assert found.matched == tuple(sorted(found.matched))
    assert set(found.matched) <= set(detector.rule_ids)
    words = set(fold(text).split())
    assert not words & set(found.matched)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "👍", "...!!!", "12 34", "ok"])
def test_empty_and_trivial_text_does_not_alert(detector: Detector, text: str) -> None:
    assert detector.detect(text) is None


def test_detection_is_deterministic(detector: Detector) -> None:
    for row in ROWS[:60]:
        assert detector.detect(row.text) == detector.detect(row.text)


def test_default_detector_is_built_once() -> None:
    assert default_detector() is default_detector()


def test_a_long_message_is_checked_quickly(detector: Detector) -> None:
    text = " ".join(row.text for row in ROWS)[:2000]
    detector.detect(text)
    start = time.perf_counter()
    for _ in range(20):
        detector.detect(text)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.02  # generous: the bench reports the real figure


def test_pathological_input_is_still_fast(detector: Detector) -> None:
    for text in ("a" * 5000, "k i l l " * 400, "'" * 3000 + "x", "me " * 1000, "ab1" * 1000):
        start = time.perf_counter()
        detector.detect(text)
        assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------------
# Variations of must-alert messages still alert

_LONG_WORD = re.compile(r"[A-Za-z]{7,}")


def _vary_case(text: str, how: int) -> str:
    if how == 0:
        return text.upper()
    if how == 1:
        return text.lower()
    if how == 2:
        return text.title()
    return "".join(ch.upper() if i % 2 else ch.lower() for i, ch in enumerate(text))


@st.composite
def _variation(draw: st.DrawFn) -> tuple[str, str, str, str]:
    original = draw(st.sampled_from([row.text for row in ALERTS]))
    kind = draw(
        st.sampled_from(
            ["case", "spaces", "no_punctuation", "punctuation", "repeat", "apostrophe", "typo"]
        )
    )
    text = original
    if kind == "case":
        text = _vary_case(text, draw(st.integers(0, 3)))
    elif kind == "spaces":
        words = text.split()
        gaps = draw(
            st.lists(
                st.sampled_from([" ", "  ", "   ", "\t", " \n "]),
                min_size=len(words),
                max_size=len(words),
            )
        )
        text = "  " + "".join(w + g for w, g in zip(words, gaps, strict=True))
    elif kind == "no_punctuation":
        text = text.translate(str.maketrans("", "", string.punctuation))
    elif kind == "punctuation":
        words = text.split()
        marks = draw(
            st.lists(
                st.sampled_from(["", "", ",", "!", "...", "?", " -", "!!"]),
                min_size=len(words),
                max_size=len(words),
            )
        )
        text = " ".join(w + m for w, m in zip(words, marks, strict=True)) + draw(
            st.sampled_from([".", "!!!", " :(", "?!"])
        )
    elif kind == "repeat":
        alpha_at = [i for i, ch in enumerate(text) if ch.isalpha()]
        assume(alpha_at)
        at = draw(st.sampled_from(alpha_at))
        text = text[:at] + text[at] * draw(st.integers(2, 5)) + text[at + 1 :]
    elif kind == "apostrophe":
        assume("'" in text)
        at = draw(st.sampled_from([i for i, ch in enumerate(text) if ch == "'"]))
        text = text[:at] + text[at + 1 :]
    else:
        long_words = list(_LONG_WORD.finditer(text))
        assume(long_words)
        word = draw(st.sampled_from(long_words))
        letters = word.group()
        at = draw(st.integers(1, len(letters) - 2))  # keep the first and last letter
        edit = draw(st.sampled_from(["drop", "double", "swap", "change"]))
        if edit == "drop":
            typo = letters[:at] + letters[at + 1 :]
        elif edit == "double":
            typo = letters[:at] + letters[at] + letters[at:]
        elif edit == "swap":
            typo = letters[:at] + letters[at + 1] + letters[at] + letters[at + 2 :]
        else:
            new = draw(st.sampled_from(string.ascii_lowercase))
            typo = letters[:at] + new + letters[at + 1 :]
        text = text[: word.start()] + typo + text[word.end() :]
        return original, text, typo, letters
    return original, text, "", ""


# Derandomised so CI is stable; a 15,000-example random run passed when this was written.
@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(_variation())
def test_variations_of_must_alert_messages_still_alert(
    case: tuple[str, str, str, str],
) -> None:
    original, varied, typo, word = case
    detector = default_detector()
    if typo:
        # Out of scope: a typo that spells another real word (frightened ->
        # brightened, brother -> bother: such words are in no_fuzzy or are rule
        # words themselves, precisely so they are not misread); a second typo in
        # a word that was already misspelt; and a change that merges a run of
        # letters (gyllell -> gyllll), more than one edit once repeats collapse.
        typo_skeleton, word_skeleton = skeleton(fold(typo)), skeleton(fold(word))
        assume(typo_skeleton not in detector.protected_words)
        assume(not detector.is_rule_word(typo))
        assume(not detector.reads_as_typo(word))
        assume(abs(len(typo_skeleton) - len(word_skeleton)) <= 1)
    assert detector.detect(varied) is not None, f"{original!r} -> {varied!r}"


# ---------------------------------------------------------------------------
# Organisation rule files


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_organisation_file_adds_a_rule_and_extends_a_set(tmp_path: Path) -> None:
    extra = _write(
        tmp_path / "org.toml",
        """
[meta]
language = "en"

[normalise.rewrite]
gaffer = "boss"

[sets]
person = ["boss"]
org_code = ["bluebird"]

[[rule]]
id = "org.code_word"
category = "immediate_danger"
match = ["@org_code ~2 now|please|help"]
examples = ["bluebird now"]
""",
    )
    shipped = default_detector()
    assert shipped.detect("bluebird please") is None
    assert shipped.detect("i am scared of the boss") is None
    org = Detector.load([extra])
    found = org.detect("BLUEBIRD please")
    assert found is not None
    assert found.categories == ("immediate_danger",)
    assert found.matched == ("org.code_word",)
    # the extended shipped set works in the shipped rules
    assert org.detect("im scared of my gaffer") is not None
    # and the shipped rules still work
    assert org.detect("i want to kill myself") is not None


def test_an_organisation_file_can_use_welsh_mutations(tmp_path: Path) -> None:
    extra = _write(
        tmp_path / "cy-org.toml",
        """
[meta]
mutations = "welsh"

[[rule]]
id = "org.cy.poeni"
category = "self_harm"
match = ["poeni ~2 tolc"]
""",
    )
    org = Detector.load([extra])
    assert org.detect("dw i'n boeni am y tolc") is not None


BROKEN = [
    ("not toml", "[[rule]\nid = 1", "not valid TOML"),
    ("unknown top key", "[rulez]\n", "'rulez'"),
    (
        "unknown category",
        '[[rule]]\nid = "x"\ncategory = "sadness"\nmatch = "sad"\n',
        "'category'",
    ),
    (
        "unknown rule key",
        '[[rule]]\nid = "x"\ncategory = "self_harm"\nmatch = "a"\nmach = "b"\n',
        "'mach'",
    ),
    ("missing match", '[[rule]]\nid = "x"\ncategory = "self_harm"\n', "'match' or 'near'"),
    ("bad gap", '[[rule]]\nid = "x"\ncategory = "self_harm"\nmatch = "~2 sad"\n', "'match'"),
    (
        "unknown set",
        '[[rule]]\nid = "x"\ncategory = "self_harm"\nmatch = "@nosuch sad"\n',
        "@nosuch",
    ),
    (
        "window missing",
        '[[rule]]\nid = "x"\ncategory = "self_harm"\nnear = ["a", "b"]\n',
        "'window'",
    ),
    (
        "duplicate id",
        '[[rule]]\nid = "en.self_harm.terms"\ncategory = "self_harm"\nmatch = "sad"\n',
        "'id'",
    ),
    (
        "example does not fire",
        '[[rule]]\nid = "x"\ncategory = "self_harm"\nmatch = "blue moon"\n'
        'examples = ["green moon"]\n',
        "'examples'",
    ),
    ("bad set member", '[sets]\nperson = ["two words here"]\n', "[sets] key 'person'"),
    ("bad mutations", '[meta]\nmutations = "irish"\n', "'mutations'"),
    ("set is not a list", '[sets]\nperson = "he"\n', "person"),
    ("rewrite not a string", "[normalise.rewrite]\nu = 1\n", "'u'"),
]


@pytest.mark.parametrize(("name", "content", "key"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_malformed_file_raises_config_error_naming_file_and_key(
    tmp_path: Path, name: str, content: str, key: str
) -> None:
    path = _write(tmp_path / "broken.toml", content)
    with pytest.raises(ConfigError) as caught:
        Detector.load([path])
    message = str(caught.value)
    assert str(path) in message
    assert key in message


def test_a_missing_file_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        Detector.load([path])
