"""Promises, reassignment and "you said, we did" through the service and
storage, on SQLite and PostgreSQL, with an injected clock and the follow-up
half of `heard run` (sweep + outbox) driven by hand."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from bot.config import Config, ScheduleConfig
from bot.core.disclosure import FEWER, REVEAL
from bot.core.errors import HeardError, NotFoundError
from bot.core.promises import (
    CHANGES_6_MONTHS,
    CHANGES_12_MONTHS,
    LISTENED_AFTER,
    PROMISES_KEPT,
    PROMISES_REPAIRED,
    RECORDS,
)
from bot.service import render_report
from bot.service.conversation import Conversations
from bot.service.data_requests import DataRequests
from bot.service.reports import FREEZE_VERSION, Report, Reports, Row
from bot.service.staff import Staff, cli_viewer
from storage import promises as prepo
from storage import repo
from storage.models import (
    Answer,
    CaseChange,
    Invite,
    OutboxMessage,
    Promise,
    ReportCell,
    ReportSnapshot,
)
from tests.conftest import SECRET, FakeClock
from tests.helpers import ChatFamily, make_invite, tiny_sets
from tests.integration.test_followups import MakeService, make_heard
from tests.integration.test_report_cli import _chromium

NIGHT = ScheduleConfig(quiet_start=time(20, 0), quiet_end=time(9, 0))


def _config(schedule: ScheduleConfig = NIGHT, ask_after: timedelta = timedelta(days=1)) -> Config:
    return Config(
        database_url="sqlite://",
        pseudonym_secret=SECRET,
        schedule=schedule,
        promise_ask_after=ask_after,
    )


@pytest.fixture
def service(make_service: MakeService) -> Conversations:
    return make_service(sets=tiny_sets(), default_set="tiny")


def _invite(service: Conversations, clock: FakeClock, **kw: object) -> Invite:
    with service.store.sessions.begin() as s:
        return make_invite(s, clock(), **kw)  # type: ignore[arg-type]


def _joined(
    service: Conversations, clock: FakeClock, chat: str, **kw: object
) -> tuple[Invite, ChatFamily]:
    invite = _invite(service, clock, **kw)
    fam = ChatFamily(service, chat)
    fam.start(invite.token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say("skip")
    return invite, fam


def _report(service: Conversations, clock: FakeClock, period: str, **kw: str) -> Report:
    """An administrator's report with k = 3, the smallest k Heard allows."""
    return Reports(service.store, 3, (), clock).report(cli_viewer(), period=period, **kw)


def _record(report: Report, record_id: str, section: str = "summary", **where: str) -> Row:
    [row] = [
        r
        for r in report.rows
        if r.section == section
        and r.question == record_id
        and all(getattr(r, k) == v for k, v in where.items())
    ]
    return row


def _promises(service: Conversations) -> list[Promise]:
    with service.store.sessions() as s:
        return list(s.scalars(select(Promise).order_by(Promise.id)))


