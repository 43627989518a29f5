"""Configuration: one TOML file, validated at start.

Every key is documented in `config.example.toml`. Secrets are never literals
in the file: the file names the environment variable that holds each one.
A mistake stops start-up with a `ConfigError` that names the key and the fix.
With no file at all, Heard runs on embedded defaults: the console, SQLite in
`heard-data/`, and a pseudonym key generated once in that folder.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.durations import Retention, parse_duration, parse_retention, parse_window
from bot.core.errors import ConfigError
from bot.core.quiet_hours import QuietHours

DEFAULT_DATA_DIR = Path("heard-data")
EMBEDDED_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR / 'heard.db'}"
"""The database `heard chat` and a config without `[database] url` use."""
MIN_K = 3


@dataclass(frozen=True, slots=True)
class Helpline:
    name: str
    number: str
    hours: str


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    enabled: bool = False
    token_env: str = "HEARD_TELEGRAM_TOKEN"
    mode: str = "polling"
    base_url: str = ""
    bot_username: str = "HeardFeedbackBot"
    webhook_url: str = ""
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token_env: str = "HEARD_TELEGRAM_SECRET"
    max_per_second: float = 30.0
    max_per_chat_per_second: float = 1.0
    chat_burst: int = 3


@dataclass(frozen=True, slots=True)
class SlackConfig:
    enabled: bool = False
    bot_token_env: str = "HEARD_SLACK_BOT_TOKEN"
    signing_secret_env: str = "HEARD_SLACK_SIGNING_SECRET"
    mode: str = "http"
    app_token_env: str = "HEARD_SLACK_APP_TOKEN"
    listen: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"
    base_url: str = ""
    max_per_channel_per_second: float = 1.0


QUIET_OFF = ("", "off", "none")
"""`quiet_hours` values meaning no quiet hours (stored as start == end)."""


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    checkin_every: timedelta = timedelta(weeks=6)
    reminder_after: timedelta = timedelta(hours=48)
    quiet_start: time = time(20, 0)
    quiet_end: time = time(9, 0)
    """A window whose start equals its end is empty: no quiet hours."""
    timezone: str = "Europe/London"
    sweep_every: timedelta = timedelta(seconds=5)
    lease: timedelta = timedelta(minutes=2)
    followup_attempts: int = 5
    """Runs of one follow-up that may raise before it is marked failed."""

    def quiet_hours(self) -> QuietHours:
        return QuietHours(self.quiet_start, self.quiet_end, ZoneInfo(self.timezone))


@dataclass(frozen=True, slots=True)
class SafeguardingConfig:
    alert_channel: str = ""
    fallback_channel: str = ""
    ack_within: timedelta = timedelta(minutes=15)
    danger_check_after: timedelta = timedelta(minutes=5)
    """The uncertain band: an unanswered "Is anyone in danger right now?"
    becomes an urgent alert after this long."""
    emergency_number: str = "999"
    helplines: tuple[Helpline, ...] = (
        Helpline("Childline", "0800 1111", "any time"),
        Helpline("Samaritans", "116 123", "any time"),
        Helpline("Shout (text)", "85258", "any time"),
    )
    extra_rules: tuple[Path, ...] = ()
    spool_file: Path = DEFAULT_DATA_DIR / "alert-spool.jsonl"
    """Where alerts wait (fsync'd, owner-only) while the database is down."""


KEEP_CONTACTS = Retention(12, "months", after_case_closed=True)
KEEP_CONVERSATIONS = Retention(90)
KEEP_ANSWERS = Retention(3, "years")
KEEP_SIX_YEARS = Retention(6, "years")
KEEP_DELIVERY_IDS = Retention(7)


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long each kind of data is kept (`[retention]`); the nightly job in
    `heard run` and `heard retention` delete what is past it."""

    contacts: Retention = KEEP_CONTACTS
    conversations: Retention = KEEP_CONVERSATIONS
    answers: Retention = KEEP_ANSWERS
    alerts: Retention = KEEP_SIX_YEARS
    processed_inbound: Retention = KEEP_DELIVERY_IDS
    audit: Retention = KEEP_SIX_YEARS
    run_at: time = time(2, 30)
    """When the nightly job runs, in `[schedule] timezone`."""
    batch_size: int = 1000
    nightly: bool = True
    """Whether `heard run` runs the nightly job (with several processes, one
    is enough: set false on the others)."""

    def rules(self) -> dict[str, Retention]:
        return {name: getattr(self, name) for name in RETENTION_KEYS}


RETENTION_KEYS = ("contacts", "conversations", "answers", "alerts", "processed_inbound", "audit")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The operators' HTTP server: GET /healthz and GET /metrics. Off when
    `health_port` is 0."""

    health_port: int = 0
    health_listen: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DataRequestsConfig:
    include_duty_notes: bool = False
    """Whether `heard export` includes how the duty team handled an alert
    (who acknowledged it and when, how often it was sent)."""


DIGEST_EVERY = ("weekly", "monthly", "quarterly", "off")
DIGEST_COMMENTS = ("moderated", "automatic", "off")


@dataclass(frozen=True, slots=True)
class DigestsConfig:
    """`[digests]`: workers' scheduled digests and managers' summaries."""

    every: str = "monthly"
    """weekly, monthly, quarterly or off (managers' summaries are monthly
    unless off). Weekly digests give the figures of the newest fixed period
    that reaches k, never a week's own."""
    send_at: time = time(9, 0)
    """On the first working day of the period, in `[schedule] timezone`."""
    extra_holidays: tuple[date, ...] = ()
    """The organisation's own closure days, beside England and Wales bank
    holidays, on which no digest goes out."""
    comments: str = "moderated"
    """moderated (a manager releases each one), automatic or off."""


@dataclass(frozen=True, slots=True)
class Config:
    database_url: str
    pseudonym_secret: bytes = field(repr=False)
    pseudonym_secret_env: str = "HEARD_PSEUDONYM_SECRET"
    """The environment variable the secret was read from; empty when it came
    from the local key file (`heard-data/pseudonym.key`)."""
    pseudonym_key_file: str = ""
    """That key file, when there is no environment variable. Until `heard run`
    or `heard chat` makes it, `pseudonym_secret` is empty (b"")."""
    organisation: str = "Heard"
    default_set: str = "adult"
    default_locale: str = "en"
    invite_valid_for: timedelta = timedelta(days=30)
    k_threshold: int = 5
    admins: tuple[str, ...] = ()
    """Slack user ids who may see every team's report (`[access] admins`)."""
    log_level: str = "INFO"
    log_format: str = "text"
    new_pseudonym_secret_env: str = "HEARD_PSEUDONYM_SECRET_NEW"
    """Where `heard keys rotate` reads the new pseudonym secret from."""
    retention: RetentionConfig = RetentionConfig()
    server: ServerConfig = ServerConfig()
    data_requests: DataRequestsConfig = DataRequestsConfig()
    telegram: TelegramConfig = TelegramConfig()
    slack: SlackConfig = SlackConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    safeguarding: SafeguardingConfig = SafeguardingConfig()
    digests: DigestsConfig = DigestsConfig()
    promise_ask_after: timedelta = timedelta(days=1)
    """`[promises] ask_after`: how long after a promise's due time the family
    is asked whether it happened; zero asks at once."""
    source: str = "embedded defaults"


class _Reader:
    """Reads one table of the file, remembering the key path for messages."""

    def __init__(self, table: Mapping[str, Any], where: str, known: set[str]) -> None:
        self.table = table
        self.where = where
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(
                f"{self.key(unknown[0])}: unknown key; known keys here: {', '.join(sorted(known))}"
            )

    def key(self, name: str) -> str:
        return f"[{self.where}] {name}" if self.where else name

    def text(self, name: str, default: str) -> str:
        value = self.table.get(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)}: expected text in quotes, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected true or false, got {value!r}")
        return value

    def whole(self, name: str, default: int, *, low: int = 0, high: int = 1 << 31) -> int:
        value = self.table.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(
                f"{self.key(name)}: expected a whole number from {low} to {high}, got {value!r}"
            )
        return value

    def number(self, name: str, default: float, *, low: float = 0.0) -> float:
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            raise ConfigError(f"{self.key(name)}: expected a number from {low}, got {value!r}")
        return float(value)

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in options:
            raise ConfigError(
                f"{self.key(name)}: {value!r} is not allowed; use one of "
                + ", ".join(f'"{o}"' for o in options)
            )
        return value

    def duration(self, name: str, default: timedelta) -> timedelta:
        if name not in self.table:
            return default
        try:
            return parse_duration(self.table[name])
        except ValueError as exc:
            raise ConfigError(f'{self.key(name)}: {exc}, e.g. "48h" or "6w"') from None

    def sub(self, name: str, known: set[str]) -> _Reader:
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}]: expected a table (a [{name}] section)")
        return _Reader(value, name, known)


