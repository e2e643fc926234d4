"""Reconcile's indexes (Evidence.troubled, .references) change its cost, never its actions."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.checking.state import State
from monitor.incidents.model import Grouping, Incident, Kind, Status, View
from monitor.incidents.reconcile import Evidence, reconcile

NAMES = [f"c{i}" for i in range(12)]


@st.composite
def view_sets(draw: st.DrawFn) -> dict[str, View]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    out = {}
    for name in names:
        failing = draw(st.booleans())
        out[name] = View(
            name, draw(st.sampled_from(["a", "b", "c"])), name,
            draw(st.sampled_from([s for s in State if s is not State.MAINTENANCE])),
            tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True))),
            draw(st.booleans()), draw(st.sampled_from([None, None, "maintenance", "silence"])),
            failing=failing,
            failing_since=draw(st.floats(0, 100)) if failing else None,
            confirm_within=draw(st.sampled_from([0.0, 20.0])))
    return out


@st.composite
def incident_lists(draw: st.DrawFn) -> list[Incident]:
    incs = []
    for i, name in enumerate(draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))):
        affected = {m: draw(st.sampled_from(["dependency", "grouped", "mass"]))
                    for m in draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))}
        incs.append(Incident(
            i + 1, name, draw(st.sampled_from(["a", "b"])), name,
            draw(st.sampled_from([Status.OPEN, Status.ACKNOWLEDGED])), "x",
            draw(st.floats(0, 100)), draw(st.sampled_from([Kind.DOWN, Kind.FLAPPING, Kind.BLIND])),
            affected, suppressed=draw(st.sampled_from([None, "connectivity", "maintenance"]))))
    return incs


def troubled_in_order(views: dict[str, View], extra: list[str]) -> list[str]:
    """What the pager hands over: the troubled names in the views' order, plus names that
    are not (or no longer) views — a superset must do."""
    return [v.name for v in views.values()
            if v.down or v.failing or v.state is State.FLAPPING] + extra


@settings(max_examples=400, deadline=None)
@given(views=view_sets(), incs=incident_lists(),
       grouping=st.sampled_from([Grouping(), Grouping(window=0),
                                 Grouping(mass_min=2, mass_share=0.2, mass_within=30)]),
       probed=st.dictionaries(st.sampled_from(NAMES), st.floats(0, 100), max_size=4),
       extra=st.lists(st.sampled_from(["gone", "c99"]), unique=True))
def test_the_indexes_give_the_same_actions_as_a_full_scan(
        views: dict[str, View], incs: list[Incident], grouping: Grouping,
        probed: dict[str, float], extra: list[str]) -> None:
    full = reconcile(views, copy.deepcopy(incs), 100, grouping, Evidence(probed, {}))
    refs = [v.name for v in views.values() if v.connectivity] + extra
    indexed = Evidence(probed, {}, troubled=troubled_in_order(views, extra), references=refs)
    assert reconcile(views, copy.deepcopy(incs), 100, grouping, indexed) == full
