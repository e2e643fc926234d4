"""Time-weighted uptime from state transitions: pure functions, the clock passed in.

Uptime is the share of *time* a check was usable, not the share of probes that passed. A
check's state at moment t is the `new` state of its last transition at or before t.

How each state counts (healthchecks' flips do the same job):
- UP and DEGRADED count as up: a slow service still serves its users.
- DOWN counts as down.
- FLAPPING counts as down: the service fails often enough that users cannot rely on it,
  and an SLA figure should not reward instability.
- UNKNOWN (before a check's first verdict, or after its target changed) is not counted:
  time before a check existed says nothing about it.
- MAINTENANCE (the state, or time inside a maintenance interval) is left out of the
  denominator when `exclude_maintenance` is true (the default). When false, maintenance
  intervals are ignored and the underlying state counts; a MAINTENANCE state counts as down.

uptime % = up / (up + down).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

UP_STATES = frozenset({"up", "degraded"})
DOWN_STATES = frozenset({"down", "flapping"})
Interval = tuple[float, float]


class TransitionLike(Protocol):
    """A Transition, or a store row read into one: the new state and when."""

    @property
    def new(self) -> object: ...

    @property
    def at(self) -> float: ...


@dataclass(slots=True)
class Uptime:
    """Seconds of a window by how they count."""

    up: float = 0.0
    down: float = 0.0
    maintenance: float = 0.0  # excluded from the denominator
    unknown: float = 0.0  # before the first verdict: not counted

    @property
    def counted(self) -> float:
        return self.up + self.down

    @property
    def percent(self) -> float | None:
        """Uptime in percent, or None when no time counted (the check did not exist)."""
        return 100.0 * self.up / self.counted if self.counted > 0 else None

    def __iadd__(self, other: Uptime) -> Uptime:
        self.up += other.up
        self.down += other.down
        self.maintenance += other.maintenance
        self.unknown += other.unknown
        return self


Segment = tuple[float, float, str]  # [start, end) in one state


def _state(value: object) -> str:
    return str(getattr(value, "value", value))


def segments(transitions: Sequence[TransitionLike], start: float, end: float) -> list[Segment]:
    """The window [start, end) cut into runs of one state (UNKNOWN before the first)."""
    out: list[Segment] = []
    current, t0 = "unknown", start
    for tr in transitions:
        if tr.at <= start:
            current = _state(tr.new)
            continue
        if tr.at >= end:
            break
        if tr.at > t0:
            out.append((t0, tr.at, current))
        current, t0 = _state(tr.new), tr.at
    if end > t0:
        out.append((t0, end, current))
    return out


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals (maintenance windows often overlap)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _overlap(merged: list[Interval], starts: list[float], a: float, b: float) -> float:
    total = 0.0
    i = max(0, bisect.bisect_right(starts, a) - 1)
    while i < len(merged) and merged[i][0] < b:
        lo, hi = max(a, merged[i][0]), min(b, merged[i][1])
        total += max(0.0, hi - lo)
        i += 1
    return total


def tally(segs: Iterable[Segment], maintenance: Sequence[Interval] = (), *,
          exclude_maintenance: bool = True) -> Uptime:
    """Sum segments into an Uptime, taking maintenance intervals out when asked."""
    merged = merge(maintenance) if exclude_maintenance else []
    starts = [m[0] for m in merged]
    result = Uptime()
    for a, b, state in segs:
        length = b - a
        if state == "unknown":
            result.unknown += length
            continue
        planned = _overlap(merged, starts, a, b) if merged else 0.0
        if state == "maintenance" and exclude_maintenance:
            planned = length
        result.maintenance += planned
        if state in UP_STATES:
            result.up += length - planned
        else:  # down, flapping, and maintenance when it is not excluded
            result.down += length - planned
    return result


def uptime(transitions: Sequence[TransitionLike], start: float, end: float, now: float,
           maintenance: Sequence[Interval] = (), *, exclude_maintenance: bool = True) -> Uptime:
    """Uptime of one check over [start, end), never past `now` (the future is not counted)."""
    end = min(end, now)
    if end <= start:
        return Uptime()
    return tally(segments(transitions, start, end), maintenance,
                 exclude_maintenance=exclude_maintenance)


def split(segs: Sequence[Segment], bounds: Sequence[float]) -> list[list[Segment]]:
    """Cut segments at ascending `bounds`: bucket i is [bounds[i], bounds[i+1])."""
    buckets: list[list[Segment]] = [[] for _ in range(max(0, len(bounds) - 1))]
    for a, b, state in segs:
        i = max(0, bisect.bisect_right(bounds, a) - 1)
        while i < len(buckets) and bounds[i] < b:
            lo, hi = max(a, bounds[i]), min(b, bounds[i + 1])
            if hi > lo:
                buckets[i].append((lo, hi, state))
            i += 1
    return buckets


def day_bounds(first: dt.date, days: int, tz: dt.tzinfo) -> list[float]:
    """Unix times of local midnights from `first` for `days` days (days+1 bounds).

    Built from local dates, not by adding 86,400 s, so a day with a DST change is still one
    calendar day in the configured zone.
    """
    return [dt.datetime.combine(first + dt.timedelta(days=i), dt.time(0), tz).timestamp()
            for i in range(days + 1)]


def daily(transitions: Sequence[TransitionLike], first: dt.date, days: int, tz: dt.tzinfo,
          now: float, maintenance: Sequence[Interval] = (), *,
          exclude_maintenance: bool = True) -> list[tuple[dt.date, Uptime]]:
    """One Uptime per local day (the status page's 90-day bar), oldest first."""
    bounds = day_bounds(first, days, tz)
    end = min(bounds[-1], now)
    segs = segments(transitions, bounds[0], end) if end > bounds[0] else []
    merged = merge(maintenance)
    return [(first + dt.timedelta(days=i),
             tally(bucket, merged, exclude_maintenance=exclude_maintenance))
            for i, bucket in enumerate(split(segs, bounds))]


def local_day(ts: float, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(ts, tz).date()
