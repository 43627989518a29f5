"""Workers' digests on SQLite and PostgreSQL: the figures are the worker's
`heard report`, under k nothing but the kind "not enough yet", comments
scrubbed, moderated, shuffled and never one that raised an alert, and every
digest planned and claimed exactly once across restarts and processes."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Config, DigestsConfig
from bot.core.errors import NotFoundError, PeriodError
from bot.runtime.app import App, build
from bot.service.digests import Digests
from bot.service.ports import DeskProblem, ReviewDecided
from bot.service.staff import cli_viewer
from storage import digests as store
from tests.conftest import SECRET
from tests.digests_seed import ANA_SLACK, COMMENTS, MANAGER, NEXT_STEPS, NOW, seed_team


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _app(url: str, clock: Clock, comments: str = "moderated") -> App:
    config = Config(
        database_url=url,
        pseudonym_secret=SECRET,
        digests=DigestsConfig(comments=comments),
    )
    app = build(config, clock=clock)
    app.store.upgrade()
    return app


@pytest.fixture
def clock() -> Clock:  # type: ignore[override]
    return Clock(NOW)


@pytest.fixture
def app(db_url: str, clock: Clock) -> App:
    made = _app(db_url, clock)
    seed_team(made.store.engine)
    return made


def _digests(app: App) -> Digests:
    return app.staff.digests


def test_seven_families_get_the_figures_of_their_heard_report(app: App) -> None:
    digest = _digests(app).preview("Sam Jones", "2026-11")
    report = app.staff.reports.report(cli_viewer(), worker="Sam Jones", period="2026-11")
    assert digest.families == report.families() == 7
    means = {
        r.dimension: r.mean for r in report.summary() if r.question is None and r.mean is not None
    }
    assert {f.dimension: f.mean for f in digest.figures} == {
        d: means[d] for d in ("honesty", "clarity", "overall")
    }
    october = app.staff.reports.report(cli_viewer(), worker="Sam Jones", period="2026-10")
    before = {r.dimension: r.mean for r in october.summary() if r.question is None}
    for f in digest.figures:
        assert f.change == round(means[f.dimension] - before[f.dimension] + 1e-9, 1)
    payload = digest.as_json()
    assert list(payload) == [
        "worker",
        "period",
        "families",
        "suppressed",
        "dimensions",
        "comments",
        "chart",
        "same_worker",
        "promises",
        "worker_changes",
        "next_steps",
    ]
    assert payload["worker"] == "Sam Jones" and payload["period"] == "2026-11"
    assert payload["suppressed"] is False and payload["chart"] is True
    assert digest.chart is not None and digest.chart.startswith(b"\x89PNG")
    assert set(payload["dimensions"][0]) == {"dimension", "mean", "change"}


def test_three_families_get_the_kind_message_and_nothing_else(app: App) -> None:
    digests = _digests(app)
    digests.collect()
    for request in digests.to_review(50):
        digests.review(MANAGER, request.comment_id, "release", None)
    digest = digests.preview("Ana Lewis", "2026-11")
    assert digest.as_json() == {
        "worker": "Ana Lewis",
        "period": "2026-11",
        "families": None,
        "suppressed": True,
        "dimensions": [],
        "comments": [],
        "chart": False,
        "same_worker": None,
        "promises": {"kept": None, "repaired": None},
        "worker_changes": {"6_months": None, "12_months": None},
        "next_steps": [],
    }
    message = digests.message(digest)
    text = message.plain()
    assert (
        "Not enough families answered yet to share without identifying anyone "
        "(3 so far, 5 needed)" in text
    )
    assert "Ana is kind" not in text and "out of 5" not in text and not message.charts


def test_comments_are_scrubbed_moderated_and_never_one_that_raised_an_alert(app: App) -> None:
    digests = _digests(app)
    assert digests.collect() == len(COMMENTS) + len(NEXT_STEPS) + 1
    assert digests.collect() == 0
    assert digests.preview("Sam Jones", "2026-11").comments == ()
    waiting = digests.to_review()
    texts = {r.text for r in waiting}
    assert all(MANAGER in r.managers for r in waiting)
    assert not any("scared" in t for t in texts), "an alerted comment is never offered"
    assert not any("07700" in t or "Jayden" in t or "Chloe" in t for t in texts)
    by_text = {r.text: r.comment_id for r in waiting}
    early = next(i for t, i in by_text.items() if "early" in t)
    rings = next(i for t, i in by_text.items() if "rings back" in t)
    phone = next(i for t, i in by_text.items() if "[phone]" in t)
    plan = next(i for t, i in by_text.items() if "plan for the children" in t)
    daughter = next(i for t, i in by_text.items() if "daughter" in t)
    assert isinstance(digests.review(ANA_SLACK, early, "release", None), DeskProblem)
    assert isinstance(digests.review(MANAGER, early, "release", None), ReviewDecided)
    assert isinstance(digests.review(MANAGER, early, "withhold", None), DeskProblem)
    digests.review(MANAGER, phone, "withhold", None)
    edited = digests.review(MANAGER, rings, "edit", "Sam Jones always rings back, thank you.")
    assert (
        isinstance(edited, ReviewDecided) and edited.text == "[name] always rings back, thank you."
    )
    digests.review(MANAGER, plan, "release", None)
    digest = digests.preview("Sam Jones", "2026-11")
    assert sorted(digest.comments) == sorted(
        [
            "I wish the meetings were not so early in the morning.",
            "[name] always rings back, thank you.",
        ]
    )
    assert digest.next_steps == (NEXT_STEPS[6],)
    assert all(str(daughter) not in c for c in digest.comments)
    again = digests.preview("Sam Jones", "2026-11")
    assert again.comments == digest.comments, "the same digest keeps the same order"
    text = digests.message(digest).plain()
    assert "What families think happens next" in text and "2026-11-20" not in text


def test_automatic_releases_what_the_scrubber_passed(db_url: str, clock: Clock) -> None:
    app = _app(db_url, clock, comments="automatic")
    seed_team(app.store.engine)
    digests = _digests(app)
    digests.collect()
    digest = digests.preview("Sam Jones", "2026-11")
    assert len(digest.comments) == 4 and not any("scared" in c for c in digest.comments)


def test_comments_off_shows_none(db_url: str, clock: Clock) -> None:
    app = _app(db_url, clock, comments="off")
    seed_team(app.store.engine)
    digests = _digests(app)
    assert digests.collect() == 0
    assert (
        "In their own words" not in digests.message(digests.preview("Sam Jones", "2026-11")).plain()
    )


def test_unknown_worker_or_period_is_one_clear_error(app: App) -> None:
    with pytest.raises(NotFoundError):
        _digests(app).preview("Nobody Here", "2026-11")
    with pytest.raises(PeriodError):
        _digests(app).preview("Sam Jones", "2026-12")
    with pytest.raises(PeriodError):
        _digests(app).preview("Sam Jones", "last week")


def test_each_digest_is_planned_and_claimed_once_across_restarts(
    app: App, db_url: str, clock: Clock
) -> None:
    assert _digests(app).plan() == 4  # three workers and one manager, for 2026-11
    restarted = _app(db_url, clock)
    assert _digests(restarted).plan() == 0
    lease = timedelta(minutes=2)
    first = _digests(app).claim("process-a", lease)
    assert sorted(o.key for o in first) == [
        f"manager:{MANAGER}:2026-11",
        "worker:1:2026-11",
        "worker:2:2026-11",
        "worker:3:2026-11",
    ]
    assert _digests(restarted).claim("process-b", lease) == []
    # process-a dies with its claims; once the lease is over another takes them
    clock.now += lease + timedelta(seconds=1)
    taken = _digests(restarted).claim("process-b", lease)
    assert sorted(o.key for o in taken) == sorted(o.key for o in first)
    for out in taken:
        assert _digests(restarted).finish(out, "process-b", sent=True) == "sent"
    for out in first:  # the dead process's late result changes nothing
        _digests(app).finish(out, "process-a", sent=True)
    clock.now += timedelta(days=3)
    assert _digests(restarted).plan() == 0
    assert _digests(restarted).claim("process-b", lease) == []
    with restarted.store.read() as tx:
        rows = store.digests(tx)
    assert [(r.status, r.claimed_by) for r in rows] == [("sent", None)] * 4


def test_two_processes_claiming_at_once_share_the_digests(db_url: str, clock: Clock) -> None:
    apps = [_app(db_url, clock) for _ in range(2)]
    seed_team(apps[0].store.engine)
    results: dict[str, list[str]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def work(name: str, app: App) -> None:
        digests = _digests(app)
        barrier.wait()
        digests.plan()
        while got := digests.claim(name, timedelta(minutes=2), limit=1):
            results[name] += [o.key for o in got]

    threads = [threading.Thread(target=work, args=(n, a)) for n, a in zip("ab", apps, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = results["a"] + results["b"]
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 4


def test_the_schedule_waits_for_the_first_working_day(app: App, clock: Clock) -> None:
    clock.now = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    worker, _ = _digests(app).due(clock.now)
    assert worker is not None and worker.period.label == "2026-10"
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    worker, _ = _digests(app).due(clock.now)
    assert worker is not None and worker.period.label == "2026-11"
    off = replace(app.config, digests=DigestsConfig(every="off"))
    assert Digests(app.store, off, app.staff.texts, clock, b"s").plan() == 0


def test_erasing_a_family_erases_their_comment_on_its_way_to_a_digest(app: App) -> None:
    from storage import repo

    digests = _digests(app)
    digests.collect()
    with app.store.read() as tx:
        before = store.comment_counts(tx)
    with app.store.begin() as tx:
        repo.erase_respondent(tx, 3, NOW)
    with app.store.read() as tx:
        after = store.comment_counts(tx)
    assert sum(before.values()) - sum(after.values()) == 1
    assert not any("early" in r.text for r in digests.to_review())


def test_an_alert_raised_in_the_same_step_keeps_the_comment_out(app: App) -> None:
    from sqlalchemy import insert

    from storage.models import SafeguardingAlert

    with app.store.engine.begin() as conn:
        conn.execute(
            insert(SafeguardingAlert),
            [
                {
                    "at": datetime(2026, 11, 20, 12, tzinfo=UTC),
                    "categories": "harm",
                    "text": None,
                    "platform": "telegram",
                    "locale": "en",
                    "respondent_id": 3,
                    "status": "open",
                    "sends": 0,
                    "level": "review",
                }
            ],
        )
    digests = _digests(app)
    digests.collect()
    assert not any("early" in r.text for r in digests.to_review())


def test_heard_run_fires_on_send_at_on_working_days_and_catches_up_every_minute(
    app: App,
) -> None:
    from zoneinfo import ZoneInfo

    from bot.runtime.digests import DigestRunner

    jobs = {j.id: j for j in DigestRunner(app, {}).scheduler().get_jobs()}
    assert set(jobs) == {"digests-cron", "digests-catch-up"}
    london = ZoneInfo("Europe/London")
    sunday = datetime(2026, 11, 1, 12, tzinfo=london)
    fire = jobs["digests-cron"].trigger.get_next_fire_time(None, sunday)
    assert fire == datetime(2026, 11, 2, 9, 0, tzinfo=london)
    assert jobs["digests-catch-up"].trigger.interval == timedelta(minutes=1)


def test_under_k_the_digest_covers_the_smallest_finished_period_that_reaches_k(
    db_url: str, clock: Clock
) -> None:
    import random

    from tests.reports_seed import Family, Org, seed

    app = _app(db_url, clock)
    families = [Family(1, 2, ((2026, 11, 3 + i),)) for i in range(3)]
    families += [Family(1, 2, ((2026, 8, 3 + i),)) for i in range(6)]
    seed(
        app.store.engine,
        Org({1: "North"}, {2: (1, "Ana Lewis")}, tuple(families)),
        random.Random(2),
    )
    digests = _digests(app)
    digest = digests.preview("Ana Lewis", "2026-11")
    assert digest.period.label == "2026-Q3" and digest.families == 6
    report = app.staff.reports.report(cli_viewer(), worker="Ana Lewis", period="2026-Q3")
    assert digest.families == report.families()
    text = digests.message(digest).plain()
    assert "Not enough families answered in 2026-11 alone, so this digest covers 2026-Q3." in text
    assert digest.as_json()["period"] == "2026-Q3"


def test_weekly_digests_repeat_the_month_s_figures_and_carry_only_new_comments(
    db_url: str, clock: Clock
) -> None:
    config = Config(
        database_url=db_url,
        pseudonym_secret=SECRET,
        digests=DigestsConfig(every="weekly", comments="moderated"),
    )
    app = build(config, clock=clock)
    app.store.upgrade()
    seed_team(app.store.engine)
    digests = _digests(app)
    digests.collect()
    waiting = {r.text: r.comment_id for r in digests.to_review(50)}
    rings = next(i for t, i in waiting.items() if t.startswith("[name] always rings"))
    early = next(i for t, i in waiting.items() if "early" in t)
    digests.review(MANAGER, rings, "release", None)

    def sams(now: datetime) -> tuple[str, str]:
        clock.now = now
        digests.plan(now)
        out = [o for o in digests.claim("t", timedelta(minutes=5)) if o.who == "Sam Jones"]
        assert len(out) == 1
        for o in out:
            digests.finish(o, "t", sent=True)
        return out[0].key, out[0].message.plain()

    key, first = sams(datetime(2026, 12, 7, 9, 30, tzinfo=UTC))
    assert key.endswith(":2026-W49")
    monthly = digests.message(digests.preview("Sam Jones", "2026-11")).plain()
    figures = [line for line in monthly.splitlines() if "out of 5" in line or "families" in line]
    assert figures and all(line in first for line in figures)
    assert "always rings" in first and "early" not in first

    clock.now = datetime(2026, 12, 8, 12, tzinfo=UTC)
    digests.review(MANAGER, early, "release", None)
    key, second = sams(datetime(2026, 12, 14, 9, 30, tzinfo=UTC))
    assert key.endswith(":2026-W50")
    assert all(line in second for line in figures)
    assert "early" in second and "always rings" not in second
