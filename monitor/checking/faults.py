"""Items that fail on their own, so that one bad item fails only itself.

`Faults` remembers every item that failed alone (a maintenance window whose schedule cannot be
computed, a heartbeat that cannot be judged, a probe that crashed): it is logged once,
counted in `siaga_broken_items{kind}`, listed in /healthz and the API, and the admins are told
once (the pager's self-monitoring incident, see monitor.checking.watchdog).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from monitor.telemetry.logs import event

log = logging.getLogger("siaga.faults")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # check | maintenance | heartbeat | config | …
    name: str
    reason: str
    since: float

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.reason}"


class Faults:
    """Items that are broken right now, each reported once while it stays broken."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.items: dict[tuple[str, str], Fault] = {}
        self.clock = clock
        self.version = 0  # changes whenever the set of faults changes
        self.gauge = Gauge("siaga_broken_items", "Items (checks, maintenance windows, "
                           "heartbeats, …) that fail on their own, by kind", ["kind"],
                           registry=registry)

    def mark(self, kind: str, name: str, reason: str) -> None:
        key = (kind, name)
        if key in self.items:
            return
        self.items[key] = Fault(kind, name, reason, self.clock())
        self.version += 1
        event(log, "item_broken", logging.ERROR, kind=kind, item=name, reason=reason)
        self._count(kind)

    def clear(self, kind: str, name: str) -> None:
        if self.items.pop((kind, name), None) is not None:
            self.version += 1
            event(log, "item_repaired", kind=kind, item=name)
            self._count(kind)

    def keep_only(self, kind: str, names: set[str]) -> None:
        """Forget faults of `kind` whose items no longer exist (after a reload)."""
        for k, name in [key for key in self.items if key[0] == kind and key[1] not in names]:
            self.clear(k, name)

    def _count(self, kind: str) -> None:
        self.gauge.labels(kind).set(sum(1 for k, _ in self.items if k == kind))

    def problems(self) -> list[str]:
        return [f"broken: {fault}" for fault in self.items.values()]
