"""Escalation: who is paged when for one incident, as pure functions of the clock.

`plan()` lays out every page an incident can cause (all rounds of its policy), each step
with a stable key such as "page:1:2" (round 1, step 2). The pager persists the keys it
has sent and asks `due()` what to send now and when to ask again; a restart recomputes the
same plan from the incident's open time, so a step that was due is sent once and only once.
Times are unix timestamps (float seconds), like the rest of Siaga's pure logic.

Paging stops once the incident is acknowledged or resolved; while it stays acknowledged and
down, `due()` yields a reminder every `remind_every` (keys "remind:1", "remind:2", …).
A step whose targets resolve to nobody (no one on duty, no `next`) goes to the admins, so
a page never goes nowhere.

Time is held, not lost: when a step is sent late (paging was held by a silence, a
maintenance window or a restart), the rest of the chain keeps its spacing from that moment
(`done` maps each sent key to when it went out), and overdue steps go one at a time, never
in a bunch. Recipients are resolved when a step is sent, so a step held across a handoff
goes to whoever is on duty then.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo

from monitor.config.schema import did_you_mean
from monitor.paging.oncall.model import NEXT, ON_DUTY, EscalationStep, OnCall, Policy
from monitor.paging.oncall.roster import admins, dedupe, members, next_officer, on_duty

# Resolves a step's targets (officers, groups, on_duty, next) at an instant to officers.
Resolver = Callable[[tuple[str, ...], float], tuple[str, ...]]

# Used when a check names no policy and the file defines no `default`.
BUILTIN_POLICY = Policy(
    "default", (EscalationStep(0.0, (ON_DUTY,)), EscalationStep(900.0, (NEXT,))), 1, 1800.0
)


@dataclass(frozen=True, slots=True)
class Step:
    """One notification of an incident: at `at`, to `recipients` (officer names)."""

    at: float
    round: int
    index: int  # the step in the policy; for a reminder, its number (1, 2, …)
    recipients: tuple[str, ...]  # resolved at `at` (what the plan expects)
    reminder: bool = False
    targets: tuple[str, ...] = ()  # as configured: resolved again when the step is sent
    prefix: str = "page"  # "flap" for a flapping incident's one notice

    @property
    def key(self) -> str:
        """Stable identity to persist once sent: "page:ROUND:INDEX" or "remind:N"."""
        if self.reminder:
            return f"remind:{self.index}"
        return f"{self.prefix}:{self.round}:{self.index}"


@dataclass(frozen=True, slots=True)
class Plan:
    """Every page an incident can cause, in time order."""

    policy: Policy
    opened_at: float
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Due:
    """What to send now and when to ask again.

    Send one message to each of `recipients` (several overdue steps collapse into one
    message a person), then persist every key in `keys`. `next_at` is None when nothing
    more can become due without a change (an acknowledgement, say).
    """

    steps: tuple[Step, ...] = ()
    recipients: tuple[str, ...] = ()
    next_at: float | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys to persist once these steps are sent."""
        return tuple(step.key for step in self.steps)


def policy_for(oncall: OnCall | None, name: str | None) -> Policy:
    """The policy a check uses: its named one, else `default`, else the built-in one."""
    if oncall is None:
        return BUILTIN_POLICY
    if name and name in oncall.escalation:
        return oncall.escalation[name]
    return oncall.escalation.get("default", BUILTIN_POLICY)


def unknown_policy(oncall: OnCall | None, name: str | None) -> str | None:
    """Why a check's `escalation: NAME` is wrong, or None when it is fine (for the loader)."""
    if name is None:
        return None
    if oncall is None:
        return f"escalation policy {name!r} needs an `oncall:` section"
    if name not in oncall.escalation:
        return f"unknown escalation policy {name!r}{did_you_mean(name, oncall.escalation)}"
    return None


def recipients(oncall: OnCall, targets: Iterable[str], at: float, tz: tzinfo) -> tuple[str, ...]:
    """The officers `targets` mean at `at`, each once; the admins when that is nobody."""
    names: list[str | None] = []
    for target in targets:
        if target == ON_DUTY:
            names.append(on_duty(oncall, at, tz).officer)
        elif target == NEXT:
            names.append(next_officer(oncall, at, tz, after=on_duty(oncall, at, tz).officer))
        else:
            names.extend(members(oncall, target))
    return dedupe(names) or admins(oncall)


