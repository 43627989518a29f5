"""A family answers, writes a comment and something that worries the duty
team, then says "forget". Afterwards nothing in the database, and on SQLite
nothing in the raw bytes of the database file or its WAL, leads back to them:
not their chat id, not their pseudonym, not their words."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from bot.config import Config, RetentionConfig, SafeguardingConfig
from bot.core.durations import parse_retention
from bot.core.messages import Inbound, InboundKind
from bot.core.privacy import pseudonym
from bot.runtime.app import policy_for
from bot.runtime.followups import OUTBOX_KEEP
from bot.service.alerts import AlertDesk, Alerts
from bot.service.conversation import Conversations, ReplyQueue
from bot.service.data_requests import DataRequests
from bot.service.erasure import Scrubber
from bot.service.outbox import OutboxBook, Sent
from bot.service.retention import RetentionJob
from storage import db, erasure, repo
from storage.models import Invite, ProcessedInbound, SafeguardingAlert
from storage.repo import day_of
from tests.conftest import SECRET, FakeClock
from tests.helpers import ChatFamily, make_invite, tiny_sets

MakeService = Callable[..., Conversations]
CONFIG = Config(database_url="", pseudonym_secret=SECRET)
CHAT = "5550123987"
OWNER = "heard-test-1"
COMMENT = "Quentin listens, and the xylophone marmalade helps"
DISCLOSURE = "he hits me every night and I want to kill myself"
PLATFORMS = ("test", "slack")
_keys = itertools.count(1)


class QueuedFamily(ChatFamily):
    """A family whose replies go through the outbox, as in `heard run`."""

    def _send(self, kind: InboundKind, key: str | None = None, **fields: str) -> str:
        inbound = Inbound(self.platform, self.chat_id, key or f"e{next(_keys)}", kind, **fields)
        self.replies = self.service.handle(inbound, queue=ReplyQueue(OWNER, timedelta(minutes=5)))
        deliver(self.service, self.replies, platforms=(self.platform,))
        return "\n".join(r.text for r in self.replies)


def deliver(
    service: Conversations, replies: list[Any] | None = None, platforms: tuple[str, ...] = PLATFORMS
) -> None:
    """Send everything in the outbox on `platforms` (by default to families
    and to the duty team), as the runtime's sender would."""
    book = OutboxBook(service.store, owner=OWNER, clock=service.clock, lease=timedelta(minutes=5))
    results: list[tuple[repo.OutboundRow, Any]] = [
        (
            repo.OutboundRow(r.outbox_id, r.platform, r.chat_id, r.text, (), 1, "reply", None, 1),
            Sent(f"m{r.outbox_id}"),
        )
        for r in replies or []
        if r.outbox_id is not None
    ]
    while True:
        rows, _ = book.settle_and_claim(results, 50, platforms=platforms, held_kinds=())
        if not rows:
            return
        results = [(row, Sent(f"m{row.id}")) for row in rows]


@pytest.fixture
def service(make_service: MakeService) -> Conversations:
    sink = Alerts(replace(SafeguardingConfig(), alert_channel="slack:C0DUTY"))
    return make_service(
        sets=tiny_sets(), default_set="tiny", alert_sink=sink, policy=policy_for(CONFIG)
    )


def _answer(
    service: Conversations,
    clock: FakeClock,
    chat: str = CHAT,
    comment: str = COMMENT,
    disclosure: str = DISCLOSURE,
) -> str:
    with service.store.sessions.begin() as s:
        invite = make_invite(s, clock())
        token, code = invite.token, invite.code
    fam = QueuedFamily(service, chat)
    fam.start(token)
    fam.tap("yes")
    fam.tap("4")
    fam.say("no")
    fam.tap("2")
    fam.say(comment)
    clock.advance(timedelta(minutes=3))
    fam.say(disclosure)
    return code


