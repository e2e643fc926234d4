"""The pure reconciliation that decides incidents.

`reconcile` compares what the checks look like now with the open incidents and returns the
actions that bring them in line. Running it after every transition and on a timer makes the
outcome independent of order, restarts and reloads: a maintenance window ending with a
service still down, a parent recovering while a child is still down, a silence expiring —
each just shows up as a difference on the next pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from monitor.checking.state import State
from monitor.incidents.model import (
    MASS_CHECK,
    SELF_CHECK,
    SELF_KINDS,
    Action,
    Attach,
    Confirm,
    Grouping,
    Hold,
    Incident,
    Kind,
    Open,
    Resolve,
    Status,
    Suppress,
    Turn,
    Unsuppress,
    View,
)


def root_cause(name: str, views: dict[str, View]) -> str | None:
    """The topmost DOWN ancestor of `name` (following depends_on), or None."""
    seen, stack, best = {name}, list(views[name].depends_on), None
    depth_of: dict[str, int] = {d: 1 for d in stack}
    while stack:
        dep = stack.pop()
        view = views.get(dep)
        if view is None:
            continue
        if view.down and (best is None or depth_of[dep] >= depth_of[best]):
            best = dep
        for parent in view.depends_on:
            if parent not in seen:
                seen.add(parent)
                depth_of[parent] = depth_of[dep] + 1
                stack.append(parent)
    return best


@dataclass(frozen=True, slots=True)
class Evidence:
    """What reconciliation knows beyond the views: when each check's last probe started,
    and since when each dependent's page has been held (`Confirm`) for its ancestors."""

    probed_at: Mapping[str, float] = field(default_factory=dict)
    holding: Mapping[str, float] = field(default_factory=dict)
    blind_spots: tuple[str, ...] = ()  # what Siaga cannot watch now (monitor.checking.watchdog)
    # Indexes that make a pass cost what is interesting, not the number of checks (a site may
    # have 20,000): the names whose view is down, flapping or failing, in the views' order
    # (ties in depth are decided in that order), and the connectivity references' names.
    # Supersets do (each name once); None means "scan every view".
    troubled: Sequence[str] | None = None
    references: Sequence[str] | None = None


NO_EVIDENCE = Evidence()


def reconcile(
    views: dict[str, View], incidents: list[Incident], now: float, grouping: Grouping,
    evidence: Evidence = NO_EVIDENCE,
) -> list[Action]:
    """The actions that make incidents match the checks' current states."""
    actions: list[Action] = []
    open_incs = [i for i in incidents if i.is_open]
    troubled, refs = _troubled(views, evidence), _references(views, evidence)
    blind = _blind(refs)
    # Suspect blindness as soon as every reference target's last probe failed, before
    # fail_after confirms it: service failures seen meanwhile are likely Siaga's own.
    suspect = _blind(refs, suspect=True)
    actions += _resolutions(views, open_incs, blind)
    actions += _self_monitoring(open_incs, evidence.blind_spots)
    resolving = {a.incident_id for a in actions if isinstance(a, Resolve)}
    live = [i for i in open_incs if i.id not in resolving]
    actions += _unsuppressions(views, live, suspect)
    if suspect:
        actions += [Hold(i.id, "connectivity") for i in live
                    if i.kind not in (*SELF_KINDS, Kind.ALERT) and i.suppressed is None]
    merges = _merges(views, live)
    actions += merges
    merged = {a.incident_id for a in merges if isinstance(a, Resolve)}
    live = [i for i in live if i.id not in merged]
    covered = {c for i in live for c in i.covers}
    covered |= {a.check for a in merges if isinstance(a, Attach)}
    if blind and not any(i.kind is Kind.BLIND for i in live):
        first = sorted(v.name for v in refs if v.down)[0]
        actions.append(Open(views[first], Kind.BLIND, "monitoring is blind"))
    candidates = [v for v in troubled
                  if (v.down or v.state is State.FLAPPING) and v.name not in covered]
    if not suspect and grouping.window > 0 and not any(i.kind is Kind.MASS for i in live):
        services = len(views) - len(refs) - sum(1 for v in troubled if v.alert)
        mass = _mass_outage(views, candidates, troubled, services, live, now, grouping)
        if mass is not None:
            actions.append(mass)
            covered |= set(mass.members)
            for inc in live:
                if inc.id in mass.absorb:
                    actions.append(Resolve(inc.id, "part of a mass outage", quiet=True))
                    covered |= inc.covers
    # A group's first incident of this pass, and the checks of its group confirmed down in
    # the same pass: they join it (listed on its first page) instead of each paging.
    fresh: dict[str | None, _Fresh] = {}
    for view in sorted(candidates, key=lambda v: _depth(v, views)):
        if view.name in covered:
            continue
        held = _confirming(view, views, now, evidence)
        if held is not None:
            covered.add(view.name)
            actions.append(held)
            continue
        decided = _decide(view, views, troubled, live, covered, suspect, now, grouping)
        opened = decided[0] if len(decided) == 1 and isinstance(decided[0], Open) else None
        if (opened is not None and opened.kind is Kind.DOWN and opened.suppressed is None
                and grouping.window > 0):
            key = None if grouping.by == "all" else view.group
            peer = fresh.get(key)
            if peer is None:
                fresh[key] = _Fresh(len(actions), opened)
            elif peer.size() + 1 + len(opened.dependents) < grouping.max_members:
                peer.grouped.append(view.name)
                peer.dependents.extend(opened.dependents)
                continue
        actions += decided
    for peer in fresh.values():
        if peer.grouped:
            actions[peer.index] = replace(
                peer.opened, grouped=tuple(peer.grouped),
                dependents=peer.opened.dependents + tuple(peer.dependents))
    return actions