def _holidays(raw: object) -> tuple[date, ...]:
    where = "[digests] extra_holidays"
    if not isinstance(raw, list):
        raise ConfigError(f'{where}: expected a list of dates, e.g. ["2026-12-29"]')
    days: list[date] = []
    for item in raw:
        if isinstance(item, date) and not isinstance(item, datetime):
            days.append(item)
            continue
        try:
            days.append(date.fromisoformat(str(item).strip()))
        except ValueError:
            raise ConfigError(
                f'{where}: {item!r} is not a date; write it like "2026-12-29"'
            ) from None
    return tuple(sorted(set(days)))


def env_secret(var: str, key: str) -> str:
    """Read a secret from the environment variable named by config key `key`."""
    value = os.environ.get(var, "")
    if not value:
        raise ConfigError(f"{key}: the environment variable {var} is not set; export it first")
    return value


MIN_SECRET_BYTES = 32
"""The shortest pseudonym key Heard accepts from a key file or, for
`heard run` on a database other than the embedded default, the environment."""


def _key_path(data_dir: Path) -> Path:
    return data_dir / "pseudonym.key"


def _local_secret(data_dir: Path, *, create: bool = False) -> bytes:
    """The pseudonym key in the data folder's key file. Without `create`, a
    missing file gives b"" (no key yet): only the commands that let families
    in on the embedded database make one (`with_local_key`), so a report, an
    audit or a `db upgrade` started from some other folder leaves no stray
    key behind that would later make every family look new."""
    path = _key_path(data_dir)
    try:
        if path.exists():
            key = bytes.fromhex(path.read_text().strip())
            if len(key) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"the pseudonym key in {path} is {len(key)} bytes, shorter than "
                    f"{MIN_SECRET_BYTES}; restore the right file or set "
                    "[privacy] pseudonym_secret_env"
                )
            return key
        if not create:
            return b""
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(MIN_SECRET_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
        return key
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read or create the pseudonym key at {path} ({exc}); "
            "make the folder writable or set [privacy] pseudonym_secret_env"
        ) from None


