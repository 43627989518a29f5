"""The engine as a family meets it: plain data in, replies and effects out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import effects as fx
from bot.core import texts as texts_mod
from bot.core.engine import (
    DANGER_CHECK,
    Begin,
    Event,
    FollowUpDue,
    InviteRejected,
    Phase,
    Policy,
    Press,
    StartPlain,
    State,
    Step,
    Text,
    Unsupported,
    step,
)
from bot.core.questions import load_file
from tests.helpers import screen_hurt, screen_words

TINY = load_file(Path(__file__).parent.parent / "data" / "tiny.toml")
TEXTS = texts_mod.load()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Family:
    """Drives the engine like a family would, keeping state between steps."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.state = State()
        self.policy = policy or Policy()
        self.last: Step = Step(self.state)
        self.effects: list[fx.Effect] = []

    def do(self, event: Event) -> Step:
        self.last = step(self.state, event, TINY, NOW, texts=TEXTS, policy=self.policy)
        self.state = self.last.state
        self.effects += self.last.effects
        return self.last

    def say(self, text: str) -> str:
        return self.text_of(self.do(Text(text)))

    def tap(self, label_or_code: str) -> str:
        for reply in reversed(self.last.replies):
            for c in reply.choices:
                if label_or_code in (c.label, c.data.rpartition(":")[2]):
                    return self.text_of(self.do(Press(c.data)))
        raise AssertionError(f"no button {label_or_code!r} in {self.last.replies}")

    @staticmethod
    def text_of(s: Step) -> str:
        return "\n".join(r.text for r in s.replies)

    def answers(self) -> list[fx.RecordAnswer]:
        return [e for e in self.effects if isinstance(e, fx.RecordAnswer)]

    def started(self) -> Family:
        self.do(Begin("en"))
        self.tap("yes")
        return self


def test_invite_leads_to_consent_with_two_buttons() -> None:
    fam = Family()
    s = fam.do(Begin("en"))
    assert s.state.phase is Phase.CONSENT
    assert "four quick questions" in s.replies[0].text
    assert [c.data for c in s.replies[0].choices] == ["c1:yes", "c1:no"]


def test_whole_survey_records_each_answer_and_schedules_next_checkin() -> None:
    fam = Family().started()
    assert "(1 of 4)" in fam.last.replies[0].text
    fam.tap("4")
    fam.say("yes")
    fam.say("5")
    out = fam.say("She explained things well")
    assert fam.state.phase is Phase.DONE
    assert "Thank you" in out and "6 weeks" in out
    assert [(a.question_id, a.code, a.value, a.text) for a in fam.answers()] == [
        ("truth", "4", 4, None),
        ("same_worker", "yes", 1, None),
        ("how_many", "4", 4, None),
        ("comment", "text", None, "She explained things well"),
    ]
    scheduled = [e for e in fam.effects if isinstance(e, fx.ScheduleFollowUp)]
    assert [(e.kind, e.key) for e in scheduled] == [
        ("reminder", "reminder:1"),
        ("checkin", "checkin:2"),
    ]
    assert scheduled[1].due_at == NOW + timedelta(weeks=6)
    assert fx.CancelFollowUps(("reminder",)) in fam.effects


@pytest.mark.parametrize("typed", ["3", " 3 ", "Sometimes", "😐 sometimes"])
def test_scale_accepts_typed_numbers_and_labels(typed: str) -> None:
    fam = Family().started()
    fam.say(typed)
    assert fam.answers()[-1].value == 3


def test_scale_rejects_out_of_range_number_kindly() -> None:
    fam = Family().started()
    out = fam.say("7")
    assert "number from 1 to 5" in out
    assert fam.answers() == [] and fam.state.index == 0


@pytest.mark.parametrize("typed,code", [("don't know", "unsure"), ("NO", "no"), ("ie", "yes")])
def test_yes_no_unsure_typed_words(typed: str, code: str) -> None:
    fam = Family().started()
    fam.tap("1")
    fam.say(typed)
    assert fam.answers()[-1].code == code


def test_count_folds_big_numbers_into_four_or_more() -> None:
    fam = Family().started()
    fam.tap("1")
    fam.tap("yes")
    fam.say("7")
    assert fam.answers()[-1].code == "4"


def test_skip_moves_on_without_storing() -> None:
    fam = Family().started()
    fam.tap("Skip")
    assert fam.state.index == 1 and fam.answers() == []
    fam.say("skip")
    assert fam.state.index == 2 and fam.answers() == []


