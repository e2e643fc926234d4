"""Per-check state machine: pure logic, the clock passed in.

A check starts UNKNOWN. `fail_after` consecutive failures make it DOWN; `recover_after`
consecutive successes bring a DOWN check back UP. A success that misses only a soft
expectation (latency or certificate warning) makes it DEGRADED. Flapping is detected the
Nagios way: over the last `window` results, state changes are weighted from 0.75 (oldest)
to 1.25 (newest); at or above `high` percent the check is FLAPPING, and it stays so until the
figure drops to `low` percent (hysteresis). Every change of the shown state is a Transition.
MAINTENANCE is not decided here: the pager overlays it from maintenance windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from monitor.config.model import FlapPolicy


class State(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    FLAPPING = "flapping"
    MAINTENANCE = "maintenance"

    @property
    def value_code(self) -> int:
        """The number exported as siaga_check_state (documented in the README)."""
        return _CODES[self]


_CODES = {
    State.UNKNOWN: 0, State.UP: 1, State.DEGRADED: 2, State.DOWN: 3,
    State.FLAPPING: 4, State.MAINTENANCE: 5,
}


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of a check's state: the record that drives pages and uptime."""

    check: str
    old: State
    new: State
    reason: str
    at: float  # unix time

    @property
    def is_first(self) -> bool:
        """UNKNOWN → anything: a new check's first verdict, not a recovery."""
        return self.old is State.UNKNOWN


@dataclass(slots=True)
class CheckState:
    """What Siaga knows about one check right now. Kept across reloads, keyed by name."""

    state: State = State.UNKNOWN
    health: State = State.UNKNOWN  # UP/DEGRADED/DOWN/UNKNOWN, ignoring flapping
    since: float = 0.0
    ok_streak: int = 0
    fail_streak: int = 0
    fail_started: float = 0.0  # when the current run of failed probes began
    flapping: bool = False
    flap_percent: float = 0.0
    history: list[bool] = field(default_factory=list)  # oldest first; a list is 1/3 of a deque
    reason: str = ""

    def remember(self, ok: bool, window: int) -> None:
        self.history.append(ok)
        if len(self.history) > window:
            del self.history[: len(self.history) - window]


def flap_percent(history: Sequence[bool]) -> float:
    """Weighted percent of state changes in `history` (oldest first), Nagios style."""
    results = list(history)
    n = len(results) - 1  # number of adjacent pairs
    if n < 1:
        return 0.0
    total = 0.0
    for i in range(n):
        if results[i] != results[i + 1]:
            total += 0.75 + (0.5 * i / (n - 1) if n > 1 else 0.5)
    return 100.0 * total / n


def observe(
    cs: CheckState,
    name: str,
    ok: bool,
    reason: str,
    now: float,
    *,
    fail_after: int,
    recover_after: int,
    degraded: str | None = None,
    flapping: FlapPolicy | None = None,
) -> Transition | None:
    """Feed one probe outcome into the state; return the Transition if the shown state changed."""
    if cs.since == 0.0:
        cs.since = now
    cs.health = _next_health(cs, ok, degraded, fail_after, recover_after)
    if not ok and cs.fail_streak == 1:
        cs.fail_started = now
    cs.reason = degraded if ok and degraded else reason
    _update_flapping(cs, ok, flapping)
    new = State.FLAPPING if cs.flapping else cs.health
    if new is cs.state:
        return None
    old, cs.state, cs.since = cs.state, new, now
    return Transition(name, old, new, _why(cs, new, old), now)


def _next_health(
    cs: CheckState, ok: bool, degraded: str | None, fail_after: int, recover_after: int
) -> State:
    health = cs.health
    if ok:
        cs.ok_streak, cs.fail_streak = cs.ok_streak + 1, 0
        good = State.DEGRADED if degraded else State.UP
        if health is State.DOWN:
            return good if cs.ok_streak >= recover_after else health
        return good
    cs.fail_streak, cs.ok_streak = cs.fail_streak + 1, 0
    if health is not State.DOWN and cs.fail_streak >= fail_after:
        return State.DOWN
    return health


def _update_flapping(cs: CheckState, ok: bool, policy: FlapPolicy | None) -> None:
    if policy is None or not policy.enabled:
        cs.flapping = False
        return
    cs.remember(ok, policy.window)
    # Judge only with enough history: a third of the window, so a new check cannot "flap".
    if len(cs.history) < max(5, policy.window // 3):
        return
    cs.flap_percent = flap_percent(cs.history)
    if not cs.flapping and cs.flap_percent >= policy.high:
        cs.flapping = True
    elif cs.flapping and cs.flap_percent <= policy.low:
        cs.flapping = False


def _why(cs: CheckState, new: State, old: State) -> str:
    if new is State.FLAPPING:
        return f"flapping: {cs.flap_percent:.0f}% state changes"
    if old is State.FLAPPING:
        return f"stable again ({cs.flap_percent:.0f}% state changes): {cs.reason}"
    return cs.reason
