"""The engine: runs a check's probe, feeds the state machine, and tells listeners.

It owns runtime state keyed by check name (CheckState, last result, recent transitions),
separate from the frozen Config, so a reload swaps config and keeps state. Listeners are plain
callables registered by the metrics, the store, the console channel and the pager.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.checking.faults import Faults
from monitor.checking.state import CheckState, State, Transition, observe
from monitor.config.model import Check, Config
from monitor.probes import KINDS
from monitor.probes.base import ProbeContext, ProbeResult
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.engine")

ResultListener = Callable[[Check, ProbeResult, CheckState], None]
TransitionListener = Callable[[Check, Transition, ProbeResult | None], None]
RECENT_TRANSITIONS = 20
HEALTH = (State.UP, State.DEGRADED, State.DOWN, State.UNKNOWN)  # CheckState.health's values


@dataclass(slots=True)
class Runtime:
    """Everything known about one check at run time."""

    state: CheckState = field(default_factory=CheckState)
    last: ProbeResult | None = None
    transitions: list[Transition] = field(default_factory=list)  # the last few, oldest first
    probes: int = 0
    failures: int = 0
    changes: int = 0
    maintenance: bool = False  # set by the pager while a maintenance window covers the check
    latency: list[float] | None = None  # opt-in histogram: bucket counts…, sum (last item)
    seen: float = 0.0  # when a result was last recorded (or the check was added): staleness

    @property
    def shown_state(self) -> State:
        return State.MAINTENANCE if self.maintenance else self.state.state

    def with_probes_of(self, local: Runtime) -> Runtime:
        """This verdict with the probes one location ran (a fleet's /metrics: the state is
        the fleet's verdict, the probe figures this instance's own)."""
        return Runtime(self.state, local.last, self.transitions, local.probes, local.failures,
                       self.changes, self.maintenance, local.latency, self.seen)


@dataclass(slots=True)
class ReloadSummary:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)  # target changed: state started afresh
    unchanged: int = 0
    base: dict[str, Check] = field(default_factory=dict, repr=False)  # the checks compared
    by_name: dict[str, Check] = field(default_factory=dict, repr=False)  # the new ones


class Engine:
    """Probes checks and keeps their state. Pure of I/O except the probe itself."""

    def __init__(
        self,
        config: Config,
        ctx: ProbeContext,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
    ) -> None:
        self.config = config
        self.faults = faults or Faults()
        self.checks: dict[str, Check] = config.by_name
        self.ctx = ctx
        self.clock = clock
        self.runtime: dict[str, Runtime] = {name: self.fresh() for name in self.checks}
        self.on_result: list[ResultListener] = []
        self.on_view: list[ResultListener] = []  # results that carry the check's own state
        self.on_transition: list[TransitionListener] = []
        # A fleet: a check with `locations` is judged by their votes (monitor.fleet); the
        # probes here feed this location's own view of it, `local`, which is one vote.
        self.voting = False
        self.local: dict[str, Runtime] = {}

    def fresh(self) -> Runtime:
        return Runtime(seen=self.clock())

    async def probe(self, check: Check) -> ProbeResult:
        """Run the check's probe once (no state change): `siaga check` and the scheduler."""
        started = self.clock()
        result = await KINDS[check.kind].run(check.spec, check.timeout, self.ctx)
        result.started_at = result.started_at or started
        return result

    async def run_check(self, check: Check) -> None:
        """The scheduler's runner: probe, then record. A probe that raises is a bug; the
        check still gets a failed result (never silence) and is reported as broken."""
        try:
            result = await self.probe(check)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = self.crashed(check, exc)
        else:
            if self.faults.items:
                self.faults.clear("check", check.name)
        self.record(check, result)

    def crashed(self, check: Check, exc: Exception) -> ProbeResult:
        """The failed result of a probe that raised, logged and marked as a fault."""
        log.error("event=probe_crashed check=%s", check.name, exc_info=exc)
        self.faults.mark("check", check.name, f"the probe crashed ({type(exc).__name__})")
        return ProbeResult(False, f"probe error: {type(exc).__name__}", started_at=self.clock())

    def settle(self, check: Check, outcome: ProbeResult | Exception) -> None:
        """Record the outcome of a probe run elsewhere (monitor.checking.early) as
        `run_check` records its own."""
        if isinstance(outcome, Exception):
            outcome = self.crashed(check, outcome)
        elif self.faults.items:
            self.faults.clear("check", check.name)
        self.record(check, outcome)

    def record(self, check: Check, result: ProbeResult, *, fail_after: int | None = None,
               recover_after: int | None = None) -> Transition | None:
        """Feed one result; `fail_after`/`recover_after` override the check's (heartbeats: 1)."""
        rt = self.runtime.get(check.name)
        current = self.checks.get(check.name)
        if rt is None or current is None:
            return None  # removed by a reload while the probe ran
        if current is not check:
            # The probe ran under an earlier config. Its result still counts when the target
            # is the same (a title, interval or threshold edit); it is stale only when what
            # is probed changed. Always judge it by the current check's rules.
            if not current.same_target(check):
                return None
            check = current
        voted = self.voting and check.voted
        if voted:
            rt.seen = self.clock()  # the verdict is alive while its votes are
            rt = self.local.get(check.name) or self.local.setdefault(check.name, self.fresh())
        rt.last = result
        rt.seen = self.clock()
        rt.probes += 1
        if not result.ok:
            rt.failures += 1
        transition = observe(
            rt.state, check.name, result.ok, result.reason, self.clock(),
            fail_after=fail_after or check.fail_after,
            recover_after=recover_after or check.recover_after,
            degraded=result.degraded, flapping=check.flapping,
        )
        for listener in self.on_result:
            listener(check, result, rt.state)
        if voted:  # one location's view: the verdict changes elsewhere (fleet.quorum)
            if transition is not None:
                event(log, "location_transition", check=check.name, old=transition.old,
                      new=transition.new, reason=transition.reason)
            return transition
        for listener in self.on_view:
            listener(check, result, rt.state)
        if transition is not None:
            self.emit(check, transition, result)
        return transition

    def emit(self, check: Check, transition: Transition, result: ProbeResult | None) -> None:
        """Record a transition and tell every listener (also used for non-probe checks)."""
        rt = self.runtime[check.name]
        rt.transitions.append(transition)
        if len(rt.transitions) > RECENT_TRANSITIONS:
            del rt.transitions[0]
        rt.changes += 1
        event(log, "transition", check=check.name, old=transition.old, new=transition.new,
              reason=transition.reason)
        for listener in self.on_transition:
            try:
                listener(check, transition, result)
            except Exception:  # one broken listener must not hide the change from the others
                log.exception("event=listener_failed check=%s", check.name)

    def show(self, check: Check, state: State, reason: str, *, failing: bool,
             fail_since: float | None, at: float) -> tuple[ProbeResult, Transition | None] | None:
        """Set a check's state without probing it (a fleet: another member's probe, or the
        locations' verdict), as a probe would leave its runtime; None when nothing changed.
        Listeners are not told: the caller knows whom to tell (the transition was recorded
        where it happened)."""
        rt = self.runtime[check.name]
        cs, last = rt.state, rt.last
        rt.seen = self.clock()
        if (cs.state is state and last is not None and last.ok != failing
                and cs.reason == reason):
            return None
        old = cs.state
        cs.state, cs.reason, cs.fail_started = state, reason, fail_since or 0.0
        if state in HEALTH:  # a probe here later goes on from it: a DOWN check moved to
            cs.health = state  # this member stays DOWN on its first failure, not UNKNOWN
        result = ProbeResult(not failing, reason, started_at=at)
        rt.last = result
        if old is state:
            return result, None
        cs.since = at
        change = Transition(check.name, old, state, reason, at)
        rt.transitions.append(change)
        if len(rt.transitions) > RECENT_TRANSITIONS:
            del rt.transitions[0]
        return result, change

    def diff(self, config: Config) -> ReloadSummary:
        """What `config` changes against the running checks. It only reads, so a reload
        computes it on its worker thread: comparing 20,000 checks field by field costs tens
        of milliseconds that the loop would otherwise stall for."""
        summary = ReloadSummary(base=self.checks, by_name=config.by_name)
        new, running = summary.by_name, self.checks
        summary.removed = [name for name in running if name not in new]
        for name, check in new.items():
            old = running.get(name)
            if old is None:
                summary.added.append(name)
            elif old == check:
                summary.unchanged += 1
            else:
                summary.changed.append(name)
                if not old.same_target(check):
                    summary.reset.append(name)
        return summary

    def apply(self, config: Config, summary: ReloadSummary | None = None) -> ReloadSummary:
        """Swap in a new config, keeping state by name (see ReloadSummary); `summary` is
        `diff(config)` made earlier (ignored when another config was applied since)."""
        if summary is None or summary.base is not self.checks:
            summary = self.diff(config)
        for name in summary.removed:
            del self.runtime[name]
            self.local.pop(name, None)
        for name in (*summary.added, *summary.reset):
            self.runtime[name] = self.fresh()
            self.local.pop(name, None)
        self.config, self.checks = config, summary.by_name
        return summary