async def test_a_promise_is_asked_after_its_date_in_daytime_and_counted_not_shown(
    service: Conversations, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    staff = Staff(service, _config())
    heard = make_heard(service, clock, NIGHT)
    invite, fam = _joined(service, clock, "3001")
    made = staff.promises.add(
        code=invite.code.lower(), text="I will ring you on Friday", due="2026-03-03", now=clock()
    )
    # The end of 3 March (London = UTC in March), then a day: 5 March 00:00, which is night.
    assert made.ask_at == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    _, listed = staff.promises.open_of("Sam")
    assert [(p.code, p.text, p.asked) for p in listed] == [
        (invite.code, "I will ring you on Friday", False)
    ]

    clock.now = datetime(2026, 3, 4, 23, 0, tzinfo=UTC)
    assert await heard.due() == []
    clock.now = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # due, but quiet hours
    assert await heard.due() == []
    clock.now = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    sent = await heard.due()
    assert [o.chat_id for o in sent] == ["3001", "3001"]
    assert "“I will ring you on Friday”" in sent[0].text
    assert "Did this happen?" in sent[1].text
    assert await heard.due() == []

    fam.replies = sent
    assert "explain or say sorry" in fam.tap("no")
    assert "Thank you for telling us" in fam.tap("yes")
    [row] = _promises(service)
    assert (row.outcome, row.repaired, row.answered_at) == ("no", True, clock())
    # The list shows open promises only, so an answer never shows up there.
    assert staff.promises.open_of("Sam")[1] == []

    # One family's answer never reaches a report: the share is hidden below k.
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    report = _report(service, clock, "2026-03")
    for record in (PROMISES_KEPT, PROMISES_REPAIRED):
        row = _record(report, record.id)
        assert (row.suppressed, row.reason, row.n, row.distribution) == (True, FEWER, None, None)

    # The family's copy of their data holds the promise and their answers.
    exported = DataRequests(service, _config()).export(invite.code, actor="admin")
    [promise] = exported["people"][0]["promises"]
    assert (promise["promise"], promise["happened"], promise["explained_or_said_sorry"]) == (
        "I will ring you on Friday",
        "no",
        True,
    )
    assert exported["rows_held"]["promises"] == 1

    # Forgotten: only the counted outcome stays, with nothing that leads to the family.
    fam.say("forget")
    fam.tap("yes")
    [row] = _promises(service)
    assert (row.invite_id, row.respondent_id, row.text) == (None, None, "")
    assert (row.outcome, row.repaired, row.team_id) == ("no", True, invite.team_id)
    # A fresh snapshot (another k) no longer counts it: no family, nothing to hold to k.
    fresh = Reports(service.store, 4, (), clock).report(cli_viewer(), period="2026-03")
    assert not [r for r in fresh.rows if r.question == PROMISES_KEPT.id]


async def test_no_promise_question_after_stop_or_on_a_closed_case(
    service: Conversations, clock: FakeClock
) -> None:
    staff = Staff(
        service, _config(ScheduleConfig(quiet_start=time(0), quiet_end=time(0)), timedelta(0))
    )
    heard = make_heard(service, clock, ScheduleConfig(quiet_start=time(0), quiet_end=time(0)))
    first, stopper = _joined(service, clock, "3002")
    second, _ = _joined(service, clock, "3003")
    staff.promises.add(code=first.code, text="I will ring you", due="10s", now=clock())
    staff.promises.add(code=second.code, text="I will ring you", due="10s", now=clock())
    stopper.say("stop")
    staff.close_cases(code=second.code)
    clock.advance(timedelta(minutes=1))
    assert await heard.due() == []
    with pytest.raises(HeardError, match="is closed"):
        staff.promises.add(code=second.code, text="I will ring you", due="1d", now=clock())


def test_bad_promises_say_what_is_wrong_and_store_nothing(
    service: Conversations, clock: FakeClock
) -> None:
    staff = Staff(service, _config())
    invite, _ = _joined(service, clock, "3004")
    waiting = _invite(service, clock)
    with service.store.sessions.begin() as s:
        other = repo.add_worker(s, repo.team_by_name(s, "North"), "Ola", "U0OTHER", clock())  # type: ignore[arg-type]
        repo.add_worker(s, repo.team_by_name(s, "North"), "Kai", "U0KAI", clock())  # type: ignore[arg-type]
        s.execute(
            Invite.__table__.update().where(Invite.id == invite.id).values(worker_id=other.id)
        )
    cases = [
        (dict(code="ZZZZ-9999", text="I will ring you", due="1d"), "no case with the code"),
        (dict(code=waiting.code, text="I will ring you", due="1d"), "has not started"),
        (dict(code=invite.code, text="I will ring you", due="2026-01-01"), "in the past"),
        (dict(code=invite.code, text="I will do your care plan", due="1d"), "jargon"),
    ]
    for kwargs, message in cases:
        with pytest.raises(HeardError, match=message):
            staff.promises.add(now=clock(), **kwargs)
    with pytest.raises(HeardError, match="another worker's"):
        staff.promises.add(
            code=invite.code, text="I will ring you", due="1d", now=clock(), by_slack_user="U0KAI"
        )
    assert (
        staff.promise_for_slack_user(
            "U0NOBODY", invite.code, "I will ring you", "1d"
        ).__class__.__name__
        == "NotAWorker"
    )
    assert _promises(service) == []
    made = staff.promise_for_slack_user("U0OTHER", invite.code, "I will ring you", "1d")
    assert made.__class__.__name__ == "PromiseRecorded"


async def test_a_reassigned_case_sends_later_answers_to_the_new_worker(
    service: Conversations, clock: FakeClock
) -> None:
    staff = Staff(service, _config(ScheduleConfig(quiet_start=time(0), quiet_end=time(0))))
    heard = make_heard(service, clock, ScheduleConfig(quiet_start=time(0), quiet_end=time(0)))
    invite, fam = _joined(service, clock, "3005")
    _, unmoved = _joined(service, clock, "3006")
    staff.add_worker("North", "Robin", None)
    clock.advance(timedelta(days=3))
    moved = staff.promises.reassign(code=invite.code, worker_ref="Robin", now=clock())
    assert (moved.from_worker, moved.to_worker, moved.families) == ("Sam", "Robin", 1)
    with pytest.raises(HeardError, match="already Robin's"):
        staff.promises.reassign(code=invite.code, worker_ref="Robin", now=clock())
    with pytest.raises(NotFoundError):
        staff.promises.reassign(code=invite.code, worker_ref="Nobody", now=clock())

    clock.advance(timedelta(weeks=6))
    sent = await heard.due()
    assert "3005" in {o.chat_id for o in sent}
    fam.replies = [o for o in sent if o.chat_id == "3005"]
    fam.tap("yes")
    fam.tap("5")
    unmoved.replies = [o for o in sent if o.chat_id == "3006"]
    unmoved.tap("yes")
    unmoved.tap("4")
    with service.store.sessions() as s:
        workers = {
            (a.round, a.worker_id)
            for a in s.scalars(select(Answer).where(Answer.question_id == "truth"))
        }
        robin = next(w.id for w, _ in repo.list_workers(s) if w.name == "Robin")
        sam = next(w.id for w, _ in repo.list_workers(s) if w.name == "Sam")
        [change] = s.scalars(select(CaseChange)).all()
        assert (change.from_worker_id, change.to_worker_id) == (sam, robin)
    assert (1, sam) in workers and (2, robin) in workers

    # The report of that month counts one change among the three families
    # who answered, from the case records, beside what they said themselves.
    _joined(service, clock, "3007")
    answered_in = clock().strftime("%Y-%m")
    clock.advance(timedelta(days=40))
    report = _report(service, clock, answered_in, team="North")
    for record in (CHANGES_6_MONTHS, CHANGES_12_MONTHS):
        row = _record(report, record.id)
        assert row.n == 3 and not row.suppressed
        assert row.distribution == {
            "changes_0": 66.7,
            "changes_1": 33.3,
            "changes_2": 0.0,
            "changes_3": 0.0,
        }
    measures = [r.question for r in report.summary()]
    continuity = ["worker_changes_6m", "worker_changes_12m", "same_worker", "how_many"]
    assert [m for m in measures if m in continuity][:2] == continuity[:2]
    assert measures.index("worker_changes_12m") < measures.index("same_worker")


async def test_you_said_reaches_exactly_the_right_families_once(
    service: Conversations, clock: FakeClock
) -> None:
    schedule = NIGHT
    staff = Staff(service, _config(schedule))
    heard = make_heard(service, clock, schedule)
    clock.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    _joined(service, clock, "old")  # answered more than six months before
    clock.now = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    _joined(service, clock, "ok")
    _, welsh = _joined(service, clock, "welsh")
    welsh.say("language")
    welsh.tap("cy")
    _, stopped = _joined(service, clock, "stopped")
    stopped.say("stop")
    _, gone = _joined(service, clock, "gone")
    gone.say("forget")
    gone.tap("yes")
    _joined(service, clock, "elsewhere", team="South", worker="Lee")
    _invite(service, clock)  # a family who never started

    text = "You told us workers change too often. From January each family keeps one worker."
    cy = (
        "Fe ddywedoch chi fod gweithwyr yn newid yn rhy aml. "
        "O fis Ionawr, bydd gan bob teulu un gweithiwr."
    )
    clock.now = datetime(2026, 10, 1, 21, 0, tzinfo=UTC)  # evening: quiet hours
    preview = staff.promises.you_said(team="North", text=text, text_cy=cy, now=clock(), send=False)
    assert (preview.families, preview.by_locale, preview.sent) == (2, {"en": 1, "cy": 1}, False)
    with service.store.sessions() as s:
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "yousaid")).all() == []

    sent = staff.promises.you_said(team="North", text=text, text_cy=cy, now=clock(), send=True)
    assert sent.families == 2 and sent.sent
    assert await heard.due() == []  # held until morning
    clock.now = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
    await heard.due()
    await heard.due()
    with service.store.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "yousaid")).all()
    assert sorted((r.address, r.status) for r in rows) == [("ok", "sent"), ("welsh", "sent")]
    by_chat = {r.address: r.text for r in rows}
    assert text in by_chat["ok"] and cy in by_chat["welsh"]
    assert "Neges gan eich tîm" in by_chat["welsh"]

    # Shown again at the start of the family's next check-in.
    clock.now = datetime(2026, 11, 13, 10, 0, tzinfo=UTC)
    checkins = [o for o in await heard.due() if o.chat_id == "ok"]
    assert text in checkins[0].text and "Hello again" in checkins[1].text

    staff.add_team("East")
    for bad, message in (
        ({"team": "Nowhere", "text": text}, "no team called"),
        ({"team": "North", "text": "x" * 301}, "301 characters"),
        ({"team": "North", "text": "We changed the statutory threshold."}, "jargon"),
        ({"team": "East", "text": text}, "no family of East can get it now"),
    ):
        with pytest.raises(HeardError, match=message):
            staff.promises.you_said(text_cy=None, now=clock(), send=True, **bad)  # type: ignore[arg-type]
    with service.store.sessions() as s:
        assert (
            len(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "yousaid")).all()) == 2
        )


