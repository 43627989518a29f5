"""A worker invite link binds one chat, once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Config
from bot.runtime.app import build
from storage import worker_invites
from tests.conftest import SECRET
from tests.digests_seed import NOW, SAM, seed_team


def test_a_link_binds_one_chat_and_pressing_start_again_is_harmless(db_url: str) -> None:
    app = build(Config(database_url=db_url, pseudonym_secret=SECRET), clock=lambda: NOW)
    app.store.upgrade()
    seed_team(app.store.engine)
    with app.store.begin() as tx:
        worker_invites.add(tx, "worker_abc", SAM, NOW, NOW + timedelta(days=1))
    with app.store.begin() as tx:
        assert worker_invites.redeem(tx, "worker_abc", "111", NOW).outcome == "bound"
    with app.store.begin() as tx:
        again = worker_invites.redeem(tx, "worker_abc", "111", NOW + timedelta(hours=1))
        assert (again.outcome, again.worker) == ("bound", "Sam Jones")
        assert worker_invites.redeem(tx, "worker_abc", "222", NOW).outcome == "used"
        assert worker_invites.redeem(tx, "worker_nope", "222", NOW).outcome == "unknown"
    app.close()
