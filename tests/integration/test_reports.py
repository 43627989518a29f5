"""Reports as managers and administrators get them, on SQLite and PostgreSQL:
figures from SQL, small numbers hidden, access checked, everything audited."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.core.disclosure import FEWER, REVEAL
from bot.core.errors import HeardError, NotAllowedError, NotFoundError, PeriodError
from bot.runtime.app import App, build
from bot.service import render_report
from bot.service.reports import Viewer
from bot.service.staff import cli_viewer
from storage import db
from storage.models import AuditEntry, Worker
from tests.conftest import PG_URL, SECRET, fresh_postgres
from tests.reports_seed import Org, random_org, seed

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
MONTHS = [(2026, m) for m in range(1, 12)]
ADMIN = "U0ADMIN001"
MANAGER = "U0MANAGER1"


def _app(url: str, **config: object) -> App:
    app = build(
        Config(database_url=url, pseudonym_secret=SECRET, admins=(ADMIN,), **config),  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
    app.store.upgrade()
    return app


def _org(seed_value: int = 7) -> tuple[Org, random.Random]:
    rng = random.Random(seed_value)
    org = random_org(rng, teams=3, workers_per_team=4, families=260, months=MONTHS)
    return org, rng


@pytest.fixture
def app(db_url: str) -> App:
    made = _app(db_url)
    org, rng = _org()
    seed(made.store.engine, org, rng)
    return made


def _audit(app: App) -> list[AuditEntry]:
    with app.store.sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_a_team_month_report_matches_the_answers(app: App) -> None:
    report = app.staff.reports.report(cli_viewer(), team="Team 001", period="2026-11")
    overall = next(r for r in report.summary() if r.dimension == "overall" and r.question is None)
    with app.store.sessions() as s:
        from storage.models import Answer

        rows = s.execute(
            select(Answer.respondent_id, Answer.value).where(
                Answer.team_id == 1,
                Answer.question_id == "overall",
                Answer.answered_at >= datetime(2026, 11, 1, tzinfo=UTC),
                Answer.answered_at < datetime(2026, 12, 1, tzinfo=UTC),
            )
        ).all()
    families = {r for r, _ in rows}
    assert overall.n == len(families) >= 5
    values = [v for _, v in rows]
    assert overall.mean == round(sum(values) / len(values) + 1e-9, 1)
    assert overall.distribution is not None
    assert sum(overall.distribution.values()) == pytest.approx(100, abs=0.3)
    assert list(dict.fromkeys(r.period for r in report.rows if r.section == "trend")) == [
        "2026-05",
        "2026-06",
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
        "2026-11",
    ]
    assert not any(r.dimension == "comment" for r in report.rows)
    assert _audit(app)[-1].action == "report"


def test_small_cells_are_hidden_and_no_parent_gives_them_away(app: App) -> None:
    report = app.staff.reports.report(cli_viewer(), team="Team 001", period="2026-11", by="worker")
    rows = [r for r in report.rows if r.section == "breakdown"]
    hidden = [r for r in rows if r.suppressed]
    assert hidden, "a worker with a few families a month must be hidden"
    for r in hidden:
        assert r.n is None and r.mean is None and r.distribution is None
        assert r.reason in (FEWER, REVEAL)
    team = {r.question or r.dimension: r for r in report.summary()}
    for measure, parent in team.items():
        children = [r for r in rows if (r.question or r.dimension) == measure and r.n != 0]
        unknown = [c for c in children if c.suppressed] + ([parent] if parent.suppressed else [])
        assert len(unknown) != 1, f"{measure}: one hidden cell could be found by subtraction"


def test_every_format_shows_only_published_figures(app: App, tmp_path: Path) -> None:
    report = app.staff.reports.report(cli_viewer(), period="2026-Q3", by="team")
    words = render_report.Words(app.staff.texts, "en", report.k)
    payload = json.loads(render_report.as_json(report))
    assert {"period", "from", "to", "k", "generated_at", "rows"} <= set(payload)
    assert (payload["period"], payload["from"], payload["to"], payload["k"]) == (
        "2026-Q3",
        "2026-07-01",
        "2026-09-30",
        5,
    )
    first = payload["rows"][0]
    for key in ("team", "worker", "dimension", "question", "n", "mean", "distribution"):
        assert key in first
    assert {"suppressed", "reason"} <= set(first)
    for row in payload["rows"]:
        if row["suppressed"]:
            assert row["n"] is None and row["mean"] is None and row["distribution"] is None
    csv_text = render_report.as_csv(report)
    assert csv_text.splitlines()[0].startswith("period,section,team,worker,dimension")
    assert len(csv_text.splitlines()) == len(report.rows) + 1
    table = render_report.table(report, words)
    assert "What families said: the whole organisation, 2026-Q3" in table
    assert render_report.trend_chart(report, words).startswith(b"\x89PNG")


def test_periods_and_names_that_do_not_work_are_refused_and_audited(app: App) -> None:
    reports = app.staff.reports
    with pytest.raises(PeriodError, match="has not ended"):
        reports.report(cli_viewer(), period="2026-12")
    with pytest.raises(PeriodError, match="future"):
        reports.report(cli_viewer(), period="2027-Q1")
    with pytest.raises(PeriodError, match="not a calendar period"):
        reports.report(cli_viewer(), period="2026-11-01..2026-11-15")
    with pytest.raises(NotFoundError, match="no team called 'Nowhere'"):
        reports.report(cli_viewer(), team="Nowhere", period="2026-11")
    with app.store.sessions() as s:
        other = s.scalars(select(Worker).where(Worker.team_id == 2)).first()
        assert other is not None
        other_name = other.name
    with pytest.raises(HeardError, match="is not in team"):
        reports.report(cli_viewer(), team="Team 001", worker=other_name, period="2026-11")
    actions = [(e.action, e.detail.get("why")) for e in _audit(app)]
    assert actions == [("report refused", "bad request")] * 5


def test_managers_see_their_teams_only(app: App) -> None:
    staff = app.staff
    assert staff.add_manager("Team 001", MANAGER, "Alex") == "Team 001"
    reports = staff.reports
    manager = reports.viewer_for_slack(MANAGER)
    assert reports.report(manager, team="Team 001", period="2026-11").scope.team == "Team 001"
    with pytest.raises(NotAllowedError):
        reports.report(manager, team="Team 002", period="2026-11")
    with pytest.raises(NotAllowedError):
        reports.report(manager, period="2026-11")
    with pytest.raises(NotAllowedError):
        reports.report(reports.viewer_for_slack("U0NOBODY01"), team="Team 001", period="2026-11")
    admin = reports.viewer_for_slack(ADMIN)
    assert reports.report(admin, team="Team 002", period="2026-11").scope.team == "Team 002"
    log = [(e.actor, e.action, e.detail.get("why")) for e in _audit(app)]
    assert log[1:] == [
        (f"slack:{MANAGER}", "report", None),
        (f"slack:{MANAGER}", "report refused", "not allowed"),
        (f"slack:{MANAGER}", "report refused", "not allowed"),
        ("slack:U0NOBODY01", "report refused", "not allowed"),
        (f"slack:{ADMIN}", "report", None),
    ]


def test_a_worker_cannot_manage_their_own_team_or_see_their_own_figures(app: App) -> None:
    with app.store.sessions.begin() as s:
        worker = s.get(Worker, 1)
        assert worker is not None
        worker.slack_user_id = "U0WORKER01"
    with pytest.raises(HeardError, match="cannot manage their own team"):
        app.staff.add_manager("Team 001", "U0WORKER01", None)
    app.staff.add_manager("Team 002", "U0WORKER01", None)
    viewer = Viewer("slack:U0WORKER01", slack_user="U0WORKER01")
    with pytest.raises(NotAllowedError):
        app.staff.reports.report(viewer, team="Team 001", worker="1", period="2026-11")


def test_a_finished_period_reads_the_same_every_time(app: App) -> None:
    first = app.staff.reports.report(cli_viewer(), period="2026-Q2", by="worker")
    later = app.staff.reports.report(cli_viewer(), period="2026-Q2", by="worker")
    assert first.rows == later.rows


@pytest.mark.skipif(not PG_URL, reason="needs HEARD_TEST_POSTGRES_URL")
def test_sqlite_and_postgresql_agree_to_the_digit(tmp_path: Path) -> None:
    outputs = []
    for url in (f"sqlite:///{tmp_path / 'heard.db'}", fresh_postgres()):
        app = _app(url)
        org, rng = _org(11)
        seed(app.store.engine, org, rng)
        for period, by in (("2026-11", "worker"), ("2026-Q3", "team"), ("2026-Q2", "month")):
            report = app.staff.reports.report(cli_viewer(), period=period, by=by)
            payload = json.loads(render_report.as_json(report))
            outputs.append((url.split(":")[0], period, payload["rows"]))
        app.close()
        db.make_engine(url).dispose()
    half = len(outputs) // 2
    for (_, p1, rows1), (_, p2, rows2) in zip(outputs[:half], outputs[half:], strict=True):
        assert p1 == p2
        assert rows1 == rows2
