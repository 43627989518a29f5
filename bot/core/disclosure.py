"""Disclosure control: the one place that decides which report figures may be
shown. Every report output (table, CSV, JSON, HTML, Slack) shows only cells
this module has published.

The figures form a lattice for each measure (a dimension, or one question of
one set version) and calendar year: scopes (organisation ⊃ team ⊃ worker)
crossed with periods (year ⊃ quarter ⊃ month). Each parent is the sum of its
children, so every published parent gives anyone an equation
``parent = child₁ + … + childₘ``.

Three rules, applied in order until nothing changes:

1. **Primary suppression.** A cell built from 1 to k−1 families is hidden
   ("fewer than k families"). A cell with no answers at all is not about any
   family and shows as 0.
2. **Complementary suppression.** No equation may have exactly one hidden
   term, or subtraction recovers it. Where one has, the smallest other term
   that is still open is hidden too ("would reveal a hidden cell"): a child if
   one can be, else the parent.
3. **No combination of equations pins a hidden cell.** Subtracting equations
   from each other can isolate a cell even when every single equation has two
   hidden terms. A hidden cell's count is determined by the published
   equations exactly when it is zero in every solution of the homogeneous
   system, i.e. when its row of the null space basis vanishes; such a cell gets
   a further complement and the rules run again.

Cells of earlier snapshots are `frozen`: once a finished month has been
published it stays as it was, so a later snapshot can only add suppression
among its own new cells. That makes the figures of a finished period the same
whenever they are asked for, so two reports cannot be subtracted either.

Distinct families are not strictly additive (a family who answered in two
months counts once in the quarter), so the equations are the adversary's best
case; treating them as exact is the cautious side.

Pure: no clock, no I/O, deterministic (ties broken by the cell's id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.core.periods import Grain, Period

FEWER = "fewer than k families"
REVEAL = "would reveal a hidden cell"
REASONS = (FEWER, REVEAL)

C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Relation(Generic[C]):
    """``parent = sum(children)``: a published total and its parts."""

    parent: C
    children: tuple[C, ...]

    @property
    def terms(self) -> tuple[C, ...]:
        return (self.parent, *self.children)


def primary(n: int, k: int) -> str | None:
    """The reason a cell of `n` families is hidden on its own, or None."""
    return FEWER if 0 < n < k else None


def protect(
    counts: Mapping[C, int],
    relations: Sequence[Relation[C]],
    k: int,
    frozen: Mapping[C, str | None] | None = None,
) -> dict[C, str | None]:
    """Decide every cell of `counts`: None (published) or why it is hidden.

    `frozen` holds the decisions of earlier snapshots, which are kept. Every
    term of every relation must be in `counts`.
    """
    frozen = frozen or {}
    decision: dict[C, str | None] = {}
    for cell, n in counts.items():
        decision[cell] = frozen[cell] if cell in frozen else primary(n, k)
    by_cell: dict[C, list[int]] = defaultdict(list)
    for i, rel in enumerate(relations):
        for term in rel.terms:
            by_cell[term].append(i)

    def rank(cell: C) -> tuple[bool, int, str]:
        n = counts[cell]
        return (n == 0, n, repr(cell))

    def hide(cell: C) -> None:
        decision[cell] = REVEAL
        pending.update(by_cell[cell])

    pending = set(range(len(relations)))
    while True:
        while pending:
            rel = relations[pending.pop()]
            hidden = [t for t in rel.terms if decision[t] is not None]
            if len(hidden) != 1:
                continue
            open_children = [c for c in rel.children if decision[c] is None and c not in frozen]
            if open_children:
                hide(min(open_children, key=rank))
            elif decision[rel.parent] is None and rel.parent not in frozen:
                hide(rel.parent)
        determined = _determined(decision, relations)
        if not determined:
            return decision
        fixed = False
        for cell in sorted(determined, key=repr):
            near = [
                t
                for i in by_cell[cell]
                for t in relations[i].terms
                if decision[t] is None and t not in frozen
            ]
            if near:
                hide(min(near, key=rank))
                fixed = True
                break
        if not fixed:
            # Every open cell beside a pinned one is frozen: last resort, hide
            # every open cell of every equation that has a hidden term.
            spare = [
                t
                for rel in relations
                if any(decision[x] is not None for x in rel.terms)
                for t in rel.terms
                if decision[t] is None and t not in frozen
            ]
            if not spare:
                return decision
            for t in spare:
                hide(t)


def _determined(decision: Mapping[C, str | None], relations: Sequence[Relation[C]]) -> set[C]:
    """Hidden cells whose count follows from the published equations."""
    parent_of: dict[C, C] = {}

    def find(x: C) -> C:
        root = x
        while parent_of.get(root, root) != root:
            root = parent_of[root]
        while parent_of.get(x, x) != root:
            parent_of[x], x = root, parent_of[x]
        return root

    live: list[tuple[list[C], Relation[C]]] = []
    for rel in relations:
        unknown = [t for t in rel.terms if decision[t] is not None]
        if not unknown:
            continue
        live.append((unknown, rel))
        for other in unknown[1:]:
            a, b = find(unknown[0]), find(other)
            if a != b:
                parent_of[a] = b
    groups: dict[C, list[tuple[list[C], Relation[C]]]] = defaultdict(list)
    for unknown, rel in live:
        groups[find(unknown[0])].append((unknown, rel))
    out: set[C] = set()
    for eqs in groups.values():
        cells = sorted({c for unknown, _ in eqs for c in unknown}, key=repr)
        index = {c: i for i, c in enumerate(cells)}
        rows: list[dict[int, int]] = []
        for _unknown, rel in eqs:
            row: dict[int, int] = defaultdict(int)
            if decision[rel.parent] is not None:
                row[index[rel.parent]] += 1
            for child in rel.children:
                if decision[child] is not None:
                    row[index[child]] -= 1
            rows.append(row)
        out.update(cells[i] for i in _pinned_columns(rows, len(cells)))
    return out


_P = (1 << 61) - 1
"""A large prime: the elimination runs in exact arithmetic modulo it.

