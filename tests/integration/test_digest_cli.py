"""`heard digest` as an administrator runs it: a preview as text or as the
JSON the issue names, one line and exit 2 for an unknown worker or period,
and `heard digest send` skipping, in one line, a worker with nowhere to get
it. Also `heard worker add --telegram-chat`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.periods import last_month
from storage import db
from tests.digests_seed import seed_team
from tests.integration.test_cli import heard


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("digests")
    url = f"sqlite:///{root / 'heard.db'}"
    (root / "heard.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    engine = db.make_engine(url)
    db.upgrade(engine)
    seed_team(engine)
    engine.dispose()
    return root


def run(place: Path, *args: str) -> tuple[int, str, str]:
    done = heard("--config", str(place / "heard.toml"), *args, cwd=place)
    return done.returncode, done.stdout, done.stderr


def test_a_preview_as_json_has_exactly_the_fields_named(place: Path) -> None:
    code, out, err = run(
        place, "digest", "--worker", "Sam Jones", "--period", "2026-11", "--preview", "--json"
    )
    assert code == 0, err
    payload = json.loads(out)
    assert list(payload) == [
        "worker",
        "period",
        "families",
        "suppressed",
        "dimensions",
        "comments",
        "chart",
        "same_worker",
        "promises",
        "worker_changes",
        "next_steps",
    ]
    assert payload["families"] == 7 and payload["chart"] is True
    assert [d["dimension"] for d in payload["dimensions"]] == ["honesty", "clarity", "overall"]
    code, out, _ = run(
        place, "digest", "--worker", "Ana Lewis", "--period", "2026-11", "--preview", "--json"
    )
    assert json.loads(out)["families"] is None and json.loads(out)["comments"] == []


def test_a_text_preview_and_the_chart_file(place: Path) -> None:
    chart = place / "sam.png"
    code, out, err = run(
        place,
        "digest",
        "--worker",
        "Sam Jones",
        "--period",
        "2026-11",
        "--preview",
        "--chart",
        str(chart),
    )
    assert code == 0, err
    assert "7 families answered" in out and "out of 5" in out
    assert chart.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--worker", "Nobody", "--period", "2026-11", "--preview"), "no worker 'Nobody'"),
        (("--worker", "Sam Jones", "--period", "2026-13", "--preview"), "no month 13"),
        (("--worker", "Sam Jones", "--period", "2999-01", "--preview"), "future"),
        (("--worker", "Sam Jones", "--period", "2026-11"), "--preview"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(place: Path, args: tuple[str, ...], says: str) -> None:
    code, out, err = run(place, "digest", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and says in err


def test_send_skips_a_worker_with_nowhere_to_get_it_in_one_line(place: Path) -> None:
    period = last_month(datetime.now(UTC)).label
    code, out, err = run(place, "digest", "send", "--worker", "Bo Evans", "--period", period)
    assert code == 0, err
    assert out.splitlines() == ["Bo Evans: skipped (no Slack user or Telegram chat)"]
    code, out, _ = run(place, "digest", "send", "--worker", "Bo Evans", "--period", period)
    assert out.splitlines() == ["1 digest(s) for this period were already planned or sent"], (
        "each digest is sent (or skipped) once"
    )


def test_a_worker_can_be_added_with_a_telegram_chat(place: Path) -> None:
    code, out, err = run(
        place, "worker", "add", "--team", "North", "--name", "Dee Rees", "--telegram-chat", "98765"
    )
    assert code == 0, err
    assert "Dee Rees" in out
    code, _, err = run(
        place, "worker", "add", "--team", "North", "--name", "Eve Rees", "--telegram-chat", "@eve"
    )
    assert code == 2 and "a number" in err


def test_heard_worker_invite_prints_a_one_time_link(place: Path) -> None:
    code, out, err = run(place, "worker", "invite", "--worker", "Sam Jones")
    assert code == 0, err
    link = next(line for line in out.splitlines() if line.startswith("https://t.me/"))
    assert "?start=worker_" in link and "works once" in out and "Expires:" in out
    code, out, _ = run(place, "worker", "invite", "--worker", "Sam Jones", "--json")
    payload = json.loads(out)
    assert list(payload) == ["worker", "link", "expires_at"] and payload["link"] != link
    code, _, err = run(place, "worker", "invite", "--worker", "Nobody Here")
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, _, err = run(place, "worker", "invite", "--worker", "Sam Jones", "--valid-for", "soon")
    assert code == 2 and "--valid-for" in err
