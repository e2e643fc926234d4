"""Incident reconciliation: pure, walked with hand-made views."""

from __future__ import annotations

import pytest

from monitor.checking.state import State
from monitor.errors import IncidentError
from monitor.incidents.model import (
    Attach,
    Confirm,
    Grouping,
    Incident,
    Kind,
    Open,
    Resolve,
    Status,
    Suppress,
    Unsuppress,
    View,
    acknowledge,
    resolve,
)
from monitor.incidents.reconcile import Evidence, reconcile

UP, DOWN, FLAP = State.UP, State.DOWN, State.FLAPPING


def views(*items: View) -> dict[str, View]:
    return {v.name: v for v in items}


def v(name: str, state: State = UP, **kw) -> View:
    return View(name=name, group=kw.pop("group", "g"), title=name.title(), state=state, **kw)


def inc(id: int, check: str, **kw) -> Incident:
    return Incident(id=id, check=check, group=kw.pop("group", "g"), title=check,
                    status=kw.pop("status", Status.OPEN), reason="x",
                    opened_at=kw.pop("opened_at", 0.0), **kw)


def test_a_down_check_opens_an_incident():
    actions = reconcile(views(v("portal", DOWN)), [], 100, Grouping())
    assert [type(a) for a in actions] == [Open]
    assert actions[0].view.name == "portal" and actions[0].kind is Kind.DOWN


def test_an_up_check_with_an_open_incident_resolves_it():
    actions = reconcile(views(v("portal")), [inc(1, "portal")], 100, Grouping())
    assert actions == [Resolve(1, "recovered")]


def test_a_removed_check_resolves_its_incident_with_the_reason():
    actions = reconcile(views(v("other")), [inc(1, "portal")], 100, Grouping())
    assert actions == [Resolve(1, "removed from configuration")]


def test_children_of_a_down_parent_attach_to_its_incident_instead_of_opening():
    vs = views(v("uplink", DOWN), v("a", DOWN, depends_on=("uplink",)),
               v("b", DOWN, depends_on=("a",)))
    actions = reconcile(vs, [inc(1, "uplink")], 100, Grouping())
    assert set(actions) == {Attach(1, "a", "dependency"), Attach(1, "b", "dependency")}


def test_a_child_is_suppressed_until_its_parents_incident_exists():
    vs = views(v("uplink", DOWN), v("a", DOWN, depends_on=("uplink",)))
    actions = reconcile(vs, [], 100, Grouping())
    assert actions == [Open(vs["uplink"], Kind.DOWN, ""), Suppress("a", "dependency")]


def test_when_the_parent_recovers_a_child_still_down_gets_its_own_incident():
    vs = views(v("uplink"), v("a", DOWN, depends_on=("uplink",)))
    actions = reconcile(vs, [inc(1, "uplink", affected={"a": "dependency"})], 100, Grouping())
    assert actions == [Resolve(1, "recovered"), Open(vs["a"], Kind.DOWN, "")]


def test_a_dependent_waits_while_its_failing_parent_is_probed_at_once():
    vs = views(v("uplink", failing=True, confirm_within=40.0),
               v("a", DOWN, depends_on=("uplink",), failing=True, failing_since=40.0))
    actions = reconcile(vs, [], 100, Grouping(), Evidence({"uplink": 99.0}, {}))
    assert actions == [Confirm("a", ("uplink",))]


def test_a_dependent_waits_for_a_parent_not_probed_since_it_began_failing():
    vs = views(v("uplink", confirm_within=40.0),
               v("a", DOWN, depends_on=("uplink",), failing=True, failing_since=40.0))
    actions = reconcile(vs, [], 100, Grouping(), Evidence({"uplink": 35.0}, {}))
    assert actions == [Confirm("a", ("uplink",))]


def test_a_dependent_is_paged_once_its_parent_answered_up_or_the_wait_ran_out():
    child = v("a", DOWN, depends_on=("uplink",), failing=True, failing_since=40.0)
    answered = views(v("uplink", confirm_within=40.0), child)
    assert reconcile(answered, [], 100, Grouping(), Evidence({"uplink": 99.0}, {})) == [
        Open(child, Kind.DOWN, "")]
    hanging = views(v("uplink", failing=True, confirm_within=40.0), child)
    assert reconcile(hanging, [], 100, Grouping(), Evidence({"uplink": 50.0}, {"a": 59.0})) == [
        Open(child, Kind.DOWN, "")]


def test_checks_of_one_group_going_down_within_the_window_join_one_incident():
    vs = views(*(v(f"s{i}", DOWN, group="Layanan") for i in range(3)))
    actions = reconcile(vs, [inc(1, "s0", group="Layanan", opened_at=95)], 100,
                        Grouping(window=30))
    assert set(actions) == {Attach(1, "s1", "grouped"), Attach(1, "s2", "grouped")}


def test_checks_of_one_group_confirmed_down_in_the_same_pass_make_one_incident():
    # No incident yet: the first opens it, the rest of its group join it in the same pass
    # (each paged on its own before: two pages for one group when two checks were
    # confirmed by the same wake-up of the pager)
    vs = views(*(v(f"s{i}", DOWN, group="Layanan") for i in range(3)),
               v("other", DOWN, group="Keuangan"))
    actions = reconcile(vs, [], 100, Grouping(window=30))
    assert actions == [Open(vs["s0"], Kind.DOWN, "", grouped=("s1", "s2")),
                       Open(vs["other"], Kind.DOWN, "")]
    by_all = reconcile(vs, [], 100, Grouping(window=30, by="all"))
    assert by_all == [Open(vs["s0"], Kind.DOWN, "", grouped=("s1", "s2", "other"))]
    assert len(reconcile(vs, [], 100, Grouping(window=0))) == 4  # grouping off
    capped = reconcile(vs, [], 100, Grouping(window=30, max_members=3))
    assert capped[0] == Open(vs["s0"], Kind.DOWN, "", grouped=("s1",))
    assert Open(vs["s2"], Kind.DOWN, "") in capped


