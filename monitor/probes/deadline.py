"""A probe's deadline: `asyncio.timeout`'s behaviour, with one loop timer for all probes.

`asyncio.timeout` makes a loop timer per use (on uvloop a libuv timer, started and stopped):
~3.9 µs a probe, measured with everything else a probe does at ~100 µs. Here every deadline
of a loop waits on one heap with one timer armed for the earliest deadline still running; a
finished probe only marks its entry, which leaves the heap when it reaches the top. Probes
start in time order with equal timeouts, so the timer rarely moves and fires about once per
timeout, not once per probe.

Semantics are asyncio.timeout's (Python 3.11): when the deadline passes, the task is
cancelled; on the way out that cancellation becomes TimeoutError, unless the task was also
cancelled by someone else, whose CancelledError then goes on.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import weakref
from types import TracebackType

_PENDING, _EXPIRING, _EXPIRED, _EXITED = range(4)


class Deadline:
    """`async with Deadline(seconds):` — like `async with asyncio.timeout(seconds):`."""

    __slots__ = ("_cancelling", "_delay", "_state", "_task", "when")

    def __init__(self, delay: float) -> None:
        self._task: asyncio.Task[object] | None = None
        self._delay = delay
        self._state = _PENDING
        self.when = 0.0

    def expired(self) -> bool:
        """True when the deadline passed and cancelled the task (as Timeout.expired())."""
        return self._state in (_EXPIRING, _EXPIRED)

    async def __aenter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadline should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        loop = asyncio.get_running_loop()
        self.when = loop.time() + self._delay
        _timers(loop).add(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        state, self._state = self._state, _EXITED
        task, self._task = self._task, None  # the heap keeps this entry a while, not the task
        if state == _EXPIRING and task is not None:
            self._state = _EXPIRED
            if task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc

    def _expire(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._state = _EXPIRING


class _Timers:
    """The deadlines of one loop and its one timer."""

    __slots__ = ("heap", "loop", "order", "timer", "timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.heap: list[tuple[float, int, Deadline]] = []
        self.order = itertools.count()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = float("inf")

    def add(self, deadline: Deadline) -> None:
        heapq.heappush(self.heap, (deadline.when, next(self.order), deadline))
        if deadline.when < self.timer_at:
            self._arm(deadline.when)

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self.timer, self.timer_at = None, float("inf")
        heap = self.heap
        now = self.loop.time() + 0.001  # the loop's timers are millisecond-grained
        while heap:
            when, _, deadline = heap[0]
            if deadline._state == _PENDING:
                if when > now:
                    self._arm(when)
                    return
                deadline._expire()
            heapq.heappop(heap)


_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Timers] = (
    weakref.WeakKeyDictionary())
_last: tuple[asyncio.AbstractEventLoop | None, _Timers | None] = (None, None)


def _timers(loop: asyncio.AbstractEventLoop) -> _Timers:
    global _last
    last_loop, timers = _last
    if last_loop is not loop or timers is None:
        timers = _LOOPS.get(loop)
        if timers is None:
            timers = _LOOPS[loop] = _Timers(loop)
        _last = (loop, timers)
    return timers
