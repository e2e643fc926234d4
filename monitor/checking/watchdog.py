"""Never silently blind: stale checks, made visible.

`Watchdog` judges staleness: a check of the live config whose last recorded result is older
than 2 × interval + timeout (heartbeats: three evaluation rounds) is *stale*. Stale checks are
exported as `siaga_check_stale{check}` (only stale ones carry a series, so 20,000 healthy
checks cost nothing) and `siaga_checks_stale`, turn /healthz to 503, stop the dead-man's
switch, and reach the admins as one "monitoring is blind for N checks" message. The watchdog
does not care why a check went stale, which is the point: it catches causes nobody foresaw.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from monitor.checking.engine import Engine
from monitor.config.model import Check
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.watchdog")
SCAN_EVERY = 1.0
HEARTBEAT_ROUND = 2.0  # monitor.checking.heartbeats evaluates every heartbeat this often
LISTED = 10  # names shown in one problem line before "and N more"


def stale_after(check: Check) -> float:
    """How old a check's last result may grow before the check counts as stale."""
    if check.kind == "heartbeat":
        return 3 * HEARTBEAT_ROUND
    return 2 * check.interval + check.timeout


def listing(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown if len(names) <= LISTED else f"{shown} and {len(names) - LISTED} more"


class Watchdog:
    """Finds stale checks once a second; `stale` is the current list, sorted."""

    def __init__(self, engine: Engine, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time,
                 owns: Callable[[str], bool] = lambda name: True) -> None:
        self.engine, self.clock = engine, clock
        self.owns = owns  # in a fleet, checks other members probe are not stale here
        self.stale: list[str] = []
        self.on_change: list[Callable[[list[str]], None]] = []
        self.per_check = Gauge("siaga_check_stale", "1 while a check has recorded no result "
                               "for longer than 2 × interval + timeout (only stale checks "
                               "have a series)", ["check"], registry=registry)
        self.total = Gauge("siaga_checks_stale", "Checks that are stale right now",
                           registry=registry)

    def scan(self) -> list[str]:
        now = self.clock()
        found = []
        for name, check in self.engine.checks.items():
            rt = self.engine.runtime.get(name)
            if rt is not None and now - rt.seen > stale_after(check) and self.owns(name):
                found.append(name)
        found.sort()
        if found != self.stale:
            self._publish(found)
        return found

    def _publish(self, found: list[str]) -> None:
        for name in set(self.stale) - set(found):
            self.per_check.remove(name)
        for name in set(found) - set(self.stale):
            self.per_check.labels(name).set(1)
        self.total.set(len(found))
        if found:
            event(log, "checks_stale", logging.ERROR, count=len(found), checks=listing(found))
        else:
            event(log, "checks_fresh_again")
        self.stale = found
        for hook in self.on_change:
            hook(found)

    def problems(self) -> list[str]:
        if not self.stale:
            return []
        return [f"monitoring is blind for {len(self.stale)} check(s): {listing(self.stale)}"]

    async def run(self, every: float = SCAN_EVERY) -> None:
        while True:
            await asyncio.sleep(every)
            self.scan()
