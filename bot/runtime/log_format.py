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