def _needles() -> list[str]:
    return [CHAT, pseudonym(SECRET, "test", CHAT), "xylophone", "marmalade", "kill myself"]


OTHER = "4440001112"
OTHER_WORDS = [OTHER, pseudonym(SECRET, "test", OTHER), "trombone", "he locks me in"]


def _rows_holding(engine: Engine, needles: list[str]) -> list[str]:
    """Every table of the real schema, every column, as text: where a needle is."""
    hits = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                flat = json.dumps([str(v) for v in row]).lower()
                hits += [f"{table}: {n}" for n in needles if n.lower() in flat]
    return hits


def _bytes_holding(url: str, needles: list[str]) -> list[str]:
    path = Path(str(make_url(url).database))
    hits = []
    for f in (path, path.with_name(path.name + "-wal")):
        if f.exists():
            raw = f.read_bytes().lower()
            hits += [f"{f.name}: {n}" for n in needles if n.lower().encode() in raw]
    return hits


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def _vacuumed(engine: Engine) -> dict[str, datetime | None]:
    with engine.connect() as conn:
        return {
            str(name): at
            for name, at in conn.execute(
                text("SELECT relname, last_vacuum FROM pg_stat_user_tables")
            )
        }


def _files(engine: Engine) -> dict[str, Path]:
    """Each table's heap file on the PostgreSQL server (after a checkpoint)."""
    with engine.connect() as conn:
        conn.execute(text("CHECKPOINT"))
        base = Path(str(conn.execute(text("SHOW data_directory")).scalar()))
        rows = conn.execute(
            text(
                "SELECT relname, pg_relation_filepath(relid) FROM pg_stat_user_tables"
                " WHERE schemaname = 'public'"
            )
        )
        return {str(name): base / str(path) for name, path in rows}


def _heap_holding(files: dict[str, Path], tables: Iterable[str], needles: list[str]) -> list[str]:
    hits = []
    for table in tables:
        raw = files[table].read_bytes().lower()
        hits += [f"{table}: {n}" for n in needles if n.lower().encode() in raw]
    return hits


def _assert_scrubbed_on_postgres(engine: Engine, before: dict[str, Path]) -> None:
    """The small tables were rewritten into new files that hold nothing of the
    family; the large ones were vacuumed."""
    after = _files(engine)
    for table in sorted(erasure.REWRITTEN):
        assert after[table] != before[table], f"{table} was not rewritten"
    assert _vacuumed(engine)["answers"] is not None
    if all(f.exists() for f in after.values()):  # the server runs on this machine
        assert _heap_holding(after, erasure.REWRITTEN, _needles()) == []


def test_forget_in_chat_leaves_nothing(
    service: Conversations, clock: FakeClock, db_url: str, engine: Engine
) -> None:
    _answer(service, clock)
    other = _answer(service, clock, OTHER, "the trombone lessons help", "he locks me in the shed")
    deliver(service)  # the duty team has both alerts
    assert _rows_holding(engine, _needles()), "the family's data was stored"

    before = _files(engine) if engine.dialect.name == "postgresql" else {}
    clock.advance(timedelta(hours=5, minutes=17))
    fam = QueuedFamily(service, CHAT)
    fam.say("forget", key="f1")
    assert "deleted" in fam.tap("yes")
    deliver(service)
    Scrubber(service.store, service.clock).run()

    assert _rows_holding(engine, _needles()) == []
    if engine.dialect.name == "sqlite":
        assert _bytes_holding(db_url, _needles()) == []
    else:
        _assert_scrubbed_on_postgres(engine, before)
    # The other family is untouched.
    assert {h.split(":")[1].strip() for h in _rows_holding(engine, OTHER_WORDS)} == set(OTHER_WORDS)
    with service.store.sessions() as s:
        invites = {i.code: i for i in s.scalars(select(Invite))}
        assert invites[other].used_at is not None
        [mine] = [i for c, i in invites.items() if c != other]
        assert mine.used_at is None, "a time join could match the card to the alert"
        erased = s.scalars(
            select(SafeguardingAlert).where(SafeguardingAlert.respondent_id.is_(None))
        ).one()
        assert (erased.at.hour, erased.at.minute, erased.at.second) == (0, 0, 0)
        platform, _, key = str(erased.delivery_key).partition(":")
        delivery = s.get(ProcessedInbound, (platform, key))
        assert delivery is not None and delivery.processed_at == day_of(delivery.processed_at)
        kept = s.scalars(
            select(SafeguardingAlert).where(SafeguardingAlert.respondent_id.is_not(None))
        ).one()
        assert kept.at == datetime(2026, 3, 2, 10, 6, tzinfo=UTC)


