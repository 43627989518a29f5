"""Wiring: turn a `Config` into a database engine, sessions and a `Service`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import engine, texts
from bot.alerts import Alerts
from bot.config import Config
from bot.safeguarding import Detector, default_detector
from bot.service import AlertSink, Clock, Service, utc_now
from storage import db


@dataclass
class App:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    service: Service
    alerts: Alerts | None = None

    def __post_init__(self) -> None:
        if self.alerts is None:
            self.alerts = Alerts(self.config.safeguarding)

    def close(self) -> None:
        self.engine.dispose()


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


def screen_for(config: Config) -> Callable[[str], tuple[str, ...]]:
    """The safeguarding check the engine runs on every free text."""
    extra = config.safeguarding.extra_rules
    detector = Detector.load(extra) if extra else default_detector()

    def screen(text: str) -> tuple[str, ...]:
        found = detector.detect(text)
        return found.categories if found else ()

    return screen


def policy_for(config: Config, all_texts: texts.Texts | None = None) -> engine.Policy:
    all_texts = all_texts or texts.load()
    return engine.Policy(
        checkin_every=config.schedule.checkin_every,
        reminder_after=config.schedule.reminder_after,
        screen=screen_for(config),
        help_now=help_now_texts(config, all_texts),
    )


def build(config: Config, *, clock: Clock = utc_now, alert_sink: AlertSink | None = None) -> App:
    alerts = Alerts(config.safeguarding)
    eng = db.make_engine(config.database_url)
    sessions = db.session_factory(eng)
    service = Service(
        sessions,
        secret=config.pseudonym_secret,
        texts=texts.load(),
        policy=policy_for(config),
        clock=clock,
        default_set=config.default_set,
        alert_sink=alert_sink or alerts,
    )
    return App(config, eng, sessions, service, alerts)