def roster_resolver(oncall: OnCall, tz: tzinfo) -> Resolver:
    """A Resolver over this on-call section in zone `tz`, for `plan()`."""
    return lambda targets, at: recipients(oncall, targets, at, tz)


def plan(policy: Policy, opened_at: float, resolve: Resolver, prefix: str = "page") -> Plan:
    """Every step of every round, recipients resolved at each step's own time."""
    steps = []
    for round_ in range(policy.repeat):
        begins = opened_at + round_ * policy.repeat_after
        for index, step in enumerate(policy.steps):
            at = begins + step.after
            steps.append(Step(at, round_, index, resolve(step.notify, at), False,
                              step.notify, prefix))
    steps.sort(key=lambda s: (s.at, s.round, s.index))
    return Plan(policy, opened_at, tuple(steps))


def due(
    plan: Plan,
    done: Collection[str],
    now: float,
    *,
    acked_at: float | None = None,
    resolved: bool = False,
    remind_to: Iterable[str] = (),
    resolve: Resolver | None = None,
) -> Due:
    """What is due at `now`, given the keys already sent (`done`; a mapping key → sent at
    lets a late step shift the rest of the chain, see the module docstring).

    Unacknowledged: the earliest unsent step once its (shifted) time has come, with any
    planned for the same moment; recipients resolved now when `resolve` is given.
    Acknowledged and not resolved: the current reminder, to `remind_to` (default: everyone
    paged so far). Resolved: nothing.
    """
    if resolved:
        return Due()
    if acked_at is not None:
        return _reminder(plan, done, now, acked_at, tuple(remind_to))
    pending = [step for step in plan.steps if step.key not in done]
    if not pending:
        return Due()
    shift = _shift(plan, done)
    first = pending[0].at
    if first + shift > now:
        return Due(next_at=first + shift)
    ready = tuple(step for step in pending if step.at == first)
    # Sent now, these set the shift the later steps keep: spacing counts from this moment.
    later = min((step.at - first + now for step in pending if step.at > first), default=None)
    if resolve is None:
        to = dedupe(r for step in ready for r in step.recipients)
    else:
        to = dedupe(r for step in ready for r in resolve(step.targets, now))
    return Due(ready, to, later)


def _shift(plan: Plan, done: Collection[str]) -> float:
    """How late the chain runs: the last step sent, against its planned time."""
    if not isinstance(done, Mapping):
        return 0.0
    sent = [(step.at, done[step.key]) for step in plan.steps
            if not step.reminder and step.key in done]
    if not sent:
        return 0.0
    planned, at = max(sent)
    return max(0.0, float(at) - planned)


def skip_to_next(plan: Plan, done: Collection[str], now: float) -> Due:
    """Bring the next planned step(s) forward to `now`.

    For when a recipient has no working channel: rather than wait, the pager escalates at
    once. Keys stay the same, so once sent the step is not repeated at its planned time.
    """
    pending = [step for step in plan.steps if step.key not in done and step.at > now]
    if not pending:
        return Due()
    first = pending[0].at
    steps = tuple(replace(step, at=now) for step in pending if step.at == first)
    later = min((step.at for step in pending if step.at > first), default=None)
    return Due(steps, dedupe(r for step in steps for r in step.recipients), later)


def everyone_paged(plan: Plan, done: Collection[str]) -> tuple[str, ...]:
    """Everyone the sent steps went to, each once: who hears that it is resolved."""
    return dedupe(r for step in plan.steps if step.key in done for r in step.recipients)


def _reminder(
    plan: Plan, done: Collection[str], now: float, acked_at: float, to: tuple[str, ...]
) -> Due:
    every = plan.policy.remind_every
    if not every:
        return Due()
    number = math.floor((now - acked_at) / every)
    next_at = acked_at + (max(number, 0) + 1) * every
    step = Step(acked_at + number * every, 0, number, to or everyone_paged(plan, done), True)
    if number < 1 or step.key in done:
        return Due(next_at=next_at)
    return Due((step,), step.recipients, next_at)
