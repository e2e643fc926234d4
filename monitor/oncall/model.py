"""The `oncall:` section of checks.yaml: officers, groups, rotations, overrides and
escalation policies as frozen values, and the schema that validates and builds them.

Times here are local wall-clock times in `siaga.timezone`, stored naive: the loader builds
sections before it knows the zone, so `monitor.oncall.roster` applies the zone later.
Times are read from the raw YAML text, so an unquoted `8:00` is not YAML 1.1's number 480.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from monitor.config.schema import (
    INVALID,
    Ctx,
    Duration,
    Enum,
    Field,
    Int,
    ListOf,
    MapOf,
    Obj,
    Scalar,
    Str,
    describe,
    did_you_mean,
)

ON_DUTY, NEXT = "on_duty", "next"  # escalation targets that the roster resolves
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 86400.0
DEFAULT_START = date(2024, 1, 1)  # a Monday: shifts of a rotation without `start` count from it
NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,62}"
NAME_HINT = "lowercase letters, digits, '_' or '-', like 'budi'"
APPRISE_URL = r"[A-Za-z][A-Za-z0-9+.-]*://\S+"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A daily window like 07:00-22:00; it wraps past midnight when end < start."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """True when the wall-clock time `moment` lies in [start, end)."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True)
class Officer:
    """A person who can be paged. `notify` holds apprise URLs, the primary channel first."""

    id: str
    name: str
    notify: tuple[str, ...] = field(repr=False)  # URLs carry secrets: never in a repr
    language: str | None = None  # None: the instance's `siaga.language`
    contact_hours: TimeRange | None = None  # for non-urgent messages; pages ignore it


@dataclass(frozen=True, slots=True)
class Rotation:
    """One layer: officers take turns in shifts of `every` seconds from `start` + `handoff`.

    `days` (weekday numbers, Monday 0) and `hours` restrict when the layer has anyone.
    """

    name: str
    officers: tuple[str, ...]
    every: float = DAY
    handoff: time = time(8, 0)
    start: date = DEFAULT_START
    days: frozenset[int] = frozenset()  # empty: every day
    hours: TimeRange | None = None


@dataclass(frozen=True, slots=True)
class Override:
    """`officer` is on duty from `start` to `end` (naive local times), above every layer."""

    officer: str
    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Notify `notify` (officers, groups, `on_duty` or `next`) `after` seconds into a round."""

    after: float
    notify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """Steps run in rounds; round r starts `r * repeat_after` after the incident opened."""

    name: str
    steps: tuple[EscalationStep, ...]
    repeat: int = 1  # rounds in total
    repeat_after: float = 1800.0
    remind_every: float | None = None  # while acknowledged and still down


# Used when a check names no policy and the file defines no `default`.
BUILTIN_POLICY = Policy(
    "default", (EscalationStep(0.0, (ON_DUTY,)), EscalationStep(900.0, (NEXT,))), 1, 1800.0
)


@dataclass(frozen=True, slots=True)
class OnCall:
    """The whole `oncall:` section."""

    officers: Mapping[str, Officer]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    admins: tuple[str, ...] = ()  # as configured; roster.admins() applies the default
    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()
    escalation: Mapping[str, Policy] = field(default_factory=dict)

    def policy(self, name: str | None = None) -> Policy:
        """The named policy, else `default`, else the built-in one."""
        if name and name in self.escalation:
            return self.escalation[name]
        return self.escalation.get("default", BUILTIN_POLICY)

    def members(self, name: str) -> tuple[str, ...]:
        """The officers a name stands for: a group's members or the officer itself."""
        return self.groups.get(name, (name,) if name in self.officers else ())


# --- schema fields --------------------------------------------------------------------

class _Text(Scalar):
    """A scalar parsed from its raw text; its place is the value's, for later errors."""

    pattern = ""

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, ScalarNode):
            return ctx.error(node, path, f"expected {self.expected}, got {describe(node)}")
        ctx.places[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        value = self.parse(str(node.value).strip())
        if value is None:
            return ctx.error(node, path, f"expected {self.expected}, got {node.value!r}")
        return value

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        return self._doc({"type": "string", "pattern": f"^{self.pattern}$"})


def _clock(text: str) -> time | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))


class Clock(_Text):
    expected = 'a time of day "HH:MM" like "08:00"'
    pattern = r"\d{1,2}:\d{2}"

    def parse(self, text: str) -> time | None:
        return _clock(text)