def test_a_used_card_stays_used_after_forget(service: Conversations, clock: FakeClock) -> None:
    with service.store.sessions.begin() as s:
        token = make_invite(s, clock()).token
    fam = QueuedFamily(service, CHAT)
    fam.start(token, key="s1")
    fam.say("forget", key="f1")
    fam.tap("yes")
    stranger = QueuedFamily(service, "999000111")
    assert "used" in stranger.start(token, key="s2").lower()
    with service.store.sessions() as s:
        assert s.scalars(select(Invite)).one().used_at is None


def test_forget_by_data_request_leaves_nothing(
    service: Conversations, clock: FakeClock, db_url: str, engine: Engine
) -> None:
    code = _answer(service, clock)
    deliver(service)
    DataRequests(service, CONFIG).forget(code, actor="admin")
    done = Scrubber(service.store, service.clock).run()
    assert done.tables
    assert _rows_holding(engine, _needles()) == []
    if engine.dialect.name == "sqlite":
        assert _bytes_holding(db_url, _needles()) == []
    assert Scrubber(service.store, service.clock).run().tables == ()  # nothing left to do


def test_a_scrub_waits_for_the_goodbye_to_be_sent(
    service: Conversations, clock: FakeClock, engine: Engine
) -> None:
    with service.store.sessions.begin() as s:
        token = make_invite(s, clock()).token
    fam = QueuedFamily(service, CHAT)
    fam.start(token, key="s1")
    fam.say("forget", key="f1")
    inbound = Inbound("test", CHAT, "f2", InboundKind.BUTTON, data=fam.replies[-1].choices[0].data)
    service.handle(inbound, queue=ReplyQueue(OWNER, timedelta(minutes=5)))  # not sent yet
    assert Scrubber(service.store, service.clock).run().tables == ()
    assert _rows_holding(engine, [CHAT]) != []  # the goodbye still has to reach them
    clock.advance(timedelta(minutes=10))  # the lease ran out: any sender may send it
    deliver(service)
    assert Scrubber(service.store, service.clock).run().tables
    assert _rows_holding(engine, [CHAT]) == []


def test_retention_deletes_are_scrubbed_too(
    service: Conversations, clock: FakeClock, db_url: str, engine: Engine
) -> None:
    _answer(service, clock)
    deliver(service)
    clock.advance(timedelta(days=400))
    policy = replace(
        RetentionConfig(),
        contacts=parse_retention("30d"),
        conversations=parse_retention("30d"),
        answers=parse_retention("30d"),
        processed_inbound=parse_retention("7d"),
    )
    RetentionJob(service.store, policy, service.clock).apply()
    book = OutboxBook(service.store, owner=OWNER, clock=service.clock, lease=timedelta(minutes=5))
    book.prune(OUTBOX_KEEP)  # as `heard run` does every hour
    assert Scrubber(service.store, service.clock).run().tables
    hits = _rows_holding(engine, [CHAT, "xylophone", "marmalade"])
    assert hits == []
    if engine.dialect.name == "sqlite":
        assert _bytes_holding(db_url, [CHAT, "xylophone", "marmalade"]) == []


