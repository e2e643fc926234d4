"""The `oncall:` section of checks.yaml: officers, groups, rotations, overrides and
escalation policies as frozen values, and the schema that validates and builds them.

Times here are local wall-clock times in `siaga.timezone`, stored naive: the loader builds
sections before it knows the zone, so `monitor.paging.oncall.roster` applies the zone later.
Times are read from the raw YAML text, so an unquoted `8:00` is not YAML 1.1's number 480.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from monitor.config.scalars import Duration, Enum, Int, Str
from monitor.config.schema import (
    INVALID,
    Ctx,
    ListOf,
    MapOf,
    Obj,
    Scalar,
    describe,
    did_you_mean,
    scalar_value,
)

ON_DUTY, NEXT = "on_duty", "next"  # escalation targets that the roster resolves
HOLIDAY = 7  # in Rotation.days: national holidays and the agency's own days off
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY = 86400.0
DEFAULT_START = date(2024, 1, 1)  # a Monday: shifts of a rotation without `start` count from it
DEFAULT_ROUND_GAP = 1800.0  # a one-step policy repeats after 30 minutes
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
    """A layer: `officers` take turns in shifts of `every` seconds from `start` + `handoff`;
    `days` (weekday numbers, Monday 0) and `hours` restrict when the layer has anyone."""

    name: str
    officers: tuple[str, ...]
    every: float = DAY
    handoff: time = time(8, 0)
    start: date = DEFAULT_START
    days: frozenset[int] = frozenset()  # empty: every day; HOLIDAY: on `holidays` too
    hours: TimeRange | None = None
    holidays: frozenset[date] = frozenset()  # set when `days` holds HOLIDAY


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


@dataclass(frozen=True, slots=True)
class OnCall:
    """The whole `oncall:` section."""

    officers: Mapping[str, Officer]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    admins: tuple[str, ...] = ()  # as configured; roster.admins() applies the default
    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()
    escalation: Mapping[str, Policy] = field(default_factory=dict)
    holidays: Mapping[date, str] = field(default_factory=dict)  # national + the agency's own


class _Text(Scalar):
    """A scalar parsed from its raw text; its place is the value's, for later errors."""

    pattern = ""
    shown = ""  # the default as written in YAML, for JSON Schema

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        if not isinstance(node, ScalarNode):
            return ctx.error(node, path, f"expected {self.expected}, got {describe(node)}")
        ctx.places[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        value = self.parse(str(node.value).strip())
        if value is None:  # `~` or `null` is "nothing", as for every other field
            got = describe(node) if scalar_value(node) is None else repr(node.value)
            return ctx.error(node, path, f"expected {self.expected}, got {got}")
        return value

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        schema = {"type": "string", "pattern": f"^{self.pattern}$"}
        if self.description:
            schema["description"] = self.description
        return schema | ({"default": self.shown} if self.shown else {})


def _clock(text: str) -> time | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))


class Clock(_Text):
    expected, pattern, shown = 'a time of day "HH:MM" like "08:00"', r"\d{1,2}:\d{2}", "08:00"

    def parse(self, text: str) -> time | None:
        return _clock(text)


class Hours(_Text):
    expected, pattern = 'a daily window "HH:MM-HH:MM" like "07:00-22:00"', r"[\d:]+-[\d:]+"

    def parse(self, text: str) -> TimeRange | None:
        first, last = (_clock(part.strip()) for part in (*text.split("-", 1), "")[:2])
        return TimeRange(first, last) if first and last and first != last else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


class Day(_Text):
    expected, pattern, shown = 'a date "YYYY-MM-DD"', r"\d{4}-\d{2}-\d{2}", "2024-01-01"

    def parse(self, text: str) -> date | None:
        return _day(text)


class LocalTime(_Text):
    expected = 'a local time "YYYY-MM-DD HH:MM" like "2026-12-24 08:00"'
    pattern = r"\d{4}-\d{2}-\d{2}( \d{1,2}:\d{2})?"

    def parse(self, text: str) -> datetime | None:
        day, _, clock = text.partition(" ")
        when, at = _day(day), _clock(clock.strip()) if clock.strip() else time(0, 0)
        return datetime.combine(when, at) if when and at is not None else None