def test_stale_button_never_stores_and_reasks_current_question() -> None:
    fam = Family().started()
    fam.tap("2")
    out = fam.text_of(fam.do(Press("q1.0:5")))
    assert "earlier question" in out and "(2 of 4)" in out
    assert len(fam.answers()) == 1 and fam.answers()[0].value == 2


@pytest.mark.parametrize("data", ["", ":", "q1.0", "q1.0:9", "q1.0:text", "cmd:erase", "x" * 64])
def test_forged_button_data_is_answered_kindly(data: str) -> None:
    fam = Family().started()
    s = fam.do(Press(data))
    assert fam.answers() == [] and s.replies and fam.state.index == 0


@pytest.mark.parametrize("typed", ["STOP", "stop", "/stop", "Stop!", "stopio", "/STOP@HeardBot"])
def test_stop_in_any_typed_form_stops_and_cancels_everything(typed: str) -> None:
    fam = Family().started()
    out = fam.say(typed)
    assert fam.state.phase is Phase.STOPPED
    assert "not send you any more messages" in out
    assert fx.CancelFollowUps() in fam.last.effects
    assert fx.SetStatus("stopped") in fam.last.effects


def test_start_after_stop_resumes_at_the_same_question() -> None:
    fam = Family().started()
    fam.tap("3")
    fam.say("stop")
    out = fam.text_of(fam.do(StartPlain()))
    assert fam.state.phase is Phase.ASKING and fam.state.index == 1
    assert "Welcome back" in out and "(2 of 4)" in out


def test_follow_ups_are_silent_after_stop() -> None:
    fam = Family().started()
    fam.say("stop")
    assert fam.do(FollowUpDue("reminder")).replies == ()
    assert fam.do(FollowUpDue("checkin")).replies == ()


def test_forget_needs_confirmation_then_erases() -> None:
    fam = Family().started()
    fam.tap("4")
    out = fam.say("forget")
    assert "cannot be undone" in out and fam.state.phase is Phase.CONFIRM_FORGET
    assert not any(isinstance(e, fx.EraseRespondent) for e in fam.effects)
    fam.tap("yes")
    assert fam.state.phase is Phase.FORGOTTEN
    assert fx.EraseRespondent() in fam.last.effects


def test_forget_cancelled_returns_to_the_question() -> None:
    fam = Family().started()
    fam.say("delete")
    out = fam.tap("no")
    assert fam.state.phase is Phase.ASKING and "nothing was deleted" in out


def test_help_shows_commands_then_the_current_question() -> None:
    fam = Family().started()
    out = fam.say("help")
    assert "STOP" in out and "(1 of 4)" in out


def test_language_switch_repeats_question_in_welsh() -> None:
    fam = Family().started()
    fam.say("language")
    assert fam.state.phase is Phase.LANGUAGE
    out = fam.tap("cy")
    assert fam.state.locale == "cy" and fam.state.phase is Phase.ASKING
    assert "gwir" in out


def test_typed_language_name_works() -> None:
    fam = Family().started()
    fam.say("iaith")
    fam.say("Cymraeg")
    assert fam.state.locale == "cy"


@pytest.mark.parametrize("what", ["sticker", "voice", "photo"])
def test_unsupported_input_gets_kind_reply_and_question_again(what: str) -> None:
    fam = Family().started()
    out = fam.text_of(fam.do(Unsupported(what)))
    assert "only read typed words" in out and "(1 of 4)" in out
    assert fam.state.index == 0


def test_overlong_text_is_not_stored_even_as_a_comment() -> None:
    fam = Family().started()
    for _ in range(3):
        fam.tap("Skip")
    out = fam.say("x" * 2001)
    assert "too long" in out and fam.answers() == [] and fam.state.phase is Phase.ASKING


def test_declining_stops_everything_and_start_asks_again() -> None:
    fam = Family()
    fam.do(Begin("en"))
    out = fam.tap("no")
    assert fam.state.phase is Phase.DECLINED and "no difference" in out
    fam.do(StartPlain())
    assert fam.state.phase is Phase.CONSENT


def test_reminder_mid_survey_reasks_current_question() -> None:
    fam = Family().started()
    out = fam.text_of(fam.do(FollowUpDue("reminder")))
    assert "gentle reminder" in out and "(1 of 4)" in out


def test_checkin_after_done_starts_a_new_round() -> None:
    fam = Family().started()
    for _ in range(4):
        fam.tap("Skip")
    fam.do(FollowUpDue("checkin"))
    assert fam.state.phase is Phase.CONSENT and fam.state.round == 2
    fam.tap("yes")
    fam.tap("5")
    assert fam.answers()[-1].round == 2