class Hours(_Text):
    expected = 'a daily window "HH:MM-HH:MM" like "07:00-22:00"'
    pattern = r"\d{1,2}:\d{2}-\d{1,2}:\d{2}"

    def parse(self, text: str) -> TimeRange | None:
        start, _, end = text.partition("-")
        first, last = _clock(start.strip()), _clock(end.strip())
        if first is None or last is None or first == last:
            return None
        return TimeRange(first, last)


class Day(_Text):
    expected = 'a date "YYYY-MM-DD"'
    pattern = r"\d{4}-\d{2}-\d{2}"

    def parse(self, text: str) -> date | None:
        try:
            return date.fromisoformat(text) if re.fullmatch(self.pattern, text) else None
        except ValueError:
            return None


class LocalTime(_Text):
    expected = 'a local time "YYYY-MM-DD HH:MM" like "2026-12-24 08:00"'
    pattern = r"\d{4}-\d{2}-\d{2}( \d{1,2}:\d{2})?"

    def parse(self, text: str) -> datetime | None:
        day, _, clock = text.partition(" ")
        when = Day().parse(day)
        at = _clock(clock.strip()) if clock.strip() else time(0, 0)
        return datetime.combine(when, at) if when and at is not None else None


class Weekday(_Text):
    expected = "a weekday: " + ", ".join(WEEKDAYS)
    pattern = "(" + "|".join(WEEKDAYS) + ")"

    def parse(self, text: str) -> int | None:
        short = text.lower()[:3]
        return WEEKDAYS.index(short) if short in WEEKDAYS and len(text) >= 3 else None


class Ref(Str):
    """A name of an officer, group or escalation target; existence is checked later."""

    def __init__(self, description: str = "") -> None:
        super().__init__(description, pattern=NAME_PATTERN, hint=NAME_HINT, env=False)

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        ctx.places[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        return super().check(node, path, ctx)


OFFICER = Obj({
    "name": Str("Full name shown in messages", default=None),
    "notify": ListOf(Str(pattern=APPRISE_URL, hint='an apprise URL like "tgram://BOT/CHAT"'),
                     "Apprise URLs, primary channel first", min_items=1, single_ok=True),
    "language": Enum(["id", "en"], "Language of this officer's messages", default=None),
    "contact_hours": Hours("When non-urgent messages may reach this officer", default=None),
}, "An officer", required=["notify"], partial=True)

ROTATION = Obj({
    "name": Ref("Name of this layer"),
    "every": Duration("Length of a shift (whole days follow the local calendar)",
                      default=DAY, min=60),
    "handoff": Clock("Local time a shift starts", default=time(8, 0)),
    "start": Day("Date of the first shift", default=DEFAULT_START),
    "officers": ListOf(Ref(), "Officers in turn", min_items=1),
    "days": ListOf(Weekday(), "Only on these duty days (a day starts at the handoff)",
                   default=[], single_ok=True),
    "hours": Hours("Only within this daily window", default=None),
}, "A rotation layer; a later layer wins where it has someone", required=["name", "officers"],
    partial=True)

OVERRIDE = Obj({
    "officer": Ref("Who is on duty instead"),
    "from": LocalTime("Local start"),
    "to": LocalTime("Local end"),
    "reason": Str("Why", default=""),
}, "Someone on duty instead of the rotations", required=["officer", "from", "to"], partial=True)

STEP = Obj({
    "after": Duration("Time from the start of the round", default=0.0, min=0),
    "notify": ListOf(Ref(), "on_duty, next, officers or groups", min_items=1, single_ok=True),
}, "One escalation step", required=["notify"], partial=True)

POLICY = Obj({
    "steps": ListOf(STEP, "Steps in time order", min_items=1),
    "repeat": Int("Rounds in total", default=1, min=1, max=100),
    "repeat_after": Duration("Time between round starts (default: last step + its gap)",
                             default=None, min=60),
    "remind_every": Duration("Reminder while acknowledged and still down", default=None,
                             min=60),
}, "An escalation policy", required=["steps"], partial=True)


class Policies(MapOf):
    """Escalation policies by name; a bare list of steps is the `default` policy."""

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if isinstance(node, SequenceNode):
            return {"default": {"steps": ListOf(STEP, min_items=1).check(node, path, ctx),
                                "repeat": 1, "repeat_after": None, "remind_every": None,
                                "__steps": path}}
        return super().check(node, path, ctx)

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [super().json_schema(), {"type": "array", "items": STEP.json_schema()}]}
