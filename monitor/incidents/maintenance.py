"""Maintenance windows: planned time when checks still run but nobody is paged.

A window is one-off (`start` + `duration` or `end`), weekly (`weekly: {days, at}`) or a cron
expression (`cron:`), always in the configured time zone, for named checks, groups or all.
Pure functions of `now`; `ActiveNow` answers "is this check in maintenance?" for thousands
of checks per second by computing the active windows once per instant.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from yaml.nodes import Node

from monitor.config.scalars import Bool, Cron, Duration, Str
from monitor.config.schema import INVALID, Ctx, ListOf, Obj, Scalar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Window:
    note: str = ""
    checks: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    all: bool = False
    start: dt.datetime | None = None  # naive, local to the configured zone
    duration: float = 0.0
    weekly_days: tuple[int, ...] = ()
    weekly_at: dt.time | None = None
    cron: str | None = None

    def applies(self, check: str, group: str) -> bool:
        return self.all or check in self.checks or group in self.groups

    def occurrences(self, lo: float, hi: float, tz: ZoneInfo) -> list[tuple[float, float]]:
        """(start, end) unix intervals of this window that overlap [lo, hi)."""
        starts = list(self._starts(lo - self.duration, hi, tz))
        return [(s, s + self.duration) for s in starts if s < hi and s + self.duration > lo]

    def _starts(self, lo: float, hi: float, tz: ZoneInfo) -> Any:
        if self.start is not None:
            yield self.start.replace(tzinfo=tz).timestamp()
        elif self.cron is not None:
            it = croniter(self.cron, dt.datetime.fromtimestamp(lo, tz))
            for _ in range(10_000):
                moment = it.get_next(float)
                if moment >= hi:
                    break
                yield moment
        elif self.weekly_at is not None:
            day = dt.datetime.fromtimestamp(lo, tz).date()
            last = dt.datetime.fromtimestamp(hi, tz).date()
            while day <= last:
                if day.weekday() in self.weekly_days:
                    yield dt.datetime.combine(day, self.weekly_at).replace(tzinfo=tz).timestamp()
                day += dt.timedelta(days=1)


class LocalTime(Scalar):
    """'YYYY-MM-DD HH:MM[:SS]' in the configured zone → naive datetime."""

    expected = "a local time like '2026-12-01 22:00'"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else value
        for fmt in LOCAL_FORMATS:
            try:
                return dt.datetime.strptime(str(text), fmt)
            except ValueError:
                continue
        return ctx.error(node, path, f"expected {self.expected}, got {value!r}")

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}"})


class ClockTime(Scalar):
    expected = "a time of day like '01:00'"

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        raw = node.value if hasattr(node, "value") else value  # unquoted 1:00 is sexagesimal
        try:
            return dt.datetime.strptime(str(raw), "%H:%M").time()
        except ValueError:
            return ctx.error(node, path, f"expected {self.expected}, got {raw!r}")

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": "string", "pattern": r"^\d{1,2}:\d{2}$"})


def _build(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    kinds = [k for k in ("start", "weekly", "cron") if v.get(k) is not None]
    if len(kinds) != 1:
        return ctx.error(node, path, "give exactly one of start, weekly or cron")
    if not (v["all"] or v["checks"] or v["groups"]):
        return ctx.error(node, path, "name what it covers: checks, groups or all: true")
    duration = v.get("duration")
    if v.get("end") is not None:
        if v.get("start") is None or duration is not None:
            return ctx.error(node, f"{path}.end", "end goes with start, instead of duration")
        duration = (v["end"] - v["start"]).total_seconds()
        if duration <= 0:
            return ctx.error(node, f"{path}.end", "end must be after start")
    if not duration:
        return ctx.error(node, path, "needs a duration (or, with start, an end)")
    if v.get("cron") is not None and duration > MAX_REPEATS * _cron_gap(v["cron"]):
        # Occurrences are found by walking the cron from `now - duration` (at most 10,000
        # steps); a window spanning more repeats than that would be missed, and slow.
        ctx.error_at(f"{path}.duration", f"lasts longer than {MAX_REPEATS} of its cron "
                     "repeats; use a rarer cron or one window with start and end")
        return INVALID
    weekly = v.get("weekly") or {}
    return Window(note=v["note"], checks=tuple(v["checks"]), groups=tuple(v["groups"]),
                  all=v["all"], start=v.get("start"), duration=duration,
                  weekly_days=tuple(DAYS.index(d) for d in weekly.get("days", ())),
                  weekly_at=weekly.get("at"), cron=v.get("cron"))


MAX_REPEATS = 1000


def _cron_gap(expr: str) -> float:
    """The shortest time between the next few fire times (the schema checked they exist)."""
    it = croniter(expr, dt.datetime.now(dt.UTC))
    times = [it.get_next(float) for _ in range(5)]
    return float(min(b - a for a, b in itertools.pairwise(times)))


class Day(Str):
    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is INVALID:
            return INVALID
        if str(text).lower()[:3] not in DAYS:
            return ctx.error(node, path, f"expected a weekday ({', '.join(DAYS)}), got {text!r}")
        return str(text).lower()[:3]


WINDOW = Obj(
    {
        "note": Str("What happens, shown on the status page", default=""),
        "checks": ListOf(Str(), "Checks covered", default=[], single_ok=True),
        "groups": ListOf(Str(), "Groups covered", default=[], single_ok=True),
        "all": Bool("Covers every check", default=False),
        "start": LocalTime("One-off start, in the configured time zone"),
        "end": LocalTime("One-off end (instead of duration)"),
        "duration": Duration("How long each occurrence lasts", min=60),
        "weekly": Obj({"days": ListOf(Day(), min_items=1, single_ok=True),
                       "at": ClockTime()}, "Every week on these days at this time",
                      required=["days", "at"]),
        "cron": Cron("Cron expression for the start of each occurrence"),
    },
    "A maintenance window",
    build=_build,
)
MAINTENANCE = ListOf(WINDOW, "Planned maintenance windows: no pages, state MAINTENANCE",
                     default=[])


def cross_check(windows: Any, checks: list[Any], ctx: Ctx) -> None:
    """Windows must name checks and groups that exist."""
    if not isinstance(windows, list):
        return
    names = {c.name for _, c in checks}
    groups = {c.group for _, c in checks}
    for i, w in enumerate(windows):
        if not isinstance(w, Window):
            continue
        for j, name in enumerate(w.checks):
            if name not in names:
                ctx.error_at(f"maintenance[{i}].checks[{j}]", f"{name!r} is no check")
        for j, group in enumerate(w.groups):
            if group not in groups:
                ctx.error_at(f"maintenance[{i}].groups[{j}]", f"{group!r} is no group")


class ActiveNow:
    """The windows active at one instant, indexed for fast per-check questions."""

    def __init__(self, windows: list[Window], now: float, tz: ZoneInfo) -> None:
        self.at = now
        self.broken: dict[int, str] = {}  # index → why its schedule cannot be computed
        self.windows = []
        for i, w in enumerate(windows):
            # One window whose schedule fails must not stop paging for every check: it is
            # treated as inactive (pages flow) and reported as broken.
            try:
                if w.occurrences(now, now + 1e-6, tz):
                    self.windows.append(w)
            except Exception as exc:
                self.broken[i] = f"schedule cannot be computed ({type(exc).__name__}: {exc})"
        self.all = any(w.all for w in self.windows)
        self.checks = {c for w in self.windows for c in w.checks}
        self.groups = {g for w in self.windows for g in w.groups}

    def covers(self, check: str, group: str) -> bool:
        return self.all or check in self.checks or group in self.groups


def safe_occurrences(w: Window, lo: float, hi: float, tz: ZoneInfo) -> list[tuple[float, float]]:
    """A broken window (reported by ActiveNow) contributes no time to uptime or listings."""
    try:
        return w.occurrences(lo, hi, tz)
    except Exception:
        return []


def intervals(windows: list[Window], check: str, group: str, lo: float, hi: float,
              tz: ZoneInfo) -> list[tuple[float, float]]:
    """Merged maintenance intervals of one check within [lo, hi) (for uptime)."""
    spans = sorted(span for w in windows if w.applies(check, group)
                   for span in safe_occurrences(w, lo, hi, tz))
    merged: list[tuple[float, float]] = []
    for s, e in spans:
        s, e = max(s, lo), min(e, hi)
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def upcoming(windows: list[Window], now: float, days: float,
             tz: ZoneInfo) -> list[tuple[Window, float, float]]:
    """Current and upcoming occurrences within `days`, in time order."""
    found = [(w, s, e) for w in windows
             for s, e in safe_occurrences(w, now, now + days * 86400, tz)]
    return sorted(found, key=lambda item: item[1])


def windows(config: Any, check_name: str, start: float, end: float) -> list[tuple[float, float]]:
    """Maintenance intervals of a check in [start, end), from a Config."""
    check = config.check(check_name)
    group = check.group if check else ""
    return intervals(config.sections.get("maintenance") or [], check_name, group, start, end,
                     config.settings.tz)
