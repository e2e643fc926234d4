"""Siaga watching itself: a dead-man's switch and the store's share of /healthz.

While Siaga is healthy (its health function finds no problems) it GETs `siaga.deadman_url`
every `siaga.deadman_every` (an external service such as healthchecks.io pages someone when
the pings stop). An unhealthy or dead Siaga stays silent, which is the signal. Settings are
read on every round, so a reload takes effect at the next one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from monitor.config.model import Settings
from monitor.store.engine import Store
from monitor.telemetry.logs import event
from monitor.telemetry.metrics import Metrics

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("siaga.deadman")
TIMEOUT = 10.0
STORE_ERROR_WINDOW = 300.0


async def ping_once(session: aiohttp.ClientSession, url: str) -> str | None:
    """GET the URL; None on success, else a short reason (never the URL: it is a secret)."""
    import aiohttp

    try:
        async with asyncio.timeout(TIMEOUT), session.get(url, allow_redirects=True) as resp:
            await resp.content.read(4096)
            return None if resp.status < 400 else f"status {resp.status}"
    except TimeoutError:
        return f"timeout after {TIMEOUT:g}s"
    except (aiohttp.ClientError, OSError) as exc:
        return f"{type(exc).__name__}"


async def run(settings: Callable[[], Settings], problems_now: Callable[[], list[str]],
              metrics: Metrics) -> None:
    """Ping `deadman_url` while `problems_now()` finds none; a no-op loop when none is
    configured. `settings()` gives the current settings (they change on reload)."""
    import aiohttp  # not at module level: the daemon imports it once probing runs

    async with aiohttp.ClientSession() as session:
        while True:
            s = settings()
            if s.deadman_url:
                problems = problems_now()
                if problems:
                    event(log, "deadman_skipped", logging.WARNING, problem=problems[0])
                    metrics.deadman.labels("skipped").inc()
                else:
                    failure = await ping_once(session, s.deadman_url)
                    metrics.deadman.labels("failed" if failure else "sent").inc()
                    if failure:
                        event(log, "deadman_failed", logging.WARNING, reason=failure)
            await asyncio.sleep(s.deadman_every)


class StoreHealth:
    """Turns the store's error counter into a /healthz problem while errors are recent."""

    def __init__(self, store: Store, window: float = STORE_ERROR_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.window, self.clock = store, window, clock
        self._count = store.errors
        self._at = -float("inf")

    def problems(self) -> list[str]:
        now = self.clock()
        if self.store.errors != self._count:
            self._count, self._at = self.store.errors, now
        if now - self._at <= self.window:
            return [f"store errors: {self.store.errors} so far, last: {self.store.last_error}"]
        return []
