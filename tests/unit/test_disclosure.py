"""Disclosure control plays against an adversary: for random organisations,
no figure hidden from a report can be recovered from the figures published,
by any single subtraction or by any combination of sums and differences."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import disclosure
from bot.core.disclosure import FEWER, REVEAL, Cell, Relation, protect
from bot.core.periods import Period, month


def _months_so_far(year: int, m: int) -> list[Period]:
    out = [month(year, i) for i in range(1, m + 1)]
    out += [Period(year, q, 3) for q in (1, 4, 7, 10) if q + 2 <= m]
    if m == 12:
        out.append(Period(year, 1, 12))
    return out


@st.composite
def organisations(
    draw: st.DrawFn,
) -> tuple[list[tuple[int, int]], dict[tuple[int, int, int], int], int, int]:
    """(team, worker) pairs, families per worker and month, months, k."""
    teams = draw(st.integers(1, 3))
    pairs = []
    for t in range(1, teams + 1):
        for w in range(draw(st.integers(1, 3))):
            pairs.append((t, t * 10 + w))
    months = draw(st.sampled_from([1, 2, 3, 4, 6]))
    k = draw(st.sampled_from([3, 5]))
    small = st.one_of(st.integers(0, k - 1), st.integers(0, 3 * k))
    counts = {(t, w, m): draw(small) for t, w in pairs for m in range(1, months + 1)}
    return pairs, counts, months, k


def _total(
    pairs: list[tuple[int, int]], counts: dict[tuple[int, int, int], int], cell: Cell
) -> int:
    team, worker, label = cell
    period = _period(label)
    months = [p.first_month for p in period.month_periods()]
    return sum(
        counts[(t, w, m)]
        for t, w in pairs
        for m in months
        if (team is None or t == team) and (worker is None or w == worker) and (t, w, m) in counts
    )


def _period(label: str) -> Period:
    from bot.core.periods import parse

    return parse(label)


def _publish_month_by_month(
    pairs: list[tuple[int, int]], counts: dict[tuple[int, int, int], int], months: int, k: int
) -> tuple[dict[Cell, int], dict[Cell, str | None], list[Relation[Cell]]]:
    """What the service does: one snapshot per finished month, each frozen."""
    decided: dict[Cell, str | None] = {}
    values: dict[Cell, int] = {}
    relations: list[Relation[Cell]] = []
    for m in range(1, months + 1):
        periods = _months_so_far(2026, m)
        relations = disclosure.year_relations(pairs, periods)
        cells = disclosure.cells_of(pairs, periods)
        for c in cells:
            values.setdefault(c, _total(pairs, counts, c))
        decided = protect({c: values[c] for c in cells}, relations, k, dict(decided))
    return values, decided, relations


def _pinned(
    values: dict[Cell, int], decided: dict[Cell, str | None], relations: list[Relation[Cell]]
) -> set[Cell]:
    """The adversary: exact Gaussian elimination over the rationals on every
    published equation; a hidden cell is pinned when some combination of the
    equations leaves it alone on one side."""
    hidden = sorted((c for c, r in decided.items() if r is not None), key=repr)
    col = {c: i for i, c in enumerate(hidden)}
    rows: list[list[Fraction]] = []
    for rel in relations:
        row = [Fraction(0)] * (len(hidden) + 1)
        for term, sign in ((rel.parent, 1), *((c, -1) for c in rel.children)):
            if term in col:
                row[col[term]] += sign
            else:
                row[-1] -= sign * values[term]
        if any(row[:-1]):
            rows.append(row)
    pivots: list[int] = []
    r = 0
    for j in range(len(hidden)):
        pivot = next((i for i in range(r, len(rows)) if rows[i][j] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][j]
        rows[r] = [x / lead for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][j] != 0:
                factor = rows[i][j]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(j)
        r += 1
    pinned = set()
    for i in range(r):
        nonzero = [j for j in range(len(hidden)) if rows[i][j] != 0]
        if len(nonzero) == 1:
            pinned.add(hidden[nonzero[0]])
            assert rows[i][-1] == values[hidden[nonzero[0]]]
    return pinned


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_no_hidden_cell_can_be_recovered(org: tuple) -> None:
    pairs, counts, months, k = org
    values, decided, relations = _publish_month_by_month(pairs, counts, months, k)
    for cell, reason in decided.items():
        if 0 < values[cell] < k:
            assert reason == FEWER, f"{cell} has {values[cell]} families and is shown"
        assert reason in (None, FEWER, REVEAL)
    for rel in relations:
        unknown = [t for t in rel.terms if decided[t] is not None]
        assert len(unknown) != 1, f"{unknown[0]} = a published total minus published parts"
    assert _pinned(values, decided, relations) == set()


@settings(max_examples=30, deadline=None)
@given(organisations())
def test_a_published_figure_stays_published_and_a_hidden_one_stays_hidden(org: tuple) -> None:
    pairs, counts, months, k = org
    seen: dict[Cell, str | None] = {}
    for m in range(1, months + 1):
        _, decided, _ = _publish_month_by_month(pairs, counts, m, k)
        for cell, reason in seen.items():
            assert decided[cell] == reason
        seen = decided


def test_one_small_worker_hides_the_next_smallest_sibling_too() -> None:
    a, b, c, team = (1, 11, "2026-01"), (1, 12, "2026-01"), (1, 13, "2026-01"), (1, None, "2026-01")
    org = (None, None, "2026-01")
    rels = [Relation(team, (a, b, c)), Relation(org, (team,))]
    decided = protect({a: 2, b: 9, c: 30, team: 41, org: 41}, rels, 5)
    assert decided == {a: FEWER, b: REVEAL, c: None, team: None, org: None}


def test_a_cell_pinned_only_by_combining_equations_gets_a_complement() -> None:
    # Two 2×2 blocks joined by one cell: every equation has two hidden terms,
    # but the joining cell is a bridge and follows from the others.
    x = {name: (0, i, "p") for i, name in enumerate("abcdefg")}
    rels = [
        Relation((1, None, "r1"), (x["a"], x["b"])),
        Relation((1, None, "r2"), (x["c"], x["d"])),
        Relation((1, None, "c1"), (x["a"], x["c"])),
        Relation((1, None, "c2"), (x["b"], x["d"], x["g"])),
        Relation((1, None, "r3"), (x["g"], x["e"])),
        Relation((1, None, "c3"), (x["e"], x["f"])),
        Relation((1, None, "r4"), (x["f"], x["e"])),
    ]
    counts = {c: 2 for c in x.values()} | {r.parent: 4 for r in rels}
    counts[(1, None, "c2")] = 6
    decided = protect(counts, rels, 5)
    values = dict(counts)
    assert _pinned(values, decided, rels) == set()


def test_the_adversary_does_find_a_cell_left_alone() -> None:
    """The check above can fail: primary suppression alone leaves a worker
    that the team total gives away."""
    a, b, team = (1, 11, "2026-01"), (1, 12, "2026-01"), (1, None, "2026-01")
    rels = [Relation(team, (a, b))]
    values = {a: 2, b: 9, team: 11}
    only_primary = {a: FEWER, b: None, team: None}
    assert _pinned(values, only_primary, rels) == {a}