@pytest.mark.parametrize(
    "reason,expect", [("used", "used already"), ("expired", "too old"), ("unknown", "can't find")]
)
def test_rejected_invites_explain_what_to_do(reason: str, expect: str) -> None:
    out = Family().text_of(Family().do(InviteRejected(reason)))
    assert expect in out and "worker" in out


def test_screen_runs_first_and_help_comes_before_anything_else() -> None:
    policy = Policy(
        screen=screen_hurt("harm_to_self"),
        help_now={"en": "Call 999"},
    )
    fam = Family(policy).started()
    s = fam.do(Text("I want to hurt myself"))
    assert s.replies[0].text == "Call 999"
    assert fx.RaiseSafeguardingAlert(("harm_to_self",), "I want to hurt myself") in s.effects


def test_state_round_trips_through_plain_data() -> None:
    fam = Family().started()
    fam.say("language")
    assert State.from_dict(fam.state.to_dict()) == fam.state


PHASE_SETUPS = {
    Phase.NEW: [],
    Phase.CONSENT: [Begin("en")],
    Phase.ASKING: [Begin("en"), Press("c1:yes")],
    Phase.DONE: [Begin("en"), Press("c1:yes")] + [Text("skip")] * 4,
    Phase.DECLINED: [Begin("en"), Press("c1:no")],
    Phase.STOPPED: [Begin("en"), Text("stop")],
    Phase.CONFIRM_FORGET: [Begin("en"), Text("forget")],
    Phase.LANGUAGE: [Begin("en"), Text("language")],
}


@pytest.mark.parametrize("phase", list(PHASE_SETUPS))
@pytest.mark.parametrize(
    "command", ["stop", "forget", "help", "skip", "language", "start", "/start"]
)
def test_every_command_in_every_phase_replies_and_never_records(phase: Phase, command: str) -> None:
    fam = Family()
    for event in PHASE_SETUPS[phase]:
        fam.do(event)
    assert fam.state.phase is phase
    before = len(fam.answers())
    s = fam.do(Text(command))
    assert s.replies, f"{command} in {phase} said nothing"
    assert len(fam.answers()) == before
    assert all(r.text.strip() for r in s.replies)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sampled_from(list(PHASE_SETUPS)))
def test_any_text_in_any_phase_gets_a_reply_and_a_valid_state(text: str, phase: Phase) -> None:
    fam = Family()
    for event in PHASE_SETUPS[phase]:
        fam.do(event)
    s = fam.do(Text(text))
    assert s.replies
    assert State.from_dict(s.state.to_dict()) == s.state


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.sampled_from(list(PHASE_SETUPS)))
def test_forged_press_never_records_an_answer_outside_its_question(data: str, phase: Phase) -> None:
    fam = Family()
    for event in PHASE_SETUPS[phase]:
        fam.do(event)
    index = fam.state.index
    s = fam.do(Press(data))
    assert s.replies
    recorded = [e for e in s.effects if isinstance(e, fx.RecordAnswer)]
    if recorded:
        q = TINY.questions[index]
        assert phase is Phase.ASKING and data == f"q1.{index}:{recorded[0].code}"
        assert recorded[0].code in q.codes


@pytest.mark.parametrize("typed", ["hide", "HIDE", "/hide", "cuddio"])
def test_hide_asks_the_adapter_to_clear_the_chat_and_explains_the_rest(typed: str) -> None:
    fam = Family().started()
    out = fam.say(typed)
    assert fx.HideChat() in fam.last.effects
    assert "delete the whole chat" in out
    assert fam.state.phase is Phase.ASKING


def test_help_offers_a_hide_button() -> None:
    fam = Family().started()
    fam.say("help")
    fam.tap("Hide this chat")
    assert fx.HideChat() in fam.last.effects


def test_after_a_disclosure_the_question_comes_back_without_a_telling_off() -> None:
    policy = Policy(
        screen=screen_hurt("self_harm"),
        help_now={"en": "Call 999"},
    )
    fam = Family(policy).started()
    s = fam.do(Text("he hurt me"))
    texts = [r.text for r in s.replies]
    assert texts[0] == "Call 999"
    assert not any("didn't get that" in t for t in texts)
    assert "(1 of 4)" in texts[-1]


# -- the uncertain band: help, a "for review" alert, one gentle question ---------

REVIEW_POLICY = Policy(
    screen=screen_words(),
    help_now={"en": "Call 999", "cy": "Ffoniwch 999"},
    danger_check_after=timedelta(minutes=5),
)


def _in_band() -> tuple[Family, Step]:
    fam = Family(REVIEW_POLICY).started()
    return fam, fam.do(Text("things feel a bit wobbly at home"))


