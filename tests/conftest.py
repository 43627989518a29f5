"""Shared fixtures.

- Every test is refused any network address outside 127.0.0.0/8 and ::1.
- `db_url` runs a test on SQLite and on PostgreSQL (a fresh database per test,
  cloned from a migrated template). scripts/test starts the server and sets
  HEARD_TEST_POSTGRES_URL; without it the PostgreSQL runs are skipped, unless
  HEARD_REQUIRE_POSTGRES=1, when they fail.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import monotonic as _real_monotonic
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.core import texts
from bot.core.engine import Policy
from bot.runtime.clock import Time
from bot.service.alerts import AlertContext
from bot.service.conversation import Conversations
from storage import db
from storage.unit import Store

# -- no network beyond loopback -------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise ConnectionRefusedError(f"test tried to reach {address!r}: only 127.0.0.1 is allowed")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise ConnectionRefusedError(f"test tried to reach {address!r}: only 127.0.0.1 is allowed")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


# -- clock ----------------------------------------------------------------------


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class FakeTime:
    """Time for the runtime (`bot.runtime.clock.Time`) that passes when the
    code sleeps: `sleep(s)` moves the clock on by s at once and gives the
    event loop only `pause` of real time (at most s), so the sweep, the outbox
    and the chase loop run fast, yet a loop that sleeps in a circle cannot
    starve the rest of the process (the chats, the database threads).

    `now` is the test's `FakeClock`, moved on by every sleep (and by the test).
    `monotonic` is real monotonic time plus everything slept, so a timeout
    measured with it still ends in real time if the code never sleeps.
    `jitter` returns its lower bound, so backoffs are exact."""

    clock: FakeClock
    pause: float = 0.01
    slept: float = 0.0
    """Seconds slept so far, by every caller together."""

    def monotonic(self) -> float:
        return _real_monotonic() + self.slept

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept += seconds
        self.clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(min(seconds, self.pause))

    @staticmethod
    def jitter(low: float, _high: float) -> float:
        return low

    def time(self) -> Time:
        return Time(now=self.clock, monotonic=self.monotonic, sleep=self.sleep, jitter=self.jitter)

    async def until_slept(self, seconds: float, *, timeout: float = 10.0) -> None:
        """Wait (in real time, at most `timeout`) until the code has slept
        `seconds` more."""
        target = self.slept + seconds
        deadline = _real_monotonic() + timeout
        while self.slept < target:
            if _real_monotonic() > deadline:
                raise TimeoutError(f"the code slept {self.slept:.1f}s, not {target:.1f}s")
            await asyncio.sleep(0.001)


@pytest.fixture
def fake_time(clock: FakeClock) -> FakeTime:
    return FakeTime(clock)


# -- databases --------------------------------------------------------------------

PG_URL = os.environ.get("HEARD_TEST_POSTGRES_URL", "")
_counter = itertools.count()
_template_ready = False
TEMPLATE = f"heard_template_{os.getpid()}"


def _pg_admin() -> Any:
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


def _ensure_template() -> None:
    global _template_ready
    if _template_ready:
        return
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE}"))
        conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
    admin.dispose()
    eng = db.make_engine(make_url(PG_URL).set(database=TEMPLATE).render_as_string(False))
    db.upgrade(eng)
    eng.dispose()
    _template_ready = True


def fresh_postgres() -> str:
    _ensure_template()
    name = f"heard_t{os.getpid()}_{next(_counter)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(False)


def _drop_postgres(url: str) -> None:
    name = make_url(url).database
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'heard.db'}"
        eng = db.make_engine(url)
        db.upgrade(eng)
        eng.dispose()
        yield url
        return
    if not PG_URL:
        if os.environ.get("HEARD_REQUIRE_POSTGRES") == "1":
            pytest.fail("HEARD_TEST_POSTGRES_URL is not set but PostgreSQL runs are required")
        pytest.skip("PostgreSQL not available (run scripts/test)")
    url = fresh_postgres()
    yield url
    _drop_postgres(url)


SECRET = b"test-secret-0123456789abcdef-0123"


@dataclass
class Alerts:
    raised: list[AlertContext] = field(default_factory=list)

    def __call__(self, _session: Any, alert: AlertContext) -> None:
        self.raised.append(alert)


@pytest.fixture
def alerts() -> Alerts:
    return Alerts()


@pytest.fixture
def make_service(
    db_url: str, clock: FakeClock, alerts: Alerts
) -> Iterator[Callable[..., Conversations]]:
    engines: list[Any] = []

    def factory(**overrides: Any) -> Conversations:
        eng = db.make_engine(db_url)
        engines.append(eng)
        kwargs: dict[str, Any] = {
            "secret": SECRET,
            "texts": texts.load(),
            "policy": Policy(),
            "clock": clock,
            "monotonic": _real_monotonic,
            "alert_sink": alerts,
        }
        kwargs.update(overrides)
        return Conversations(Store(eng), **kwargs)

    yield factory
    for eng in engines:
        eng.dispose()
