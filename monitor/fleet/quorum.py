"""One verdict from several locations: a check with `locations` and `quorum` is DOWN only
when at least `quorum` of its locations see it down. A location votes while it has a live
member whose own connectivity guard holds; a location that cannot see the network cannot
tell whether the service is down. When fewer locations can vote than `quorum`, all of those
that can must see it down (an outage seen from every location that can look is not hidden
because another location is blind)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from monitor.checking.state import State

UP_STATES = ("up", "degraded")


@dataclass(frozen=True, slots=True)
class Vote:
    location: str
    state: str  # a State value as the location's member sees the check
    reason: str
    fail_since: float | None


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    reason: str
    failing: bool
    fail_since: float | None
    down: tuple[str, ...]  # locations that see it down
    up: tuple[str, ...]  # locations that reach it


def _names(locations: Sequence[str]) -> str:
    return locations[0] if len(locations) == 1 else (
        ", ".join(locations[:-1]) + " and " + locations[-1])


def verdict(locations: Sequence[str], quorum: int, votes: Mapping[str, Vote],
            voting: Collection[str]) -> Verdict:
    """The check's state from the votes of the locations in `voting` (live, not blind)."""
    counted = [votes[loc] for loc in locations if loc in voting and loc in votes]
    down = tuple(v.location for v in counted if v.state == State.DOWN.value)
    up = tuple(v.location for v in counted if v.state in UP_STATES)
    need = min(quorum, sum(1 for loc in locations if loc in voting)) or quorum
    if len(down) >= need:
        cause = next(v.reason for v in counted if v.state == State.DOWN.value)
        reason = f"unreachable from {_names(down)} ({cause})"
        if up:
            reason += f"; {_names(up)} still reach{'es' if len(up) == 1 else ''} it"
        blind = [loc for loc in locations if loc not in voting]
        if blind:
            reason += f"; {_names(blind)} cannot see the network"
        since = [v.fail_since for v in counted if v.location in down and v.fail_since]
        return Verdict(State.DOWN, reason, True, min(since) if since else None, down, up)
    if up:
        degraded = all(v.state == State.DEGRADED.value for v in counted if v.location in up)
        reason = f"reachable from {_names(up)}"
        if down:
            reason += f"; unreachable from {_names(down)} only (quorum {quorum})"
        return Verdict(State.DEGRADED if degraded else State.UP, reason, False, None, down, up)
    return Verdict(State.UNKNOWN, f"no location can judge it (quorum {quorum})", False, None,
                   down, up)
