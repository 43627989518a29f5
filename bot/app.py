"""Wiring: turn a `Config` into a database engine, sessions and a `Service`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import engine, texts
from bot.config import Config
from bot.service import AlertSink, Clock, Service, _log_alert, utc_now
from storage import db


@dataclass
class App:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    service: Service

    def close(self) -> None:
        self.engine.dispose()


def policy_for(config: Config) -> engine.Policy:
    return engine.Policy(
        checkin_every=config.schedule.checkin_every,
        reminder_after=config.schedule.reminder_after,
    )


def build(config: Config, *, clock: Clock = utc_now, alert_sink: AlertSink = _log_alert) -> App:
    eng = db.make_engine(config.database_url)
    sessions = db.session_factory(eng)
    service = Service(
        sessions,
        secret=config.pseudonym_secret,
        texts=texts.load(),
        policy=policy_for(config),
        clock=clock,
        default_set=config.default_set,
        alert_sink=alert_sink,
    )
    return App(config, eng, sessions, service)