@dataclass(slots=True)
class _Fresh:
    """A group's first incident opened in this pass, and what joins it in the same pass."""

    index: int  # of its Open in the pass's actions
    opened: Open
    grouped: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)  # the joining checks' own

    def size(self) -> int:
        return 1 + len(self.opened.dependents) + len(self.grouped) + len(self.dependents)


def _troubled(views: dict[str, View], evidence: Evidence) -> list[View]:
    """The views that are down, flapping or failing, in the views' order."""
    if evidence.troubled is None:
        return [v for v in views.values() if v.down or v.failing or v.state is State.FLAPPING]
    return [v for v in map(views.get, evidence.troubled)
            if v is not None and (v.down or v.failing or v.state is State.FLAPPING)]


def _references(views: dict[str, View], evidence: Evidence) -> list[View]:
    if evidence.references is None:
        return [v for v in views.values() if v.connectivity]
    return [v for v in map(views.get, evidence.references) if v is not None and v.connectivity]


def ancestors(name: str, views: dict[str, View]) -> list[str]:
    """Every check `name` depends on, directly or through others, nearest first."""
    seen, order, queue = {name}, [], list(views[name].depends_on)
    while queue:
        dep = queue.pop(0)
        if dep in seen or dep not in views:
            continue
        seen.add(dep)
        order.append(dep)
        queue += views[dep].depends_on
    return order


def _confirming(view: View, views: dict[str, View], now: float,
                evidence: Evidence) -> Confirm | None:
    """Nagios's rule: before a dependent's outage is paged, make sure of its ancestors. One
    that failed but is not yet DOWN, or was not probed since the dependent began failing, is
    probed at once (`Confirm`); the page waits until they have answered, at most as long as
    confirming them takes (their timeout × fail_after), so a hanging parent delays no page
    for long."""
    if not view.down or not view.depends_on or view.connectivity:
        return None
    if root_cause(view.name, views) is not None:
        return None
    unsettled = []
    for name in ancestors(view.name, views):
        parent = views[name]
        at = evidence.probed_at.get(name)
        if parent.failing or parent.state is State.UNKNOWN or (
                at is not None and view.failing_since is not None and at < view.failing_since):
            unsettled.append(name)
    if not unsettled:
        return None
    since = evidence.holding.get(view.name, now)
    if now - since > max(views[n].confirm_within for n in unsettled):
        return None
    return Confirm(view.name, tuple(unsettled))


