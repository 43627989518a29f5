"""kill -9 of `heard run` mid-conversation, polling and webhook: nothing lost,
nothing stored twice. A few kill points here; `bench/kill9.py` runs 100."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.kill_run import ADULT, run_kills

FAMILIES = 6
KILLS = 3


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_kill_9_at_random_points_loses_and_doubles_nothing(tmp_path: Path, mode: str) -> None:
    report = run_kills(tmp_path, families=FAMILIES, kills=KILLS, mode=mode)
    assert report.kills == KILLS
    assert report.stuck == []
    assert report.completed == report.families >= FAMILIES
    assert report.missing_replies == 0
    assert report.answers == report.distinct_answers == report.families * len(ADULT.questions)
    # Repeats are allowed only for replies in flight at a kill: sent, but not
    # yet recorded as sent (results are recorded in one transaction about
    # every 50 ms, so a quick family may have two or three such).
    assert report.repeats <= KILLS * FAMILIES * 4