class Weekday(_Text):
    expected, pattern = ("a weekday: " + ", ".join(WEEKDAYS) + " or holiday",
                         "[A-Za-z]{3,9}")

    def parse(self, text: str) -> int | None:
        day = text.lower()
        if day in ("holiday", "libur"):
            return HOLIDAY
        return WEEKDAYS.index(day[:3]) if day in (*WEEKDAYS, *_DAY_NAMES) else None


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
    "contact_hours": Hours("When messages that are not urgent may reach this officer (local "
                           "time; pages go at any hour)", default=None),
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


class Section(Obj):
    """The `oncall:` section: each field checked, then references cross-checked, then built."""

    def check(self, node: Node, path: str, ctx: Ctx) -> Any:
        before = len(ctx.problems)
        values = super().check(node, path, ctx)
        if values is INVALID:
            return INVALID
        _cross_check(values, path, ctx)
        return INVALID if len(ctx.problems) > before else _build(values)


ONCALL = Section({
    "officers": MapOf(OFFICER, "Officers by short name", key_pattern=NAME_PATTERN,
                      key_hint=NAME_HINT),
    "groups": MapOf(ListOf(Ref(), min_items=1), "Named groups of officers", default={},
                    key_pattern=NAME_PATTERN, key_hint=NAME_HINT),
    "admins": ListOf(Ref(), "Who hears about Siaga's own health (default: the first "
                     "rotation's officers)", default=[], single_ok=True),
    "rotations": ListOf(ROTATION, "Layers; a later layer wins", default=[]),
    "overrides": ListOf(OVERRIDE, "Overrides; they beat every layer", default=[]),
    "escalation": Policies(POLICY, "Escalation policies by name ('default' when a check "
                           "names none)", default={}, key_pattern=NAME_PATTERN,
                           key_hint=NAME_HINT),
    "holidays": ListOf(Obj({"date": Day("The day"), "name": Str("What it is", default="")},
                           "A day off", required=["date"]),
                       "The agency's own days off and the year's cuti bersama, besides "
                       "Indonesia's national holidays (for `days: [holiday]`)", default=[]),
}, "On-call: officers, rotations, overrides and escalation", required=["officers"],
    partial=True)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterable[tuple[int, dict[str, Any]]]:
    items = value if isinstance(value, list) else ()  # INVALID after a reported problem
    return [(i, v) for i, v in enumerate(items) if isinstance(v, dict)]


@dataclass(frozen=True, slots=True)
class _Refs:
    """Checks names against the officers and groups the section defines."""

    ctx: Ctx
    officers: frozenset[str]
    groups: frozenset[str]

    def check(self, names: Any, path: str, *, groups: bool = False, targets: bool = False) -> None:
        """Report each name in `names` (a list, or one name at `path`) that means nothing."""
        known = self.officers | (self.groups if groups else set())
        known |= {ON_DUTY, NEXT} if targets else set()
        for i, name in enumerate(names if isinstance(names, list) else [names]):
            item = f"{path}[{i}]"  # a single scalar (single_ok) is placed at `path` itself
            where = item if item in self.ctx.places else path
            if not isinstance(name, str) or name in known:
                continue
            if name in self.groups:
                self.ctx.error_at(where, f"{name!r} is a group; list officers here")
                continue
            what = "officer or group" if groups else "officer"
            self.ctx.error_at(where, f"unknown {what} {name!r}{did_you_mean(name, known)}")


