"""Uptime history in the store: reading a check's transitions, rolling them up into hourly
and daily `rollups` rows, pruning old raw transitions once rolled up, and the periodic task.

Rollup rows hold seconds by how they count (`up_seconds`, `down_seconds`,
`maintenance_seconds`, see monitor.reporting.uptime), hourly rows on UTC hours and daily
rows on local days of the configured zone. Hourly rows are written only for hours that were
not fully up (an hour of a check's life without a row was fully up): dense hourly rows
for 1,000 checks would cost ~1.5 GB a year, sparse ones a few MB. `rollup_marks` records
how far each check is rolled up. Raw transitions older than `raw_days` are deleted only once the
daily rollups cover them. The newest deleted-over transition is kept as the "carrier" of the
state: it is moved to the cut-off and marked `old = unknown`, so raw history reads exactly
from the cut-off onward and earlier time comes from daily rollups.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from monitor.reporting.uptime import (
    Interval,
    Uptime,
    daily,
    day_bounds,
    local_day,
    segments,
    split,
    tally,
    uptime,
)
from monitor.store.engine import Conn, transaction

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.store.engine import Store

log = logging.getLogger("siaga.rollup")
HOUR, DAY = 3600.0, 86400.0
Maintenance = Callable[[str, float, float], Sequence[Interval]]
CARRIER_REASON = "history before this moment is kept in daily rollups"


@dataclass(frozen=True, slots=True)
class Row:
    """A stored transition as uptime needs it."""

    new: str
    at: float


def no_maintenance(check: str, start: float, end: float) -> list[Interval]:
    return []


def maintenance_of(config: Config) -> Maintenance:
    """The configured maintenance windows of a check (monitor.incidents.maintenance, when
    present)."""
    try:
        from monitor.incidents.maintenance import windows
    except ImportError:
        return no_maintenance
    return lambda check, start, end: windows(config, check, start, end)


def history(conn: Conn, check: str, start: float, end: float) -> list[Row]:
    """Transitions of `check` before `end`, from the last one at or before `start`."""
    rows = conn.execute(
        "SELECT new, at FROM transitions WHERE check_name = ? AND at < ? AND at >= "
        "COALESCE((SELECT MAX(at) FROM transitions WHERE check_name = ? AND at <= ?), ?) "
        "ORDER BY at, id", (check, end, check, start, start))
    return [Row(r[0], r[1]) for r in rows]


def raw_start(conn: Conn, check: str) -> float | None:
    row = conn.execute("SELECT MIN(at) FROM transitions WHERE check_name = ?",
                       (check,)).fetchone()
    return None if row[0] is None else float(row[0])


def check_uptime(conn: Conn, check: str, start: float, end: float, now: float,
                 maintenance: Sequence[Interval] = (), *,
                 exclude_maintenance: bool = True) -> Uptime:
    """Uptime over [start, end): daily rollups before raw history begins, raw after it.

    `start` should be a local midnight when part of the window is older than the raw
    history (rolled-up days are whole days).
    """
    first = raw_start(conn, check)
    if first is None:
        return Uptime()
    total = Uptime()
    if start < first:
        total += rolled(conn, check, "day", start, min(first, end))
    raw_from = max(start, first)
    total += uptime(history(conn, check, raw_from, end), raw_from, end, now, maintenance,
                    exclude_maintenance=exclude_maintenance)
    return total


def rolled(conn: Conn, check: str, period: str, start: float,
           end: float) -> Uptime:
    row = conn.execute(
        "SELECT COALESCE(SUM(up_seconds), 0), COALESCE(SUM(down_seconds), 0), "
        "COALESCE(SUM(maintenance_seconds), 0) FROM rollups "
        "WHERE check_name = ? AND period = ? AND start >= ? AND start < ?",
        (check, period, start, end)).fetchone()
    return Uptime(up=row[0], down=row[1], maintenance=row[2])


def _watermark(conn: Conn, check: str, period: str) -> float | None:
    """Where the rolled-up periods of `check` end (exclusive), or None."""
    row = conn.execute("SELECT until FROM rollup_marks WHERE check_name = ? AND period = ?",
                       (check, period)).fetchone()
    return None if row is None else row[0]


def _bounds(conn: Conn, check: str, period: str, first: float, now: float,
            tz: dt.tzinfo) -> list[float]:
    """Boundaries of the complete, not yet rolled-up periods of `check`."""
    last = _watermark(conn, check, period)
    if period == "hour":
        begin = last if last is not None else first - first % HOUR
        stop = now - now % HOUR
        return [begin + i * HOUR for i in range(int((stop - begin) // HOUR) + 1)]
    day = local_day(last if last is not None else first, tz)
    days = (local_day(now, tz) - day).days
    return day_bounds(day, days, tz) if days > 0 else []


def roll_up_check(conn: Conn, check: str, now: float, tz: dt.tzinfo,
                  maintenance: Maintenance) -> int:
    """Write the missing hourly and daily rows of one check; return how many."""
    first = raw_start(conn, check)
    if first is None:
        return 0
    rows = []
    for period in ("hour", "day"):
        bounds = _bounds(conn, check, period, first, now, tz)
        if len(bounds) < 2:
            continue
        end = bounds[-1]
        segs = segments(history(conn, check, bounds[0], end), bounds[0], end)
        planned = maintenance(check, bounds[0], bounds[-1])
        for start, stop, bucket in zip(bounds, bounds[1:], split(segs, bounds), strict=False):
            u = tally(bucket, planned)
            fully_up = period == "hour" and u.up == stop - start
            if not fully_up and (u.up or u.down or u.maintenance):
                rows.append((check, period, start, u.up, u.down, u.maintenance))
        conn.execute("INSERT INTO rollup_marks (check_name, period, until) VALUES (?,?,?) "
                     "ON CONFLICT (check_name, period) DO UPDATE SET until = excluded.until",
                     (check, period, bounds[-1]))
    conn.executemany(
        "INSERT INTO rollups (check_name, period, start, up_seconds, down_seconds, "
        "maintenance_seconds) VALUES (?,?,?,?,?,?) ON CONFLICT (check_name, period, start) "
        "DO UPDATE SET up_seconds = excluded.up_seconds, down_seconds = excluded.down_seconds, "
        "maintenance_seconds = excluded.maintenance_seconds, probes = 0, failures = 0, "
        "latency_sum = 0", rows)
    return len(rows)


def roll_up(conn: Conn, now: float, tz: dt.tzinfo,
            maintenance: Maintenance = no_maintenance) -> int:
    """Roll up every check that has transitions, one transaction per check."""
    return sum(roll_up_one(conn, check, now, tz, maintenance) for check in known(conn))


def known(conn: Conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT check_name FROM transitions")]


def roll_up_one(conn: Conn, check: str, now: float, tz: dt.tzinfo,
                maintenance: Maintenance = no_maintenance) -> int:
    with transaction(conn):
        return roll_up_check(conn, check, now, tz, maintenance)


def prune(conn: Conn, now: float, tz: dt.tzinfo, *, raw_days: int = 35,
          rollup_days: int = 400) -> int:
    """Delete rollups older than `rollup_days` and rolled-up raw transitions older than
    `raw_days`; return the number of transitions deleted."""
    deleted = 0
    cutoff = day_bounds(local_day(now, tz) - dt.timedelta(days=raw_days), 0, tz)[0]
    with transaction(conn):
        conn.execute("DELETE FROM rollups WHERE start < ?", (now - rollup_days * DAY,))
        checks = [r[0] for r in conn.execute("SELECT DISTINCT check_name FROM transitions")]
        for check in checks:
            deleted += _prune_check(conn, check, cutoff, tz)
    return deleted


def _prune_check(conn: Conn, check: str, cutoff: float, tz: dt.tzinfo) -> int:
    last_day = _watermark(conn, check, "day")
    if last_day is None:
        return 0  # nothing rolled up: keep everything
    cut = min(cutoff, last_day)
    carrier = conn.execute(
        "SELECT id, at FROM transitions WHERE check_name = ? AND at < ? "
        "ORDER BY at DESC, id DESC LIMIT 1", (check, cut)).fetchone()
    if carrier is None:
        return 0
    cur = conn.execute("DELETE FROM transitions WHERE check_name = ? AND at < ? AND id != ?",
                       (check, cut, carrier[0]))
    conn.execute("UPDATE transitions SET at = ?, old = 'unknown', reason = ? WHERE id = ?",
                 (cut, CARRIER_REASON, carrier[0]))
    return int(cur.rowcount)


async def run(store: Store, config: Callable[[], Config], *, every: float = 3600.0,
              clock: Callable[[], float] = time.time) -> None:
    """The daemon's periodic task: roll up, then prune, every `every` seconds; how long raw
    transitions and rollups are kept comes from `siaga.raw_retention`/`rollup_retention`."""
    while True:
        cfg = config()
        now, tz = clock(), cfg.settings.tz
        raw_days = max(1, round(cfg.settings.raw_retention / DAY))
        rollup_days = max(raw_days, round(cfg.settings.rollup_retention / DAY))
        try:
            # One store call per check, so pages and acks are never queued behind a long
            # catch-up (a year of 1,000 checks takes about half a minute).
            planned, rows = maintenance_of(cfg), 0
            for check in await store.run(known):
                rows += await store.run(roll_up_one, check, now, tz, planned)
            gone = await store.run(partial(prune, raw_days=raw_days, rollup_days=rollup_days),
                                   now, tz)
            log.info("event=rolled_up rows=%d pruned=%d", rows, gone)
        except Exception:  # the store may recover; uptime history is not worth a crash
            log.exception("event=rollup_failed")
        await asyncio.sleep(every)


def daily_uptime(conn: Conn, check: str, first: dt.date, days: int,
                 tz: dt.tzinfo, now: float, maintenance: Sequence[Interval] = ()
                 ) -> list[tuple[dt.date, Uptime]]:
    """Per local day (oldest first): raw history where kept, daily rollups before it."""
    bounds = day_bounds(first, days, tz)
    begin = raw_start(conn, check)
    if begin is None:
        return [(first + dt.timedelta(days=i), Uptime()) for i in range(days)]
    out = daily(history(conn, check, bounds[0], bounds[-1]), first, days, tz, now, maintenance)
    if begin > bounds[0]:
        rows = conn.execute(
            "SELECT start, up_seconds, down_seconds, maintenance_seconds FROM rollups "
            "WHERE check_name = ? AND period = 'day' AND start >= ? AND start < ?",
            (check, bounds[0], begin))
        rolled_days = {local_day(r[0], tz): Uptime(r[1], r[2], r[3]) for r in rows}
        out = [(d, rolled_days.get(d, u)) for d, u in out]
    return out