def with_local_key(config: Config) -> Config:
    """`config` with a pseudonym key, making the key file if there is none yet.
    Only `heard run` and `heard chat` call this: they are the commands that
    turn chats into pseudonyms. It makes a key only for the embedded SQLite
    database beside the key file; for any other database `heard run` has
    already insisted on the secret from the environment (`check_run_secret`)
    and `heard chat` is refused by `require_secret`."""
    if config.pseudonym_secret or config.pseudonym_secret_env or not config.pseudonym_key_file:
        return config
    data_dir = Path(config.pseudonym_key_file).parent
    if config.database_url != f"sqlite:///{data_dir / 'heard.db'}":
        return config  # a key made here would not travel with that database
    key = _local_secret(data_dir, create=True)
    return replace(config, pseudonym_secret=key)


def require_secret(config: Config, command: str) -> bytes:
    """The pseudonym key, for a command that needs it; one line if there is none."""
    if config.pseudonym_secret:
        return config.pseudonym_secret
    raise ConfigError(
        f"{command} needs the pseudonym key, and there is none: {config.pseudonym_key_file} "
        "does not exist (heard run makes it on the embedded database) and "
        "[privacy] pseudonym_secret_env is not set"
    )


def check_run_secret(config: Config) -> None:
    """`heard run` on any database but the embedded default must read the
    pseudonym secret from the environment, at least `MIN_SECRET_BYTES` long:
    a key file made on the spot, relative to where the process started,
    would make every family look new after a start from elsewhere."""
    if config.database_url == EMBEDDED_DATABASE_URL:
        return
    if not config.pseudonym_secret_env:
        raise ConfigError(
            "[privacy] pseudonym_secret_env: heard run on this database needs the pseudonym "
            "secret from the environment; set it to a variable holding at least "
            f"{MIN_SECRET_BYTES} random bytes"
        )
    if len(config.pseudonym_secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"[privacy] pseudonym_secret_env: {config.pseudonym_secret_env} holds "
            f"{len(config.pseudonym_secret)} bytes; heard run needs at least {MIN_SECRET_BYTES}"
        )


