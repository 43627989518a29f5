"""Reports for managers: what families said, per team and period, after
disclosure control.

`Reports.report` is the use case the CLI and Slack call: it checks who is
asking (`Viewer`), reads the figures and writes the audit, in one transaction;
a refusal or a bad request is audited in its own transaction and raised.
`Reports.compile` builds a report for a scope without any access check, so a
worker's digest (a later issue) can reuse it for a worker-scoped report.

Figures come only from frozen snapshots (`storage.reports`): the first report
that needs a finished month computes that month's cells (aggregation in SQL,
disclosure control in `bot.core.disclosure`) and stores them; every later
report of that month reads the same cells.

Beside the answers, a snapshot holds the figures Heard recorded itself
(`bot.core.promises.RECORDS`: promises kept and put right, worker changes
from the case records, feeling listened to after "you said, we did"), as
measures with no question set. They pass the same disclosure control in the
same lattice, so no second copy of the small-number rules exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core import disclosure, periods, questions
from bot.core.errors import HeardError, NotAllowedError, NotFoundError, StorageError
from bot.core.periods import Grain, Period
from bot.core.promises import RECORDS
from storage import promises as store_promises
from storage import repo
from storage import reports as store_reports
from storage.unit import Store, Tx

DIMENSIONS = ("honesty", "clarity", "continuity", "overall")
FREEZE_VERSION = 2
"""What a frozen month holds: 1, the answers' cells (before the recorded
figures existed); 2, also `RECORDS`. A month frozen at 1 gains the recorded
figures' cells the next time a report needs it, once."""
TREND_MONTHS = 6
FORMATS = ("table", "csv", "json", "html", "slack")


class By(StrEnum):
    TEAM = "team"
    WORKER = "worker"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks. `actor` goes into the audit log."""

    actor: str
    admin: bool = False
    slack_user: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    team_id: int | None = None
    worker_id: int | None = None
    team: str | None = None
    worker: str | None = None

    @property
    def label(self) -> str:
        if self.worker:
            return f"{self.worker} ({self.team})"
        return self.team or "whole organisation"

    def audit(self) -> dict[str, Any]:
        return {"team_id": self.team_id, "worker_id": self.worker_id}


@dataclass(frozen=True, slots=True)
class Row:
    """One published or suppressed cell, ready to render."""

    team: str | None
    worker: str | None
    period: str
    dimension: str
    question: str | None
    question_set: str | None
    version: int | None
    kind: str | None
    text: str | None
    n: int | None
    mean: float | None
    distribution: dict[str, float] | None
    suppressed: bool
    reason: str | None
    section: str
    """"summary" (the scope and period asked for), "breakdown" (--by) or "trend"."""

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "worker": self.worker,
            "period": self.period,
            "dimension": self.dimension,
            "question": self.question,
            "question_set": self.question_set,
            "version": self.version,
            "n": self.n,
            "mean": self.mean,
            "distribution": self.distribution,
            "suppressed": self.suppressed,
            "reason": self.reason,
            "section": self.section,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """What a team told its families had changed ("you said, we did"). Written
    by a manager for every family, so it is shown whole; how many families it
    reached is not shown."""

    team: str
    date: str
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"team": self.team, "date": self.date, "text": self.text}


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    k: int
    generated_at: datetime
    scope: Scope
    by: By | None
    rows: tuple[Row, ...]
    trend_periods: tuple[str, ...] = field(default=())
    changes: tuple[Change, ...] = field(default=())
    """"You said, we did" messages of the scope's teams in the period."""

    def summary(self) -> list[Row]:
        return [r for r in self.rows if r.section == "summary"]

    def families(self) -> int | None:
        """Distinct families behind the whole report's headline (the largest
        published dimension count), None if every dimension is suppressed."""
        ns = [r.n for r in self.summary() if r.question is None and r.n is not None]
        return max(ns) if ns else None


def _kinds() -> dict[tuple[str, str], questions.Question]:
    return {(s, q.id): q for s, qs in questions.shipped().items() for q in qs.questions}


def scale_question_ids() -> set[str]:
    return {q.id for q in _kinds().values() if q.kind is questions.Kind.SCALE5}