The equations have coefficients ±1, so the rank modulo so large a prime is
the rank over the rationals unless the prime divides one of a few minors,
which for these matrices does not happen in practice."""


def _pinned_columns(rows: Sequence[Mapping[int, int]], width: int) -> list[int]:
    """Columns j with e_j in the row space: x_j is fixed by the equations.

    Sparse Gaussian elimination into echelon form (each stored row's pivot is
    its smallest column), then every unit vector is reduced against it: e_j is
    in the row space exactly when it reduces to nothing. The equations of a
    lattice are short and nearly a tree, so fill-in stays small; a dense SVD
    of the same system needs memory quadratic in the number of hidden cells.
    """
    pivots: dict[int, dict[int, int]] = {}

    def reduce(vector: dict[int, int]) -> dict[int, int]:
        """`vector` minus what the stored rows span, stopping at the first
        column no row can cancel (that column then leads the remainder)."""
        while vector:
            lead = min(vector)
            row = pivots.get(lead)
            if row is None:
                return vector
            factor = vector[lead]
            for col, value in row.items():
                updated = (vector.get(col, 0) - factor * value) % _P
                if updated:
                    vector[col] = updated
                else:
                    vector.pop(col, None)
        return vector

    for source in rows:
        vector = {col: value % _P for col, value in source.items() if value % _P}
        rest = reduce(vector)
        if rest:
            lead = min(rest)
            inverse = pow(rest[lead], _P - 2, _P)
            pivots[lead] = {col: value * inverse % _P for col, value in rest.items()}
    return [j for j in range(width) if j in pivots and not reduce({j: 1})]


# -- the lattice of one measure over one year -------------------------------------

Node = tuple[int | None, int | None]
"""(team id, worker id); (None, None) is the organisation, (team, None) a team."""

Cell = tuple[int | None, int | None, str]
"""A node and a period label."""


def year_relations(
    workers: Iterable[tuple[int, int]], periods: Iterable[Period]
) -> list[Relation[Cell]]:
    """Every equation among the cells of one year: for each period the
    organisation is the sum of its teams and a team the sum of its workers;
    for each node a quarter is the sum of its months and the year the sum of
    its quarters (only for the periods given, i.e. those that have ended)."""
    by_team: dict[int, list[int]] = defaultdict(list)
    for team, worker in sorted(set(workers)):
        by_team[team].append(worker)
    nodes: list[Node] = [(None, None)]
    for team, members in by_team.items():
        nodes.append((team, None))
        nodes.extend((team, w) for w in members)
    present = sorted(set(periods))
    labels = {p.label for p in present}
    out: list[Relation[Cell]] = []
    for p in present:
        out.append(Relation((None, None, p.label), tuple((t, None, p.label) for t in by_team)))
        for team, members in by_team.items():
            out.append(Relation((team, None, p.label), tuple((team, w, p.label) for w in members)))
    for p in present:
        if p.grain is Grain.QUARTER:
            parts = [m.label for m in p.month_periods()]
        elif p.grain is Grain.YEAR:
            parts = [Period(p.year, q, 3).label for q in (1, 4, 7, 10)]
        else:
            continue
        if not all(label in labels for label in parts):
            continue
        for node_team, node_worker in nodes:
            out.append(
                Relation(
                    (node_team, node_worker, p.label),
                    tuple((node_team, node_worker, q) for q in parts),
                )
            )
    return out


def cells_of(workers: Iterable[tuple[int, int]], periods: Iterable[Period]) -> list[Cell]:
    """Every cell of the lattice (organisation, teams, workers × periods)."""
    pairs = sorted(set(workers))
    teams = sorted({t for t, _ in pairs})
    nodes: list[Node] = [(None, None), *((t, None) for t in teams), *pairs]
    return [(t, w, p.label) for p in sorted(set(periods)) for t, w in nodes]