def test_the_uncertain_band_shows_help_tells_the_team_and_asks_one_question() -> None:
    fam, s = _in_band()
    assert s.replies[0].text == "Call 999"
    question = s.replies[-1]
    assert question.text == "Is anyone in danger right now?"
    assert [c.data for c in question.choices] == ["danger:yes", "danger:no", "danger:unsure"]
    assert len(s.replies) == 2, "the survey waits behind the one question"
    raised = [e for e in s.effects if isinstance(e, fx.RaiseSafeguardingAlert)]
    assert raised == [fx.RaiseSafeguardingAlert(("concern",), raised[0].text, review=True)]
    due = [e for e in s.effects if isinstance(e, fx.ScheduleFollowUp) and e.kind == DANGER_CHECK]
    assert due and due[0].due_at == NOW + timedelta(minutes=5)
    assert fam.state.danger_check


@pytest.mark.parametrize(("answer", "upgraded"), [("yes", True), ("unsure", True), ("no", False)])
def test_each_answer_to_the_danger_question(answer: str, upgraded: bool) -> None:
    fam, _ = _in_band()
    s = fam.do(Press(f"danger:{answer}"))
    upgrades = [e for e in s.effects if isinstance(e, fx.UpgradeSafeguardingAlert)]
    assert upgrades == ([fx.UpgradeSafeguardingAlert(answer)] if upgraded else [])
    assert fx.CancelFollowUps((DANGER_CHECK,)) in s.effects
    assert not fam.state.danger_check
    assert s.replies[-1].choices, "the survey question comes back"
    again = fam.do(Press(f"danger:{answer}"))
    assert not [e for e in again.effects if isinstance(e, fx.UpgradeSafeguardingAlert)]


@pytest.mark.parametrize(("typed", "upgraded"), [("yes", True), ("not sure", True), ("no", False)])
def test_a_typed_answer_counts(typed: str, upgraded: bool) -> None:
    fam, _ = _in_band()
    s = fam.do(Text(typed))
    upgrades = [e for e in s.effects if isinstance(e, fx.UpgradeSafeguardingAlert)]
    assert bool(upgrades) is upgraded
    assert not fam.state.danger_check


def test_no_answer_upgrades_when_the_follow_up_falls_due() -> None:
    fam, _ = _in_band()
    s = fam.do(FollowUpDue(DANGER_CHECK))
    assert s.effects == (
        fx.CancelFollowUps((DANGER_CHECK,)),
        fx.UpgradeSafeguardingAlert("no_answer"),
    )
    assert s.replies == ()
    assert fam.do(FollowUpDue(DANGER_CHECK)).effects == (), "answered or upgraded once only"


def test_words_typed_instead_are_screened_again() -> None:
    fam, _ = _in_band()
    s = fam.do(Text("he said he will hurt me"))
    assert fx.RaiseSafeguardingAlert(("self_harm",), "he said he will hurt me") in s.effects
    assert fx.UpgradeSafeguardingAlert("again") in s.effects
    assert s.replies[0].text == "Call 999"
    calm = Family(REVIEW_POLICY).started()
    calm.do(Text("a bit wobbly"))
    s = calm.do(Text("the worker was late"))
    assert not [e for e in s.effects if isinstance(e, fx.UpgradeSafeguardingAlert)]
    assert calm.state.danger_check, "still waiting for the answer (or the timeout)"


def test_stop_or_forget_without_answering_upgrades() -> None:
    fam, _ = _in_band()
    assert fx.UpgradeSafeguardingAlert("stopped") in fam.do(Text("stop")).effects
    fam, _ = _in_band()
    fam.do(Text("forget"))
    s = fam.do(Press("forget:yes"))
    assert fx.UpgradeSafeguardingAlert("forgotten") in s.effects


def test_before_an_invite_the_uncertain_band_is_urgent_at_once() -> None:
    fam = Family(REVIEW_POLICY)
    s = fam.do(Text("wobbly"))
    assert fx.RaiseSafeguardingAlert(("concern",), "wobbly", review=False) in s.effects
    assert not fam.state.danger_check


def test_the_danger_question_in_welsh() -> None:
    fam = Family(REVIEW_POLICY)
    fam.do(Begin("cy"))
    fam.do(Press("c1:yes"))
    s = fam.do(Text("wobbly"))
    assert s.replies[0].text == "Ffoniwch 999"
    assert s.replies[-1].text == "Oes rhywun mewn perygl ar hyn o bryd?"
    assert [c.label for c in s.replies[-1].choices] == ["Oes", "Nac oes", "Ddim yn siŵr"]
    assert fx.UpgradeSafeguardingAlert("unsure") in fam.do(Text("ddim yn siŵr")).effects
