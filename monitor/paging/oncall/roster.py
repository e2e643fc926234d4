"""Who is on duty: rotation layers, their restrictions and overrides, in the local time zone.

Instants are unix timestamps (float seconds), like the rest of Siaga's pure logic
(`Transition.at`); `tz` is the zone of `siaga.timezone`. The rules:

- Shifts start at `start` + `handoff` and last `every`; officers take turns in list order.
  Shifts of whole days (1d, 7d, 1w) follow the local calendar, so the handoff stays at
  08:00 on the wall clock across a DST change (that shift lasts 23 or 25 hours). Other
  lengths (12h, 36h) are fixed elapsed time from the first handoff, so across a change their
  handoffs move by an hour on the wall clock: the simple rule for a rare setup.
- Before its first shift a rotation has no one.
- A rotation's duty day starts at its handoff: with handoff 08:00, `days: [sat, sun]` covers
  Saturday 08:00 to Monday 08:00. `hours` is read on the wall clock.
- The last rotation in the list that has someone at a moment wins; an override (the last
  matching one in the list) beats every rotation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise

from monitor.paging.oncall.model import DAY, OnCall, Override, Rotation


@dataclass(frozen=True, slots=True)
class Duty:
    """Who is on duty at one moment, and why.

    `start`/`end` bound the span around that moment in which this officer stays on duty
    for the same reason (a higher layer or an override may cut a shift short); they are
    None when nobody is on duty.
    """

    officer: str | None
    rotation: str | None = None  # the layer that decided; None under an override
    override: bool = False
    reason: str = ""  # the override's reason
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Shift:
    """One row of the schedule: from `start` to `end` the same answer (None: nobody)."""

    start: float
    end: float
    officer: str | None
    rotation: str | None = None
    override: bool = False
    reason: str = ""


def on_duty(oncall: OnCall, at: float, tz: tzinfo) -> Duty:
    """Who is on duty at `at`: an override, else the highest rotation with someone."""
    found = _decide(oncall, at, tz)
    override = _override_at(oncall, at, tz)
    layer = _layer_at(oncall, at, tz)
    if override is not None:
        # Under an override only other overrides change the answer: its rotations' handoffs
        # are not looked at (an override for years would mean thousands of them per page).
        lo, hi = _instant(override.start, tz), _instant(override.end, tz)
        spans = _segments(oncall, lo, hi, tz, overrides_only=True)
    elif layer is not None:
        lo, hi = layer[2], layer[3]
        spans = _segments(oncall, lo, hi, tz)
    else:
        return Duty(None)
    span = next(s for s in spans if s.start <= at < s.end)
    return Duty(found.officer, found.rotation, found.override, found.reason, span.start,
                span.end)


def next_officer(oncall: OnCall, at: float, tz: tzinfo, after: str | None) -> str | None:
    """The officer after `after` in the rotation that wins at `at` (overrides aside).

    When `after` is not in that rotation (an override, say), it is the rotation's own
    officer on duty. None when there is no rotation or no one else in it.
    """
    layer = _layer_at(oncall, at, tz)
    if layer is None:
        return None
    rotation, index, _, _ = layer
    officers, size = rotation.officers, len(rotation.officers)
    here = index % size
    if after not in officers:
        here -= 1  # so the first candidate is the rotation's officer on duty
    elif officers[here] != after:
        here = officers.index(after)
    for step in range(1, size + 1):
        candidate = officers[(here + step) % size]
        if candidate != after:
            return candidate
    return None


def schedule(oncall: OnCall, start: float, days: int, tz: tzinfo) -> list[Shift]:
    """Who is on duty from `start` for `days` local calendar days, as merged spans."""
    end = _instant(_local(start, tz) + timedelta(days=days), tz)
    return _segments(oncall, start, end, tz)


def members(oncall: OnCall, name: str) -> tuple[str, ...]:
    """The officers a name stands for: a group's members, or the officer itself."""
    if name in oncall.groups:
        return oncall.groups[name]
    return (name,) if name in oncall.officers else ()


def admins(oncall: OnCall) -> tuple[str, ...]:
    """Who hears about Siaga's own health: `admins`, else the first rotation, else all."""
    if oncall.admins:
        names: Iterable[str] = oncall.admins
    elif oncall.rotations:
        names = oncall.rotations[0].officers
    else:
        names = oncall.officers
    return dedupe(m for name in names for m in members(oncall, name))


def in_contact_hours(oncall: OnCall, officer: str, at: float, tz: tzinfo) -> bool:
    """Whether non-urgent messages may reach `officer` now (pages ignore contact hours)."""
    return contact_opens(oncall, officer, at, tz) is None


def contact_opens(oncall: OnCall, officer: str, at: float, tz: tzinfo) -> float | None:
    """When `officer`'s contact hours next begin, read on the local clock; None while they
    are on (or the officer has none). A window that crosses midnight, like 22:00-06:00,
    opens at 22:00; one that begins in a DST gap opens as if the clock had not moved."""
    person = oncall.officers.get(officer)
    hours = person.contact_hours if person is not None else None
    local = _local(at, tz)
    if hours is None or hours.contains(local.time()):
        return None
    day = local.date()
    while (opens := _instant(datetime.combine(day, hours.start), tz)) <= at:
        day += timedelta(days=1)
    return opens


def dedupe(names: Iterable[str | None]) -> tuple[str, ...]:
    """Names in first-seen order, each once, without None."""
    return tuple(dict.fromkeys(n for n in names if n))