def _cross_check(values: dict[str, Any], path: str, ctx: Ctx) -> None:
    officers, groups = _dict(values.get("officers")), _dict(values.get("groups"))
    refs = _Refs(ctx, frozenset(officers), frozenset(groups))
    for name in officers:
        if name in (ON_DUTY, NEXT):
            ctx.error_at(f"{path}.officers.{name}", f"{name!r} is reserved for escalation steps")
    for name, members in groups.items():
        if name in officers or name in (ON_DUTY, NEXT):
            ctx.error_at(f"{path}.groups.{name}", f"group name {name!r} is taken")
        refs.check(members, f"{path}.groups.{name}")
    refs.check(values.get("admins"), f"{path}.admins", groups=True)
    seen: dict[str, int] = {}
    for i, rotation in _items(values.get("rotations")):
        where = f"{path}.rotations[{i}]"
        refs.check(rotation.get("officers"), f"{where}.officers")
        name = str(rotation.get("name"))
        if name in seen:
            ctx.error_at(f"{where}.name", f"duplicate name, first in rotations[{seen[name]}]")
        seen.setdefault(name, i)
    for i, item in _items(values.get("overrides")):
        where = f"{path}.overrides[{i}]"
        refs.check(item.get("officer"), f"{where}.officer")
        start, end = item.get("from"), item.get("to")
        if isinstance(start, datetime) and isinstance(end, datetime) and start >= end:
            ctx.error_at(f"{where}.to", f"must be after `from` ({start:%Y-%m-%d %H:%M})")
    for name, policy in _dict(values.get("escalation")).items():
        if isinstance(policy, dict):
            _check_policy(policy, f"{path}.escalation.{name}", refs, ctx)


def _check_policy(policy: dict[str, Any], path: str, refs: _Refs, ctx: Ctx) -> None:
    steps_path = policy.get("__steps", f"{path}.steps")
    latest = 0.0
    for i, step in _items(policy.get("steps")):
        where = f"{steps_path}[{i}]"
        refs.check(step.get("notify"), f"{where}.notify", groups=True, targets=True)
        after = step.get("after")
        if isinstance(after, float) and after < latest:
            ctx.error_at(f"{where}.after" if f"{where}.after" in ctx.places else where,
                         "steps must be in time order (`after` counts from the round's start)")
        latest = max(latest, after) if isinstance(after, float) else latest
    repeat_after = policy.get("repeat_after")
    if isinstance(repeat_after, float) and repeat_after <= latest:
        ctx.error_at(f"{path}.repeat_after", "must be longer than the last step's `after`")


def _build(values: dict[str, Any]) -> OnCall:
    officers = {key: Officer(key, v["name"] or key, tuple(v["notify"]), v["language"],
                             v["contact_hours"]) for key, v in values["officers"].items()}
    rotations = tuple(Rotation(r["name"], tuple(r["officers"]), r["every"], r["handoff"],
                               r["start"], frozenset(r["days"]), r["hours"])
                      for r in values["rotations"])
    overrides = tuple(Override(o["officer"], o["from"], o["to"], o["reason"])
                      for o in values["overrides"])
    policies = {name: _policy(name, p) for name, p in values["escalation"].items()}
    groups = {name: tuple(members) for name, members in values["groups"].items()}
    days_off = holidays(values["holidays"])
    rotations = tuple(replace(r, holidays=frozenset(days_off)) if HOLIDAY in r.days else r
                      for r in rotations)
    return OnCall(officers, groups, tuple(values["admins"]), rotations, overrides, policies,
                  days_off)


def holidays(own: list[dict[str, Any]], today: date | None = None) -> dict[date, str]:
    """Indonesia's national holidays (the `holidays` package, last year to three years on:
    a reload renews the span) and the agency's own days, which win on the same date."""
    import holidays as national

    year = (today or date.today()).year
    days: dict[date, str] = dict(national.country_holidays(
        "ID", years=range(year - 1, year + 4), language="id").items())
    days.update({item["date"]: item["name"] or "libur" for item in own})
    return days


def _policy(name: str, values: dict[str, Any]) -> Policy:
    steps = tuple(EscalationStep(s["after"], tuple(s["notify"])) for s in values["steps"])
    last = steps[-1].after
    earlier = [s.after for s in steps if s.after < last]
    # Without `repeat_after` the next round starts one more "last gap" after the last step.
    gap = last - max(earlier) if earlier else DEFAULT_ROUND_GAP
    repeat_after = values["repeat_after"] or last + gap
    return Policy(name, steps, values["repeat"], repeat_after, values["remind_every"])
