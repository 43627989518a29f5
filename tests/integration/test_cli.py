"""`heard` as people run it: a family in a terminal, an administrator making
invites, and mistakes answered with one plain line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core import questions

ADULT = questions.get("adult")


def heard(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HEARD_PSEUDONYM_SECRET": "cli-test-secret-0123456789", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
    )


def _answers(db: Path) -> list[tuple[str, str, int | None, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT question_id, code, value, text FROM answers ORDER BY id"
        ).fetchall()


def test_heard_chat_completes_a_survey_from_piped_input(tmp_path: Path) -> None:
    lines = ["1"]  # consent: yes
    expected = []
    before = ""
    for q in ADULT.questions:
        if q.only_after and before not in q.only_after:
            before = ""
            continue  # asked only after some answers to the question before
        before = q.codes[1] if q.codes else "text"
        if q.kind.value == "text":
            lines.append("Always on time, thank you")
            expected.append((q.id, "text", None, "Always on time, thank you"))
        else:
            lines.append("2")
            expected.append((q.id, q.codes[1], q.value_of(q.codes[1]), None))
    result = heard("chat", cwd=tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Thank you" in result.stdout  # the default language is English
    assert "Diolch" not in result.stdout
    assert _answers(tmp_path / "heard-data" / "heard.db") == expected
    assert "Traceback" not in result.stderr


def test_heard_chat_resumes_after_the_process_stops(tmp_path: Path) -> None:
    first = heard("chat", cwd=tmp_path, stdin="1\n3\n4\n")
    assert f"(3 of {len(ADULT.questions)})" in first.stdout
    second = heard("chat", cwd=tmp_path, stdin="5\n")
    assert f"(3 of {len(ADULT.questions)})" in second.stdout
    assert f"(4 of {len(ADULT.questions)})" in second.stdout
    rows = _answers(tmp_path / "heard-data" / "heard.db")
    assert [r[0] for r in rows] == [q.id for q in ADULT.questions[:3]]


def test_heard_chat_stop_and_unsupported_input_are_kind(tmp_path: Path) -> None:
    result = heard("chat", cwd=tmp_path, stdin="1\n[sticker]\nSTOP\n")
    assert "only read typed words" in result.stdout
    assert "not send you any more messages" in result.stdout
    assert _answers(tmp_path / "heard-data" / "heard.db") == []


def _config(tmp_path: Path, db_url: str) -> Path:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
    )
    return cfg


def test_admin_makes_an_invite_and_a_family_uses_its_code(tmp_path: Path, db_url: str) -> None:
    cfg = str(_config(tmp_path, db_url))
    assert heard("--config", cfg, "db", "upgrade", cwd=tmp_path).returncode == 0
    assert heard("--config", cfg, "team", "add", "North", cwd=tmp_path).returncode == 0
    added = heard(
        "--config", cfg, "worker", "add", "--team", "North", "--name", "Sam Jones", cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    qr = tmp_path / "card.png"
    made = heard(
        "--config",
        cfg,
        "invite",
        "--worker",
        "Sam Jones",
        "--set",
        "young",
        "--lang",
        "cy",
        "--qr",
        str(qr),
        "--json",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    card = json.loads(made.stdout)
    assert set(card) >= {"token", "code", "link"}
    assert card["link"] == f"https://t.me/HeardFeedbackBot?start={card['token']}"
    assert qr.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    chat = heard("--config", cfg, "chat", "--code", card["code"], cwd=tmp_path, stdin="1\n5\n")
    assert chat.returncode == 0, chat.stderr
    young = questions.get("young")
    assert young.questions[0].text["cy"] in chat.stdout

    again = heard("--config", cfg, "chat", "--code", card["code"], "--as", "other", cwd=tmp_path)
    assert "used" in again.stdout.lower() or "defnyddio" in again.stdout.lower()


@pytest.mark.parametrize(
    "content,expect",
    [
        ("[database\nurl=", "not valid TOML"),
        ('[database]\nurll = "x"\n', "[database] urll: unknown key"),
        ('[schedule]\ncheckin_every = "6x"\n', "[schedule] checkin_every"),
        ('[telegram]\nmode = "pigeon"\n', "[telegram] mode"),
        ("[privacy]\nk_threshold = 2\n", "[privacy] k_threshold"),
        ('[privacy]\npseudonym_secret_env = "NOPE_NOT_SET"\n', "NOPE_NOT_SET is not set"),
    ],
)
def test_a_broken_config_is_one_line_naming_the_key(
    tmp_path: Path, content: str, expect: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    result = heard("--config", str(cfg), "team", "list", cwd=tmp_path)
    assert result.returncode == 2
    assert expect in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_an_unwritable_database_path_is_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{locked}/sub/heard.db"\n'
        '[privacy]\npseudonym_secret_env = "HEARD_PSEUDONYM_SECRET"\n'
    )
    if os.geteuid() == 0:
        cfg.write_text(cfg.read_text().replace(str(locked), "/proc/heard-cannot-write"))
    result = heard("--config", str(cfg), "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 2
    assert "writable" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_worker_and_used_or_expired_codes(tmp_path: Path) -> None:
    cfg = str(_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}"))
    heard("--config", cfg, "db", "upgrade", cwd=tmp_path)
    missing = heard("--config", cfg, "invite", "--worker", "Nobody", cwd=tmp_path)
    assert missing.returncode == 2 and "no worker 'Nobody'" in missing.stderr
    heard("--config", cfg, "team", "add", "East", cwd=tmp_path)
    heard("--config", cfg, "worker", "add", "--team", "East", "--name", "Ali", cwd=tmp_path)
    dup = heard("--config", cfg, "team", "add", "East", cwd=tmp_path)
    assert dup.returncode == 2 and "already exists" in dup.stderr
    bad_set = heard("--config", cfg, "invite", "--worker", "Ali", "--set", "nope", cwd=tmp_path)
    assert bad_set.returncode == 2 and "no question set 'nope'" in bad_set.stderr
    card = json.loads(
        heard(
            "--config",
            cfg,
            "invite",
            "--worker",
            "Ali",
            "--json",
            "--valid-for",
            "1s",
            cwd=tmp_path,
        ).stdout
    )
    with sqlite3.connect(tmp_path / "h.db") as conn:
        (valid_for,) = conn.execute(
            "SELECT round((julianday(expires_at) - julianday(created_at)) * 86400) FROM invites"
        ).fetchone()
        assert valid_for == 1
        # Age the code past its second rather than sleep through it.
        conn.execute("UPDATE invites SET expires_at = created_at")
    expired = heard("--config", cfg, "chat", "--code", card["code"], cwd=tmp_path)
    assert "too old" in expired.stdout
    before = _answers(tmp_path / "h.db")
    assert before == []


def test_lint_passes_shipped_sets_and_fails_a_bad_one(tmp_path: Path) -> None:
    shipped = [str(p) for p in questions.shipped_files()]
    ok = heard("lint", *shipped, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout
    bad = heard("lint", str(Path(__file__).parent.parent / "data" / "bad_set.toml"), cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout.strip()


def test_promises_reassignment_and_you_said_from_the_command_line(tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = heard(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def refused(*args: str) -> str:
        result = heard(*args, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith("heard: "), result
        assert len(result.stderr.strip().splitlines()) == 1
        return result.stderr

    ok("db", "upgrade")
    ok("team", "add", "North")
    ok("worker", "add", "--team", "North", "--name", "Sam")
    ok("worker", "add", "--team", "North", "--name", "Robin")
    code = json.loads(ok("invite", "--worker", "Sam", "--json"))["code"]
    assert "has not started" in refused(
        "promise", "add", "--code", code, "--text", "I will ring you", "--due", "3d"
    )
    ok("chat", "--code", code, "--as", "fam-1")
    assert "recorded for case" in ok(
        "promise", "add", "--code", code, "--text", "I will ring you", "--due", "3d"
    )
    assert "in the past" in refused(
        "promise", "add", "--code", code, "--text", "I will ring you", "--due", "2020-01-01"
    )
    assert "no case with the code" in refused(
        "promise", "add", "--code", "ZZZZ-9999", "--text", "I will ring you", "--due", "3d"
    )
    listed = ok("promise", "list", "--worker", "Sam")
    assert code in listed and "I will ring you" in listed
    assert "moved from Sam to Robin" in ok("case", "reassign", "--code", code, "--worker", "Robin")
    assert "no case with the code" in refused(
        "case", "reassign", "--code", "ZZZZ-9999", "--worker", "Sam"
    )
    assert "already Robin's" in refused("case", "reassign", "--code", code, "--worker", "Robin")

    text = "You told us workers change too often. From January each family keeps one worker."
    preview = ok("yousaid", "--team", "North", "--text", text)
    assert "It would reach 0 families" in preview and "nothing sent" in preview
    assert "jargon" in refused("yousaid", "--team", "North", "--text", "We met the threshold.")
    assert "301 characters" in refused("yousaid", "--team", "North", "--text", "x" * 301)
