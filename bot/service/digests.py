"""Digests: what families said about a worker, sent to them on a schedule,
and each manager's monthly summary of their teams.

A digest is a worker-scoped report (`Reports.compile`, so the same frozen,
disclosure-controlled cells as `heard report`) plus the comments a manager
released. Under k families it says so kindly ("3 so far, 5 needed") and then
covers the smallest fixed period that reaches k (the newest finished quarter,
then year), never a rolling window.

Exactly once: `plan` writes one row per (worker, period) and (manager,
period) under a unique key, so a restart or a second process planning the
same digest adds nothing; `claim` takes due rows with a lease (`FOR UPDATE
SKIP LOCKED` on PostgreSQL) and `finish` records the outcome. Each call is
one transaction.

Comments: `collect` takes in new free-text answers (the closing comment and
"what happens next, in your own words"), scrubs them with the staff's names,
and keeps out any that raised a safeguarding alert. With `[digests] comments
= "moderated"` each waits for a manager's Release, Withhold or Edit; with
"automatic" what the scrubber passed is released; "off" takes none in.

Figures Heard recorded itself (`bot.core.promises.RECORDS`) come from the
same report cells: the share of promises kept and, of those not kept, the
share put right, only where their cell was published (at least k families,
so at least k promises: each promise is one family's); worker changes from
the case records beside the share who said "same worker as last time". A
single promise's outcome is never a cell, so it can never be shown.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.core import digests as plan_of
from bot.core import periods
from bot.core.errors import HeardError, NotFoundError
from bot.core.periods import Period
from bot.core.promises import (
    CHANGES,
    CHANGES_6_MONTHS,
    CHANGES_12_MONTHS,
    PROMISES_KEPT,
    PROMISES_REPAIRED,
)
from bot.core.scrub import scrub
from bot.core.texts import STAFF_LOCALE, Texts
from bot.service import render_report
from bot.service.admin import find_worker
from bot.service.ports import (
    DeskProblem,
    DigestMessage,
    ReportSection,
    ReviewDecided,
    ReviewOutcome,
    ReviewRequest,
)
from bot.service.reports import Report, Reports, Scope
from storage import digests as store
from storage import repo
from storage.unit import Store, Tx

SCORED = ("honesty", "clarity", "overall")
COMMENT_DIMENSIONS = {"comment": "comment", "next_steps": "next_steps"}
"""Answer dimension -> digest heading."""
RETRY = timedelta(minutes=10)
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Figure:
    dimension: str
    mean: float
    change: float | None

    def as_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "mean": self.mean, "change": self.change}


@dataclass(frozen=True, slots=True)
class Recorded:
    """The recorded figures of one scope and period that disclosure control
    published: None wherever the cell was hidden or empty."""

    promises_kept: float | None = None
    """Share (%) of promises the families said were kept."""
    promises_repaired: float | None = None
    """Of the promises not kept, share (%) the worker explained or said sorry for."""
    changes_6m: dict[str, float] | None = None
    """Families by worker changes on their case (code -> %), 6 months."""
    changes_12m: dict[str, float] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "promises": {"kept": self.promises_kept, "repaired": self.promises_repaired},
            "worker_changes": {"6_months": self.changes_6m, "12_months": self.changes_12m},
        }


@dataclass(frozen=True, slots=True)
class WorkerDigest:
    """One worker's digest for one period, after disclosure control."""

    worker: str
    worker_id: int
    asked: Period
    """The period the digest is for."""
    period: Period
    """The period it covers: `asked`, or a larger one that reaches k."""
    k: int
    families: int | None
    """None when suppressed."""
    so_far: int
    """Families who answered in `asked` (shown only under k)."""
    figures: tuple[Figure, ...] = ()
    continuity: float | None = None
    """Share (%) who said they had the same worker as last time."""
    comments: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()
    chart: bytes | None = None
    previous: Period | None = None
    report: Report | None = field(default=None, repr=False)
    records: Recorded = field(default_factory=lambda: Recorded())

    @property
    def suppressed(self) -> bool:
        return self.families is None

    def as_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "period": self.period.label,
            "families": self.families,
            "suppressed": self.suppressed,
            "dimensions": [f.as_json() for f in self.figures],
            "comments": [*self.comments, *self.next_steps],
            "chart": self.chart is not None,
            # issue 15, after the fields issue 11 named: the recorded figures
            # (None where hidden) and which comments are "what happens next"
            "same_worker": self.continuity,
            **self.records.as_json(),
            "next_steps": list(self.next_steps),
        }


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed digest, built, with where it goes."""

    id: int
    key: str
    platform: str | None
    """slack, telegram, or None when the worker has nowhere to get it."""
    address: str
    who: str
    """For the one line `heard digest send` prints (a name, never a chat id)."""
    message: DigestMessage


@dataclass(frozen=True, slots=True)
class Planned:
    new: int
    already: int
    keys: tuple[str, ...]


class Digests:
    """The digest use cases. Thread-safe: every call opens its own transaction."""

    def __init__(
        self,
        store_: Store,
        config: Config,
        texts: Texts,
        clock: Callable[[], datetime],
        seed: bytes,
    ) -> None:
        """`seed` orders comments (the same digest always in the same order,
        unrelated to when they were written): pass a secret."""
        self.store = store_
        self.config = config
        self.texts = texts
        self.clock = clock
        self.seed = seed
        self.k = config.k_threshold
        self.reports = Reports(store_, self.k, config.admins, clock)
        self.zone = ZoneInfo(config.schedule.timezone)
        self.words = render_report.Words(texts, STAFF_LOCALE, self.k)

    def say(self, key: str, **values: object) -> str:
        return self.texts.get(STAFF_LOCALE, f"digest_{key}", **values)

    # -- the schedule ------------------------------------------------------------

    def due(self, now: datetime) -> tuple[plan_of.Due | None, plan_of.Due | None]:
        """The newest (worker, manager) digests that have fallen due (a
        weekly one names its ISO week; its figures are still a fixed period's)."""
        cfg = self.config.digests
        if cfg.every == "off":
            return None, None
        extra = cfg.extra_holidays
        if cfg.every == "weekly":
            week = plan_of.latest_weekly(now, cfg.send_at, self.zone, extra)
            worker = plan_of.Due(week.period, week.at, week.week)
        else:
            months = plan_of.EVERY_MONTHS[cfg.every]
            worker = plan_of.latest_due(now, months, cfg.send_at, self.zone, extra)
        manager = plan_of.latest_due(now, 1, cfg.send_at, self.zone, extra)
        return worker, manager

    def plan(self, now: datetime | None = None) -> int:
        """Write a row for every digest that has fallen due and is not there
        yet; returns how many are new. Only the newest due period is planned,
        so what fell due while Heard was down goes out once."""
        now = now or self.clock()
        worker_due, manager_due = self.due(now)
        if worker_due is None or manager_due is None:
            return 0
        label = worker_due.week or worker_due.period.label
        with self.store.begin() as tx:
            rows = [
                _row(f"worker:{w.id}:{label}", "worker", worker_due, now, worker_id=w.id)
                for w in store.workers(tx)
                if not w.digests_off
            ]
            rows += [
                _row(f"manager:{user}:{manager_due.period}", "manager", manager_due, now, user=user)
                for user in store.managers(tx)
            ]
            return store.plan(tx, rows)

    def plan_now(self, worker_ref: str | None, period_text: str | None) -> Planned:
        """For `heard digest send`: rows due now for one worker or all, with
        the same keys as the schedule's, so nothing is ever sent twice."""
        now = self.clock()
        with self.store.begin() as tx:
            period = self._period(period_text, now)
            members = [self._member(tx, worker_ref)] if worker_ref else store.workers(tx)
            due = plan_of.Due(period, now)
            rows = [
                _row(f"worker:{m.id}:{period}", "worker", due, now, worker_id=m.id) for m in members
            ]
            new = store.plan(tx, rows)
            return Planned(new, len(rows) - new, tuple(r["key"] for r in rows))

    def claim(
        self,
        owner: str,
        lease: timedelta,
        limit: int = 20,
        keys: Collection[str] | None = None,
    ) -> list[Outgoing]:
        """Claim due digests (with `keys`, only those) and build each one,
        in one transaction."""
        now = self.clock()
        with self.store.begin() as tx:
            claimed = store.claim(
                tx, owner=owner, now=now, lease_until=now + lease, limit=limit, keys=keys
            )
        out: list[Outgoing] = []
        for due in claimed:
            made = self._outgoing(due, owner, now)
            if made is not None:
                out.append(made)
        return out

    def _outgoing(self, due: store.DueDigest, owner: str, now: datetime) -> Outgoing | None:
        """Build one claimed digest: the figures in a transaction of their own
        (short, so families' messages never wait on it), the charts after."""
        period = periods.parse(due.period)
        if due.kind == "manager" and due.manager:
            with self.store.begin() as tx:
                message, reports = self._manager_message(tx, due.manager, period, now)
            charts = tuple((name, render_report.trend_chart(r, self.words)) for name, r in reports)
            message = replace(message, charts=charts)
            return Outgoing(due.id, due.key, "slack", due.manager, "a manager", message)
        with self.store.begin() as tx:
            member = store.worker(tx, due.worker_id or 0)
            if member is None:
                store.finish(tx, due.id, owner, status="skipped", now=now, error="no_worker")
                return None
            built = self._build(tx, member, period, now, key=due.key, window=self._window(due.key))
        message = self.message(self._charted(built))
        if member.slack_user:
            platform, address = "slack", member.slack_user
        elif member.telegram_chat:
            platform, address = "telegram", member.telegram_chat
        else:
            platform, address = None, ""
        return Outgoing(due.id, due.key, platform, address, member.name, message)

    def _charted(self, d: WorkerDigest) -> WorkerDigest:
        """`d` with its trend chart drawn (outside any transaction)."""
        if d.suppressed or d.report is None:
            return d
        return replace(d, chart=render_report.trend_chart(d.report, self.words))

    def finish(
        self, outgoing: Outgoing, owner: str, *, sent: bool, error: str | None = None
    ) -> str:
        """Record the outcome of sending; returns the row's status. A failed
        send is tried again later, up to MAX_ATTEMPTS times."""
        now = self.clock()
        with self.store.begin() as tx:
            if sent:
                store.finish(
                    tx, outgoing.id, owner, status="sent", now=now, platform=outgoing.platform
                )
                return "sent"
            if outgoing.platform is None:
                store.finish(tx, outgoing.id, owner, status="skipped", now=now, error="no_address")
                return "skipped"
            attempts = store.attempts(tx, outgoing.id)
            if attempts >= MAX_ATTEMPTS:
                store.finish(tx, outgoing.id, owner, status="failed", now=now, error=error)
                return "failed"
            store.finish(
                tx, outgoing.id, owner, status="pending", now=now, error=error, retry_at=now + RETRY
            )
            return "pending"

    # -- one worker's digest -------------------------------------------------------

    def preview(self, worker_ref: str, period_text: str | None) -> WorkerDigest:
        """What `worker_ref` would get for the period (default: the newest
        due), without sending it. NotFoundError or PeriodError for bad input."""
        now = self.clock()
        with self.store.begin() as tx:
            member = self._member(tx, worker_ref)
            period = self._period(period_text, now)
            key = f"worker:{member.id}:{period}"
            built = self._build(tx, member, period, now, key=key)
        return self._charted(built)

    def latest_for_slack_user(self, slack_user: str, command: str) -> DigestMessage | DeskProblem:
        now = self.clock()
        with self.store.begin() as tx:
            member = store.worker_by_slack(tx, slack_user)
            if member is None:
                return DeskProblem(self.say("not_a_worker"))
            label = store.latest_period(tx, member.id)
            period = periods.parse(label) if label else self._period(None, now)
            built = self._build(tx, member, period, now, key=f"worker:{member.id}:{period}")
        message = self.message(self._charted(built))
        if member.digests_off:
            off = self.say("off", command=command)
            message = replace(message, footnote=message.footnote + "\n" + off)
        return message

    def switch(self, slack_user: str, on: bool, command: str) -> str:
        with self.store.begin() as tx:
            member = store.worker_by_slack(tx, slack_user)
            if member is None:
                return self.say("not_a_worker")
            store.set_digests_off(tx, member.id, not on)
            repo.audit(
                tx,
                f"slack:{slack_user}",
                "digests on" if on else "digests off",
                {"worker_id": member.id},
                self.clock(),
            )
        return self.say("on") if on else self.say("off", command=command)

    def _window(self, key: str) -> tuple[datetime | None, datetime] | None:
        """For a weekly digest's key: the window its new comments were released in."""
        label = key.rsplit(":", 1)[-1]
        if not plan_of.is_week(label):
            return None
        cfg = self.config.digests
        week = plan_of.weekly(label, cfg.send_at, self.zone, cfg.extra_holidays)
        return week.since, week.at

    def _member(self, tx: Tx, ref: str) -> store.StaffMember:
        worker = find_worker(tx, ref)
        member = store.worker(tx, worker.id)
        if member is None:  # pragma: no cover - find_worker found it
            raise NotFoundError(f"no worker {ref!r}")
        return member

    def _period(self, text: str | None, now: datetime) -> Period:
        if text:
            return periods.finished(periods.parse(text), now)
        cfg = self.config.digests
        months = plan_of.EVERY_MONTHS.get(cfg.every, 1)
        return plan_of.latest_due(now, months, cfg.send_at, self.zone, cfg.extra_holidays).period

    def _build(
        self,
        tx: Tx,
        member: store.StaffMember,
        asked: Period,
        now: datetime,
        *,
        key: str,
        window: tuple[datetime | None, datetime] | None = None,
    ) -> WorkerDigest:
        scope = Scope(member.team_id, member.id, member.team, member.name)
        so_far = store.families(tx, member.id, asked.start, asked.end)
        for period in plan_of.fallbacks(asked, now):
            report = self.reports.compile(tx, scope, period, None, now)
            families = report.families()
            if families is not None and families >= self.k:
                break
        else:
            return WorkerDigest(member.name, member.id, asked, asked, self.k, None, so_far)
        previous = plan_of.previous(period)
        before = self.reports.compile(tx, scope, previous, None, now)
        figures = []
        for dim in SCORED:
            mean = _mean(report, dim)
            if mean is None:
                continue
            old = _mean(before, dim)
            change = None if old is None else round(mean - old + 1e-9, 1)
            figures.append(Figure(dim, mean, change))
        comments: list[store.StoredComment] = []
        if self.config.digests.comments != "off":
            months = [m.label for m in period.month_periods()]
            since, until = window or (None, None)
            comments = store.released(tx, member.id, months, since=since, before=until)
        seed = hmac.new(self.seed, key.encode(), hashlib.sha256).digest()
        ordered = plan_of.ordered(comments, lambda c: str(c.id), seed)
        return WorkerDigest(
            member.name,
            member.id,
            asked,
            period,
            self.k,
            families,
            so_far,
            tuple(figures),
            _continuity(report),
            tuple(c.text for c in ordered if c.heading == "comment"),
            tuple(c.text for c in ordered if c.heading == "next_steps"),
            None,
            previous,
            report,
            recorded(report),
        )

    def message(self, d: WorkerDigest) -> DigestMessage:
        """The digest as words for a chat platform or the terminal."""
        title = self.say("title", period=d.period.label)
        if d.suppressed:
            if d.so_far >= d.k:
                kind = (self.say("hidden", period=d.asked.label),)
            else:
                kind = (self.say("not_enough", n=d.so_far, k=d.k),)
            return DigestMessage(title, kind, (), self.say("footnote", k=d.k), (), "")
        lines: list[str] = []
        if d.period != d.asked:
            lines.append(self.say("covers", asked=d.asked.label, period=d.period.label))
        lines.append(self.say("families", n=d.families))
        for f in d.figures:
            line = self.say(
                "score", dimension=self.words.dimension(f.dimension), mean=f"{f.mean:.1f}"
            )
            if f.change is not None and d.previous is not None:
                line += " (" + _change(self, f.change, d.previous.label) + ")"
            lines.append(line)
        if d.continuity is not None:
            lines.append(self.say("continuity", share=f"{d.continuity:.0f}"))
        lines.extend(self.record_lines(d.records))
        sections = []
        if self.config.digests.comments != "off":
            sections.append(
                ReportSection(self.say("comments"), d.comments or (self.say("no_comments"),))
            )
            if d.next_steps:
                sections.append(ReportSection(self.say("next_steps"), d.next_steps))
        charts = ((f"heard-digest-{d.period}.png", d.chart),) if d.chart else ()
        return DigestMessage(
            title,
            tuple(lines),
            tuple(sections),
            self.say("footnote", k=d.k),
            charts,
            self.say("chart_failed"),
        )

    def record_lines(self, r: Recorded) -> list[str]:
        """The recorded figures as lines, only those published."""
        out: list[str] = []
        if r.promises_kept is not None:
            out.append(self.say("promises_kept", share=f"{r.promises_kept:.0f}"))
        if r.promises_repaired is not None:
            out.append(self.say("promises_repaired", share=f"{r.promises_repaired:.0f}"))
        for months, shares in ((6, r.changes_6m), (12, r.changes_12m)):
            if shares:
                parts = ", ".join(
                    f"{self.words.code(c)}: {shares[c]:.0f}%" for c in CHANGES if shares.get(c)
                )
                out.append(self.say("worker_changes", months=months, shares=parts))
        return out

    def _manager_message(
        self, tx: Tx, user: str, period: Period, now: datetime
    ) -> tuple[DigestMessage, list[tuple[str, Report]]]:
        """A manager's monthly summary: each of their teams' report, as
        `heard report --team T --period P` shows it, and the reports to draw
        the charts from (drawn by the caller, after the transaction)."""
        teams = store_teams(tx)
        lines: list[str] = []
        charts: list[tuple[str, Report]] = []
        for team_id in store.managers(tx).get(user, []):
            scope = Scope(team_id, None, teams.get(team_id))
            report = self.reports.compile(tx, scope, period, None, now)
            lines.append(f"{scope.team}: {render_report.headline(report, self.words)}")
            for row in report.summary():
                if row.question is None and row.dimension in SCORED and row.mean is not None:
                    lines.append(
                        "  "
                        + self.say(
                            "score",
                            dimension=self.words.dimension(row.dimension),
                            mean=f"{row.mean:.1f}",
                        )
                    )
            same = _continuity(report)
            if same is not None:
                lines.append("  " + self.say("continuity", share=f"{same:.0f}"))
            lines.extend("  " + line for line in self.record_lines(recorded(report)))
            name = (scope.team or "team").lower().replace(" ", "-")
            charts.append((f"heard-{name}-{period}.png", report))
            repo.audit(
                tx,
                "digest",
                "report",
                {**scope.audit(), "period": period.label, "format": "summary"},
                now,
            )
        title = self.say(
            "manager_title",
            team=", ".join(teams[t] for t in store.managers(tx).get(user, []) if t in teams),
            period=period.label,
        )
        message = DigestMessage(
            title, tuple(lines), (), self.words("explain", k=self.k), (), self.say("chart_failed")
        )
        return message, charts

    # -- comments ------------------------------------------------------------------

    def collect(self, limit: int = 500) -> int:
        """Take in new free-text answers for digests; returns how many."""
        mode = self.config.digests.comments
        if mode == "off":
            return 0
        now = self.clock()
        with self.store.begin() as tx:
            found = store.new_comments(tx, COMMENT_DIMENSIONS, limit)
            if not found:
                return 0
            names = store.staff_names(tx)
            rows = []
            for c in found:
                status = (
                    "alerted" if c.alerted else "released" if mode == "automatic" else "pending"
                )
                rows.append(
                    {
                        "answer_id": c.answer_id,
                        "team_id": c.team_id,
                        "worker_id": c.worker_id,
                        "month": plan_of.month_label(c.answered_at),
                        "heading": COMMENT_DIMENSIONS[c.dimension],
                        "text": "" if c.alerted else scrub(c.text, names),
                        "status": status,
                        "created_at": now,
                    }
                )
            return store.add_comments(tx, rows)

    def to_review(self, limit: int = 20) -> list[ReviewRequest]:
        """Comments waiting for a manager, not yet shown to one."""
        with self.store.read() as tx:
            out = []
            for c in store.to_offer(tx, limit):
                member = store.worker(tx, c.worker_id)
                managers = tuple(store.team_managers(tx, c.team_id))
                out.append(
                    ReviewRequest(
                        c.id,
                        self.texts.get(
                            STAFF_LOCALE, "review_title", worker=member.name if member else "?"
                        ),
                        self.texts.get(STAFF_LOCALE, "review_intro"),
                        c.text,
                        managers,
                    )
                )
            return out

    def offered(self, ids: Iterable[int]) -> None:
        with self.store.begin() as tx:
            store.mark_offered(tx, list(ids), self.clock())

    def review(
        self, slack_user: str, comment_id: int, action: str, text: str | None
    ) -> ReviewOutcome:
        """A manager's decision. Only a manager of the comment's team (or an
        administrator) may decide, and only once."""
        say = self.texts.get
        now = self.clock()
        if action not in ("release", "withhold", "edit"):
            raise HeardError(f"unknown review action {action!r}")
        with self.store.begin() as tx:
            found = store.comment(tx, comment_id, lock=True)
            if found is None:
                return DeskProblem(say(STAFF_LOCALE, "review_already", status="gone"))
            allowed = slack_user in self.config.admins or found.team_id in {
                t for t in store.managers(tx).get(slack_user, [])
            }
            if not allowed:
                return DeskProblem(say(STAFF_LOCALE, "review_not_yours"))
            if found.status != "pending":
                return DeskProblem(say(STAFF_LOCALE, "review_already", status=found.status))
            user = f"<@{slack_user}>"
            if action == "withhold":
                store.decide(tx, comment_id, "withheld", slack_user, now, None)
                note = say(STAFF_LOCALE, "review_withheld", user=user)
                decided = ReviewDecided("withheld", found.text, note)
            else:
                new_text = None
                if action == "edit":
                    new_text = scrub((text or "").strip(), store.staff_names(tx)) or found.text
                store.decide(tx, comment_id, "released", slack_user, now, new_text)
                key = "review_edited" if action == "edit" else "review_released"
                decided = ReviewDecided(
                    "released", new_text or found.text, say(STAFF_LOCALE, key, user=user)
                )
            repo.audit(
                tx,
                f"slack:{slack_user}",
                f"comment {decided.status}",
                {"comment_id": comment_id},
                now,
            )
            return decided


def store_teams(tx: Tx) -> dict[int, str]:
    from storage import reports as store_reports

    return store_reports.teams_by_id(tx)


def _row(
    key: str,
    kind: str,
    due: plan_of.Due,
    now: datetime,
    *,
    worker_id: int | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "worker_id": worker_id,
        "manager": user,
        "period": due.period.label,
        "due_at": due.at,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }


def _mean(report: Report, dimension: str) -> float | None:
    for row in report.summary():
        if row.question is None and row.dimension == dimension:
            return row.mean
    return None


def _continuity(report: Report) -> float | None:
    """Share who said "same worker as last time", over every published
    question set that asks it (weighted by families)."""
    total = weight = 0.0
    for row in report.summary():
        if row.question == "same_worker" and row.n and row.distribution:
            total += row.distribution.get("yes", 0.0) * row.n
            weight += row.n
    return round(total / weight, 1) if weight else None


def recorded(report: Report) -> Recorded:
    """The published recorded figures of `report`'s scope and period."""

    def published(record_id: str) -> dict[str, float] | None:
        for row in report.summary():
            if row.question_set is None and row.question == record_id:
                if row.suppressed or not row.n or row.n < report.k or not row.distribution:
                    return None
                return dict(row.distribution)
        return None

    kept = published(PROMISES_KEPT.id)
    repaired = published(PROMISES_REPAIRED.id)
    return Recorded(
        None if kept is None else kept.get("yes", 0.0),
        None if repaired is None else repaired.get("yes", 0.0),
        published(CHANGES_6_MONTHS.id),
        published(CHANGES_12_MONTHS.id),
    )


def _change(d: Digests, change: float, previous: str) -> str:
    if change > 0:
        return d.say("change_up", change=f"{change:.1f}", previous=previous)
    if change < 0:
        return d.say("change_down", change=f"{-change:.1f}", previous=previous)
    return d.say("change_same", previous=previous)
