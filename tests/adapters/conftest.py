"""Adapter tests need a migrated database for each backend."""

from __future__ import annotations

import pytest

from tests.adapters.telegram_harness import migrated


@pytest.fixture(autouse=True)
def _migrated(request: pytest.FixtureRequest) -> None:
    if "db_url" in request.fixturenames:
        migrated(request.getfixturevalue("db_url"))