def test_a_check_of_the_group_joins_its_open_incident_whatever_its_age():
    vs = views(v("s0", DOWN), v("s1", DOWN))
    actions = reconcile(vs, [inc(1, "s0", opened_at=0)], 10_000, Grouping(window=30))
    assert actions == [Attach(1, "s1", "grouped")]


def test_with_group_window_zero_each_check_is_its_own_incident():
    vs = views(v("s0", DOWN), v("s1", DOWN))
    actions = reconcile(vs, [inc(1, "s0", opened_at=95)], 100, Grouping(window=0))
    assert actions == [Open(vs["s1"], Kind.DOWN, "")]


def test_a_grouped_incident_stays_open_while_any_member_is_down():
    vs = views(v("s0"), v("s1", DOWN))
    assert reconcile(vs, [inc(1, "s0", affected={"s1": "grouped"})], 100, Grouping()) == []


def test_maintenance_opens_a_silent_incident_and_leaves_an_open_one_alone():
    vs = views(v("portal", DOWN, suppressed="maintenance"))
    assert reconcile(vs, [], 100, Grouping()) == [
        Open(vs["portal"], Kind.DOWN, "", suppressed="maintenance")]
    assert reconcile(vs, [inc(1, "portal")], 100, Grouping()) == []


def test_a_silent_incident_pages_when_its_maintenance_ends_and_it_is_still_down():
    vs = views(v("portal", DOWN))
    actions = reconcile(vs, [inc(1, "portal", suppressed="maintenance")], 100, Grouping())
    assert actions == [Unsuppress(1, "maintenance ended")]


def test_connectivity_refs_down_open_one_blind_incident_and_suppress_services():
    vs = views(v("uplink", DOWN, connectivity=True), v("dns", DOWN, connectivity=True),
               v("portal", DOWN))
    actions = reconcile(vs, [], 100, Grouping())
    assert Open(vs["dns"], Kind.BLIND, "monitoring is blind") in actions
    assert Open(vs["portal"], Kind.DOWN, "", suppressed="connectivity") in actions
    assert len(actions) == 2


def test_one_connectivity_ref_of_two_down_is_not_blindness():
    vs = views(v("uplink", DOWN, connectivity=True), v("dns", UP, connectivity=True))
    assert reconcile(vs, [], 100, Grouping()) == []


def test_flapping_opens_one_flapping_incident_resolved_when_stable():
    vs = views(v("portal", FLAP))
    assert reconcile(vs, [], 100, Grouping()) == [Open(vs["portal"], Kind.FLAPPING, "")]
    stable = views(v("portal", UP))
    flapping_inc = inc(1, "portal", kind=Kind.FLAPPING)
    assert reconcile(stable, [flapping_inc], 100, Grouping()) == [Resolve(1, "stable again")]


def test_acknowledge_then_resolve_and_refusals():
    i = inc(1, "portal")
    acknowledge(i, "budi", 10, "on it")
    assert (i.status, i.acked_by, i.ack_note) == (Status.ACKNOWLEDGED, "budi", "on it")
    with pytest.raises(IncidentError):
        acknowledge(i, "sari", 11)
    resolve(i, "budi", 20, "restarted")
    assert i.status is Status.RESOLVED and i.resolved_at == 20
    with pytest.raises(IncidentError):
        resolve(i, "budi", 21)


def test_an_unknown_state_after_a_restart_does_not_resolve_an_incident():
    assert reconcile(views(v("portal", State.UNKNOWN)), [inc(1, "portal")], 100, Grouping()) == []


def test_a_childs_own_incident_joins_the_parents_when_the_parent_goes_down_later():
    vs = views(v("uplink", DOWN), v("a", DOWN, depends_on=("uplink",)))
    actions = reconcile(vs, [inc(1, "a"), inc(2, "uplink", opened_at=50)], 100, Grouping())
    assert actions == [Resolve(1, "caused by uplink (incident 2)", quiet=True),
                       Attach(2, "a", "dependency")]


def test_when_every_reference_is_failing_new_incidents_open_silently():
    vs = views(v("gw", UP, connectivity=True, failing=True), v("portal", DOWN))
    assert reconcile(vs, [], 100, Grouping()) == [
        Open(vs["portal"], Kind.DOWN, "", suppressed="connectivity")]


def test_suspected_blindness_holds_an_open_incident_and_lifts_when_references_answer():
    from monitor.incidents.model import Hold

    failing = views(v("gw", UP, connectivity=True, failing=True), v("portal", DOWN))
    assert reconcile(failing, [inc(1, "portal")], 100, Grouping()) == [Hold(1, "connectivity")]
    fine = views(v("gw", UP, connectivity=True), v("portal", DOWN))
    held = inc(1, "portal", suppressed="connectivity")
    assert reconcile(fine, [held], 100, Grouping()) == [Unsuppress(1, "connectivity restored")]
