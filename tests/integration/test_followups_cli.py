"""`heard followups` and `heard case close`, as an administrator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from bot.core import texts
from bot.service.conversation import Conversations
from storage import db
from storage.models import Contact, FollowUp, Invite
from storage.unit import Store
from tests.conftest import SECRET, FakeClock
from tests.followups_seed import seed_due_checkins


def heard(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARD_PSEUDONYM_SECRET": SECRET.decode()}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _config(tmp_path: Path, db_url: str) -> Path:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
    )
    return cfg


def test_followups_shows_counts_and_next_due_without_personal_data(
    tmp_path: Path, db_url: str, clock: FakeClock
) -> None:
    eng = db.make_engine(db_url)
    service = Conversations(
        Store(eng), secret=SECRET, texts=texts.load(), clock=clock, monotonic=time.monotonic
    )
    chats = seed_due_checkins(
        service.store.sessions,
        count=3,
        now=clock(),
        due_at=clock(),
        secret=SECRET,
        first_chat=81234,
    )
    eng.dispose()
    result = heard("followups", config=_config(tmp_path, db_url))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].split() == ["Follow-ups", "pending", "claimed", "done", "cancelled"]
    assert lines[1].split() == ["checkin", "3", "0", "0", "0"]
    assert "next due: 2026-03-02 10:00 UTC (10:00 Europe/London)" in out
    assert "Outbox" in out and "Quiet hours: 20:00-09:00 Europe/London; " in out
    for chat in chats:
        assert chat not in out


def test_case_close_by_code_and_by_worker(tmp_path: Path, db_url: str, clock: FakeClock) -> None:
    eng = db.make_engine(db_url)
    sessions = db.session_factory(eng)
    seed_due_checkins(sessions, count=3, now=clock(), secret=SECRET)
    with sessions() as s:
        code = s.scalars(select(Invite.code).order_by(Invite.id)).first()
    cfg = _config(tmp_path, db_url)
    try:
        one = heard("case", "close", "--code", str(code).lower(), config=cfg)
        assert one.returncode == 0, one.stderr
        assert one.stdout.strip() == (
            "closed 1 case(s); cancelled 1 follow-up(s); deleted 1 contact address(es)"
        )
        again = heard("case", "close", "--code", str(code), config=cfg)
        assert again.stdout.startswith("closed 0 case(s)")
        rest = heard("case", "close", "--worker", "Seeded worker", config=cfg)
        assert rest.stdout.startswith("closed 2 case(s); cancelled 2 follow-up(s)")
        with sessions() as s:
            assert s.scalars(select(Contact)).all() == []
            assert set(s.scalars(select(FollowUp.status))) == {"cancelled"}
        missing = heard("case", "close", "--invite-id", "999", config=cfg)
        assert missing.returncode == 2
        assert missing.stderr.strip() == "heard: no invite with the id 999"
        neither = heard("case", "close", config=cfg)
        assert neither.returncode == 2 and "one of the arguments" in neither.stderr
    finally:
        eng.dispose()
