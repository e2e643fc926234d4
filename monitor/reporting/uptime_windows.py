"""Each check's time-weighted uptime over the last 7, 30 and 90 local days, computed from the
store off the event loop and kept for `siaga_uptime_ratio{check,group,window}` and the
/dashboard page: the same figure as `siaga report` and the status page, so Grafana needs no
90 days of Prometheus retention and never averages probe samples.

A window of N days is the N local days ending today (today so far), like the status page's
30- and 90-day figures. All checks are recomputed every `every` seconds (the figures move as
time passes); a check that changed state is recomputed within `min_gap` seconds. A scrape
only reads the last figures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.reporting.rollup import Maintenance, check_uptime, maintenance_of
from monitor.reporting.uptime import Uptime, day_bounds, local_day
from monitor.store.engine import Conn
from monitor.telemetry.families import UPTIME_RATIO, escape_label

if TYPE_CHECKING:
    from monitor.config.model import Check, Config
    from monitor.store.engine import Store

log = logging.getLogger("siaga.uptime")
WINDOWS = (7, 30, 90)
# Checks per store call: the store is one thread, and a page decided meanwhile waits for the
# call in progress. 200 (three windows each) held it ~0.5 s at a time, which at 20,000 checks
# put pages 1.4-2.2 s late; 25 keeps each call to tens of milliseconds.
CHUNK = 25
PAUSE = 0.005  # between calls: the page path's writes get the store thread in between
Figures = dict[str, dict[int, Uptime]]  # check → window days → uptime


def window_start(now: float, days: int, tz: dt.tzinfo) -> float:
    """The local midnight that opens the last `days` days (today included)."""
    first = local_day(now, tz) - dt.timedelta(days=days - 1)
    return day_bounds(first, 1, tz)[0]


def compute(conn: Conn, names: Sequence[str], now: float, tz: dt.tzinfo,
            maintenance: Maintenance) -> Figures:
    """Uptime of each check over each window; runs on the store thread."""
    out: Figures = {}
    for name in names:
        out[name] = {}
        for days in WINDOWS:
            start = window_start(now, days, tz)
            out[name][days] = check_uptime(conn, name, start, now, now,
                                           maintenance(name, start, now))
    return out


class UptimeWindows:
    """The latest figures and the task that refreshes them."""

    def __init__(self, store: Store, config: Callable[[], Config], *, every: float = 300.0,
                 min_gap: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.every, self.min_gap = every, min_gap
        self.figures: Figures = {}  # replaced whole, never changed in place (scrape threads)
        self.computed_at: float | None = None
        self._dirty: set[str] = set()
        self._wanted = asyncio.Event()

    def changed(self, name: str) -> None:
        """A check changed state: recompute it soon."""
        self._dirty.add(name)
        self._wanted.set()

    async def run(self) -> None:
        full_due = 0.0
        while True:
            now = self.clock()
            names: Sequence[str]
            if now >= full_due:
                names, full_due = [c.name for c in self.config().checks], now + self.every
                self._dirty.clear()
            else:
                names, self._dirty = sorted(self._dirty), set()
            self._wanted.clear()
            await self.refresh(names, full=len(names) == len(self.config().checks))
            try:
                async with asyncio.timeout(max(0.0, full_due - self.clock())):
                    await self._wanted.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(self.min_gap)

    async def refresh(self, names: Sequence[str], *, full: bool = True) -> None:
        config = self.config()
        now, tz, planned = self.clock(), config.settings.tz, maintenance_of(config)
        fresh: Figures = {}
        try:
            for i in range(0, len(names), CHUNK):
                fresh.update(await self.store.run(compute, names[i:i + CHUNK], now, tz,
                                                  planned))
                await asyncio.sleep(PAUSE)
        except Exception:  # the store may recover; keep the last figures meanwhile
            log.exception("event=uptime_refresh_failed")
            return
        known = set(config.by_name)
        base = {} if full else {n: f for n, f in self.figures.items() if n in known}
        self.figures = {**base, **fresh}
        self.computed_at = now

    def collector(self) -> UptimeCollector:
        return UptimeCollector(self)


NAME = UPTIME_RATIO.name


class UptimeCollector(Collector):
    """`siaga_uptime_ratio`: one series per check and window, only where time counted.

    `collect()` is the generic prometheus-client path (tests, `get_sample_value`); `/metrics`
    writes `text_head()` + `text_rows()`: each check's three lines rendered once per new
    figure and cached (60,000 series at 20,000 checks took ~0.8 s on the generic path, on
    the event loop)."""

    def __init__(self, windows: UptimeWindows) -> None:
        self.windows = windows
        # check → (its figures, its Check, its lines); touched only under the scrape's lock
        self._lines: dict[str, tuple[dict[int, Uptime], Check, str]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(NAME, UPTIME_RATIO.help, labels=list(UPTIME_RATIO.labels))
        checks = self.windows.config().by_name
        for name, by_days in self.windows.figures.items():
            check = checks.get(name)
            if check is None:
                continue
            for days, up in by_days.items():
                if up.percent is not None:
                    family.add_metric([name, check.group, f"{days}d"], up.percent / 100)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())

    @staticmethod
    def text_head() -> str:
        return UPTIME_RATIO.header

    def text_rows(self) -> list[str]:
        """Every check's lines of the family (what `collect()` yields, as text). Figures are
        replaced, never changed in place, so an unchanged dict means unchanged lines."""
        checks = self.windows.config().by_name
        cache, rows = self._lines, []
        for name, by_days in self.windows.figures.items():
            check = checks.get(name)
            if check is None:
                continue
            hit = cache.get(name)
            if hit is None or hit[0] is not by_days or hit[1] is not check:
                labels = f'check="{escape_label(name)}",group="{escape_label(check.group)}"'
                # repr() is prometheus-client's float text for a ratio (0-1): Go's exponent
                # form starts at 1e6
                text = "".join(f'{NAME}{{{labels},window="{days}d"}} '
                               f"{float(up.percent) / 100!r}\n"
                               for days, up in by_days.items() if up.percent is not None)
                hit = cache[name] = (by_days, check, text)
            rows.append(hit[2])
        if len(cache) > len(rows):  # checks were removed (or lost their figures)
            keep = set(self.windows.figures)
            for name in [n for n in cache if n not in keep or n not in checks]:
                del cache[name]
        return rows
