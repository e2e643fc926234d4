"""Rate limits per source address: the heartbeat push endpoints (monitor.web.push) refuse a
source's requests beyond `rate` per `per` seconds before they look at its token."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

RATE = 60  # requests per source address…
PER = 60.0  # …per this many seconds


class RateLimit:
    """A sliding window of request times per source address."""

    def __init__(self, rate: int = RATE, per: float = PER,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.per, self.clock = rate, per, clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, source: str) -> bool:
        now = self.clock()
        if len(self._seen) > 10_000:  # forget quiet sources so the table stays small
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.per}
        times = self._seen.setdefault(source, deque())
        while times and times[0] <= now - self.per:
            times.popleft()
        if len(times) >= self.rate:
            return False
        times.append(now)
        return True
