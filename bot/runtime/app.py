"""The composition root: turn a `Config` into storage, the use cases and the
time they run on. Everything that `heard` runs is built here, once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.core import engine, texts
from bot.core.safeguarding import Detector, default_detector
from bot.core.safeguarding.decision import Screening
from bot.core.safeguarding.decision import screen as screen_text
from bot.core.safeguarding.model import default_model
from bot.runtime.clock import SYSTEM, Time
from bot.runtime.metrics import Metrics
from bot.service.alerts import AlertDesk, Alerts, AlertSink
from bot.service.conversation import Clock, Conversations
from bot.service.data_requests import DataRequests
from bot.service.erasure import Scrubber
from bot.service.keys import KeyRotation
from bot.service.monitoring import Monitoring
from bot.service.retention import RetentionJob
from bot.service.spool import AlertSpool
from bot.service.staff import Staff
from storage.unit import Store


@dataclass
class App:
    config: Config
    store: Store
    conversation: Conversations
    alerts: Alerts
    time: Time = field(default=SYSTEM)
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def staff(self) -> Staff:
        """Administration use cases (teams, workers, invites, cases)."""
        return Staff(self.conversation, self.config)

    @property
    def data_requests(self) -> DataRequests:
        """A family's requests to see or erase their data."""
        return DataRequests(self.conversation, self.config)

    @property
    def retention(self) -> RetentionJob:
        return RetentionJob(self.store, self.config.retention, self.conversation.clock)

    @property
    def scrubber(self) -> Scrubber:
        """Removes erased rows' bytes from the database files."""
        return Scrubber(self.store, self.conversation.clock)

    @property
    def monitoring(self) -> Monitoring:
        return Monitoring(self.store, self.conversation.clock)

    @property
    def keys(self) -> KeyRotation:
        return KeyRotation(self.store, self.config.pseudonym_secret, self.conversation.clock)

    @property
    def alert_desk(self) -> AlertDesk:
        return AlertDesk(self.store, self.alerts, self.conversation.clock)

    @property
    def engine(self) -> Any:
        """The database engine (for tests and tools that inspect it)."""
        return self.store.engine

    @property
    def sessions(self) -> Any:
        """The session factory (for tests that inspect the tables)."""
        return self.store.sessions

    def close(self) -> None:
        self.store.dispose()


def help_now_texts(config: Config, all_texts: texts.Texts) -> dict[str, str]:
    """Where to get help now, per language, from `[safeguarding]`."""
    sg = config.safeguarding
    out: dict[str, str] = {}
    for locale in all_texts.locales:
        lines = "\n".join(
            all_texts.get(locale, "help_now_line", name=h.name, number=h.number, hours=h.hours)
            for h in sg.helplines
        )
        out[locale] = all_texts.get(locale, "help_now", emergency=sg.emergency_number, lines=lines)
    return out


def screen_for(config: Config) -> Callable[[str], Screening | None]:
    """The safeguarding check the engine runs on every free text: the rules
    and the learned model (read on the first message, then kept)."""
    extra = config.safeguarding.extra_rules
    detector = Detector.load(extra) if extra else default_detector()

    def screen(text: str) -> Screening | None:
        return screen_text(text, detector, default_model())

    return screen


def policy_for(config: Config, all_texts: texts.Texts | None = None) -> engine.Policy:
    all_texts = all_texts or texts.load()
    return engine.Policy(
        checkin_every=config.schedule.checkin_every,
        reminder_after=config.schedule.reminder_after,
        screen=screen_for(config),
        help_now=help_now_texts(config, all_texts),
        danger_check_after=config.safeguarding.danger_check_after,
    )


def build(
    config: Config,
    *,
    clock: Clock | None = None,
    alert_sink: AlertSink | None = None,
    time: Time | None = None,
) -> App:
    """Everything for one process. `time` (or just `clock`) replaces the
    system clock, for tests."""
    time = time or (Time(now=clock) if clock is not None else SYSTEM)
    alerts = Alerts(config.safeguarding)
    store = Store.open(config.database_url)
    conversation = Conversations(
        store,
        secret=config.pseudonym_secret,
        texts=texts.load(),
        policy=policy_for(config),
        clock=time.now,
        default_set=config.default_set,
        alert_sink=alert_sink or alerts,
        monotonic=time.monotonic,
        alert_upgrade=alerts.upgrade,
        spool=AlertSpool(config.safeguarding.spool_file),
    )
    return App(config, store, conversation, alerts, time)
