"""The nightly retention job in `heard run`: scheduled at `[retention] run_at`
in the organisation's time zone, and what it runs deletes what is past its
limit (the clock is injected; nothing sleeps)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import Config, RetentionConfig
from bot.core.durations import parse_retention
from bot.core.messages import Inbound, InboundKind
from bot.runtime.app import build
from bot.runtime.process import Runtime
from bot.runtime.retention import scheduler_for
from storage.models import ProcessedInbound
from tests.conftest import SECRET, FakeClock


async def test_the_nightly_job_runs_at_run_at_and_deletes_in_batches(
    db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    retention = replace(RetentionConfig(), processed_inbound=parse_retention("7d"), batch_size=2)
    config = Config(database_url=db_url, pseudonym_secret=SECRET, retention=retention)
    app = build(config, clock=clock)
    for n in range(5):
        app.conversation.handle(Inbound("test", f"90{n}", f"k{n}", InboundKind.TEXT, text="hi"))
    clock.advance(timedelta(days=8))
    app.conversation.handle(Inbound("test", "999", "fresh", InboundKind.TEXT, text="hi"))
    runtime = Runtime(app, [])
    try:
        scheduler = scheduler_for(runtime)
        job = scheduler.get_job("retention-nightly")
        london = ZoneInfo("Europe/London")
        summer = datetime(2026, 7, 1, 12, tzinfo=london)
        fire = job.trigger.get_next_fire_time(None, summer)
        assert (fire.hour, fire.minute, fire.date()) == (2, 30, summer.date() + timedelta(days=1))
        assert fire.utcoffset() == timedelta(hours=1)  # British Summer Time
        with caplog.at_level(logging.INFO, logger="heard.retention"):
            await job.func()
        with app.store.read() as tx:
            keys = tx.scalars(select(ProcessedInbound.message_key)).all()
            assert list(keys) == ["fresh"]
            assert tx.scalar(select(func.count()).select_from(ProcessedInbound)) == 1
        [line] = [r.getMessage() for r in caplog.records if r.name == "heard.retention"]
        assert line == "retention: deleted processed_inbound 5"
    finally:
        await runtime.stop()
        app.close()
