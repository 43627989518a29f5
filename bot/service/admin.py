"""Administration: teams, workers and invite cards. Each function runs inside
the caller's transaction; `bot.service.staff` offers them as use cases."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from bot.core import questions
from bot.core.errors import HeardError, NotFoundError
from bot.core.invites import CODE_ALPHABET, CODE_LENGTH, Card, deep_link
from bot.core.texts import Texts
from storage import repo
from storage.models import Invite, Team, Worker
from storage.unit import Tx

DEMO_TEAM = "Demo team"
DEMO_WORKER = "Demo worker"


def new_token() -> str:
    """URL-safe, 32 characters: fits Telegram's 64-character start parameter."""
    return secrets.token_urlsafe(24)


def new_code() -> str:
    """A short code a family can type: `ABCD-2345`, no look-alike letters."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def add_team(tx: Tx, name: str, now: datetime) -> Team:
    name = name.strip()
    if not name:
        raise HeardError('a team needs a name, e.g. heard team add "North Family Support"')
    if repo.team_by_name(tx, name):
        raise HeardError(f"a team called {name!r} already exists")
    team = repo.add_team(tx, name, now)
    repo.audit(tx, "admin", "team added", {"team_id": team.id}, now)
    return team


def add_worker(tx: Tx, team_name: str, name: str, slack_user: str | None, now: datetime) -> Worker:
    team = repo.team_by_name(tx, team_name.strip())
    if team is None:
        raise NotFoundError(
            f"no team called {team_name!r}; add it first with: heard team add {team_name!r}"
        )
    name = name.strip()
    if not name:
        raise HeardError('a worker needs a name: --name "Sam Jones"')
    if slack_user and repo.worker_by_slack_user(tx, slack_user):
        raise HeardError(f"Slack user {slack_user} is already registered to another worker")
    worker = repo.add_worker(tx, team, name, slack_user, now)
    repo.audit(tx, "admin", "worker added", {"worker_id": worker.id}, now)
    return worker


def find_worker(tx: Tx, ref: str) -> Worker:
    found = repo.find_workers(tx, ref.strip())
    if not found:
        raise NotFoundError(f"no worker {ref!r}; see who is registered with: heard worker list")
    if len(found) > 1:
        ids = ", ".join(str(w.id) for w in found)
        raise HeardError(f"more than one worker is called {ref!r}; use the id instead ({ids})")
    return found[0]


def create_invite(
    tx: Tx,
    worker: Worker,
    *,
    set_id: str,
    locale: str,
    now: datetime,
    valid_for: timedelta,
    bot_username: str,
    texts: Texts,
    actor: str = "admin",
) -> tuple[Card, Invite]:
    """Make a single-use invite for one family of `worker`."""
    questionnaire = questions.get(set_id)
    if locale not in questionnaire.locales or locale not in texts.locales:
        offered = ", ".join(loc for loc in questionnaire.locales if loc in texts.locales)
        raise HeardError(f"language {locale!r} is not available for set {set_id!r}; use {offered}")
    for _ in range(5):
        token, code = new_token(), new_code()
        invite = Invite(
            token=token,
            code=code,
            team_id=worker.team_id,
            worker_id=worker.id,
            set_id=set_id,
            locale=locale,
            created_at=now,
            expires_at=now + valid_for,
        )
        if not repo.add_invite(tx, invite):
            continue
        repo.audit(tx, actor, "invite created", {"invite_id": invite.id}, now)
        return Card(token, code, deep_link(bot_username, token)), invite
    raise HeardError("could not make a unique invite code; please try again")


def demo_invite(
    tx: Tx, now: datetime, *, set_id: str, locale: str, texts: Texts
) -> tuple[Card, Invite]:
    """A throwaway team, worker and invite so `heard chat` just runs."""
    team = repo.team_by_name(tx, DEMO_TEAM) or repo.add_team(tx, DEMO_TEAM, now)
    workers = [w for w in repo.find_workers(tx, DEMO_WORKER) if w.team_id == team.id]
    worker = workers[0] if workers else repo.add_worker(tx, team, DEMO_WORKER, None, now)
    return create_invite(
        tx,
        worker,
        set_id=set_id,
        locale=locale,
        now=now,
        valid_for=timedelta(days=1),
        bot_username="HeardFeedbackBot",
        texts=texts,
        actor="demo",
    )
