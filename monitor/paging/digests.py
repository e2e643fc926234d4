"""Digests: the officers hear of checks that joined an incident after it was paged in one
follow-up a window later, then at most one per window while more join — never a page per
check. Pure: which digests are due at `now`, and for whom.

An incident's `announced` names the checks its officers have heard of (the first page lists
the members it had then; every page, reminder and digest updates it) and `announced_at` when.
An acknowledged incident sends no digests (the officer is on it; the resolved message lists
everything), and a digest is no escalation step: it goes to whoever was paged so far.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from monitor.incidents.model import Incident, Kind, Status

DIGESTED = (Kind.DOWN, Kind.MASS)


@dataclass(frozen=True, slots=True)
class Digest:
    incident: Incident
    joined: tuple[str, ...]  # checks the officers have not heard of yet
    recipients: tuple[str, ...]


def announce(inc: Incident, now: float) -> None:
    """Everything the incident covers now has been told (a page or digest went out)."""
    inc.announced = tuple(sorted(inc.covers))
    inc.announced_at = now


def due(incidents: Collection[Incident], paged: Mapping[int, Collection[str]],
        window: float, now: float) -> list[Digest]:
    """`paged`: who has heard of each incident so far (they get its digest)."""
    if window <= 0:
        return []
    out = []
    for inc in incidents:
        if (inc.kind not in DIGESTED or inc.status is not Status.OPEN
                or inc.suppressed is not None or inc.announced_at is None
                or now < inc.announced_at + window):
            continue
        told = set(inc.announced)
        joined = tuple(sorted(c for c in inc.covers if c not in told and c != inc.check))
        if not joined:
            continue
        recipients = tuple(sorted(paged.get(inc.id, ())))
        if recipients:
            out.append(Digest(inc, joined, recipients))
    return out
