"""Administration shared by the CLI and the Slack slash command: teams,
workers and invite cards. Each function runs inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import questions
from bot.errors import HeardError, NotFoundError
from bot.invites import Card, deep_link, new_code, new_token
from bot.texts import Texts
from storage import repo
from storage.models import Invite, Team, Worker

DEMO_TEAM = "Demo team"
DEMO_WORKER = "Demo worker"


def add_team(session: Session, name: str, now: datetime) -> Team:
    name = name.strip()
    if not name:
        raise HeardError('a team needs a name, e.g. heard team add "North Family Support"')
    if repo.team_by_name(session, name):
        raise HeardError(f"a team called {name!r} already exists")
    team = repo.add_team(session, name, now)
    repo.audit(session, "admin", "team added", {"team_id": team.id}, now)
    return team


def add_worker(
    session: Session, team_name: str, name: str, slack_user: str | None, now: datetime
) -> Worker:
    team = repo.team_by_name(session, team_name.strip())
    if team is None:
        raise NotFoundError(
            f"no team called {team_name!r}; add it first with: heard team add {team_name!r}"
        )
    name = name.strip()
    if not name:
        raise HeardError('a worker needs a name: --name "Sam Jones"')
    if slack_user and repo.worker_by_slack_user(session, slack_user):
        raise HeardError(f"Slack user {slack_user} is already registered to another worker")
    try:
        with session.begin_nested():
            worker = repo.add_worker(session, team, name, slack_user, now)
    except IntegrityError:
        raise HeardError(f"team {team.name!r} already has a worker called {name!r}") from None
    repo.audit(session, "admin", "worker added", {"worker_id": worker.id}, now)
    return worker


def find_worker(session: Session, ref: str) -> Worker:
    found = repo.find_workers(session, ref.strip())
    if not found:
        raise NotFoundError(f"no worker {ref!r}; see who is registered with: heard worker list")
    if len(found) > 1:
        ids = ", ".join(str(w.id) for w in found)
        raise HeardError(f"more than one worker is called {ref!r}; use the id instead ({ids})")
    return found[0]


def create_invite(
    session: Session,
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
        try:
            with session.begin_nested():
                repo.add_invite(session, invite)
        except IntegrityError:
            continue
        repo.audit(session, actor, "invite created", {"invite_id": invite.id}, now)
        return Card(token, code, deep_link(bot_username, token)), invite
    raise HeardError("could not make a unique invite code; please try again")


def demo_invite(
    session: Session, now: datetime, *, set_id: str, locale: str, texts: Texts
) -> tuple[Card, Invite]:
    """A throwaway team, worker and invite so `heard chat` just runs."""
    team = repo.team_by_name(session, DEMO_TEAM) or repo.add_team(session, DEMO_TEAM, now)
    workers = [w for w in repo.find_workers(session, DEMO_WORKER) if w.team_id == team.id]
    worker = workers[0] if workers else repo.add_worker(session, team, DEMO_WORKER, None, now)
    return create_invite(
        session,
        worker,
        set_id=set_id,
        locale=locale,
        now=now,
        valid_for=timedelta(days=1),
        bot_username="HeardFeedbackBot",
        texts=texts,
        actor="demo",
    )
