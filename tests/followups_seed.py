"""Synthetic families with a check-in due, for follow-up tests and the bench.

Each family is what a finished survey leaves behind: an invite (their case),
a respondent, a contact, a conversation in the DONE phase and a pending
check-in follow-up, all written with the repository functions. A due check-in
makes Heard send two messages to the chat: a greeting and the consent
question with its buttons.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.core import questions
from bot.core.engine import Phase, State
from bot.core.privacy import pseudonym
from storage import repo
from storage.models import Invite

MESSAGES_PER_CHECKIN = 2


def seed_due_checkins(
    sessions: sessionmaker[Session],
    *,
    count: int,
    now: datetime,
    secret: bytes,
    due_at: datetime | None = None,
    platform: str = "telegram",
    first_chat: int = 700_000,
    tag: str = "seed",
    set_id: str = "adult",
) -> list[str]:
    """Add `count` families whose check-in is due at `due_at` (default `now`);
    returns their chat ids. `tag` (at most 6 characters) keeps invite codes
    apart when seeding twice into one database."""
    q = questions.get(set_id)
    state = State(
        phase=Phase.DONE,
        set_id=q.id,
        set_version=q.version,
        locale="en",
        round=1,
        index=len(q.questions),
    ).to_dict()
    due = due_at or now
    chats: list[str] = []
    with sessions.begin() as s:
        team = repo.team_by_name(s, "Seeded") or repo.add_team(s, "Seeded", now)
        found = [w for w in repo.find_workers(s, "Seeded worker") if w.team_id == team.id]
        worker = found[0] if found else repo.add_worker(s, team, "Seeded worker", None, now)
        for n in range(count):
            chat = str(first_chat + n)
            invite = Invite(
                token=f"{tag}-{n}",
                code=f"{tag.upper()}{n:08d}"[:16],
                team_id=team.id,
                worker_id=worker.id,
                set_id=set_id,
                locale="en",
                created_at=now - timedelta(weeks=7),
                expires_at=now + timedelta(days=30),
                used_at=now - timedelta(weeks=7),
            )
            assert repo.add_invite(s, invite)
            rid = repo.create_respondent(
                s,
                pseudonym=pseudonym(secret, platform, chat),
                platform=platform,
                invite=invite,
                now=now,
            )
            repo.save_contact(s, rid, platform, chat, now)
            repo.save_state(s, rid, state, now)
            repo.schedule_followup(s, rid, "checkin", "checkin:2", due, now)
            s.expunge(invite)
            chats.append(chat)
    return chats