def _mass_outage(views: dict[str, View], candidates: list[View], troubled: list[View],
                 services: int, live: list[Incident], now: float,
                 grouping: Grouping) -> Open | None:
    """A mass outage: a check is confirmed DOWN while, of all checks, `mass_share` (and at
    least `mass_min`) in more than one group began failing within `mass_within` of it — an
    outage too wide to page per group. Failures a failing ancestor explains do not count
    (dependencies speak for them); group incidents opened within that time fold into it."""
    down = [v for v in candidates if v.down and not v.connectivity and v.suppressed is None
            and v.failing_since is not None and root_cause(v.name, views) is None]
    if not down:
        return None
    failing = [v for v in troubled
               if not v.connectivity and v.failing and v.failing_since is not None]
    if len(failing) < max(grouping.mass_min, grouping.mass_share * services):
        return None
    failing = [v for v in failing if not _explained(v, views)]
    recent = []
    for first in down:
        assert first.failing_since is not None
        recent = [v for v in failing if v.failing_since is not None
                  and abs(v.failing_since - first.failing_since) <= grouping.mass_within]
        if len(recent) >= max(grouping.mass_min, grouping.mass_share * services):
            break
    else:
        return None
    if len({v.group for v in recent}) < 2:
        return None  # one group: its own incident already makes it one page
    absorb = tuple(i.id for i in live if i.kind is Kind.DOWN and i.status is Status.OPEN
                   and i.suppressed is None and now - i.opened_at <= grouping.mass_within)
    absorbed = [c for i in live if i.id in absorb for c in i.covers]
    # Every check failing in the burst is a member (not only the confirmed ones): the page
    # says how wide the outage is, and none of them pages on its own later.
    members = tuple(dict.fromkeys([*absorbed, *(v.name for v in down),
                                   *(v.name for v in recent)]))
    groups = {v.group for v in recent}
    reason = f"{len(recent)} of {services} checks failing in {len(groups)} groups"
    view = View(MASS_CHECK, "*", "Siaga", State.DOWN)
    return Open(view, Kind.MASS, reason, members=members, absorb=absorb)


def _explained(view: View, views: dict[str, View]) -> bool:
    """A failure its dependencies explain (an ancestor fails too) adds nothing to the count."""
    return any(views[a].failing or views[a].down for a in ancestors(view.name, views))


def _self_monitoring(incs: list[Incident], blind_spots: tuple[str, ...]) -> list[Action]:
    """One incident for the admins while Siaga cannot watch something, resolved when it can."""
    current = next((i for i in incs if i.kind is Kind.SELF), None)
    if current is None and blind_spots:
        view = View(SELF_CHECK, "siaga", "Siaga", State.DOWN)
        return [Open(view, Kind.SELF, "; ".join(blind_spots))]
    if current is not None and not blind_spots:
        return [Resolve(current.id, "monitoring works again")]
    return []


def _blind(refs: list[View], *, suspect: bool = False) -> bool:
    return bool(refs) and all(v.down or (suspect and v.failing) for v in refs)


def _resolutions(views: dict[str, View], incs: list[Incident], blind: bool) -> list[Action]:
    out: list[Action] = []
    for inc in incs:
        if inc.kind is Kind.SELF:
            continue  # _self_monitoring
        if inc.kind is Kind.BLIND:
            if not blind:
                out.append(Resolve(inc.id, "connectivity restored"))
            continue
        if inc.kind is Kind.ALERT:
            view = views.get(inc.check)
            if view is None or not view.down:
                out.append(Resolve(inc.id, "resolved in Alertmanager"))
            continue
        if inc.kind is Kind.DOWN and inc.status is Status.OPEN:
            view = views.get(inc.check)
            if view is not None and view.state is State.FLAPPING:
                out.append(Turn(inc.id, Kind.FLAPPING))
                continue
        if inc.kind is Kind.FLAPPING:
            view = views.get(inc.check)
            if view is None or view.state is not State.FLAPPING:
                out.append(Resolve(inc.id, "stable again" if view else "removed"))
            continue
        members = [views.get(m) for m in inc.members]
        # After a restart a check is UNKNOWN until probed again: not a recovery.
        if all(v is None or v.state in (State.UP, State.DEGRADED) for v in members):
            gone = all(v is None for v in members)
            out.append(Resolve(inc.id, "removed from configuration" if gone else "recovered"))
    return out


