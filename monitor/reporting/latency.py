"""Probe latency per check and UTC hour (count, sum, worst), added up in memory as results
arrive and written to the store every few minutes, for the latency charts of /dashboard.

One row per check and hour: 1,000 checks for 90 days is ~2 M small rows; older rows are
deleted on each flush.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from monitor.store.engine import Conn, transaction

if TYPE_CHECKING:
    from monitor.store.engine import Store

log = logging.getLogger("siaga.latency")
HOUR = 3600.0
KEEP = 90 * 86400.0
Sums = dict[tuple[str, float], list[float]]  # (check, hour) → [probes, total, worst]


def write(conn: Conn, sums: Sums, now: float) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT INTO latency_hours (check_name, hour, probes, total, worst) "
            "VALUES (?,?,?,?,?) ON CONFLICT (check_name, hour) DO UPDATE SET "
            "probes = latency_hours.probes + excluded.probes, "
            "total = latency_hours.total + excluded.total, "
            "worst = CASE WHEN excluded.worst > latency_hours.worst THEN excluded.worst "
            "ELSE latency_hours.worst END",
            [(c, h, int(v[0]), v[1], v[2]) for (c, h), v in sums.items()])
        conn.execute("DELETE FROM latency_hours WHERE hour < ?", (now - KEEP,))


def hourly(conn: Conn, checks: list[str], since: float
           ) -> dict[str, list[tuple[float, float, float]]]:
    """(hour, mean seconds, worst seconds) per check, oldest first."""
    out: dict[str, list[tuple[float, float, float]]] = {c: [] for c in checks}
    rows = conn.execute("SELECT check_name, hour, probes, total, worst FROM latency_hours "
                        "WHERE hour >= ? ORDER BY hour", (since,))
    for name, hour, probes, total, worst in rows:
        if name in out and probes:
            out[name].append((hour, total / probes, worst))
    return out


class LatencyLog:
    """The engine's result listener and the task that flushes the sums."""

    def __init__(self, store: Store, *, every: float = 120.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.every, self.clock = store, every, clock
        self.sums: Sums = {}

    def on_result(self, check: Any, result: Any, *_: object) -> None:
        at = self.clock()
        key = (check.name, at - at % HOUR)
        sums = self.sums.get(key)
        if sums is None:
            sums = self.sums[key] = [0.0, 0.0, 0.0]
        sums[0] += 1
        sums[1] += result.duration
        sums[2] = max(sums[2], result.duration)

    async def flush(self) -> None:
        sums, self.sums = self.sums, {}
        if sums:
            try:
                await self.store.run(write, sums, self.clock())
            except Exception:  # the store may recover; a few minutes of a chart are lost
                log.exception("event=latency_flush_failed")

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.every)
                await self.flush()
        finally:
            await self.flush()  # the last minutes, on a clean stop
