"""Cases and the follow-up status report, for administrators.

An invite is a family's case. `close_cases` (and `heard case close`) closes
one by invite code or id, or all open cases of a worker: it sets
`invites.closed_at`, cancels the follow-ups of the families bound to it,
deletes their queued messages and their contact rows. A closed invite can no
longer be redeemed; a family who is given a new invite starts a new case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.config import ScheduleConfig
from bot.core.errors import HeardError, NotFoundError
from bot.core.invites import normalise_code
from bot.service.admin import find_worker
from storage import repo
from storage.unit import Tx


def close_cases(
    tx: Tx,
    *,
    now: datetime,
    code: str | None = None,
    invite_id: int | None = None,
    worker: str | None = None,
    actor: str = "admin",
) -> repo.CaseClosure:
    """Close one case (by invite code or id) or every open case of a worker
    (id, name or Slack user id). See the module docstring for what closing
    does. Closing a closed case again is harmless."""
    given = [v for v in (code, invite_id, worker) if v is not None]
    if len(given) != 1:
        raise HeardError("say which case to close: --code CODE, --invite-id N or --worker WORKER")
    if code is not None:
        wanted = normalise_code(code) or code.strip().upper()
        if repo.invite_by_code(tx, wanted) is None:
            raise NotFoundError(f"no invite with the code {wanted}")
        ids = repo.open_case_ids(tx, code=wanted)
    elif invite_id is not None:
        if repo.invite_by_id(tx, invite_id) is None:
            raise NotFoundError(f"no invite with the id {invite_id}")
        ids = repo.open_case_ids(tx, invite_id=invite_id)
    else:
        assert worker is not None
        ids = repo.open_case_ids(tx, worker_id=find_worker(tx, worker).id)
    closure = repo.close_cases(tx, ids, now)
    repo.audit(
        tx,
        actor,
        "cases closed",
        {"invite_ids": ids, "followups_cancelled": closure.followups_cancelled},
        now,
    )
    return closure


def _table(title: str, statuses: tuple[str, ...], counts: list[tuple[str, str, int]]) -> list[str]:
    kinds = sorted({k for k, _, _ in counts})
    cell = {(k, s): n for k, s, n in counts}
    extra = sorted({s for _, s, _ in counts} - set(statuses))
    columns = (*statuses, *extra)
    width = max([14, len(title), *(len(k) + 2 for k in kinds)])
    lines = [title.ljust(width) + "".join(f"{c:>11}" for c in columns)]
    for kind in kinds:
        lines.append(
            f"  {kind}".ljust(width) + "".join(f"{cell.get((kind, c), 0):>11}" for c in columns)
        )
    if not kinds:
        lines.append("  (none)")
    return lines


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    if at is None:
        return "-"
    local = at.astimezone(zone)
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({local:%H:%M} {zone.key})"


def report(tx: Tx, schedule: ScheduleConfig, now: datetime) -> str:
    """Counts by kind and status, next due times and quiet-hours state, for
    `heard followups`. Holds no personal data: no addresses, texts or ids of
    families."""
    quiet = schedule.quiet_hours()
    lines = _table(
        "Follow-ups", ("pending", "claimed", "done", "cancelled"), repo.followup_counts(tx)
    )
    lines.append(f"  next due: {_when(repo.next_followup_due(tx), quiet.zone)}")
    lines.append("")
    lines += _table(
        "Outbox",
        ("pending", "claimed", "sent", "failed", "cancelled"),
        repo.outbox_counts(tx),
    )
    lines.append(f"  next attempt: {_when(repo.next_outbound_due(tx), quiet.zone)}")
    lines.append("")
    set_aside = repo.set_aside_counts(tx)
    total = sum(n for _, _, n in set_aside)
    lines.append(f"Set aside (inbound messages the database refused): {total}")
    lines += [f"  {platform:<10} {error:<28} {n:>6}" for platform, error, n in sorted(set_aside)]
    lines.append("")
    state = "not quiet now"
    if quiet.contains(now):
        state = f"quiet now, until {_when(quiet.ends_after(now), quiet.zone)}"
    lines.append(f"Quiet hours: {quiet.describe()}; {state}")
    return "\n".join(lines)
