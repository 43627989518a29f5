"""Rotating the pseudonym secret: a family who writes again afterwards is
recognised and carries on where they were."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.errors import ConfigError
from bot.core.privacy import pseudonym
from bot.service.conversation import Conversations
from bot.service.keys import KeyRotation
from storage.models import Answer, AuditEntry, Contact, Respondent
from tests.conftest import SECRET, FakeClock
from tests.helpers import ChatFamily, make_invite, tiny_sets
from tests.integration.test_cli import heard

MakeService = Callable[..., Conversations]
NEW = b"the-new-secret-0123456789abcdef"


def _pseudonyms(service: Conversations) -> list[str]:
    with service.store.sessions() as s:
        return list(s.scalars(select(Respondent.pseudonym).order_by(Respondent.id)))


def test_a_family_is_recognised_after_rotation_and_continues(
    make_service: MakeService, clock: FakeClock
) -> None:
    old = make_service(sets=tiny_sets(), default_set="tiny")
    with old.store.sessions.begin() as s:
        token = make_invite(s, clock()).token
        gone_token = make_invite(s, clock()).token
    fam = ChatFamily(old, "4242")
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")  # the first question answered, the second asked
    second_question = tiny_sets()["tiny"].questions[1].text["en"]
    assert second_question in "\n".join(r.text for r in fam.replies)
    # A second family whose contact is gone (their case was closed).
    ChatFamily(old, "5353").start(gone_token)
    with old.store.sessions.begin() as s:
        gone = s.scalar(
            select(Respondent.id).where(Respondent.pseudonym == pseudonym(SECRET, "test", "5353"))
        )
        s.query(Contact).filter(Contact.respondent_id == gone).delete()
    before = _pseudonyms(old)

    keys = KeyRotation(old.store, SECRET, clock)
    dry = keys.rotate(NEW, dry_run=True, actor="admin")
    assert (dry.rotated, dry.kept) == (1, 1)
    assert _pseudonyms(old) == before  # the dry run changes nothing
    done = keys.rotate(NEW, dry_run=False, actor="admin")
    assert (done.rotated, done.kept) == (1, 1)
    assert _pseudonyms(old) == [pseudonym(NEW, "test", "4242"), before[1]]

    new = make_service(sets=tiny_sets(), default_set="tiny", secret=NEW)
    again = ChatFamily(new, "4242")
    again.replies = fam.replies
    again.say("no")  # answers the second question
    with new.store.sessions() as s:
        answers = s.scalars(select(Answer.question_id).order_by(Answer.id)).all()
        assert answers == ["truth", "same_worker"]
        assert s.scalar(select(Respondent.id).where(Respondent.pseudonym == before[0])) is None
        assert s.scalars(select(AuditEntry.action)).all()[-1] == "rotated the pseudonym secret"
    third = tiny_sets()["tiny"].questions[2].text["en"]
    assert third in "\n".join(r.text for r in again.replies)


def test_a_weak_or_unchanged_secret_is_refused(make_service: MakeService, clock: FakeClock) -> None:
    service = make_service()
    keys = KeyRotation(service.store, SECRET, clock)
    with pytest.raises(ConfigError, match="at least 16"):
        keys.rotate(b"short", dry_run=False, actor="admin")
    with pytest.raises(ConfigError, match="same as the current"):
        keys.rotate(SECRET, dry_run=False, actor="admin")


def test_heard_keys_rotate_needs_the_new_secret(tmp_path: Path) -> None:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "h.db"}"\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
    )
    assert heard("--config", str(cfg), "db", "upgrade", cwd=tmp_path).returncode == 0
    missing = heard("--config", str(cfg), "keys", "rotate", cwd=tmp_path)
    assert missing.returncode == 2
    assert "HEARD_PSEUDONYM_SECRET_NEW" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    env = {"HEARD_PSEUDONYM_SECRET_NEW": NEW.decode()}
    dry = heard("--config", str(cfg), "keys", "rotate", "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0 and "nothing changed" in dry.stdout
    done = heard("--config", str(cfg), "keys", "rotate", cwd=tmp_path, env=env)
    assert done.returncode == 0 and "re-derived 0" in done.stdout
