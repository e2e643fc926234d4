"""Incidents and their lifecycle, the view of a check that reconciliation reads, and the
actions it returns (pure data; the deciding is in `monitor.incidents.reconcile`).

An incident is `open` → `acknowledged` → `resolved`, keyed by its root cause: the check
that failed first, plus the checks it covers (`affected`: dependents of a root that is down,
or members grouped with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from monitor.checking.state import State
from monitor.errors import IncidentError


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Kind(StrEnum):
    DOWN = "down"
    FLAPPING = "flapping"
    BLIND = "blind"  # Siaga's own network is failing: the connectivity guard
    SELF = "self"  # Siaga cannot watch some checks (stale or broken items): the admins hear
    MASS = "mass"  # a large share of all checks failed at once: one page, officer and admins
    ALERT = "alert"  # an alert from Alertmanager (a Prometheus rule), keyed by its fingerprint


SELF_CHECK = "siaga:self"  # the pseudo-check a self-monitoring incident is keyed by
MASS_CHECK = "siaga:mass"  # the pseudo-check a mass-outage incident is keyed by
SELF_KINDS = (Kind.BLIND, Kind.SELF)  # incidents about Siaga itself, not a service
ALERT_PREFIX = "alert:"  # an alert's pseudo-check is "alert:<fingerprint>" (no check has ':')


@dataclass(slots=True)
class Incident:
    id: int
    check: str
    group: str
    title: str
    status: Status
    reason: str
    opened_at: float
    kind: Kind = Kind.DOWN
    affected: dict[str, str] = field(default_factory=dict)  # check → "dependency" | "grouped"
    policy: str = "default"
    acked_at: float | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolve_note: str | None = None
    suppressed: str | None = None  # why nobody is paged (maintenance, silence, connectivity)
    paging_from: float | None = None  # when paging started (opened_at, or when unsuppressed)
    announced: tuple[str, ...] = ()  # checks the officers have heard of (first page, digests)
    announced_at: float | None = None  # when they last heard (the digest window runs from it)

    @property
    def is_open(self) -> bool:
        return self.status is not Status.RESOLVED

    @property
    def members(self) -> list[str]:
        """Checks whose recovery this incident waits for (root and grouped peers)."""
        return [self.check, *(c for c, why in self.affected.items() if why in JOINED)]

    @property
    def covers(self) -> set[str]:
        return {self.check, *self.affected}


JOINED = ("grouped", "mass")  # members an incident waits for (dependents recover with it)


def acknowledge(inc: Incident, who: str, now: float, note: str | None = None) -> None:
    if inc.status is Status.RESOLVED:
        raise IncidentError(f"incident {inc.id} is already resolved")
    if inc.status is Status.ACKNOWLEDGED:
        raise IncidentError(f"incident {inc.id} was already acknowledged by {inc.acked_by}")
    inc.status, inc.acked_at, inc.acked_by, inc.ack_note = Status.ACKNOWLEDGED, now, who, note


def resolve(inc: Incident, who: str, now: float, note: str | None = None) -> None:
    if inc.status is Status.RESOLVED:
        raise IncidentError(f"incident {inc.id} is already resolved")
    inc.status, inc.resolved_at, inc.resolved_by = Status.RESOLVED, now, who
    inc.resolve_note = note


@dataclass(frozen=True, slots=True)
class View:
    """What reconciliation needs to know about one check right now."""

    name: str
    group: str
    title: str
    state: State  # the state machine's state (FLAPPING included, MAINTENANCE not)
    depends_on: tuple[str, ...] = ()
    connectivity: bool = False
    suppressed: str | None = None  # "maintenance" | "silence" while one applies
    policy: str = "default"
    failing: bool = False  # the last probe failed (maybe not yet fail_after times)
    failing_since: float | None = None  # when the current run of failed probes began
    confirm_within: float = 0.0  # how long confirming this check may take (timeout × tries)
    # An Alertmanager alert (monitor.incidents.alerts), not a probed check: DOWN while it
    # fires; no dependencies, grouping or connectivity guard (it was not Siaga's probe);
    # `reason` is what its annotations say is wrong.
    alert: bool = False
    reason: str = ""

    @property
    def down(self) -> bool:
        return self.state is State.DOWN


@dataclass(frozen=True, slots=True)
class Open:
    view: View
    kind: Kind
    reason: str
    suppressed: str | None = None  # opened for the record, without paging
    members: tuple[str, ...] = ()  # mass outage: the checks it starts with
    dependents: tuple[str, ...] = ()  # failing checks behind it, listed on its first page
    grouped: tuple[str, ...] = ()  # its group's checks confirmed down in the same pass
    absorb: tuple[int, ...] = ()  # mass outage: open incidents folded into it


@dataclass(frozen=True, slots=True)
class Hold:
    incident_id: int
    reason: str  # "connectivity": Siaga may be blind, stop paging for it


@dataclass(frozen=True, slots=True)
class Unsuppress:
    incident_id: int
    reason: str  # why paging starts now ("maintenance ended", …)


@dataclass(frozen=True, slots=True)
class Attach:
    incident_id: int
    check: str
    why: str  # "dependency" | "grouped"


@dataclass(frozen=True, slots=True)
class Resolve:
    incident_id: int
    reason: str
    quiet: bool = False  # merged into another incident: that one speaks for it


@dataclass(frozen=True, slots=True)
class Turn:
    """A DOWN incident whose check began flapping becomes that flapping incident (one
    notice to the officer on duty) instead of escalating an outage that is not steady."""

    incident_id: int
    kind: Kind


@dataclass(frozen=True, slots=True)
class Suppress:
    check: str
    reason: str  # maintenance | silence | dependency | connectivity


@dataclass(frozen=True, slots=True)
class Confirm:
    """Hold `check`'s page: its ancestors have not settled yet; probe them now."""

    check: str
    ancestors: tuple[str, ...]


Action = Open | Attach | Resolve | Suppress | Unsuppress | Hold | Confirm | Turn


@dataclass(frozen=True, slots=True)
class Grouping:
    """The `alerting:` section: how incidents are grouped, and where they are routed.

    With a window (the default), the first check of a group to go down is paged at once;
    checks of that group going down while its incident is open join it, and the officers
    hear of them in one digest a window later (then at most one per window). A mass outage
    (`mass_share` of all checks and at least `mass_min` failing within `mass_within`) is one
    incident for everything. `window` 0 turns both off: one page per check."""

    window: float = 30.0  # seconds; 0 = no grouping, no digests, no mass outage
    by: str = "group"  # "group" or "all"
    max_members: int = 100
    alertmanager: tuple[str, ...] = ()  # route incidents there instead of paging (am_route)
    resend: float = 60.0
    mass_share: float = 0.30
    mass_min: int = 10
    mass_within: float = 60.0
    per_hour: int = 20  # pages an officer gets on one channel per hour (monitor.delivery.caps)
    sms_per_hour: int = 10
