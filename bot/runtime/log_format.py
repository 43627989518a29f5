"""Log lines for operators: `[logging] format = "json"` gives one JSON object
per line, for log shippers (journald, Loki, CloudWatch, …).

Each object has `time` (UTC, ISO 8601), `level`, `logger` and `message` (the
formatted message, after any redacting filter has run: this is only a
formatter, so filters on the handler see the record first), plus the
non-personal fields a call passed with `extra=` when they are plain numbers,
booleans or short words. For an exception: `exc_type` (the class name) and
`stack` (file, line and function of each frame); never the exception's own
text, which can quote a database parameter.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_WORD = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_") or key in out:
                continue
            if isinstance(value, bool | int | float) or (
                isinstance(value, str) and _WORD.match(value)
            ):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            tb = record.exc_info[2]
            out["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(tb)
            ]
        return json.dumps(out, ensure_ascii=False)


def formatter_for(fmt: str) -> logging.Formatter:
    """The formatter for `[logging] format`: "json" or "text"."""
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def use_format(fmt: str, logger: logging.Logger | None = None) -> None:
    """Put the formatter for `fmt` on every handler of `logger` (the root
    logger by default), leaving their filters as they are."""
    for handler in (logger or logging.getLogger()).handlers:
        handler.setFormatter(formatter_for(fmt))


# -- redaction ----------------------------------------------------------------------

LIBRARY_LOGGERS = (
    "telegram",
    "httpx",
    "httpcore",
    "slack_bolt",
    "slack_sdk",
    "apscheduler",
    "sqlalchemy",
    "aiohttp",
    "asyncio",
)
"""Loggers of the libraries Heard uses. At DEBUG they print whole platform
payloads (names, message text, chat ids) and request URLs with the bot token,
so they are held at WARNING unless a level was set on them explicitly."""

_PATTERNS = (
    (re.compile(r"(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,}"), "<telegram-token>"),
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+"), "<slack-token>"),
    (re.compile(r"\b(?=[A-Z0-9]*\d)[UWBCDGTE][A-Z0-9]{8,}\b"), "<slack-id>"),
    (re.compile(r"(?<![\w.:-])-?\d{6,}(?![\w.:-])"), "<id>"),
)
"""What a token or a raw platform id looks like: Telegram bot tokens
(`123456:ABC…`), Slack tokens (`xoxb-…`, `xapp-…`), Slack user, channel and
team ids (`U0…`, `C0…`, `T0…`) and long numbers (Telegram chat and user ids)."""

_MIN_SECRET = 8


class RedactingFilter(logging.Filter):
    """Masks tokens, secrets and raw platform ids in every record a handler
    writes, in the message and in any traceback, at every level.

    Heard's own lines never carry personal data on purpose (they use
    pseudonymous refs); this is the net under them and under library
    warnings. The exact values of the configured secrets are masked too, so
    a signing secret that looks like nothing in particular is still caught."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self.remember(secrets)

    def remember(self, secrets: tuple[str, ...]) -> None:
        """Add exact values to mask (shorter ones are ignored: they would mask
        ordinary words)."""
        known = {*self.secrets, *(s for s in secrets if len(s) >= _MIN_SECRET)}
        self.secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "<secret>")
        for pattern, mask in _PATTERNS:
            text = pattern.sub(mask, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.redact(
                "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            )
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_logs(secrets: tuple[str, ...] = (), logger: logging.Logger | None = None) -> None:
    """Put one `RedactingFilter` on every handler of `logger` (the root logger
    by default), remembering `secrets`, and hold the library loggers at
    WARNING unless a level was set on them explicitly. Safe to call again
    (the same filter gains the new secrets; handlers added since get it)."""
    target = logger or logging.getLogger()
    found = [f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)]
    shared = found[0] if found else RedactingFilter()
    shared.remember(secrets)
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(shared)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if library.level == logging.NOTSET:
            library.setLevel(logging.WARNING)
