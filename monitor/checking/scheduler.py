"""The scheduler: one timer for all checks, start-to-start intervals, bounded concurrency.

Each check owns a slot on the scheduler's own heap of due times, not a sleeping task; one
event-loop timer (`loop.call_at`) wakes the scheduler for the earliest slot. Only probes in
flight are tasks. (A loop timer per check cost 20,000 timer handles at 20,000 checks: ~15 MB
and 0.1 s of the start.) Slots are fixed
points `first + k × interval`, so lateness never accumulates into drift; a wake-up also starts
the slots of the next EARLY seconds. A probe starts when the global and its host's bounds have
room, else it waits in its host's queue; how late it starts against its slot is reported. If
the previous probe of a check is still waiting or running when its next slot comes, the slot
is counted as missed rather than stacking probes. Reloads keep each unchanged check's phase.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import zlib
from collections import deque
from collections.abc import Callable, Container, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.config.model import Check

log = logging.getLogger("siaga.scheduler")

Runner = Callable[[Check], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class Slot:
    check: Check
    host: str
    due: float  # the next slot; a heap entry with another time is stale
    task: asyncio.Task[None] | None = None
    on_demand: bool = False  # the task in flight was asked for (run_now), not scheduled
    waiting: bool = False  # due, but waiting for room under the concurrency bounds

    def busy(self) -> bool:
        """A probe of this check is waiting for room or running."""
        return self.waiting or (self.task is not None and not self.task.done())


@dataclass(slots=True)
class SchedulerStats:
    """Counters the metrics and /healthz read."""

    started: int = 0
    missed: int = 0
    in_flight: int = 0
    last_lateness: float = 0.0
    on_lateness: list[Callable[[float], None]] = field(default_factory=list)
    on_missed: list[Callable[[Check], None]] = field(default_factory=list)


EARLY = 0.1  # seconds a slot may start before its time, to share a wake-up
EARLY_SHARE = 0.05  # …but never earlier than this share of the check's interval


def first_offset(name: str, interval: float) -> float:
    """A stable spread of first runs over one interval (the same for a name on every start)."""
    return (zlib.crc32(name.encode()) / 2**32) * interval


class Scheduler:
    """Runs `runner(check)` for every check on its schedule until `stop()`."""

    def __init__(
        self,
        runner: Runner,
        host_of: Callable[[Check], str],
        *,
        max_concurrency: int = 500,
        per_host: int = 64,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._runner = runner
        self._host_of = host_of
        self._loop = loop or asyncio.get_running_loop()
        # The bounds are counters, not semaphores: a probe that fits starts at once, one
        # that does not waits in its host's queue (a semaphore pair cost ~1 µs a probe and
        # let a probe waiting for its host hold a place under the global bound).
        self._max = max_concurrency
        self._per_host_limit = per_host
        self._running = 0
        self._host_load: dict[str, int] = {}  # probes running per host
        self._waiting: dict[str, deque[tuple[Slot, float]]] = {}  # per host, oldest first
        self._slots: dict[str, Slot] = {}
        self._heap: list[tuple[float, int, Slot]] = []  # (due, tie-break, slot)
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._tasks: dict[asyncio.Task[None], tuple[Slot, str]] = {}  # → slot, host counted
        self._stopped = False
        self.stats = SchedulerStats()

    def use_runner(self, runner: Runner) -> None:
        """Run the next probes with `runner` (those in flight finish with the old one)."""
        self._runner = runner

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def due(self, name: str) -> float | None:
        slot = self._slots.get(name)
        return slot.due if slot else None

    def set_checks(self, checks: Iterable[Check], *, initial: bool = False,
                   changed: Container[str] | None = None, origin: float | None = None) -> None:
        """Apply a check list: keep unchanged ones' phase, reschedule changed, add, remove.
        `changed`: the names known to differ (a reload's diff); others are not compared.
        `initial`: a start, first runs spread over each interval from `origin` (default:
        now; a first run that falls before now is spread over the time since `origin`)."""
        now = self._loop.time()
        origin = now if origin is None else origin
        wanted = {c.name: c for c in checks}
        for name in [n for n in self._slots if n not in wanted]:
            self._remove(name)
        for name, check in wanted.items():
            slot = self._slots.get(name)
            if slot is None:
                self._add(check, now, initial, origin)
            elif (name in changed) if changed is not None else slot.check != check:
                self._change(slot, check, now)
            else:
                # Equal but not the same object: the slot must run the live config's check,
                # never one a reload replaced (results of a replaced check are not recorded).
                slot.check = check

    def _add(self, check: Check, now: float, initial: bool, origin: float) -> None:
        # At start-up spread first runs over the whole interval; a check added by a reload
        # starts at once, with a little jitter so a batch of new checks does not burst.
        if initial:
            due = origin + first_offset(check.name, check.interval)
            if due < now:
                due = now + first_offset(check.name, min(check.interval, now - origin))
        else:
            due = now + random.uniform(0, min(check.interval, 2.0))
        slot = Slot(check, self._host_of(check), due)
        self._slots[check.name] = slot
        self._push(slot)

    def _change(self, slot: Slot, check: Check, now: float) -> None:
        old = slot.check
        slot.check, slot.host = check, self._host_of(check)
        if old.interval != check.interval:
            # Keep the phase: the next slot is the old one moved to the new interval (the
            # heap entry of the old time goes stale).
            last = slot.due - old.interval
            slot.due = max(now, last + check.interval)
            self._push(slot)

    def _remove(self, name: str) -> None:
        slot = self._slots.pop(name)  # its heap entry goes stale
        if slot.task and not slot.task.done():
            slot.task.cancel()

    def _push(self, slot: Slot) -> None:
        heapq.heappush(self._heap, (slot.due, next(self._order), slot))
        if slot.due < self._timer_at:
            self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, float("inf")
        if self._heap and not self._stopped:
            self._timer_at = self._heap[0][0]
            self._timer = self._loop.call_at(self._timer_at, self._wake)

    def _wake(self) -> None:
        """Fire every slot that is due, and those due within the next EARLY seconds (at
        most a twentieth of their interval), then sleep until the next one. Starting a
        slot a little early lets one wake-up of the process serve the slots of the next
        100 ms: at 200 probes a second, a wake-up per probe cost ~100 µs of CPU a probe on
        a VM (bench/README.md). Slots stay fixed points; lateness counts only late starts."""
        self._timer, self._timer_at = None, float("inf")
        now = self._loop.time()
        due_now, horizon = now + 0.001, now + EARLY
        heap, slots = self._heap, self._slots
        while heap and heap[0][0] <= horizon:
            due, _, slot = heap[0]
            if due > due_now and due - now > slot.check.interval * EARLY_SHARE:
                break  # a short interval: not early by more than its share
            heapq.heappop(heap)
            if slot.due == due and slots.get(slot.check.name) is slot:
                self._fire(slot)
        self._arm()

    def _fire(self, slot: Slot) -> None:
        if self._stopped:
            return
        due, now, interval = slot.due, self._loop.time(), slot.check.interval
        if slot.busy():
            if not slot.on_demand:  # an on-demand probe just ran: this slot is not lost
                self._missed(slot)
        else:
            slot.on_demand = False
            self._launch(slot, due)
        slot.due = due + interval
        if slot.due <= now:  # the loop was blocked for more than an interval: skip ahead
            skipped = int((now - slot.due) // interval) + 1
            slot.due += skipped * interval
            for _ in range(skipped):
                self._missed(slot)
        heapq.heappush(self._heap, (slot.due, next(self._order), slot))  # _wake re-arms

    def run_now(self, name: str) -> bool:
        """Probe `name` at once, outside its schedule (a dependent's page waits for it);
        False when it is not scheduled or a probe of it is already running."""
        slot = self._slots.get(name)
        if self._stopped or slot is None or slot.busy():
            return False
        slot.on_demand = True
        self._launch(slot, self._loop.time())
        return True

    def _launch(self, slot: Slot, due: float) -> None:
        if self._running < self._max and self._host_load.get(slot.host, 0) < self._per_host_limit:
            self._start(slot, due)
        else:
            slot.waiting = True
            queue = self._waiting.get(slot.host)
            if queue is None:
                queue = self._waiting[slot.host] = deque()
            queue.append((slot, due))

    def _start(self, slot: Slot, due: float) -> None:
        host = slot.host
        self._running += 1
        self._host_load[host] = self._host_load.get(host, 0) + 1
        stats = self.stats
        lateness = self._loop.time() - due
        if lateness < 0.0:
            lateness = 0.0  # started early, sharing a wake-up (_wake)
        stats.started += 1
        stats.last_lateness = lateness
        stats.in_flight = self._running
        for hook in stats.on_lateness:
            hook(lateness)
        task = self._loop.create_task(self._runner(slot.check))
        slot.task = task
        self._tasks[task] = (slot, host)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        slot, host = self._tasks.pop(task)
        self._running -= 1
        load = self._host_load[host] - 1
        if load:
            self._host_load[host] = load
        else:
            del self._host_load[host]
        self.stats.in_flight = self._running
        if slot.task is task:
            # A finished task is not kept until the next slot: with its entry in asyncio's
            # task registry that was ~0.8 KB per check (16 MB at 20,000, tracemalloc).
            slot.task = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            # a bug in a probe must not stop the schedule
            log.error("event=probe_crashed check=%s", slot.check.name, exc_info=exc)
        if self._waiting and not self._stopped:
            self._admit(host)

    def _admit(self, freed: str) -> None:
        """Start waiting probes that fit now: the freed host's first, then other hosts' in
        the order they began to wait."""
        limit = self._per_host_limit
        for host in (freed, *self._waiting):
            queue = self._waiting.get(host)
            if queue is None:
                continue
            while queue and self._running < self._max and self._host_load.get(host, 0) < limit:
                slot, due = queue.popleft()
                slot.waiting = False
                if self._slots.get(slot.check.name) is slot:  # not removed meanwhile
                    self._start(slot, due)
            if not queue:
                del self._waiting[host]
            if self._running >= self._max:
                return

    def _missed(self, slot: Slot) -> None:
        self.stats.missed += 1
        for hook in self.stats.on_missed:
            hook(slot.check)

    async def stop(self) -> None:
        """Cancel every timer and in-flight probe, and wait for them to finish."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        for queue in self._waiting.values():
            for slot, _ in queue:
                slot.waiting = False
        self._waiting.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
