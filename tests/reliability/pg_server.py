"""A PostgreSQL server of the test's own, that the test may stop and start.

It finds the server binaries as `scripts/postgres.sh` does (the newest
`/usr/lib/postgresql/*/bin` with an `initdb`, or `HEARD_PG_BIN`), creates a
cluster in a temporary folder and runs it on a free loopback port; as root
it runs the server as the `postgres` user. Stopping and starting again keeps
the same folder and port, as a database restart in production would."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def find_pg_bin() -> Path | None:
    given = os.environ.get("HEARD_PG_BIN")
    if given:
        return Path(given) if (Path(given) / "initdb").exists() else None
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        pg_bin = find_pg_bin()
        if pg_bin is None:
            if os.environ.get("HEARD_REQUIRE_POSTGRES") == "1":
                pytest.fail("PostgreSQL server binaries are required (HEARD_REQUIRE_POSTGRES=1)")
            pytest.skip(
                "PostgreSQL server binaries (initdb, pg_ctl) not found under "
                "/usr/lib/postgresql/*/bin; install the postgresql package or set HEARD_PG_BIN"
            )
        self.bin = pg_bin
        # Not under pytest's tmp_path, whose parents the postgres user cannot enter.
        folder = Path(tempfile.mkdtemp(prefix="heard-pg-restart."))
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.getuid() == 0:
            shutil.chown(folder, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "heard",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        )

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr[-2000:]}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as clients can tell: every connection
        drops at once and the next start recovers from the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://heard@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