class Reports:
    """The report use cases. Thread-safe: every call opens its own transaction."""

    def __init__(self, store: Store, k: int, admins: Iterable[str], clock: Callable[[], datetime]):
        self.store = store
        self.k = k
        self.admins = frozenset(admins)
        self.clock = clock

    def viewer_for_slack(self, slack_user: str) -> Viewer:
        return Viewer(f"slack:{slack_user}", slack_user in self.admins, slack_user)

    # -- the use case --------------------------------------------------------------

    def report(
        self,
        viewer: Viewer,
        *,
        team: str | None = None,
        worker: str | None = None,
        period: str | None = None,
        by: str | None = None,
        fmt: str = "table",
    ) -> Report:
        """The report `viewer` asked for, audited. Raises NotFoundError,
        PeriodError or HeardError for a bad request and NotAllowedError for a
        refusal; both are audited as "report refused" with no figures."""
        now = self.clock()
        asked = {"team": team, "worker": worker, "period": period, "by": by, "format": fmt}
        try:
            with self.store.begin() as tx:
                if not viewer.admin and (
                    viewer.slack_user is None
                    or not store_reports.managed_team_ids(tx, viewer.slack_user)
                ):
                    raise NotAllowedError("only administrators and managers may see reports")
                chosen = self._period(period, now)
                scope = self._scope(tx, team, worker)
                how = self._by(by, scope, chosen)
                self._check_access(tx, viewer, scope)
                made = self.compile(tx, scope, chosen, how, now)
                repo.audit(
                    tx,
                    viewer.actor,
                    "report",
                    {**scope.audit(), "period": chosen.label, "by": by, "format": fmt},
                    now,
                )
                return made
        except HeardError as exc:
            if not isinstance(exc, StorageError):
                why = "not allowed" if isinstance(exc, NotAllowedError) else "bad request"
                with self.store.begin() as tx:
                    repo.audit(tx, viewer.actor, "report refused", {**asked, "why": why}, now)
            raise

    def _period(self, text: str | None, now: datetime) -> Period:
        if not text:
            return periods.last_month(now)
        return periods.finished(periods.parse(text), now)

    def _scope(self, tx: Tx, team: str | None, worker: str | None) -> Scope:
        found_team = None
        if team:
            found_team = repo.team_by_name(tx, team.strip())
            if found_team is None:
                raise NotFoundError(f"no team called {team!r}; see the teams with: heard team list")
        if not worker:
            return Scope(found_team.id, None, found_team.name) if found_team else Scope()
        matches = repo.find_workers(tx, worker.strip())
        if found_team is not None:
            in_team = [w for w in matches if w.team_id == found_team.id]
            if matches and not in_team:
                raise HeardError(f"worker {worker!r} is not in team {found_team.name!r}")
            matches = in_team
        if not matches:
            raise NotFoundError(
                f"no worker {worker!r}; see who is registered with: heard worker list"
            )
        if len(matches) > 1:
            ids = ", ".join(str(w.id) for w in matches)
            raise HeardError(
                f"more than one worker is called {worker!r}; use the id instead ({ids})"
            )
        w = matches[0]
        home = store_reports.team_by_id(tx, w.team_id)
        return Scope(w.team_id, w.id, home.name if home else None, w.name)

    def _by(self, by: str | None, scope: Scope, period: Period) -> By | None:
        if not by:
            return None
        try:
            how = By(by)
        except ValueError:
            raise HeardError(f"--by {by!r}: use team, worker or month") from None
        if how is By.TEAM and scope.team_id is not None:
            raise HeardError("--by team needs the whole organisation; leave out --team")
        if how is By.WORKER and scope.worker_id is not None:
            raise HeardError("--by worker needs a team or the organisation; leave out --worker")
        if how is By.MONTH and period.grain is Grain.MONTH:
            raise HeardError("--by month needs a quarter or a year, e.g. --period 2026-Q4")
        return how

    def _check_access(self, tx: Tx, viewer: Viewer, scope: Scope) -> None:
        if viewer.admin or viewer.slack_user is None:
            return
        if scope.team_id is None:
            raise NotAllowedError("only administrators may see the whole organisation")
        if scope.team_id not in store_reports.managed_team_ids(tx, viewer.slack_user):
            raise NotAllowedError(f"you are not a manager of {scope.team}")
        if scope.worker_id is not None:
            own = repo.worker_by_slack_user(tx, viewer.slack_user)
            if own is not None and own.id == scope.worker_id:
                raise NotAllowedError("a worker's own figures come in their digest, not a report")

    # -- building a report (no access check) -------------------------------------

    def compile(self, tx: Tx, scope: Scope, period: Period, by: By | None, now: datetime) -> Report:
        """The report of `scope` for the finished `period`: the scope's cells,
        the breakdown `by`, and the previous months as a trend. Every figure
        comes from a frozen, disclosure-controlled snapshot."""
        trend = periods.months_before(period, TREND_MONTHS)
        if period.grain is Grain.MONTH:
            trend = (*trend, period)
        wanted = {period.label, *(m.label for m in trend)}
        if by is By.MONTH:
            wanted.update(m.label for m in period.month_periods())
        self.ensure_snapshots(tx, [period, *trend], now)
        level = "all" if by is By.WORKER else "teams" if by is By.TEAM else "org"
        stored = store_reports.cells(tx, self.k, wanted, scope.team_id, level=level)
        teams = store_reports.teams_by_id(tx)
        workers = store_reports.workers_by_id(tx)
        kinds = _kinds()
        rows: list[Row] = []
        index: dict[tuple[int | None, int | None, str], list[store_reports.StoredCell]] = {}
        for cell in stored:
            index.setdefault((cell.team_id, cell.worker_id, cell.period), []).append(cell)
        measures = sorted(
            {(c.dimension, c.set_id, c.set_version, c.question_id) for c in stored},
            key=_measure_order,
        )
        measures = _with_dimensions(measures)

        def emit(team_id: int | None, worker_id: int | None, label: str, section: str) -> None:
            found = {
                (c.dimension, c.set_id, c.set_version, c.question_id): c
                for c in index.get((team_id, worker_id, label), [])
            }
            for m in measures:
                rows.append(
                    self._row(
                        found.get(m), m, team_id, worker_id, label, section, teams, workers, kinds
                    )
                )

        emit(scope.team_id, scope.worker_id, period.label, "summary")
        if by is By.TEAM:
            for team_id in sorted(teams, key=lambda t: teams[t]):
                emit(team_id, None, period.label, "breakdown")
        elif by is By.WORKER:
            pool = sorted(
                (w for w, (_, t) in workers.items() if scope.team_id in (None, t)),
                key=lambda w: (teams.get(workers[w][1], ""), workers[w][0]),
            )
            for worker_id in pool:
                emit(workers[worker_id][1], worker_id, period.label, "breakdown")
        elif by is By.MONTH:
            for m in period.month_periods():
                emit(scope.team_id, scope.worker_id, m.label, "breakdown")
        for m in trend:
            emit(scope.team_id, scope.worker_id, m.label, "trend")
        changes = tuple(
            Change(teams.get(c.team_id, ""), c.at.date().isoformat(), c.text.get("en", ""))
            for c in store_promises.you_said_changes(tx, period.start, period.end, scope.team_id)
        )
        return Report(
            period,
            self.k,
            now,
            scope,
            by,
            tuple(rows),
            tuple(m.label for m in trend),
            changes,
        )

    def _row(
        self,
        cell: store_reports.StoredCell | None,
        measure: tuple[str, str, int, str],
        team_id: int | None,
        worker_id: int | None,
        label: str,
        section: str,
        teams: dict[int, str],
        workers: dict[int, tuple[str, int]],
        kinds: dict[tuple[str, str], questions.Question],
    ) -> Row:
        dimension, set_id, version, question_id = measure
        q = kinds.get((set_id, question_id)) if question_id else None
        kind = q.kind.value if q else ("scale5" if not question_id else None)
        if not set_id and question_id in RECORDS:
            kind = "record"
        text = q.text.get("en") if q else None
        team = teams.get(team_id) if team_id is not None else None
        worker = workers[worker_id][0] if worker_id is not None and worker_id in workers else None
        empty = Row(
            team=team,
            worker=worker,
            period=label,
            dimension=dimension,
            question=question_id or None,
            question_set=set_id or None,
            version=version if question_id else None,
            kind=kind,
            text=text,
            n=0,
            mean=None,
            distribution=None,
            suppressed=False,
            reason=None,
            section=section,
        )
        if cell is None:
            return empty
        if cell.suppressed:
            return replace(empty, n=None, suppressed=True, reason=cell.reason)
        mean = None
        if kind == "scale5" and cell.valued:
            mean = round(cell.total / cell.valued + 1e-9, 1)
        return replace(empty, n=cell.n, mean=mean, distribution=_percentages(cell, q, question_id))

    # -- snapshots ----------------------------------------------------------------

    def ensure_snapshots(self, tx: Tx, wanted: Iterable[Period], now: datetime) -> None:
        """Compute, in order, every missing snapshot of each year up to the
        last month of `wanted` in that year (each freezes on the ones before)."""
        last: dict[int, int] = {}
        for p in wanted:
            end_month = p.first_month + p.months - 1
            last[p.year] = max(last.get(p.year, 0), end_month)
        for year, upto in sorted(last.items()):
            labels = [periods.month(year, m).label for m in range(1, upto + 1)]
            done = store_reports.snapshot_months(tx, self.k, labels)
            if len(done) == len(labels) and min(done.values()) >= FREEZE_VERSION:
                continue
            frozen = _frozen(store_reports.decided_cells(tx, self.k, _year_labels(year)))
            for m in range(1, upto + 1):
                label = periods.month(year, m).label
                was = done.get(label)
                if was is not None and was >= FREEZE_VERSION:
                    continue
                if was is None:
                    new = self._snapshot(tx, year, m, frozen)
                    saved = store_reports.save_snapshot(
                        tx, self.k, label, new, now, version=FREEZE_VERSION
                    )
                else:
                    # Frozen before the recorded figures existed: add them,
                    # frozen from now on; every cell it had stays as it was.
                    new = self._snapshot(tx, year, m, frozen, records_only=True)
                    saved = store_reports.extend_snapshot(
                        tx, self.k, label, new, version=FREEZE_VERSION, was=was
                    )
                if saved:
                    for measure, cells in _frozen(_decided(new)).items():
                        frozen.setdefault(measure, {}).update(cells)
                else:
                    rows = store_reports.decided_cells(tx, self.k, _year_labels(year))
                    frozen = _frozen(rows)

    def _snapshot(
        self, tx: Tx, year: int, m: int, frozen_cells: Frozen, *, records_only: bool = False
    ) -> list[dict[str, Any]]:
        """The new cells of month `m` (and of the quarter and year it ends);
        with `records_only`, only those of the figures Heard recorded. Each
        measure is protected on its own, so adding one never moves another."""
        new_periods = [periods.month(year, m)]
        if m % 3 == 0:
            new_periods.append(Period(year, m - 2, 3))
        if m == 12:
            new_periods.append(Period(year, 1, 12))
        all_periods = [periods.month(year, i) for i in range(1, m + 1)]
        all_periods += [Period(year, q, 3) for q in (1, 4, 7, 10) if q + 2 <= m]
        if m == 12:
            all_periods.append(Period(year, 1, 12))
        scale = scale_question_ids()
        by_measure: dict[Measure, dict[disclosure.Cell, store_reports.Aggregate]] = {}
        for p in new_periods:
            found = store_promises.record_aggregates(tx, p.start, p.end)
            if not records_only and store_reports.any_answers(tx, p.start, p.end):
                found += store_reports.aggregate(tx, p.start, p.end, scale)
            for agg in found:
                by_measure.setdefault(agg.measure, {})[(agg.team_id, agg.worker_id, p.label)] = agg
        pairs = set(store_reports.staffing(tx))
        pairs.update(store_reports.answer_pairs(tx, Period(year, 1, 12).start, all_periods[-1].end))
        relations = disclosure.year_relations(pairs, all_periods)
        lattice = disclosure.cells_of(pairs, all_periods)
        new_labels = {p.label for p in new_periods}
        out: list[dict[str, Any]] = []
        for measure in sorted(by_measure):
            aggs = by_measure[measure]
            old = frozen_cells.get(measure, {})
            counts: dict[disclosure.Cell, int] = {}
            frozen: dict[disclosure.Cell, str | None] = {}
            for cell in lattice:
                if cell[2] in new_labels:
                    fresh = aggs.get(cell)
                    counts[cell] = fresh.n if fresh else 0
                else:
                    n, reason = old.get(cell, (0, None))
                    counts[cell] = n
                    frozen[cell] = reason
            decided = disclosure.protect(counts, relations, self.k, frozen)
            dimension, set_id, version, question_id = measure
            for cell, reason in decided.items():
                if cell[2] not in new_labels:
                    continue
                got = aggs.get(cell)
                if got is None and reason is None:
                    continue
                out.append(
                    {
                        "period": cell[2],
                        "team_id": cell[0],
                        "worker_id": cell[1],
                        "dimension": dimension,
                        "set_id": set_id,
                        "set_version": version,
                        "question_id": question_id,
                        "n": got.n if got else 0,
                        "answers": got.answers if got else 0,
                        "total": got.total if got else 0,
                        "valued": got.valued if got else 0,
                        "distribution": dict(sorted(got.distribution.items())) if got else {},
                        "suppressed": reason is not None,
                        "reason": reason,
                    }
                )
        return out


