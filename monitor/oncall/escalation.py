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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import tzinfo

from monitor.config.schema import did_you_mean
from monitor.oncall.model import NEXT, ON_DUTY, EscalationStep, OnCall, Policy
from monitor.oncall.roster import admins, dedupe, members, next_officer, on_duty

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
    recipients: tuple[str, ...]
    reminder: bool = False

    @property
    def key(self) -> str:
        """Stable identity to persist once sent: "page:ROUND:INDEX" or "remind:N"."""
        return f"remind:{self.index}" if self.reminder else f"page:{self.round}:{self.index}"


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


def plan(policy: Policy, opened_at: float, resolve: Resolver) -> Plan:
    """Every step of every round, recipients resolved at each step's own time."""
    steps = []
    for round_ in range(policy.repeat):
        begins = opened_at + round_ * policy.repeat_after
        for index, step in enumerate(policy.steps):
            at = begins + step.after
            steps.append(Step(at, round_, index, resolve(step.notify, at)))
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
) -> Due:
    """What is due at `now`, given the keys already sent (`done`).

    Unacknowledged: every planned step due and not yet sent (after a restart, all the
    overdue ones at once). Acknowledged and not resolved: the current reminder, to
    `remind_to` (default: everyone paged so far). Resolved: nothing.
    """
    if resolved:
        return Due()
    if acked_at is not None:
        return _reminder(plan, done, now, acked_at, tuple(remind_to))
    pending = [step for step in plan.steps if step.key not in done]
    ready = tuple(step for step in pending if step.at <= now)
    later = min((step.at for step in pending if step.at > now), default=None)
    return Due(ready, dedupe(r for step in ready for r in step.recipients), later)


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
