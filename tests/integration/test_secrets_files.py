"""Secrets and files: `heard run` will not make up a pseudonym key for a
real database, a short key is refused in one line, and what Heard writes to
disk is readable by its own user only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def _heard(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEARD_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **(env or {})},
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run_config(tmp_path: Path, privacy: str = "") -> Path:
    cfg = tmp_path / "heard.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "elsewhere" / "h.db"}"\n{privacy}'
        '[telegram]\nenabled = true\n[safeguarding]\nalert_channel = "C0DUTY"\n'
    )
    return cfg


def test_heard_run_on_a_configured_database_needs_the_secret_from_the_environment(
    tmp_path: Path,
) -> None:
    cfg = _run_config(tmp_path)
    assert _heard("--config", str(cfg), "db", "upgrade", cwd=tmp_path).returncode == 0
    done = _heard("--config", str(cfg), "run", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "pseudonym_secret_env" in done.stderr and "32" in done.stderr


def test_heard_run_refuses_a_short_secret_in_one_line(tmp_path: Path) -> None:
    cfg = _run_config(tmp_path, '[privacy]\npseudonym_secret_env = "MY_SECRET"\n')
    env = {"MY_SECRET": "s" * 31}
    assert _heard("--config", str(cfg), "db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    done = _heard("--config", str(cfg), "run", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "MY_SECRET holds 31 bytes" in done.stderr
    assert "s" * 31 not in done.stderr


@pytest.mark.parametrize("content", ["", "ab" * 16])
def test_a_key_file_shorter_than_32_bytes_is_refused_in_one_line(
    tmp_path: Path, content: str
) -> None:
    data = tmp_path / "heard-data"
    data.mkdir()
    (data / "pseudonym.key").write_text(content)
    done = _heard("db", "upgrade", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "pseudonym.key" in done.stderr and "shorter than 32" in done.stderr


def test_the_data_folder_and_database_files_are_for_heards_user_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        done = _heard("db", "upgrade", cwd=tmp_path)
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stderr
    data = tmp_path / "heard-data"
    assert _mode(data) == 0o700
    assert not (data / "pseudonym.key").exists()
    old = os.umask(0o022)
    try:
        chat = _heard("chat", cwd=tmp_path)
    finally:
        os.umask(old)
    assert chat.returncode == 0, chat.stderr
    assert _mode(data / "pseudonym.key") == 0o600
    assert len(bytes.fromhex((data / "pseudonym.key").read_text())) == 32
    files = [p for p in data.iterdir() if p.name.startswith("heard.db")]
    assert data / "heard.db" in files
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


ADMIN_COMMANDS = [
    ("db", "upgrade"),
    ("team", "list"),
    ("worker", "list"),
    ("manager", "list"),
    ("followups",),
    ("audit",),
    ("report", "--period", "2026-10"),
    ("lint", str(Path(__file__).resolve().parents[2] / "bot" / "questions" / "adult.toml")),
    ("retention", "--dry-run"),
]


def test_commands_that_let_no_family_in_make_no_pseudonym_key(tmp_path: Path) -> None:
    """Only `heard run` and `heard chat` make the embedded database's key
    file: a report or a `db upgrade` started from another folder must not
    leave a fresh key there, which would make every family look new."""
    for args in ADMIN_COMMANDS:
        done = _heard(*args, cwd=tmp_path)
        assert done.returncode in (0, 1), (args, done.stderr)
        assert "Traceback" not in done.stderr, args
        assert not (tmp_path / "heard-data" / "pseudonym.key").exists(), args


def test_a_command_that_needs_the_key_and_finds_none_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    assert _heard("db", "upgrade", cwd=tmp_path).returncode == 0
    env = {"HEARD_PSEUDONYM_SECRET_NEW": "n" * 40}
    done = _heard("keys", "rotate", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "pseudonym.key" in done.stderr and "heard run" in done.stderr
    assert not (tmp_path / "heard-data" / "pseudonym.key").exists()


def test_heard_chat_on_a_configured_database_makes_no_key_and_says_so(tmp_path: Path) -> None:
    cfg = _run_config(tmp_path)
    assert _heard("--config", str(cfg), "db", "upgrade", cwd=tmp_path).returncode == 0
    done = _heard("--config", str(cfg), "chat", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "heard chat needs the pseudonym key" in done.stderr
    assert not (tmp_path / "heard-data" / "pseudonym.key").exists()
