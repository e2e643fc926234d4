"""Escalation plans of incidents, built from the on-call section and remembered while
their inputs stay the same."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from monitor.incidents.model import SELF_KINDS, Incident, Kind
from monitor.paging.context import PagingContext
from monitor.paging.oncall import escalation
from monitor.paging.oncall.model import ON_DUTY, EscalationStep, Policy
from monitor.paging.oncall.roster import admins, dedupe

FLAPPING = Policy("flapping", (EscalationStep(0.0, (ON_DUTY,)),), 1, 0.0)


class Planner:
    """Plans from the current paging context; `open_ids` says which incidents are open (plans
    of the others are forgotten now and then)."""

    def __init__(self, context: Callable[[], PagingContext],
                 open_ids: Callable[[], Collection[int]]) -> None:
        self.context = context
        self.open_ids = open_ids
        self._plans: dict[int, tuple[tuple[Any, ...], escalation.Plan]] = {}

    def plan(self, inc: Incident) -> escalation.Plan:
        """The incident's escalation plan, remembered while its inputs stay the same (it is
        asked for every open incident every second; a big outage may have hundreds)."""
        key = (inc.kind, inc.policy, inc.paging_from, inc.opened_at, id(self.context()))
        cached = self._plans.get(inc.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        plan = self._make_plan(inc)
        open_ids = self.open_ids()
        if len(self._plans) > 4 * len(open_ids) + 100:
            self._plans = {i: self._plans[i] for i in open_ids if i in self._plans}
        self._plans[inc.id] = (key, plan)
        return plan

    def _make_plan(self, inc: Incident) -> escalation.Plan:
        oncall = self.context().oncall
        if inc.kind in SELF_KINDS and oncall is not None:
            everyone = admins(oncall)
            blind = Policy("blind", (EscalationStep(0.0, everyone),), 1, 0.0)
            return escalation.plan(blind, inc.paging_from or inc.opened_at,
                                   lambda targets, at: targets)
        if inc.kind is Kind.FLAPPING:
            # Flapping is no outage: one notice to the officer on duty, no chain.
            return escalation.plan(FLAPPING, inc.paging_from or inc.opened_at,
                                   self._resolver(), prefix="flap")
        policy = escalation.policy_for(oncall, inc.policy)
        plan = escalation.plan(policy, inc.paging_from or inc.opened_at, self._resolver())
        if inc.kind is Kind.MASS and oncall is not None and plan.steps:
            # The admins hear of a mass outage with the officer on duty, at the first step.
            first, everyone = plan.steps[0], admins(oncall)
            first = replace(first, recipients=dedupe((*first.recipients, *everyone)),
                            targets=(*first.targets, *everyone))
            plan = replace(plan, steps=(first, *plan.steps[1:]))
        return plan

    def _resolver(self) -> escalation.Resolver:
        context = self.context()
        if context.oncall is None:
            return lambda targets, at: ()
        return escalation.roster_resolver(context.oncall, context.tz)