def _merges(views: dict[str, View], incs: list[Incident]) -> list[Action]:
    """A child's incident opened before its parent went down joins the parent's incident
    (while nobody has acknowledged it), so one broken router still makes one page."""
    out: list[Action] = []
    for inc in incs:
        if inc.kind is not Kind.DOWN or inc.status is not Status.OPEN or inc.check not in views:
            continue
        root = root_cause(inc.check, views)
        parent = next((i for i in incs if root is not None and i is not inc
                       and root in i.covers and i.kind is Kind.DOWN), None)
        if parent is not None:
            out.append(Resolve(inc.id, f"caused by {root} (incident {parent.id})", quiet=True))
            for name in inc.covers:
                out.append(Attach(parent.id, name, "dependency"))
    return out


def _unsuppressions(views: dict[str, View], incs: list[Incident], blind: bool) -> list[Action]:
    out: list[Action] = []
    for inc in incs:
        view = views.get(inc.check)
        if inc.suppressed is None or view is None:
            continue
        if inc.suppressed == "connectivity" and not blind:
            out.append(Unsuppress(inc.id, "connectivity restored"))
        elif inc.suppressed in ("maintenance", "silence") and view.suppressed is None:
            out.append(Unsuppress(inc.id, f"{inc.suppressed} ended"))
    return out


def _depth(view: View, views: dict[str, View]) -> int:
    depth, current, seen = 0, view, {view.name}
    while current.depends_on:
        parent = next((views[d] for d in current.depends_on if d in views), None)
        if parent is None or parent.name in seen:
            break
        seen.add(parent.name)
        depth, current = depth + 1, parent
    return depth


def _decide(view: View, views: dict[str, View], troubled: list[View], live: list[Incident],
            covered: set[str], blind: bool, now: float, grouping: Grouping) -> list[Action]:
    if view.connectivity:
        return []  # reference targets speak through the blind incident only
    if view.alert:
        covered.add(view.name)  # Alertmanager grouped it already; Siaga's network is no factor
        return [Open(view, Kind.ALERT, view.reason)]
    kind = Kind.FLAPPING if view.state is State.FLAPPING else Kind.DOWN
    if blind:
        covered.add(view.name)
        return [Open(view, kind, "", suppressed="connectivity")]
    root = root_cause(view.name, views) if view.down else None
    if root is not None:
        root_inc = next((i for i in live if root in i.covers), None)
        if root_inc is not None:
            covered.add(view.name)
            return [Attach(root_inc.id, view.name, "dependency")]
        return [Suppress(view.name, "dependency")]
    if view.suppressed:
        covered.add(view.name)
        return [Open(view, kind, "", suppressed=view.suppressed)]
    if kind is Kind.DOWN and grouping.window > 0:
        peer = _group_peer(view, live, now, grouping)
        if peer is not None:
            covered.add(view.name)
            return [Attach(peer.id, view.name, "mass" if peer.kind is Kind.MASS else "grouped")]
    covered.add(view.name)
    dependents = (_failing_dependents(view, views, troubled, covered)
                  if kind is Kind.DOWN else ())
    covered.update(dependents)
    return [Open(view, kind, "", dependents=dependents)]


def _failing_dependents(view: View, views: dict[str, View], troubled: list[View],
                        covered: set[str]) -> tuple[str, ...]:
    """Checks behind `view` that already fail: its first page lists them (they would
    otherwise join one by one as each is confirmed, and be told in a digest)."""
    return tuple(sorted(
        v.name for v in troubled
        if v.depends_on and v.failing and v.name not in covered and not v.connectivity
        and view.name in ancestors(v.name, views)))


def _group_peer(view: View, live: list[Incident], now: float,
                grouping: Grouping) -> Incident | None:
    """The open incident a newly failed check joins: its group's (acknowledged ones too: the
    officer handling the group hears of it when it is resolved), or a mass outage's."""
    for inc in live:
        if inc.kind is Kind.MASS and inc.suppressed is None:
            return inc
    for inc in live:
        if (inc.kind is Kind.DOWN and inc.suppressed is None
                and (grouping.by == "all" or inc.group == view.group)
                and len(inc.affected) + 1 < grouping.max_members):
            return inc
    return None
