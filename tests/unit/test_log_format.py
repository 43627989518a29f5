"""`[logging] format = "json"`: one JSON object per line, with the fields an
operator filters on and nothing a family wrote."""

from __future__ import annotations

import io
import json
import logging

from bot.runtime.log_format import JsonFormatter, use_format


def _logger(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger("heard.test.json")
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    use_format("json", logger)
    return logger


def test_one_object_per_line_with_time_level_logger_and_message() -> None:
    stream = io.StringIO()
    log = _logger(stream)
    log.warning("outbox: %d waiting", 3, extra={"platform": "telegram", "waiting": 3})
    log.info("second line\nwith a newline inside")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["level"] == "WARNING" and first["logger"] == "heard.test.json"
    assert first["message"] == "outbox: 3 waiting"
    assert first["platform"] == "telegram" and first["waiting"] == 3
    assert first["time"].endswith("+00:00")
    assert json.loads(lines[1])["message"] == "second line\nwith a newline inside"


def test_free_text_fields_and_exception_text_are_left_out() -> None:
    stream = io.StringIO()
    log = _logger(stream)
    try:
        raise ValueError("parameters: chat 555123, text 'my name is Bob'")
    except ValueError:
        log.exception("handling failed", extra={"comment": "my name is Bob Smith"})
    out = json.loads(stream.getvalue())
    assert out["exc_type"] == "ValueError"
    assert out["stack"] and all(" in " in frame for frame in out["stack"])
    assert "555123" not in stream.getvalue() and "Bob" not in stream.getvalue()


def test_a_filter_on_the_handler_runs_before_the_formatter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)

    class Hide(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = str(record.msg).replace("secret", "[redacted]")
            return True

    handler.addFilter(Hide())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("heard.test.filter")
    log.handlers = [handler]
    log.propagate = False
    log.warning("a secret word")
    assert json.loads(stream.getvalue())["message"] == "a [redacted] word"


def test_the_redacting_filter_masks_tokens_ids_and_secrets_in_messages_and_tracebacks() -> None:
    from bot.runtime.log_format import RedactingFilter

    stream = io.StringIO()
    logger = logging.getLogger("heard.test.redact")
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(("signing-secret-value-42",)))
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.debug("GET /bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/getMe for %s", 5550123456)
    logger.info("slack %s in %s with xoxb-1111-2222-abcdef", "U0FAMLY7Q2", "D0A1B2C3D4")
    try:
        raise RuntimeError("bad signing-secret-value-42 for chat -1001234567890")
    except RuntimeError:
        logger.exception("failed")
    out = stream.getvalue()
    for secret in (
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
        "5550123456",
        "U0FAMLY7Q2",
        "D0A1B2C3D4",
        "xoxb-1111",
        "signing-secret-value-42",
        "1001234567890",
    ):
        assert secret not in out
    assert "<telegram-token>" in out and "<slack-token>" in out and "Traceback" in out


def test_library_loggers_are_held_at_warning_unless_set_explicitly() -> None:
    from bot.runtime.log_format import redact_logs

    logging.getLogger("sqlalchemy").setLevel(logging.NOTSET)
    logging.getLogger("apscheduler").setLevel(logging.INFO)
    redact_logs(logger=logging.getLogger("heard.test.clamp"))
    assert logging.getLogger("sqlalchemy").level == logging.WARNING
    assert logging.getLogger("apscheduler").level == logging.INFO
    logging.getLogger("apscheduler").setLevel(logging.NOTSET)
