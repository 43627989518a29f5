"""Plain language is enforced, not hoped: the shipped sets pass, bad wording fails.

Each failure names the set, the question, the language and why, so an
organisation running `heard lint` on its own set knows what to rewrite.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path

import pytest

import bot.core.questions as questions
from bot.core import plain_language as pl
from bot.core.questions import Kind, Questionnaire, load_file, parse_questionnaire
from bot.core.texts import LOCALES_DIR, normalise

DATA = Path(__file__).resolve().parents[1] / "data"
BAD_SET = DATA / "bad_set.toml"


def _one_question(text_en: str, text_cy: str = "Diolch am helpu.") -> Questionnaire:
    raw = {
        "id": "probe",
        "version": 1,
        "locales": ["en", "cy"],
        "title": {"en": "Probe", "cy": "Prawf"},
        "consent": {"en": "Shall we start?", "cy": "Gawn ni ddechrau?"},
        "thanks": {"en": "Thank you.", "cy": "Diolch."},
        "questions": [
            {
                "id": "q1",
                "dimension": "comment",
                "kind": "text",
                "text": {"en": text_en, "cy": text_cy},
            }
        ],
    }
    return parse_questionnaire(raw, "probe.toml")


def _why(problems: list[pl.Problem], question_id: str, locale: str) -> list[str]:
    return [p.why for p in problems if (p.question_id, p.locale) == (question_id, locale)]


# -- what ships passes ---------------------------------------------------------


@pytest.mark.parametrize("set_id", ["adult", "young"])
def test_shipped_sets_are_plain(set_id: str) -> None:
    q = questions.shipped()[set_id]
    assert [p.line() for p in pl.check_questionnaire(q)] == []


def test_every_shipped_set_passes_lint() -> None:
    lines, code = pl.lint_files(questions.shipped_files())
    assert code == 0, "\n".join(lines)
    assert lines[-1].endswith("all plain")


@pytest.mark.parametrize("set_id", ["adult", "young"])
def test_shipped_sets_cover_every_dimension_in_english_and_welsh(set_id: str) -> None:
    q = questions.shipped()[set_id]
    assert set(q.locales) >= {"en", "cy"}
    assert {x.dimension for x in q.questions} == set(questions.DIMENSIONS)
    comment = [x for x in q.questions if x.dimension == "comment"]
    assert [x.kind for x in comment] == [Kind.TEXT]
    assert "skip" in comment[0].text["en"].lower()


def test_adult_set_asks_what_the_research_says_matters() -> None:
    q = questions.shipped()["adult"]
    dims = [x.dimension for x in q.questions]
    assert dims.count("honesty") == 3
    assert dims.count("clarity") == 3
    kinds = {x.kind for x in q.questions if x.dimension == "continuity"}
    assert kinds == {Kind.YES_NO_UNSURE, Kind.COUNT}


@pytest.mark.parametrize("set_id", ["adult", "young"])
def test_each_set_has_the_same_questions_and_buttons_in_every_language(set_id: str) -> None:
    q = questions.shipped()[set_id]
    for loc in q.locales:
        assert loc in q.title and loc in q.consent and loc in q.thanks
        for x in q.questions:
            assert x.text[loc].strip(), (x.id, loc)
            assert len(x.labels.get(loc, ())) == len(x.codes), (x.id, loc)
    ids_per_locale = {loc: [x.id for x in q.questions if loc in x.text] for loc in q.locales}
    assert len({tuple(ids) for ids in ids_per_locale.values()}) == 1


@pytest.mark.parametrize("set_id", ["adult", "young"])
def test_scales_show_faces_and_words(set_id: str) -> None:
    q = questions.shipped()[set_id]
    for x in q.questions:
        if x.kind is not Kind.SCALE5:
            continue
        for loc, labels in x.labels.items():
            for label in labels:
                face, _, word = label.partition(" ")
                assert face in "😞🙁😐🙂😀" and word.strip(), (x.id, loc, label)


@pytest.mark.parametrize("set_id", ["adult", "young"])
def test_consent_promises_are_all_there(set_id: str) -> None:
    consent = questions.shipped()[set_id].consent["en"].lower()
    for promise in ("2 minutes", "name", "stop", "danger", "help"):
        assert promise in consent, promise
    assert "safeguarding" not in consent


# -- what fails, and how it is reported ------------------------------------------


def test_a_21_word_question_fails_and_20_words_pass() -> None:
    twenty = (
        "Did you and your worker talk about the things you want to do next week"
        " at home with your son?"
    )
    assert len(pl.words(twenty)) == 20
    assert pl.check_text(twenty, "en") == []
    reasons = pl.check_text(twenty[:-1] + " today?", "en")
    assert reasons == ["21 words; keep a question to 20 or fewer"]


def test_words_are_counted_plainly() -> None:
    assert pl.words("😀 Don't stop, it's 4 or more!") == [
        "Don't",
        "stop",
        "it's",
        "4",
        "or",
        "more",
    ]
    assert len(pl.words("Ydych chi'n gwybod beth sy'n digwydd?")) == 6


def test_hard_english_fails_on_reading_age() -> None:
    reasons = pl.check_text(
        "Notwithstanding organisational complexity, how satisfactorily were developments "
        "communicated?",
        "en",
    )
    assert len(reasons) == 1
    assert reasons[0].startswith("too hard to read: reading age")
    assert "the limit is 11 (grade 6)" in reasons[0]


def test_hard_welsh_fails_on_reading_age() -> None:
    reasons = pl.check_text(
        "Er gwaethaf cymhlethdod sefydliadol, pa mor foddhaol y cyfathrebwyd datblygiadau?",
        "cy",
    )
    assert len(reasons) == 1 and reasons[0].startswith("too hard to read")


def test_plain_welsh_passes() -> None:
    assert pl.check_text("Ydych chi'n gwybod beth fydd yn digwydd nesaf?", "cy") == []
    assert pl.check_text("Wyt ti'n hapus?", "cy") == []


def test_welsh_syllables_treat_w_and_y_as_vowels() -> None:
    counts = {
        "gweithiwr": 2,
        "cymdeithasol": 4,
        "gwybod": 2,
        "dweud": 1,
        "gwneud": 1,
        "newid": 2,
        "bywyd": 2,
        "deall": 2,
        "teuluoedd": 3,
        "siŵr": 1,
        "ydych": 2,
    }
    assert {w: pl.welsh_syllables(w) for w in counts} == counts


@pytest.mark.parametrize(
    ("text", "locale", "term"),
    [
        ("Was the assessment fair?", "en", "assessment"),
        ("Were the Assessments fair?", "en", "assessment"),
        ("Did you go to the strategy meeting?", "en", "strategy meeting"),
        ("Have you seen your Care Plan?", "en", "care plan"),
        ("Was it a multi agency meeting?", "en", "multi-agency"),
        ("Is your child LAC now?", "en", "LAC"),
        ("Is your child lac now?", "en", "LAC"),
        ("Is this a CIN case?", "en", "CIN"),
        ("Is there a CP plan?", "en", "CP"),
        ("Is this under S47?", "en", "S47"),
        ("Is this under section 47?", "en", "section 47"),
        ("Oedd yr asesiad yn deg?", "cy", "asesiad"),
        ("Ydy hyn yn rhan o'r gwaith diogelu?", "cy", "diogelu"),
        ("Ydy hyn yn rhan o waith ddiogelu?", "cy", "diogelu"),
        ("Ydych chi wedi gweld eich cynllun gofal?", "cy", "cynllun gofal"),
        ("Ydych chi wedi gweld ei gynllun gofal?", "cy", "cynllun gofal"),
        ("Ydych chi wedi gweld fy nghynllun gofal?", "cy", "cynllun gofal"),
        ("Ydy hyn yn statudol?", "cy", "statudol"),
        ("Oedd yr ymyriad yn help?", "cy", "ymyriad"),
    ],
)
def test_jargon_is_found(text: str, locale: str, term: str) -> None:
    assert term in pl.find_jargon(text, locale)
    reason = f"jargon '{term}': say what you mean in everyday words"
    assert reason in pl.check_text(text, locale)


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("Did you leave a lace behind?", "en"),
        ("Do you like the cinema?", "en"),
        ("Is your cap new?", "en"),
        ("Is this a Lac or a Cin?", "en"),
        ("Did they reassess the plan?", "en"),
        ("Do you feel safe?", "en"),
        ("Wyt ti'n teimlo'n ddiogel?", "cy"),
        ("Ydy'r rhaff yn lac?", "cy"),
        ("Ydych chi'n gwybod pam?", "cy"),
    ],
)
def test_ordinary_words_are_not_jargon(text: str, locale: str) -> None:
    assert pl.find_jargon(text, locale) == []


def test_jargon_list_has_what_the_design_names() -> None:
    terms = set(pl.parse_jargon(pl.JARGON_FILE.read_text(encoding="utf-8")))
    must = {
        "intervention", "assessment", "statutory", "multi-agency", "safeguarding", "care plan",
        "threshold", "section 47", "section 17", "LAC", "CIN", "CP", "looked after child",
        "child in need", "child protection plan", "core group", "strategy meeting",
        "case conference", "referral", "S47", "asesiad", "ymyriad", "statudol", "diogelu",
        "cynllun gofal",
    }  # fmt: skip
    assert must <= terms
    assert len(terms) >= len(must) + 20


def test_parse_jargon_skips_comments_and_blanks() -> None:
    assert pl.parse_jargon("# heading\n\n care   plan \nLAC  # acronym\nLAC\n") == (
        "care plan",
        "LAC",
    )


def test_each_problem_is_one_line_naming_set_question_locale_and_why() -> None:
    problems = pl.check_questionnaire(load_file(BAD_SET))
    got = {(p.set_id, p.question_id, p.locale) for p in problems}
    assert got == {
        ("bad", "title", "en"),
        ("bad", "consent", "en"),
        ("bad", "consent", "cy"),
        ("bad", "too_long", "en"),
        ("bad", "hard_words", "en"),
        ("bad", "hard_words", "cy"),
        ("bad", "jargon_word", "en"),
        ("bad", "jargon_word", "cy"),
        ("bad", "jargon_phrase", "en"),
        ("bad", "jargon_phrase", "cy"),
        ("bad", "jargon_acronym", "en"),
        ("bad", "jargon_acronym", "cy"),
        ("bad", "jargon_label", "en"),
    }
    assert _why(problems, "too_long", "en") == ["21 words; keep a question to 20 or fewer"]
    assert _why(problems, "jargon_acronym", "cy") == [
        "jargon 'LAC': say what you mean in everyday words"
    ]
    assert _why(problems, "jargon_label", "en") == [
        "answer 'Better than the threshold': "
        "jargon 'threshold': say what you mean in everyday words"
    ]
    assert _why(problems, "consent", "en")[0].startswith('sentence "We will ask you')
    assert _why(problems, "consent", "cy") == [
        "jargon 'diogelu': say what you mean in everyday words"
    ]
    for p in problems:
        line = p.line()
        assert "\n" not in line
        assert line.startswith(f"bad {p.question_id} [{p.locale}]: ")
        assert line.endswith(p.why)


def test_problem_line_format() -> None:
    p = pl.Problem("adult", "truth", "cy", "jargon 'asesiad': say what you mean")
    assert p.line() == "adult truth [cy]: jargon 'asesiad': say what you mean"


def test_a_locale_without_a_reading_rule_is_still_checked_for_length_and_jargon() -> None:
    assert pl.reading_grade("Czy pracownik mówi prawdę?", "pl") is None
    assert pl.check_text("Czy assessment jest OK?", "pl") == [
        "jargon 'assessment': say what you mean in everyday words"
    ]


def test_probe_set_with_one_bad_question() -> None:
    problems = pl.check_questionnaire(_one_question("Is there a care plan?"))
    assert [p.line() for p in problems] == [
        "probe q1 [en]: jargon 'care plan': say what you mean in everyday words"
    ]


# -- lint_files: exit codes and one line per file that cannot be loaded -----------


def test_lint_clean_file_exits_0(tmp_path: Path) -> None:
    lines, code = pl.lint_files([questions.QUESTIONS_DIR / "adult.toml"])
    assert code == 0
    assert lines == ["checked 1 file: all plain"]


def test_lint_bad_file_exits_1_with_a_line_per_problem() -> None:
    lines, code = pl.lint_files([BAD_SET])
    assert code == 1
    problems = pl.check_questionnaire(load_file(BAD_SET))
    assert lines[:-1] == [f"{BAD_SET}: {p.line()}" for p in problems]
    assert lines[-1] == f"checked 1 file: {len(problems)} problems"


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ('id = "x"\nversion = \n', "not valid TOML"),
        ('id = "x"\nversion = 1\n', "missing key"),
        ('id = "x"\nversion = 1\nlocales = ["en"]\nquestions = "oops"\n', ""),
        ('id = "x"\nversion = 1\nlocales = ["en"]\nquestions = [1, 2]\n', ""),
        (b"\xff\xfe not text", ""),
    ],
)
def test_lint_malformed_file_exits_2_with_one_line(
    tmp_path: Path, content: str | bytes, expect: str
) -> None:
    path = tmp_path / "broken.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    lines, code = pl.lint_files([path, BAD_SET])
    assert code == 2
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1
    assert str(path) in errors[0] and expect in errors[0]
    assert "Traceback" not in "\n".join(lines)
    assert all("\n" not in line for line in lines)
    assert any(line.startswith(f"{BAD_SET}: bad ") for line in lines), "other files still checked"
    assert lines[-1].endswith("1 could not be loaded")


def test_lint_missing_file_exits_2(tmp_path: Path) -> None:
    lines, code = pl.lint_files([tmp_path / "nowhere.toml"])
    assert code == 2
    assert lines[0].startswith("error: ") and "nowhere.toml" in lines[0]


def test_lint_notes_a_language_without_a_reading_rule(tmp_path: Path) -> None:
    path = tmp_path / "polish.toml"
    path.write_text(
        'id = "pl_set"\nversion = 1\nlocales = ["pl"]\n'
        '[title]\npl = "Ankieta"\n[consent]\npl = "Zaczynamy?"\n[thanks]\npl = "Dziękujemy."\n'
        '[[questions]]\nid = "c"\ndimension = "comment"\nkind = "text"\n'
        'text.pl = "Coś jeszcze?"\n',
        encoding="utf-8",
    )
    lines, code = pl.lint_files([path])
    assert code == 0
    assert lines[0] == (
        f"note: {path}: no reading-age rule for locale 'pl'; checked length and jargon only"
    )


# -- the Welsh locale file matches the English one --------------------------------


def _locale(code: str) -> dict[str, object]:
    return tomllib.loads((LOCALES_DIR / f"{code}.toml").read_text(encoding="utf-8"))


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_welsh_has_every_english_key_and_placeholder() -> None:
    en, cy = _locale("en"), _locale("cy")
    assert cy["name"] == "Cymraeg"
    en_text, cy_text = en["text"], cy["text"]
    assert isinstance(en_text, dict) and isinstance(cy_text, dict)
    assert set(cy_text) == set(en_text)
    for key, template in en_text.items():
        assert cy_text[key].strip(), key
        assert _placeholders(cy_text[key]) == _placeholders(template), key
    en_words, cy_words = en["words"], cy["words"]
    assert isinstance(en_words, dict) and isinstance(cy_words, dict)
    assert set(cy_words) == set(en_words)


def test_welsh_typed_words_are_there_and_never_mean_two_things() -> None:
    cy = _locale("cy")["words"]
    assert isinstance(cy, dict)
    for key, word in [
        ("stop", "stopio"),
        ("forget", "anghofio"),
        ("help", "cymorth"),
        ("skip", "neidio"),
        ("language", "iaith"),
        ("start", "dechrau"),
        ("yes", "ie"),
        ("no", "na"),
        ("unsure", "ddim yn siŵr"),
    ]:
        assert word in cy[key], (key, word)
    meaning: dict[str, str] = {}
    for code in ("en", "cy"):
        words = _locale(code)["words"]
        assert isinstance(words, dict)
        for key, forms in words.items():
            for form in forms:
                seen = meaning.setdefault(normalise(form), key)
                assert seen == key, f"{form!r} means both {seen} and {key}"


@pytest.mark.parametrize("code", ["en", "cy"])
def test_what_heard_says_is_plain(code: str) -> None:
    text = _locale(code)["text"]
    assert isinstance(text, dict)
    for key, template in text.items():
        assert pl.find_jargon(template, code) == [], key
        for sentence in pl.sentences(template):
            assert len(pl.words(sentence)) <= pl.MAX_WORDS, (key, sentence)


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("Was your worker on time and did they bring the forms?", "en"),
        ("Do you know who your worker is and how to reach them?", "en"),
        ("Did your worker phone you and explain why?", "en"),
        ("Was the visit at a good time and in a good place?", "en"),
        ("Has your worker changed, and were you told?", "en"),
        ("Is it clear? Is it kind?", "en"),
        ("Wyt ti'n nabod dy weithiwr a sut i'w ffonio?", "cy"),
    ],
)
def test_a_question_that_asks_two_things_is_flagged(text: str, locale: str) -> None:
    assert "asks two things at once: split it into two questions" in pl.check_text(text, locale)


@pytest.mark.parametrize(
    "text",
    [
        "Did you and your children feel listened to?",
        "How many workers have you had this year, or since your help began?",
        "Did your worker talk to you in Welsh or English, as you wanted?",
    ],
)
def test_one_question_about_two_people_or_a_choice_is_not_double(text: str) -> None:
    assert not pl.double_question(text, "en")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Was the completion of your plan explained?", "the completion of"),
        ("Did you get help with regard to money?", "with regard to"),
        ("Was there fulfilment of what was promised?", "fulfilment of"),
        ("How was the timeliness of visits?", "the timeliness of"),
        ("Oedd popeth yn glir o ran yr arian?", "o ran"),
    ],
)
def test_formal_wording_is_flagged_with_the_phrase(text: str, phrase: str) -> None:
    locale = "cy" if "Oedd" in text else "en"
    assert any(f"'{phrase}'" in r for r in pl.check_text(text, locale))
