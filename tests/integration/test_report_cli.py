"""`heard manager`, `heard report` and `heard audit` as an administrator
runs them, and the HTML page as a manager's phone shows it in Chromium."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.periods import last_month, months_before
from storage import db
from tests.integration.test_cli import heard
from tests.reports_seed import random_org, seed

NOW = datetime.now(UTC)
LAST = last_month(NOW)
MONTHS = [(p.year, p.first_month) for p in (*months_before(LAST, 2), LAST)]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports")
    url = f"sqlite:///{root / 'heard.db'}"
    (root / "heard.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    engine = db.make_engine(url)
    db.upgrade(engine)
    rng = random.Random(9)
    seed(engine, random_org(rng, teams=2, workers_per_team=3, families=80, months=MONTHS), rng)
    engine.dispose()
    return root


def run(place: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return heard("--config", str(place / "heard.toml"), *args, cwd=place)


def test_managers_are_added_listed_and_removed(place: Path) -> None:
    added = run(
        place,
        "manager",
        "add",
        "--team",
        "Team 001",
        "--team",
        "Team 002",
        "--slack-user",
        "U0MANAGE01",
        "--name",
        "Alex",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == [
        "manager U0MANAGE01: Team 001",
        "manager U0MANAGE01: Team 002",
    ]
    listed = run(place, "manager", "list")
    assert "U0MANAGE01\tTeam 001\tAlex" in listed.stdout.splitlines()
    again = run(place, "manager", "add", "--team", "Team 001", "--slack-user", "U0MANAGE01")
    assert (
        again.returncode == 2
        and again.stderr.strip() == "heard: Slack user U0MANAGE01 already manages Team 001"
    )
    removed = run(place, "manager", "remove", "--slack-user", "U0MANAGE01", "--team", "Team 002")
    assert removed.returncode == 0 and "1 team(s)" in removed.stdout
    unknown = run(place, "manager", "add", "--team", "Nowhere", "--slack-user", "U0MANAGE02")
    assert unknown.returncode == 2 and unknown.stderr.startswith("heard: no team called 'Nowhere'")


def test_every_format_from_the_command_line(place: Path) -> None:
    table = run(place, "report", "--team", "Team 001", "--period", LAST.label)
    assert table.returncode == 0, table.stderr
    assert f"What families said: Team 001, {LAST.label}" in table.stdout
    assert "Based on" in table.stdout

    out = place / "r.csv"
    made = run(
        place,
        "report",
        "--by",
        "worker",
        "--period",
        LAST.label,
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert made.returncode == 0 and made.stdout == ""
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["suppressed"] for r in rows} <= {"yes", "no"}
    assert any(r["suppressed"] == "yes" and r["n"] == "" and r["mean"] == "" for r in rows)

    js = run(place, "report", "--team", "Team 002", "--period", LAST.label, "--format", "json")
    payload = json.loads(js.stdout)
    assert payload["period"] == LAST.label and payload["k"] == 5
    assert all(r["team"] == "Team 002" for r in payload["rows"])

    chart = place / "trend.png"
    page = place / "r.html"
    made = run(
        place,
        "report",
        "--team",
        "Team 001",
        "--period",
        LAST.label,
        "--format",
        "html",
        "--out",
        str(page),
        "--chart",
        str(chart),
    )
    assert made.returncode == 0, made.stderr
    assert chart.read_bytes().startswith(b"\x89PNG")
    text = page.read_text(encoding="utf-8")
    assert (
        "http://" not in text and "https://" not in text and 'src="data:image/png;base64,' in text
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--period", "2999-01"), "heard: period 2999-01: is in the future"),
        (("--period", "2026-11-03"), "heard: period '2026-11-03' is not a calendar period"),
        (("--team", "Nowhere"), "heard: no team called 'Nowhere'"),
        (
            ("--team", "Team 001", "--worker", "Worker 002-01"),
            "heard: worker 'Worker 002-01' is not in team 'Team 001'",
        ),
        (("--worker", "Nobody"), "heard: no worker 'Nobody'"),
        (("--chart", "x.svg"), "heard: --chart x.svg: the chart is a PNG"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(place: Path, args: tuple[str, ...], says: str) -> None:
    done = run(place, "report", *args)
    assert done.returncode == 2
    assert done.stderr.startswith(says) and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_the_audit_lists_reports_and_refusals(place: Path) -> None:
    run(place, "report", "--period", LAST.label)
    run(place, "report", "--team", "Nowhere")
    listed = run(place, "audit", "--json")
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    reports = [e for e in entries if e["action"] == "report"]
    refused = [e for e in entries if e["action"] == "report refused"]
    assert reports and reports[-1]["period"] == LAST.label and reports[-1]["format"] == "table"
    assert refused and refused[-1]["team"] == "Nowhere" and refused[-1]["why"] == "bad request"
    assert all(e["actor"].startswith("cli:") for e in reports)
    later = run(place, "audit", "--since", "2999-01-01")
    assert later.returncode == 0 and later.stdout == ""
    bad = run(place, "audit", "--since", "yesterday")
    assert bad.returncode == 2 and bad.stderr.startswith("heard: --since 'yesterday'")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("HEARD_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
            pytest.fail("chromium is not installed; scripts/test installs it with apt-get")
        pytest.skip("chromium is not installed")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_html_page_in_a_real_browser(place: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    made = run(
        place,
        "report",
        "--team",
        "Team 001",
        "--by",
        "worker",
        "--period",
        LAST.label,
        "--format",
        "html",
        "--out",
        str(page),
    )
    assert made.returncode == 0, made.stderr
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert f"What families said: Team 001, {LAST.label}</h1>" in html
    assert 'id="headline">Based on' in html
    assert html.count('class="card"') == 4
    assert 'id="trend"' in html and "data:image/png;base64," in html
    assert 'class="suppressed"' in html and "Hidden: fewer than 5 families answered" in html
    shot = tmp_path / "phone.png"
    taken = _chromium(tmp_path, "--window-size=390,1600", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG")
    keep = os.environ.get("HEARD_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