def _listened(service: Conversations, invite: Invite, code: str, at: datetime) -> None:
    with service.store.sessions.begin() as s:
        repo.add_answer(
            s,
            respondent_id=prepo.family_of_invite(s, invite.id),
            round=9,
            set_id="adult",
            set_version=2,
            question_id="listened_to",
            dimension="overall",
            code=code,
            value=None,
            text=None,
            team_id=invite.team_id,
            worker_id=invite.worker_id,
            answered_at=at,
        )


def test_reports_list_the_changes_and_who_then_felt_listened_to(
    service: Conversations, clock: FakeClock, tmp_path: Path
) -> None:
    """North tells its families what changed in March. April's report shows
    how many of North's families then felt listened to; answers from before
    the message, or from South (which sent nothing), are not in it."""
    staff = Staff(service, _config())
    north = [_joined(service, clock, f"l{i}")[0] for i in range(5)]
    south = _joined(service, clock, "s1", team="South", worker="Lee")[0]
    clock.advance(timedelta(hours=1))
    text = "Each family now keeps one worker."
    staff.promises.you_said(team="North", text=text, text_cy=None, now=clock(), send=True)
    _listened(service, north[4], "no", clock() + timedelta(hours=1))  # the same month
    april = datetime(2026, 4, 10, 10, 0, tzinfo=UTC)
    for invite, code in zip(north[:4], ("yes", "yes", "yes", "no"), strict=True):
        _listened(service, invite, code, april)
    _listened(service, south, "no", april)

    clock.now = datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
    march = _report(service, clock, "2026-03", by="team")
    assert [(c.team, c.date, c.text) for c in march.changes] == [("North", "2026-03-02", text)]
    assert not [r for r in march.rows if r.question == LISTENED_AFTER.id and r.n]
    report = _report(service, clock, "2026-04", by="team")
    assert report.changes == ()
    for section, where in (("summary", {}), ("breakdown", {"team": "North"})):
        row = _record(report, LISTENED_AFTER.id, section, **where)
        assert (row.n, row.distribution) == (4, {"yes": 75.0, "no": 25.0, "unsure": 0.0})
    assert not [
        r for r in report.rows if r.question == LISTENED_AFTER.id and r.team == "South" and r.n
    ]

    words = render_report.Words(staff.texts, "en", report.k)
    assert "Felt listened to, after “you said, we did”" in render_report.table(report, words)
    assert text in render_report.table(march, words)
    payload = json.loads(render_report.as_json(march))
    assert payload["you_said"] == [{"team": "North", "date": "2026-03-02", "text": text}]
    shown = [r for r in json.loads(render_report.as_json(report))["rows"]]
    assert {r["n"] for r in shown if r["question"] == LISTENED_AFTER.id} == {4, 0}
    csv_rows = list(csv.DictReader(io.StringIO(render_report.as_csv(march))))
    assert [r["text"] for r in csv_rows if r["section"] == "you_said"] == [f"2026-03-02 {text}"]
    page = tmp_path / "report.html"
    page.write_text(render_report.as_html(march, words), encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<ul id="you-said">' in dom.stdout
    assert f'<li><span class="d">2026-03-02</span> <b>North</b>: {text}</li>' in dom.stdout

    south_report = _report(service, clock, "2026-03", team="South")
    assert south_report.changes == ()


async def _promises_answered_in_march(service: Conversations, clock: FakeClock) -> Staff:
    always = ScheduleConfig(quiet_start=time(0), quiet_end=time(0))
    staff = Staff(service, _config(always, timedelta(0)))
    heard = make_heard(service, clock, always)
    answers = [("yes", None)] * 3 + [("no", "yes"), ("no", "yes"), ("no", "no")]
    families = [(*_joined(service, clock, f"p{i}"), a) for i, a in enumerate(answers)]
    families.append((*_joined(service, clock, "p-ola", worker="Ola"), ("yes", None)))
    for invite, _, _ in families:
        staff.promises.add(code=invite.code, text="I will ring you", due="10s", now=clock())
    clock.advance(timedelta(minutes=1))
    sent = await heard.due()
    for _, fam, (kept, repaired) in families:
        fam.replies = [o for o in sent if o.chat_id == fam.chat_id]
        fam.tap(kept)
        if repaired:
            fam.tap(repaired)
    return staff


async def test_a_month_frozen_before_the_recorded_figures_gains_them_once(
    service: Conversations, clock: FakeClock
) -> None:
    """March (and the first quarter it ends) was frozen by a Heard that had
    no recorded figures: version 1, the answers' cells only. The next report
    adds the recorded figures' cells, once, and every answer cell stays as
    it was; a month frozen at the current version is never computed again."""
    await _promises_answered_in_march(service, clock)
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    full = _report(service, clock, "2026-Q1", team="North", by="worker")
    with service.store.sessions.begin() as s:
        s.execute(
            delete(ReportCell).where(ReportCell.set_id == "", ReportCell.question_id.in_(RECORDS))
        )
        s.execute(update(ReportSnapshot).values(version=1))
        left = s.scalar(
            select(func.count()).where(ReportCell.set_id == "", ReportCell.question_id.in_(RECORDS))
        )
    assert left == 0

    clock.advance(timedelta(days=1))
    again = _report(service, clock, "2026-Q1", team="North", by="worker")
    assert again.rows == full.rows
    assert _record(again, PROMISES_KEPT.id).n == 7
    with service.store.sessions() as s:
        versions = set(s.scalars(select(ReportSnapshot.version)))
        cells = s.scalar(select(func.count()).select_from(ReportCell))
    assert versions == {FREEZE_VERSION}
    # The freeze holds: a later report computes nothing more.
    assert _report(service, clock, "2026-Q1", team="North", by="worker").rows == full.rows
    with service.store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReportCell)) == cells


