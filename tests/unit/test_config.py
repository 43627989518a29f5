"""Config: the example documents every key, and mistakes name the key."""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.config import (
    DataRequestsConfig,
    RetentionConfig,
    SafeguardingConfig,
    ScheduleConfig,
    ServerConfig,
    SlackConfig,
    TelegramConfig,
    parse,
)
from bot.core.durations import parse_duration, parse_window
from bot.core.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARD_PSEUDONYM_SECRET", "a-secret-of-enough-length")


def test_the_example_config_loads_and_matches_the_defaults() -> None:
    config = parse(tomllib.loads(EXAMPLE.read_text()), str(EXAMPLE))
    assert config.telegram == TelegramConfig()
    assert config.slack == SlackConfig()
    assert config.schedule == ScheduleConfig()
    assert config.safeguarding == SafeguardingConfig()
    assert config.retention == RetentionConfig()
    assert config.server == ServerConfig()
    assert config.data_requests == DataRequestsConfig()
    assert config.log_format == "text"
    assert config.pseudonym_secret == b"a-secret-of-enough-length"


@pytest.mark.parametrize(
    "section,fields",
    [
        ("retention", RetentionConfig),
        ("server", ServerConfig),
        ("data_requests", DataRequestsConfig),
    ],
)
def test_the_example_documents_every_operations_key(section: str, fields: type) -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    assert set(raw[section]) == set(fields.__dataclass_fields__)


@pytest.mark.parametrize(
    "section,fields",
    [("telegram", TelegramConfig), ("slack", SlackConfig)],
)
def test_the_example_documents_every_platform_key(section: str, fields: type) -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    assert set(raw[section]) == set(fields.__dataclass_fields__)


@pytest.mark.parametrize(
    "raw,key",
    [
        ({"telegram": {"port": 70000}}, "[telegram] port"),
        ({"telegram": {"enabled": "yes"}}, "[telegram] enabled"),
        ({"telegram": {"enabled": True, "mode": "webhook"}}, "[telegram] webhook_url"),
        ({"slack": {"mode": "smoke"}}, "[slack] mode"),
        ({"schedule": {"quiet_hours": "8pm to 9am"}}, "[schedule] quiet_hours"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "[schedule] timezone"),
        ({"schedule": {"reminder_after": "0h"}}, "[schedule] reminder_after"),
        ({"privacy": {"k_threshold": 1}}, "[privacy] k_threshold"),
        ({"safeguarding": {"helplines": [{"name": "X"}]}}, "[safeguarding] helplines #1"),
        ({"nonsense": 1}, "nonsense: unknown key"),
        ({"database": "sqlite://"}, "[database]"),
        ({"retention": {"answers": "3 fortnights"}}, "[retention] answers"),
        ({"retention": {"contacts": 12}}, "[retention] contacts"),
        ({"retention": {"run_at": "late"}}, "[retention] run_at"),
        ({"retention": {"keep": "1y"}}, "[retention] keep: unknown key"),
        ({"server": {"health_port": 70000}}, "[server] health_port"),
        ({"logging": {"format": "xml"}}, "[logging] format"),
        ({"data_requests": {"include_duty_notes": "no"}}, "[data_requests] include_duty_notes"),
    ],
)
def test_mistakes_name_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(raw, "heard.toml")
    assert key in str(err.value)


def test_durations_and_windows() -> None:
    assert parse_duration("6w") == timedelta(weeks=6)
    assert parse_duration(" 90s ") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_window("20:00-09:00") == (time(20), time(9))
    for bad in ("6", "w", "-1d", "3y"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError):
        parse_window("25:00-09:00")


def test_access_admins_are_slack_user_ids() -> None:
    config = parse({"access": {"admins": ["U0ADMIN001", " U0ADMIN002 "]}}, "heard.toml")
    assert config.admins == ("U0ADMIN001", "U0ADMIN002")
    assert parse({}, "heard.toml").admins == ()
    with pytest.raises(ConfigError, match=r"\[access\] admins: expected a list of Slack user ids"):
        parse({"access": {"admins": "U0ADMIN001"}}, "heard.toml")
    with pytest.raises(ConfigError, match=r"\[access\] role: unknown key"):
        parse({"access": {"role": "x"}}, "heard.toml")


def test_operations_keys_and_their_defaults() -> None:
    default = parse({}, "heard.toml")
    assert default.server.health_port == 0 and default.server.health_listen == "127.0.0.1"
    assert default.log_format == "text"
    assert default.data_requests.include_duty_notes is False
    rules = {k: v.describe() for k, v in default.retention.rules().items()}
    assert rules == {
        "contacts": "12 months after case closed",
        "conversations": "90 days",
        "answers": "3 years",
        "alerts": "6 years",
        "processed_inbound": "7 days",
        "audit": "6 years",
    }
    config = parse(
        {
            "retention": {"answers": "forever", "run_at": "03:15", "nightly": False},
            "server": {"health_port": 9464},
            "logging": {"format": "json"},
        },
        "heard.toml",
    )
    assert config.retention.answers.forever and config.retention.run_at == time(3, 15)
    assert config.retention.nightly is False
    assert config.server.health_port == 9464 and config.log_format == "json"


def test_digests_weekly_and_the_organisation_s_own_closure_days() -> None:
    from datetime import date

    config = parse(
        {"digests": {"every": "weekly", "extra_holidays": ["2026-12-29", date(2026, 12, 30)]}},
        "heard.toml",
    )
    assert config.digests.every == "weekly"
    assert config.digests.extra_holidays == (date(2026, 12, 29), date(2026, 12, 30))
    assert parse({}, "heard.toml").digests.extra_holidays == ()
    with pytest.raises(
        ConfigError, match=r"\[digests\] extra_holidays: '29/12/2026' is not a date"
    ):
        parse({"digests": {"extra_holidays": ["29/12/2026"]}}, "heard.toml")
    with pytest.raises(ConfigError, match=r"\[digests\] extra_holidays: expected a list"):
        parse({"digests": {"extra_holidays": "2026-12-29"}}, "heard.toml")