# --- the layers ----------------------------------------------------------------------


def _local(at: float, tz: tzinfo) -> datetime:
    """The naive wall-clock time at instant `at`."""
    return datetime.fromtimestamp(at, tz).replace(tzinfo=None)


def _instant(local: datetime, tz: tzinfo) -> float:
    """The instant of a naive wall-clock time (in a DST gap: as if the clock had not moved)."""
    return local.replace(tzinfo=tz).timestamp()


def _first(rotation: Rotation) -> datetime:
    return datetime.combine(rotation.start, rotation.handoff)


def _shift(rotation: Rotation, at: float, tz: tzinfo) -> tuple[int, float, float] | None:
    """(index, start, end) of the rotation's shift at `at`; None before its first shift."""
    first = _first(rotation)
    if rotation.every % DAY == 0:
        step = timedelta(days=rotation.every // DAY)
        index = (_local(at, tz) - first) // step
        # In the repeated hour of a DST fold wall time runs backwards: settle on instants.
        while _instant(first + index * step, tz) > at:
            index -= 1
        while _instant(first + (index + 1) * step, tz) <= at:
            index += 1
        start, end = _instant(first + index * step, tz), _instant(first + (index + 1) * step, tz)
    else:
        origin = _instant(first, tz)
        index = math.floor((at - origin) / rotation.every)
        start = origin + index * rotation.every
        end = start + rotation.every
    return None if index < 0 else (index, start, end)


def _allowed(rotation: Rotation, at: float, tz: tzinfo) -> bool:
    """Whether `at` lies inside the rotation's `days` and `hours` restrictions."""
    if not rotation.days and rotation.hours is None:
        return True
    local = _local(at, tz)
    if rotation.hours is not None and not rotation.hours.contains(local.time()):
        return False
    handoff = timedelta(hours=rotation.handoff.hour, minutes=rotation.handoff.minute)
    duty_day = local - handoff
    return (not rotation.days or duty_day.weekday() in rotation.days
            or duty_day.date() in rotation.holidays)


def _layer_at(
    oncall: OnCall, at: float, tz: tzinfo
) -> tuple[Rotation, int, float, float] | None:
    """The winning rotation at `at` with its shift (index, start, end), overrides aside."""
    for rotation in reversed(oncall.rotations):
        shift = _shift(rotation, at, tz)
        if shift is not None and _allowed(rotation, at, tz):
            return (rotation, *shift)
    return None


def _override_at(oncall: OnCall, at: float, tz: tzinfo) -> Override | None:
    for override in reversed(oncall.overrides):
        if _instant(override.start, tz) <= at < _instant(override.end, tz):
            return override
    return None


def _decide(oncall: OnCall, at: float, tz: tzinfo) -> Shift:
    """The answer at `at`, as a zero-length Shift (start = end = at)."""
    override = _override_at(oncall, at, tz)
    if override is not None:
        return Shift(at, at, override.officer, None, True, override.reason)
    layer = _layer_at(oncall, at, tz)
    if layer is None:
        return Shift(at, at, None)
    rotation, index, _, _ = layer
    return Shift(at, at, rotation.officers[index % len(rotation.officers)], rotation.name)


# --- spans ---------------------------------------------------------------------------


def _segments(oncall: OnCall, lo: float, hi: float, tz: tzinfo, *,
              overrides_only: bool = False) -> list[Shift]:
    """The answers between `lo` and `hi`, consecutive equal ones merged (`overrides_only`:
    an override covers the whole span, so only overrides' edges can change the answer)."""
    out: list[Shift] = []
    for start, end in pairwise([lo, *_changes(oncall, lo, hi, tz, overrides_only), hi]):
        answer = replace(_decide(oncall, start, tz), end=end)
        if out and _same(out[-1], answer):
            out[-1] = replace(out[-1], end=end)
        else:
            out.append(answer)
    return out


def _same(a: Shift, b: Shift) -> bool:
    return (a.officer, a.rotation, a.override, a.reason) == (b.officer, b.rotation, b.override,
                                                              b.reason)


def _changes(oncall: OnCall, lo: float, hi: float, tz: tzinfo,
             overrides_only: bool = False) -> list[float]:
    """Every instant strictly between `lo` and `hi` at which the answer may change."""
    points: set[float] = set()
    for rotation in () if overrides_only else oncall.rotations:
        points.update(_handoffs(rotation, lo, hi, tz))
        points.update(_restriction_edges(rotation, lo, hi, tz))
    for override in oncall.overrides:
        points.update((_instant(override.start, tz), _instant(override.end, tz)))
    return sorted(p for p in points if lo < p < hi)


def _handoffs(rotation: Rotation, lo: float, hi: float, tz: tzinfo) -> Iterator[float]:
    first = _instant(_first(rotation), tz)
    yield first
    shift = _shift(rotation, max(lo, first), tz)
    while shift is not None and shift[2] < hi:
        yield shift[2]
        shift = _shift(rotation, shift[2], tz)


def _restriction_edges(rotation: Rotation, lo: float, hi: float, tz: tzinfo) -> Iterator[float]:
    clocks = [rotation.handoff] if rotation.days else []
    if rotation.hours is not None:
        clocks += [rotation.hours.start, rotation.hours.end]
    if not clocks:
        return
    day: date = _local(lo, tz).date() - timedelta(days=1)
    while day <= _local(hi, tz).date() + timedelta(days=1):
        yield from (_instant(datetime.combine(day, clock), tz) for clock in clocks)
        day += timedelta(days=1)
