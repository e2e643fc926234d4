"""The real engine, pager and store driven by an injected clock: probes are results fed at
their slots, and on-demand probes answer within milliseconds. Minutes of a scenario at the
default 30-second interval take milliseconds; what the officer would receive is read from
the outbox the pager wrote."""

from __future__ import annotations

import heapq
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from monitor.checking.engine import Engine
from monitor.config.loader import parse_config
from monitor.paging.acktoken import AckSigner
from monitor.paging.pager import Pager
from monitor.probes.base import ProbeContext, ProbeResult
from monitor.store.engine import Store
from monitor.telemetry.metrics import Metrics

T0 = 1_800_000_000.0  # 2027-01-15: rosters and windows see a real date


class Simulation:
    """`fails(name, t)` says whether a probe of `name` fails `t` seconds into the scenario;
    offsets, `run(until)` and message times count from the start too."""

    def __init__(self, tmp_path, text: str, offsets: dict[str, float],
                 fails: Callable[[str, float], bool],
                 held: Callable[[str, float], str | None] | None = None,
                 url: str = "sqlite") -> None:
        self.now = T0
        self.config = parse_config(text, str(tmp_path / "checks.yaml"))
        self.engine = Engine(self.config, ProbeContext(), clock=lambda: self.now)
        self.store = Store(tmp_path / "state", url=url)  # "sqlite" or a postgresql:// URL
        metrics = Metrics(CollectorRegistry(), self.engine, "local")
        self.engine.on_result.append(metrics.on_result)
        self.demanded: list[str] = []
        self.pager = Pager(store=self.store, engine=self.engine, config=self.config,
                           signer=AckSigner(b"k" * 32), metrics=metrics,
                           clock=lambda: self.now, probe_now=self.demanded.append,
                           suppression=(lambda check, now: held(check.name, now - T0))
                           if held else None,
                           suppression_key=(lambda now: int(now)) if held else
                           (lambda now: None))
        self.engine.on_view.append(self.pager.note_result)
        self.engine.on_transition.append(self.pager.on_transition)
        self.fails = fails
        self.slots = [(T0 + offset, name) for name, offset in offsets.items()]
        heapq.heapify(self.slots)
        self.on_demand = 0

    def probe(self, name: str) -> None:
        failed = self.fails(name, self.now - T0)
        result = ProbeResult(not failed, "status 503" if failed else "ok",
                             started_at=self.now)
        self.engine.record(self.engine.checks[name], result)

    async def run(self, until: float, tick: float = 1.0) -> None:
        """Probe every check at its slots until `until`; the pager also runs every `tick`."""
        next_tick, until = self.now + tick, T0 + until
        while min(self.slots[0][0], next_tick) < until:
            if next_tick <= self.slots[0][0]:
                self.now, next_tick = next_tick, next_tick + tick
                await self.pager.step()
                continue
            at, name = heapq.heappop(self.slots)
            self.now = at
            self.probe(name)
            heapq.heappush(self.slots, (at + self.engine.checks[name].interval, name))
            await self.pager.step()
            while self.demanded:
                self.now += 0.005
                batch, self.demanded[:] = list(self.demanded), []
                for wanted in batch:
                    self.on_demand += 1
                    self.probe(wanted)
                await self.pager.step()

    def body(self, kind: str) -> list[str]:
        rows = self.store.call(lambda conn: conn.execute(
            "SELECT body FROM outbox WHERE kind=? ORDER BY id", (kind,)).fetchall())
        return [r[0] for r in rows]

    def messages(self, *kinds: str) -> list[tuple[str, str, str, float]]:
        """(kind, recipient, title, created_at) of every outbox row, oldest first."""
        rows = self.store.call(lambda conn: conn.execute(
            "SELECT kind, recipient, title, created_at FROM outbox ORDER BY id").fetchall())
        return [(r[0], r[1], r[2], r[3] - T0) for r in rows if not kinds or r[0] in kinds]

    def close(self) -> None:
        self.store.close()