async def test_promise_shares_reach_reports_only_over_k_families(
    service: Conversations, clock: FakeClock
) -> None:
    """Six families of Sam answer their promise question (three kept, three
    not, two of those put right) and one of Ola's (kept). The team's shares
    are shown; Ola's single answer is hidden, and so is Sam's, which would
    give it away (team minus Sam)."""
    staff = await _promises_answered_in_march(service, clock)
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    report = _report(service, clock, "2026-03", team="North", by="worker")
    kept = _record(report, PROMISES_KEPT.id)
    assert (kept.n, kept.distribution) == (7, {"yes": 57.1, "no": 42.9, "unsure": 0.0})
    put_right = _record(report, PROMISES_REPAIRED.id)
    assert (put_right.n, put_right.distribution) == (3, {"yes": 66.7, "no": 33.3, "unsure": 0.0})
    ola = _record(report, PROMISES_KEPT.id, "breakdown", worker="Ola")
    sam = _record(report, PROMISES_KEPT.id, "breakdown", worker="Sam")
    assert (ola.suppressed, ola.reason, ola.n) == (True, FEWER, None)
    assert (sam.suppressed, sam.reason, sam.n) == (True, REVEAL, None)
    sam_put_right = _record(report, PROMISES_REPAIRED.id, "breakdown", worker="Sam")
    assert (sam_put_right.n, sam_put_right.suppressed) == (3, False)
    words = render_report.Words(staff.texts, "en", report.k)
    assert "Promises kept (the family was asked after the date)" in render_report.table(
        report, words
    )
