"""Probing a big file's first checks while `siaga run` waits for the whole file to be
validated (monitor.checking.preview says which checks and why).

The probes run on the Scheduler the daemon then keeps, their first runs spread from the
moment probing began exactly as a start spreads them. What they find is held, not recorded:
until the whole file is valid nothing is known of its other checks, officers or store, so
nothing is stored, paged or served. `hand_over` gives the daemon's engine every held outcome
in the order the probes finished (each listener sees it as if the probe had just finished)
and the lateness and missed slots noted meanwhile; the next probes run the engine's own
runner. `abandon` (the file was invalid) cancels the probes and drops what they found.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from monitor.checking.engine import Engine
from monitor.checking.preview import Preview
from monitor.checking.scheduler import Scheduler
from monitor.config.model import Check
from monitor.probes import KINDS, ProbeContext, ProbeResult, host_of

Outcome = ProbeResult | Exception  # a probe that raised is settled as the engine settles it


class EarlyProbes:
    """The preview's checks, probed with their outcomes held until `hand_over`."""

    def __init__(self, preview: Preview) -> None:
        self.ctx = ProbeContext(body_limit=preview.body_limit)
        self.held: list[tuple[Check, Outcome]] = []
        self.lateness: list[float] = []
        self.missed: list[Check] = []
        self._settle: Callable[[Check, Outcome], None] = self._hold
        self.scheduler = Scheduler(self._run, host_of, max_concurrency=preview.max_concurrency,
                                   per_host=preview.per_host_concurrency)
        self.origin = asyncio.get_running_loop().time()  # first runs are spread from here
        stats = self.scheduler.stats
        stats.on_lateness.append(self.lateness.append)
        stats.on_missed.append(self.missed.append)
        self.scheduler.set_checks(preview.checks, initial=True, origin=self.origin)
        self.checks = len(preview.checks)

    @classmethod
    def of(cls, preview: object) -> EarlyProbes | None:
        """Probing for `preview` when it is one (monitor.config.isolated.Loading.preview)."""
        return cls(preview) if isinstance(preview, Preview) else None

    def _hold(self, check: Check, outcome: Outcome) -> None:
        self.held.append((check, outcome))

    async def _run(self, check: Check) -> None:
        started = time.time()
        try:
            result = await KINDS[check.kind].run(check.spec, check.timeout, self.ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._settle(check, exc)
            return
        result.started_at = result.started_at or started
        self._settle(check, result)

    def hand_over(self, engine: Engine) -> int:
        """Record the held outcomes with `engine` and let its runner take the next probes
        (the daemon has registered its scheduler hooks and set the whole file's checks);
        how many outcomes were held."""
        stats = self.scheduler.stats
        stats.on_lateness.remove(self.lateness.append)
        stats.on_missed.remove(self.missed.append)
        for lateness in self.lateness:
            for hook in stats.on_lateness:
                hook(lateness)
        for check in self.missed:
            for on_missed in stats.on_missed:
                on_missed(check)
        held, self.held, self.lateness, self.missed = self.held, [], [], []
        for check, outcome in held:
            engine.settle(check, outcome)
        self._settle = engine.settle  # probes still in flight record as they finish
        self.scheduler.use_runner(engine.run_check)
        return len(held)

    async def abandon(self) -> None:
        """The whole file is invalid: stop probing and drop what was found."""
        await self.scheduler.stop()
        self.held.clear()