Measure = tuple[str, str, int, str]
Frozen = dict[Measure, dict[disclosure.Cell, tuple[int, str | None]]]


def _decided(rows: list[dict[str, Any]]) -> list[store_reports.Decided]:
    return [
        store_reports.Decided(
            r["period"],
            r["team_id"],
            r["worker_id"],
            (r["dimension"], r["set_id"], r["set_version"], r["question_id"]),
            r["n"],
            r["reason"] if r["suppressed"] else None,
        )
        for r in rows
    ]


def _frozen(rows: Iterable[store_reports.Decided]) -> Frozen:
    out: Frozen = {}
    for r in rows:
        out.setdefault(r.measure, {})[(r.team_id, r.worker_id, r.period)] = (r.n, r.reason)
    return out


def _year_labels(year: int) -> list[str]:
    labels = [periods.month(year, m).label for m in range(1, 13)]
    labels += [Period(year, q, 3).label for q in (1, 4, 7, 10)]
    return [*labels, str(year)]


def _measure_order(m: tuple[str, str, int, str]) -> tuple[int, str, int, int, str]:
    """Dimensions in their usual order; questions as their set asks them, and
    the recorded figures (no set) first within their dimension."""
    dimension, set_id, version, question_id = m
    rank = DIMENSIONS.index(dimension) if dimension in DIMENSIONS else len(DIMENSIONS)
    shipped = questions.shipped().get(set_id)
    ids = [q.id for q in shipped.questions] if shipped else []
    if not set_id:
        ids = list(RECORDS)
    place = ids.index(question_id) if question_id in ids else len(ids)
    return (rank, set_id, version, place, question_id)


def _with_dimensions(measures: list[tuple[str, str, int, str]]) -> list[tuple[str, str, int, str]]:
    """Every dimension first (even with no answers yet), then each question."""
    dims = [(d, "", 0, "") for d in DIMENSIONS]
    rest = [m for m in measures if m[3]]
    return [*dims, *rest]


def _percentages(
    cell: store_reports.StoredCell, q: questions.Question | None, question_id: str = ""
) -> dict[str, float]:
    if q is not None:
        codes = list(q.codes)
    elif question_id in RECORDS:
        codes = list(RECORDS[question_id].codes)
    else:
        codes = ["1", "2", "3", "4", "5"]
    counts = {c: int(cell.distribution.get(c, 0)) for c in codes}
    total = sum(counts.values())
    if not total:
        return {}
    return {c: round(100 * v / total + 1e-9, 1) for c, v in counts.items()}


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            **self.detail,
        }


def audit_lines(store: Store, since: datetime | None) -> list[AuditLine]:
    """Every audit entry since `since` (reports, refusals and administration)."""
    with store.read() as tx:
        return [
            AuditLine(e.at, e.actor, e.action, dict(e.detail))
            for e in store_reports.audit_entries(tx, since)
        ]
