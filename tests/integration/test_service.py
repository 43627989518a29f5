"""The service and storage together, on SQLite and PostgreSQL: what a family
does ends up stored once, durably, and only as much as it needs to be."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import OperationalError

from bot.core.engine import Phase, State
from bot.core.errors import StorageError
from bot.core.messages import Inbound, InboundKind
from bot.core.privacy import pseudonym
from bot.service.conversation import Conversations
from storage import repo
from storage.models import Answer, AuditEntry, Contact, Conversation, FollowUp, Respondent
from storage.unit import Store
from tests.conftest import SECRET, Alerts, FakeClock
from tests.helpers import ChatFamily, make_invite, screen_hurt, tiny_sets

MakeService = Callable[..., Conversations]


@pytest.fixture
def service(make_service: MakeService) -> Conversations:
    return make_service(sets=tiny_sets(), default_set="tiny")


def _invite(service: Conversations, clock: FakeClock, **kw: object) -> tuple[str, str]:
    with service.store.sessions.begin() as s:
        inv = make_invite(s, clock(), **kw)  # type: ignore[arg-type]
        return inv.token, inv.code


def _complete(fam: ChatFamily, token: str) -> None:
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("Kind and clear")


def test_a_whole_survey_is_stored_with_its_team_worker_and_version(
    service: Conversations, clock: FakeClock
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service)
    _complete(fam, token)
    assert "Thank you" in "\n".join(r.text for r in fam.replies)
    with service.store.sessions() as s:
        answers = s.scalars(select(Answer).order_by(Answer.id)).all()
        assert [(a.question_id, a.code, a.value, a.text) for a in answers] == [
            ("truth", "4", 4, None),
            ("same_worker", "no", 0, None),
            ("how_many", "2", 2, None),
            ("comment", "text", None, "Kind and clear"),
        ]
        assert {(a.set_id, a.set_version, a.round) for a in answers} == {("tiny", 3, 1)}
        follow = {f.kind: f.status for f in s.scalars(select(FollowUp))}
        assert follow == {"reminder": "cancelled", "checkin": "pending"}
        due = s.scalars(select(FollowUp.due_at).where(FollowUp.kind == "checkin")).one()
        assert due == clock() + timedelta(weeks=6)


def test_the_same_delivery_twice_is_stored_once(service: Conversations, clock: FakeClock) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service)
    fam.start(token)
    fam.tap("yes")
    first = fam.press("q1.0:5", key="update-77")
    again = fam.press("q1.0:5", key="update-77")
    assert "(2 of 4)" in first and again == ""
    with service.store.sessions() as s:
        assert repo.count_answers(s) == 1


def test_concurrent_duplicate_deliveries_store_one_answer(
    service: Conversations, clock: FakeClock
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service)
    fam.start(token)
    fam.tap("yes")
    inbound = Inbound("test", "1001", "dup-1", InboundKind.BUTTON, data="q1.0:3")
    results: list[int] = []

    def send() -> None:
        try:
            results.append(len(service.handle(inbound)))
        except StorageError:
            results.append(-1)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with service.store.sessions() as s:
        assert repo.count_answers(s) == 1
    assert sorted(results).count(0) >= 2


def test_a_restart_resumes_at_the_right_question(
    make_service: MakeService, clock: FakeClock
) -> None:
    first = make_service(sets=tiny_sets())
    token, _ = _invite(first, clock)
    fam = ChatFamily(first)
    fam.start(token)
    fam.tap("yes")
    fam.tap("5")
    first.store.dispose()

    second = make_service(sets=tiny_sets())
    out = ChatFamily(second).start()
    assert "(2 of 4)" in out
    out = ChatFamily(second).say("yes")
    assert "(3 of 4)" in out
    with second.store.sessions() as s:
        assert [a.question_id for a in s.scalars(select(Answer).order_by(Answer.id))] == [
            "truth",
            "same_worker",
        ]


def test_typed_code_works_in_any_case_and_spacing(service: Conversations, clock: FakeClock) -> None:
    _invite(service, clock, code="ABCD-3467")
    out = ChatFamily(service).say("abcd 3467")
    assert "four quick questions" in out


def test_a_used_code_cannot_be_used_by_another_family(
    service: Conversations, clock: FakeClock
) -> None:
    token, code = _invite(service, clock)
    ChatFamily(service, "1").start(token)
    out = ChatFamily(service, "2").start(token)
    assert "used already" in out
    out = ChatFamily(service, "2").say(code)
    assert "used already" in out
    with service.store.sessions() as s:
        assert s.scalar(select(Respondent.id).where(Respondent.pseudonym.is_not(None))) is not None
        assert len(s.scalars(select(Respondent)).all()) == 1


def test_the_same_family_tapping_its_link_again_resumes(
    service: Conversations, clock: FakeClock
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service)
    fam.start(token)
    fam.tap("yes")
    out = fam.start(token)
    assert "(1 of 4)" in out and "used already" not in out


def test_expired_and_unknown_codes_explain_what_to_do(
    service: Conversations, clock: FakeClock
) -> None:
    token, _ = _invite(service, clock, valid_for=timedelta(days=1))
    clock.advance(timedelta(days=2))
    assert "too old" in ChatFamily(service).start(token)
    assert "can't find" in ChatFamily(service).say("ZZZZ-9999")
    assert "type the code" in ChatFamily(service).say("hello")
    with service.store.sessions() as s:
        assert s.scalars(select(Respondent)).all() == []


def test_forget_erases_every_row_about_the_family(
    service: Conversations, clock: FakeClock, db_url: str
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service, "555123")
    _complete(fam, token)
    fam.say("forget")
    out = fam.tap("yes")
    assert "deleted" in out
    pseud = pseudonym(SECRET, "test", "555123")
    with service.store.sessions() as s:
        for model in (Answer, FollowUp, Conversation, Contact, Respondent):
            assert s.scalars(select(model)).all() == [], model.__tablename__
        for table in inspect(s.connection()).get_table_names():
            dump = " ".join(str(row) for row in s.execute(text(f"SELECT * FROM {table}")))
            assert pseud not in dump and "555123" not in dump, table
        assert s.scalars(select(AuditEntry.action)).all()[-1] == "erased own data"
    out = fam.say("hello")
    assert "type the code" in out


def test_raw_chat_ids_are_kept_only_in_contacts(service: Conversations, clock: FakeClock) -> None:
    token, _ = _invite(service, clock)
    _complete(ChatFamily(service, "987654321"), token)
    with service.store.sessions() as s:
        for table in inspect(s.connection()).get_table_names():
            dump = " ".join(str(row) for row in s.execute(text(f"SELECT * FROM {table}")))
            if table == "contacts":
                assert "987654321" in dump
            else:
                assert "987654321" not in dump, table


def test_stop_cancels_follow_ups_and_marks_the_respondent(
    service: Conversations, clock: FakeClock
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service)
    fam.start(token)
    fam.tap("yes")
    fam.say("STOP")
    with service.store.sessions() as s:
        assert {f.status for f in s.scalars(select(FollowUp))} == {"cancelled"}
        assert s.scalars(select(Respondent.status)).one() == "stopped"
    fam.say("start")
    with service.store.sessions() as s:
        assert s.scalars(select(Respondent.status)).one() == "active"


def test_a_failure_mid_step_stores_nothing_and_the_redelivery_succeeds(
    service: Conversations, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service)
    fam.start(token)
    fam.tap("yes")
    real = repo.save_state

    def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(repo, "save_state", broken)
    with pytest.raises(StorageError):
        fam.press("q1.0:2", key="u-1")
    with service.store.sessions() as s:
        assert repo.count_answers(s) == 0
        assert not repo.was_processed(s, "test", "u-1")
    monkeypatch.setattr(repo, "save_state", real)
    out = fam.press("q1.0:2", key="u-1")
    assert "(2 of 4)" in out
    with service.store.sessions() as s:
        assert repo.count_answers(s) == 1


def test_a_database_that_went_away_gives_a_storage_error(tmp_path: object) -> None:
    from bot.core import texts
    from storage import db

    eng = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    svc = Conversations(
        Store(eng), secret=SECRET, texts=texts.load(), clock=FakeClock(), monotonic=time.monotonic
    )
    with pytest.raises(StorageError):
        svc.handle(Inbound("test", "1", "k", InboundKind.TEXT, text="hi"))


def test_safeguarding_alert_reaches_the_sink_with_the_case(
    make_service: MakeService, clock: FakeClock, alerts: Alerts
) -> None:
    from bot.core.engine import Policy

    svc = make_service(
        sets=tiny_sets(),
        policy=Policy(screen=screen_hurt("harm_to_self")),
    )
    token, _ = _invite(svc, clock)
    fam = ChatFamily(svc)
    fam.start(token)
    fam.say("i want to hurt myself")
    assert len(alerts.raised) == 1
    alert = alerts.raised[0]
    assert alert.categories == ("harm_to_self",) and alert.worker_id is not None


def test_follow_up_runs_in_the_callers_transaction(
    service: Conversations, clock: FakeClock
) -> None:
    token, _ = _invite(service, clock)
    fam = ChatFamily(service, "42")
    fam.start(token)
    fam.tap("yes")
    with service.store.sessions.begin() as s:
        rid = s.scalars(select(Respondent.id)).one()
        out = service.follow_up(s, rid, "reminder")
    assert out[0].chat_id == "42" and "gentle reminder" in out[0].text
    fam.say("stop")
    with service.store.sessions.begin() as s:
        assert service.follow_up(s, rid, "reminder") == []
    with service.store.sessions() as s:
        state = State.from_dict(s.scalars(select(Conversation.state)).one())
        assert state.phase is Phase.STOPPED


def test_forget_erases_a_disclosure_written_before_an_invite_was_used(
    make_service: MakeService, clock: FakeClock
) -> None:
    from bot.config import SafeguardingConfig
    from bot.core.engine import Policy
    from bot.service.alerts import Alerts as DutyAlerts
    from storage.models import SafeguardingAlert

    svc = make_service(
        sets=tiny_sets(),
        default_set="tiny",
        policy=Policy(screen=screen_hurt("harm_from_others")),
        alert_sink=DutyAlerts(SafeguardingConfig()),
    )

    def alerts() -> list[SafeguardingAlert]:
        with svc.store.sessions() as s:
            return list(s.scalars(select(SafeguardingAlert).order_by(SafeguardingAlert.id)))

    early = ChatFamily(svc, "501")
    early.say("my brother hurts me")
    (alert,) = alerts()
    assert alert.text and alert.pseudonym and alert.respondent_id is None
    early.say("forget")
    (alert,) = alerts()
    assert alert.text is None and alert.pseudonym is None and alert.categories

    later = ChatFamily(svc, "502")
    later.say("he hurts me when mum is out")
    token, _ = _invite(svc, clock)
    later.start(token)
    later.say("forget")
    later.press("forget:yes")
    assert [a.text for a in alerts()] == [None, None]