def test_the_migration_clears_used_at_of_cards_whose_family_is_gone(
    db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{tmp_path / 'before-erasure.db'}"
    eng = db.make_engine(db_url)
    try:
        config = db.alembic_config(eng)
        if eng.dialect.name == "sqlite":  # a new file, brought up to the revision before
            command.upgrade(config, "0008")
        else:
            command.downgrade(config, "0008")  # the revision before erasure's
        now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        with db.session_factory(eng).begin() as s:
            # Plain SQL: the models describe the newest schema, not this one.
            team_id = s.execute(
                text("INSERT INTO teams (name, created_at) VALUES ('North', :now) RETURNING id"),
                {"now": now},
            ).scalar_one()
            worker_id = s.execute(
                text(
                    "INSERT INTO workers (team_id, name, active, created_at)"
                    " VALUES (:team, 'Sam', :yes, :now) RETURNING id"
                ),
                {"team": team_id, "yes": True, "now": now},
            ).scalar_one()
            rows = [
                {"token": t, "code": c, "used_at": u}
                for t, c, u in (("gone", "GONE-0001", now), ("new", "NEWC-0001", None))
            ]
            for row in rows:
                s.execute(
                    text(
                        "INSERT INTO invites (token, code, team_id, worker_id, set_id, locale,"
                        " created_at, expires_at, used_at) VALUES (:token, :code, :team,"
                        " :worker, 'adult', 'en', :now, :now, :used_at)"
                    ),
                    {**row, "team": team_id, "worker": worker_id, "now": now},
                )
        db.upgrade(eng)
        with db.session_factory(eng)() as s:
            cards = {i.token: (i.used, i.used_at) for i in s.scalars(select(Invite))}
        assert cards == {"gone": (True, None), "new": (False, None)}
    finally:
        eng.dispose()


def test_a_rewrite_that_cannot_get_its_table_is_tried_again_later(
    service: Conversations, clock: FakeClock, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("table locks and VACUUM FULL are PostgreSQL's")
    code = _answer(service, clock)
    deliver(service)
    DataRequests(service, CONFIG).forget(code, actor="admin")
    with engine.connect() as reader:
        reader.execute(text("SELECT count(*) FROM contacts"))  # holds a lock until it ends
        assert Scrubber(service.store, service.clock).run().waiting
        reader.rollback()
    assert Scrubber(service.store, service.clock).run().tables
    assert _rows_holding(engine, _needles()) == []


def test_an_alert_on_its_way_keeps_its_words_until_sent_then_loses_them(
    service: Conversations, clock: FakeClock, db_url: str, engine: Engine
) -> None:
    code = _answer(service, clock)  # the duty channel has not had the alert yet
    DataRequests(service, CONFIG).forget(code, actor="admin")
    Scrubber(service.store, service.clock).run()
    assert _rows_holding(engine, ["kill myself"]) == ["outbox: kill myself"]  # safety first

    sink = service.alert_sink
    assert isinstance(sink, Alerts)
    desk = AlertDesk(service.store, sink, service.clock)
    book = OutboxBook(
        service.store,
        owner=OWNER,
        clock=service.clock,
        lease=timedelta(minutes=5),
        on_sent=desk.on_sent,
    )
    rows, _ = book.settle_and_claim([], 50, platforms=PLATFORMS, held_kinds=())
    assert [r.kind for r in rows] == ["alert"]
    book.settle_and_claim([(rows[0], Sent("m1"))], 0, platforms=PLATFORMS, held_kinds=())
    assert Scrubber(service.store, service.clock).run().tables == ("outbox",)
    assert _rows_holding(engine, _needles()) == []
    if engine.dialect.name == "sqlite":
        assert _bytes_holding(db_url, _needles()) == []
    with service.store.sessions() as s:
        alert = s.scalars(select(SafeguardingAlert)).one()
        assert alert.erased and alert.delivered_at == day_of(clock())
