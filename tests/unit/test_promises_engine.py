"""Promises in the engine (asked beside the survey, outcome effects, nothing
after stop), the 'what happens next' question asked only after Yes or Partly,
due dates, and the plain-language check on promise and 'you said' texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import parse
from bot.core import effects as fx
from bot.core import questions
from bot.core import texts as texts_mod
from bot.core.engine import Begin, FollowUpDue, Phase, Policy, Press, State, Text, step
from bot.core.errors import ConfigError, HeardError, QuestionSetError
from bot.core.plain_language import lint_files
from bot.core.promises import check_family_text, parse_due
from bot.core.questions import parse_questionnaire
from tests.unit.test_engine import Family

TEXTS = texts_mod.load()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def _done_family() -> Family:
    fam = Family()
    fam.state = State(phase=Phase.DONE, set_id="tiny", set_version=3, locale="en", round=1)
    return fam


def _outcomes(fam: Family) -> list[fx.RecordPromiseOutcome]:
    return [e for e in fam.effects if isinstance(e, fx.RecordPromiseOutcome)]


def test_a_promise_is_asked_in_the_workers_words_and_kept_is_recorded() -> None:
    fam = _done_family()
    out = fam.text_of(fam.do(FollowUpDue("promise", 7, "I will ring you on Friday")))
    assert "“I will ring you on Friday”" in out and "Did this happen?" in out
    assert [c.label for c in fam.last.replies[-1].choices] == ["👍 Yes", "👎 No", "🤷 Not sure"]
    assert fx.PromiseAsked(7) in fam.last.effects
    assert "Thank you for telling us" in fam.tap("yes")
    assert _outcomes(fam) == [fx.RecordPromiseOutcome(7, "yes")]
    assert fam.state.promise == 0 and fam.state.phase is Phase.DONE


def test_after_no_the_family_is_asked_whether_the_worker_explained() -> None:
    fam = _done_family()
    fam.do(FollowUpDue("promise", 3, "I will send the letter"))
    assert "explain or say sorry" in fam.tap("no")
    assert [c.label for c in fam.last.replies[-1].choices] == ["👍 Yes", "👎 No"]
    fam.tap("yes")
    assert _outcomes(fam) == [
        fx.RecordPromiseOutcome(3, "no"),
        fx.RecordPromiseOutcome(3, "no", True),
    ]


def test_a_typed_answer_works_and_welsh_is_used_for_a_welsh_family() -> None:
    fam = _done_family()
    fam.state = State(phase=Phase.DONE, set_id="tiny", set_version=3, locale="cy", round=1)
    out = fam.text_of(fam.do(FollowUpDue("promise", 4, "Bydda i'n eich ffonio")))
    assert "Wnaeth hyn ddigwydd?" in out
    assert [c.label for c in fam.last.replies[-1].choices][:2] == ["👍 Do", "👎 Naddo"]
    fam.say("naddo")
    assert "egluro neu ddweud sori" in fam.text_of(fam.last)
    fam.say("do")
    assert _outcomes(fam)[-1] == fx.RecordPromiseOutcome(4, "no", True)


def test_a_promise_asked_mid_survey_leaves_the_survey_where_it_was() -> None:
    fam = Family()
    fam.do(Begin("en"))
    fam.tap("yes")
    fam.tap("4")
    assert fam.state.index == 1
    fam.do(FollowUpDue("promise", 9, "I will ring you"))
    after = fam.tap("unsure")
    assert "(2 of 4)" in after
    assert _outcomes(fam) == [fx.RecordPromiseOutcome(9, "unsure")]
    fam.tap("yes")  # the survey's own question still takes its answer
    assert [e.question_id for e in fam.effects if isinstance(e, fx.RecordAnswer)] == [
        "truth",
        "same_worker",
    ]


def test_nothing_is_asked_after_stop_and_old_promise_buttons_are_stale() -> None:
    fam = _done_family()
    fam.do(FollowUpDue("promise", 5, "I will ring you"))
    pressed = fam.last.replies[-1].choices[0].data
    fam.say("stop")
    assert fam.do(FollowUpDue("promise", 6, "I will write")).replies == ()
    fam.say("start")
    fam.do(Press(pressed.replace("p5", "p99")))
    assert _outcomes(fam) == []


def test_a_checkin_starts_with_what_the_team_changed() -> None:
    fam = _done_family()
    out = fam.text_of(fam.do(FollowUpDue("checkin", 0, "Each family keeps one worker.")))
    assert out.index("Each family keeps one worker.") < out.index("Hello again")


def test_state_round_trips_with_a_pending_promise() -> None:
    state = State(phase=Phase.DONE, promise=12, promise_stage="repair")
    assert State.from_dict(state.to_dict()) == state
    assert State.from_dict({"phase": "done"}).promise == 0


# -- what happens next, in your own words --------------------------------------------


@pytest.mark.parametrize("set_id", ["adult", "young"])
@pytest.mark.parametrize("locale", ["en", "cy"])
def test_own_words_follow_yes_or_partly_and_are_passed_over_otherwise(
    set_id: str, locale: str
) -> None:
    q = questions.shipped()[set_id]
    ids = [x.id for x in q.questions]
    at = ids.index("what_next")
    own = q.questions[at + 1]
    assert own.id == "next_own_words" and own.dimension == "next_steps"
    assert own.kind.value == "text" and own.text[locale]
    state = State(phase=Phase.ASKING, set_id=set_id, set_version=q.version, locale=locale, index=at)
    for code, asked in (("1", False), ("2", False), ("3", True), ("4", True), ("5", True)):
        result = step(state, Press(f"q0.{at}:{code}"), q, NOW, texts=TEXTS, policy=Policy())
        assert (result.state.index == at + 1) is asked, code
        if asked:
            assert own.text[locale] in result.replies[-1].text
            assert result.replies[-1].choices[-1].data.endswith(":skip")
            typed = step(result.state, Text("A meeting in May"), q, NOW, texts=TEXTS)
            assert (
                fx.RecordAnswer(0, "next_own_words", "next_steps", "text", None, "A meeting in May")
                in typed.effects
            )
        else:
            assert result.state.index == at + 2
    skipped = step(state, Press(f"q0.{at}:skip"), q, NOW, texts=TEXTS)
    assert skipped.state.index == at + 2


def test_the_shipped_sets_pass_lint() -> None:
    lines, code = lint_files(questions.shipped_files())
    assert code == 0, lines


def test_only_after_must_name_answers_of_the_question_before() -> None:
    raw = {
        "id": "x",
        "version": 1,
        "locales": ["en"],
        "title": {"en": "X"},
        "consent": {"en": "Start?"},
        "thanks": {"en": "Thanks"},
        "questions": [
            {"id": "a", "dimension": "clarity", "kind": "yes_no_unsure", "text": {"en": "A?"}},
            {
                "id": "b",
                "dimension": "comment",
                "kind": "text",
                "text": {"en": "B?"},
                "only_after": ["7"],
            },
        ],
        "labels": {"yes_no_unsure": {"en": ["Yes", "No", "Not sure"]}},
    }
    with pytest.raises(QuestionSetError, match="only_after 7 is not an answer to 'a'"):
        parse_questionnaire(raw, "x.toml")


# -- due dates and texts ------------------------------------------------------------------


def test_a_due_date_means_the_end_of_that_day_then_ask_after() -> None:
    due = parse_due("2026-03-05", NOW, LONDON, timedelta(days=1))
    assert due.at == datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
    assert due.ask_at == datetime(2026, 3, 7, 0, 0, tzinfo=UTC)
    assert parse_due("10s", NOW, LONDON, timedelta(0)).ask_at == NOW + timedelta(seconds=10)
    assert parse_due("2026-03-02", NOW, LONDON, timedelta(0)).at > NOW


@pytest.mark.parametrize(
    ("due", "message"),
    [("2026-03-01", "in the past"), ("next week", "write a date like 2026-12-05")],
)
def test_a_bad_due_date_says_what_to_write(due: str, message: str) -> None:
    with pytest.raises(HeardError, match=message):
        parse_due(due, NOW, LONDON, timedelta(days=1))


def test_texts_for_families_are_checked_kindly() -> None:
    ok = "You told us workers change too often. From January each family keeps one worker."
    assert check_family_text(f"  {ok} ", "en", limit=300, what="message") == ok
    with pytest.raises(HeardError, match=r"jargon 'assessment'.*Try again with the words"):
        check_family_text("I will finish your assessment", "en", limit=300, what="promise")
    long = ("I will ring you. " * 19).strip()
    assert len(long) == 322
    with pytest.raises(HeardError, match=r"322 characters; .* keep it to 300"):
        check_family_text(long, "en", limit=300, what="message")
    with pytest.raises(HeardError, match="empty"):
        check_family_text("   ", "en", limit=300, what="promise")


def test_ask_after_config() -> None:
    assert parse({}, "t").promise_ask_after == timedelta(days=1)
    assert parse({"promises": {"ask_after": "0s"}}, "t").promise_ask_after == timedelta(0)
    assert parse({"promises": {"ask_after": "2h"}}, "t").promise_ask_after == timedelta(hours=2)
    with pytest.raises(ConfigError, match=r"\[promises\] ask_after"):
        parse({"promises": {"ask_after": "soon"}}, "t")
