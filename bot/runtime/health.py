"""The operators' HTTP server inside `heard run`: `GET /healthz` and
`GET /metrics` on `[server] health_listen`:`health_port` (127.0.0.1 by
default; off when the port is 0).

`/healthz` answers 200 with `{"database": "ok", "telegram": "ok", "slack":
"ok", "outbox_oldest_pending_s": …}` and 503 when the database cannot be
reached. A platform reads "disabled" when it is not enabled and "failing"
after several sends in a row failed (the process still answers 200 then: the
outbox keeps the messages, and a restart would not help). `/metrics` is the
Prometheus text format (`bot.runtime.metrics`).

The database check runs on a thread of its own with a time limit, so a
health check never queues behind families' messages and never hangs.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.config import ServerConfig
from bot.core.errors import ConfigError, StorageError
from bot.runtime.metrics import Metrics
from bot.service.monitoring import Monitoring, Snapshot

log = logging.getLogger("heard.health")

PLATFORMS = ("telegram", "slack")
CHECK_TIMEOUT = 3.0


class HealthServer:
    def __init__(
        self,
        config: ServerConfig,
        monitoring: Monitoring,
        metrics: Metrics,
        platforms: tuple[str, ...],
    ) -> None:
        self.config = config
        self.monitoring = monitoring
        self.metrics = metrics
        self.platforms = platforms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heard-health")
        self._runner: web.AppRunner | None = None
        self.port = config.health_port

    async def _snapshot(self) -> Snapshot | None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                return await loop.run_in_executor(self._executor, self.monitoring.snapshot)
        except (StorageError, TimeoutError) as exc:
            log.warning("health: database unavailable (%s)", type(exc.__cause__ or exc).__name__)
            return None

    async def healthz(self, _request: web.Request) -> web.Response:
        snap = await self._snapshot()
        self.metrics.observe(snap)
        body: dict[str, Any] = {"database": "ok" if snap else "unavailable"}
        for platform in PLATFORMS:
            enabled = platform in self.platforms
            body[platform] = self.metrics.channel_state(platform) if enabled else "disabled"
        body["outbox_oldest_pending_s"] = round(snap.outbox_oldest_pending_s, 1) if snap else None
        return web.json_response(body, status=200 if snap else 503)

    async def metrics_page(self, _request: web.Request) -> web.Response:
        self.metrics.observe(await self._snapshot())
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def start(self) -> None:
        """Bind the port, or raise ConfigError saying which key to change."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.health_listen, self.config.health_port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
                f"[server] health_port: cannot listen on {self.config.health_listen}:"
                f"{self.config.health_port} ({exc.strerror or exc}); another program holds "
                "it: stop that one or choose another port"
            ) from None
        log.info("health: serving /healthz and /metrics on port %d", self.config.health_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._executor.shutdown(wait=False)