def defaults(data_dir: Path = DEFAULT_DATA_DIR) -> Config:
    """The embedded defaults used by `heard chat` with no config file. The key
    is read if the file exists, never made here (see `with_local_key`)."""
    return Config(
        database_url=f"sqlite:///{data_dir / 'heard.db'}",
        pseudonym_secret=_local_secret(data_dir),
        pseudonym_secret_env="",
        pseudonym_key_file=str(_key_path(data_dir)),
    )


def _tz(name: str, key: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {name!r}; use e.g. 'Europe/London'") from None
    return name


def parse(raw: Mapping[str, Any], source: str) -> Config:
    top = _Reader(
        raw,
        "",
        {
            "organisation",
            "database",
            "privacy",
            "survey",
            "logging",
            "telegram",
            "slack",
            "schedule",
            "safeguarding",
            "access",
            "retention",
            "server",
            "data_requests",
            "promises",
            "digests",
        },
    )
    org = top.text("organisation", "Heard")
    db = top.sub("database", {"url", "url_env"})
    url = db.text("url", EMBEDDED_DATABASE_URL)
    url_env = db.text("url_env", "")
    if url_env:
        url = env_secret(url_env, "[database] url_env")

    priv = top.sub("privacy", {"pseudonym_secret_env", "new_pseudonym_secret_env", "k_threshold"})
    secret_env = priv.text("pseudonym_secret_env", "")
    if secret_env:
        secret = env_secret(secret_env, "[privacy] pseudonym_secret_env").encode()
        if len(secret) < 16:
            raise ConfigError(
                f"[privacy] pseudonym_secret_env: {secret_env} must hold at least 16 characters"
            )
    else:
        secret = _local_secret(DEFAULT_DATA_DIR)
    key_file = "" if secret_env else str(_key_path(DEFAULT_DATA_DIR))
    k = priv.whole("k_threshold", 5, low=MIN_K, high=1000)

    access = top.sub("access", {"admins"})
    admins_raw = access.table.get("admins", [])
    if not isinstance(admins_raw, list) or not all(
        isinstance(a, str) and a.strip() for a in admins_raw
    ):
        raise ConfigError('[access] admins: expected a list of Slack user ids, e.g. ["U012ABCDEF"]')
    admins = tuple(a.strip() for a in admins_raw)

    survey = top.sub("survey", {"default_set", "default_locale", "invite_valid_for"})
    log = top.sub("logging", {"level", "format"})

    rt = top.sub("retention", {*RETENTION_KEYS, "run_at", "batch_size", "nightly"})
    d_rt = RetentionConfig()
    rules: dict[str, Retention] = {}
    for name in RETENTION_KEYS:
        rules[name] = getattr(d_rt, name)
        if name in rt.table:
            try:
                rules[name] = parse_retention(rt.table[name])
            except ValueError as exc:
                raise ConfigError(f'[retention] {name}: {exc}; e.g. "90d" or "3y"') from None
    run_at = rt.text("run_at", d_rt.run_at.strftime("%H:%M"))
    try:
        run_time, _ = parse_window(f"{run_at}-{run_at}")
    except ValueError:
        raise ConfigError(
            f'[retention] run_at: {run_at!r} is not a time of day; write it like "02:30"'
        ) from None
    retention = RetentionConfig(
        **rules,
        run_at=run_time,
        batch_size=rt.whole("batch_size", d_rt.batch_size, low=1, high=100_000),
        nightly=rt.flag("nightly", True),
    )
    srv = top.sub("server", {"health_port", "health_listen"})
    server = ServerConfig(
        health_port=srv.whole("health_port", 0, low=0, high=65535),
        health_listen=srv.text("health_listen", "127.0.0.1"),
    )
    dr = top.sub("data_requests", {"include_duty_notes"})
    data_requests = DataRequestsConfig(include_duty_notes=dr.flag("include_duty_notes", False))

    tg = top.sub(
        "telegram",
        {f for f in TelegramConfig.__dataclass_fields__},
    )
    d_tg = TelegramConfig()
    telegram = TelegramConfig(
        enabled=tg.flag("enabled", d_tg.enabled),
        token_env=tg.text("token_env", d_tg.token_env),
        mode=tg.choice("mode", d_tg.mode, ("polling", "webhook")),
        base_url=tg.text("base_url", d_tg.base_url),
        bot_username=tg.text("bot_username", d_tg.bot_username).lstrip("@"),
        webhook_url=tg.text("webhook_url", d_tg.webhook_url),
        listen=tg.text("listen", d_tg.listen),
        port=tg.whole("port", d_tg.port, low=1, high=65535),
        secret_token_env=tg.text("secret_token_env", d_tg.secret_token_env),
        max_per_second=tg.number("max_per_second", d_tg.max_per_second),
        max_per_chat_per_second=tg.number("max_per_chat_per_second", d_tg.max_per_chat_per_second),
        chat_burst=tg.whole("chat_burst", d_tg.chat_burst, low=1, high=100),
    )
    if telegram.enabled and telegram.mode == "webhook" and not telegram.webhook_url:
        raise ConfigError(
            "[telegram] webhook_url: webhook mode needs the public https URL Telegram should call"
        )

    sl = top.sub("slack", {f for f in SlackConfig.__dataclass_fields__})
    d_sl = SlackConfig()
    slack = SlackConfig(
        enabled=sl.flag("enabled", d_sl.enabled),
        bot_token_env=sl.text("bot_token_env", d_sl.bot_token_env),
        signing_secret_env=sl.text("signing_secret_env", d_sl.signing_secret_env),
        mode=sl.choice("mode", d_sl.mode, ("http", "socket")),
        app_token_env=sl.text("app_token_env", d_sl.app_token_env),
        listen=sl.text("listen", d_sl.listen),
        port=sl.whole("port", d_sl.port, low=1, high=65535),
        path=sl.text("path", d_sl.path),
        base_url=sl.text("base_url", d_sl.base_url),
        max_per_channel_per_second=sl.number(
            "max_per_channel_per_second", d_sl.max_per_channel_per_second
        ),
    )

    sc = top.sub(
        "schedule",
        {
            "checkin_every",
            "reminder_after",
            "quiet_hours",
            "timezone",
            "sweep_every",
            "lease",
            "followup_attempts",
        },
    )
    d_sc = ScheduleConfig()
    quiet = sc.text("quiet_hours", "20:00-09:00")
    if quiet.strip().lower() in QUIET_OFF:
        q_start = q_end = time(0, 0)
    else:
        try:
            q_start, q_end = parse_window(quiet)
        except ValueError as exc:
            raise ConfigError(f'[schedule] quiet_hours: {exc}, or "off" for none') from None
    schedule = ScheduleConfig(
        checkin_every=sc.duration("checkin_every", d_sc.checkin_every),
        reminder_after=sc.duration("reminder_after", d_sc.reminder_after),
        quiet_start=q_start,
        quiet_end=q_end,
        timezone=_tz(sc.text("timezone", d_sc.timezone), "[schedule] timezone"),
        sweep_every=sc.duration("sweep_every", d_sc.sweep_every),
        lease=sc.duration("lease", d_sc.lease),
        followup_attempts=sc.whole("followup_attempts", d_sc.followup_attempts, low=1, high=100),
    )

    sg = top.sub(
        "safeguarding",
        {
            "alert_channel",
            "fallback_channel",
            "ack_within",
            "danger_check_after",
            "emergency_number",
            "helplines",
            "extra_rules",
            "spool_file",
        },
    )
    d_sg = SafeguardingConfig()
    helplines = d_sg.helplines
    if "helplines" in sg.table:
        raw_lines = sg.table["helplines"]
        if not isinstance(raw_lines, list):
            raise ConfigError("[safeguarding] helplines: expected a list of {name, number, hours}")
        parsed: list[Helpline] = []
        for n, item in enumerate(raw_lines, start=1):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) and item.get(k) for k in ("name", "number")
            ):
                raise ConfigError(
                    f"[safeguarding] helplines #{n}: needs text name and number (hours optional)"
                )
            parsed.append(Helpline(item["name"], item["number"], str(item.get("hours", ""))))
        helplines = tuple(parsed)
    extra = sg.table.get("extra_rules", [])
    if not isinstance(extra, list) or not all(isinstance(p, str) for p in extra):
        raise ConfigError("[safeguarding] extra_rules: expected a list of file paths")
    safeguarding = SafeguardingConfig(
        alert_channel=sg.text("alert_channel", ""),
        fallback_channel=sg.text("fallback_channel", ""),
        ack_within=sg.duration("ack_within", d_sg.ack_within),
        danger_check_after=sg.duration("danger_check_after", d_sg.danger_check_after),
        emergency_number=sg.text("emergency_number", d_sg.emergency_number),
        helplines=helplines,
        extra_rules=tuple(Path(p) for p in extra),
        spool_file=Path(sg.text("spool_file", str(d_sg.spool_file))),
    )

    pr = top.sub("promises", {"ask_after"})
    ask_after = timedelta(days=1)
    if "ask_after" in pr.table:
        raw_after = str(pr.table["ask_after"]).strip().lower()
        if raw_after.rstrip("smhdw") in ("0", "0.0"):
            ask_after = timedelta(0)
        else:
            ask_after = pr.duration("ask_after", ask_after)

    dg = top.sub("digests", {"every", "send_at", "comments", "extra_holidays"})
    send_at_text = dg.text("send_at", "09:00")
    try:
        send_at, _ = parse_window(f"{send_at_text}-{send_at_text}")
    except ValueError:
        raise ConfigError(
            f'[digests] send_at: {send_at_text!r} is not a time of day; write it like "09:00"'
        ) from None
    digests = DigestsConfig(
        every=dg.choice("every", "monthly", DIGEST_EVERY),
        send_at=send_at,
        comments=dg.choice("comments", "moderated", DIGEST_COMMENTS),
        extra_holidays=_holidays(dg.table.get("extra_holidays", [])),
    )

    return Config(
        database_url=url,
        pseudonym_secret=secret,
        pseudonym_secret_env=secret_env,
        pseudonym_key_file=key_file,
        organisation=org,
        default_set=survey.text("default_set", "adult"),
        default_locale=survey.text("default_locale", "en"),
        invite_valid_for=survey.duration("invite_valid_for", timedelta(days=30)),
        k_threshold=k,
        admins=admins,
        log_level=log.choice("level", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        log_format=log.choice("format", "text", ("text", "json")),
        new_pseudonym_secret_env=priv.text(
            "new_pseudonym_secret_env", "HEARD_PSEUDONYM_SECRET_NEW"
        ),
        retention=retention,
        server=server,
        data_requests=data_requests,
        telegram=telegram,
        slack=slack,
        schedule=schedule,
        safeguarding=safeguarding,
        digests=digests,
        promise_ask_after=ask_after,
        source=source,
    )


def load(path: Path | None) -> Config:
    """Load and validate `path`; with None, the embedded defaults."""
    if path is None:
        return defaults()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path} ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return parse(raw, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
