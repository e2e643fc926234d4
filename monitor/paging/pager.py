"""The pager: turns check states into incidents and incidents into messages in the outbox.

After every transition (at once, for a fast first page) and every second, it reconciles
incidents with the checks (`monitor.incidents.reconcile`), walks each open incident's
escalation plan (`monitor.paging.escalator`), and writes the messages that became due into
the outbox in the same transaction that marks their step done — so a crash never loses a
decided page and a restart never repeats one. Delivery is the outbox's job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Iterator, Mapping

from monitor.checking.engine import Engine
from monitor.checking.state import CheckState, State, Transition
from monitor.config.model import Check, Config
from monitor.incidents.model import (
    Action,
    Attach,
    Confirm,
    Grouping,
    Hold,
    Incident,
    Open,
    Resolve,
    Status,
    Suppress,
    Turn,
    Unsuppress,
    View,
)
from monitor.incidents.reconcile import Evidence, reconcile
from monitor.paging.acktoken import AckSigner
from monitor.paging.context import PagingContext
from monitor.paging.escalator import Escalation, Pending
from monitor.paging.oncall.model import OnCall
from monitor.paging.plans import Planner
from monitor.probes.base import ProbeResult
from monitor.store.engine import Conn, Store, transaction
from monitor.store.records import (
    add_event,
    add_transitions,
    enqueue,
    insert_incident,
    mark_step,
    open_incidents,
    paged_recipients,
    save_incident,
    steps_done,
)
from monitor.telemetry.logs import event
from monitor.telemetry.metrics import Metrics

log = logging.getLogger("siaga.pager")
TICK = 1.0
REREAD = 5.0  # seconds between two reads of open incidents on a member that is not the pager

Suppression = Callable[[Check, float], str | None]


class ProbedAt(Mapping[str, float]):
    """When each check's last probe started, read live from the engine's runtime."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __getitem__(self, name: str) -> float:
        rt = self.engine.runtime.get(name)
        if rt is None or rt.last is None:
            raise KeyError(name)
        return rt.last.started_at

    def __iter__(self) -> Iterator[str]:
        return iter(self.engine.runtime)

    def __len__(self) -> int:
        return len(self.engine.runtime)


class Pager(Escalation):
    """Decides incidents and pages; one per daemon."""

    def __init__(self, *, store: Store, engine: Engine, config: Config, signer: AckSigner,
                 metrics: Metrics, clock: Callable[[], float] = time.time,
                 suppression: Suppression | None = None,
                 suppression_key: Callable[[float], Hashable] = lambda now: None,
                 wake_outbox: Callable[[], None] = lambda: None,
                 probe_now: Callable[[str], object] = lambda name: None,
                 blind_spots: Callable[[], tuple[str, ...]] = tuple,
                 alerts: Callable[[], dict[str, View]] = dict,
                 active: Callable[[], bool] = lambda: True) -> None:
        self.store, self.engine, self.signer, self.metrics = store, engine, signer, metrics
        self.clock = clock
        self.suppression = suppression or (lambda check, now: None)
        self.suppression_key = suppression_key  # changes whenever suppression() could
        self.wake_outbox = wake_outbox
        self.probe_now = probe_now  # an on-demand probe of a dependent's ancestor
        self.blind_spots = blind_spots  # what Siaga cannot watch now (stale, broken items)
        self.alerts = alerts  # views of the Alertmanager alerts that fire (incidents.alerts)
        self.active = active  # False on a fleet member that does not hold the pager's lease
        self._reread_at = 0.0
        # The escalation steps sent and who was paged are this member's own writes since it
        # last read them from the store (load); False while another member may be paging.
        self._current = True
        self._probed_at = ProbedAt(engine)
        self._holding: dict[str, float] = {}  # dependent → since when its page waits
        self._confirming: set[str] = set()  # ancestors being probed on demand
        self.incidents: dict[int, Incident] = {}
        self.done: dict[int, dict[str, float]] = {}  # escalation keys sent, and when
        self.paged: dict[int, set[str]] = {}  # who has heard of each open incident
        self._held: dict[int, str] = {}  # incidents a window or silence holds right now
        self._transitions: list[Transition] = []
        self._wake = asyncio.Event()
        self._counted: set[tuple[str, str]] = set()  # (check, reason) suppressions counted
        self._skip: set[int] = set()  # incidents whose recipient had no working channel
        # Checks whose incident a person resolved while they were still failing: no new
        # incident until they recover (kept in memory; a restart may open one again).
        self.quiet: set[str] = set()
        self._live: dict[str, View] = {}
        self._alert_views: dict[str, View] = {}  # the alerts' views now in _live
        # Reconcile's indexes (Evidence.troubled, .references), kept per result so a pass
        # costs what is down or failing, not the number of checks.
        self._troubled: set[str] = set()
        self._order: dict[str, int] = {}  # each view's place in _live, to keep its order
        self._refs: list[Check] = []
        self._reason: dict[str, str | None] = {}
        self._key: Hashable = None
        self._built_for: object = None
        self.on_resolved: list[Callable[[Incident], None]] = []
        self.on_change: list[Callable[[], None]] = []  # incidents opened, changed or resolved
        self._planner = Planner(lambda: self.context, lambda: self.incidents.keys())
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        self.config = config
        self.oncall: OnCall | None = config.sections.get("oncall")
        self.grouping: Grouping = config.sections.get("alerting") or Grouping()
        self.tz = config.settings.tz
        self.context = PagingContext(self.oncall, self.tz, config.settings.language,
                                     config.settings.base_url, self.signer.sign,
                                     lambda name: self.engine.checks.get(name))
        self.wake()

    # -- inputs ---------------------------------------------------------------------------
    def on_transition(self, check: Check, t: Transition, result: ProbeResult | None) -> None:
        self._transitions.append(t)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def load(self) -> None:
        """Resume open incidents and their escalation progress from the store."""
        def read(conn: Conn) -> tuple[list[Incident], dict[int, dict[str, float]],
                                                    dict[int, set[str]]]:
            incs = open_incidents(conn)
            return (incs, {i.id: steps_done(conn, i.id) for i in incs},
                    {i.id: paged_recipients(conn, i.id) for i in incs})

        incs, done, paged = await self.store.run(read)
        self.incidents = {i.id: i for i in incs}
        self.done, self.paged = done, paged
        self._current = True
        self._update_gauge()

    def stand_by(self) -> None:
        """No longer the fleet's pager: what it knows of the paging goes stale from now."""
        self._current = False

    async def take_over(self) -> None:
        """Become the fleet's pager: carry on from what the store says (incidents, steps
        sent, who was paged), with every check's view built afresh."""
        await self.load()
        self._built_for = None
        self.wake()

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(TICK):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep paging alive; the store may recover
                log.exception("event=pager_step_failed")

    # -- one pass -------------------------------------------------------------------------
    async def step(self) -> None:
        now = self.clock()
        if self._transitions:
            batch, self._transitions = self._transitions, []
            await self.store.run(add_transitions, batch)
        if not self.active():
            self._current = False  # another member may page meanwhile: take_over reads again
            if now >= self._reread_at:  # the pager's incidents, for this member's API (the
                self._reread_at = now + REREAD  # steps sent are read by take_over)
                self.incidents = {i.id: i for i in await self.store.run(open_incidents)}
                self._update_gauge()
            return
        if not self._current:  # just became the pager: take_over has not read the store yet
            return
        views = self.views(now)
        troubled = sorted(self._troubled, key=self._order.__getitem__)
        evidence = Evidence(self._probed_at, self._holding, self.blind_spots(), troubled,
                            [c.name for c in self._refs])
        actions = reconcile(views, list(self.incidents.values()), now, self.grouping, evidence)
        actions = self._confirm([a for a in actions if isinstance(a, Confirm)], actions, now)
        if actions:
            await self._apply(actions, now)
        pending = self._escalate(now)
        self._digests(now, pending)
        if pending.outbox or pending.steps or pending.events:
            await self.store.run(self._write, pending)
            for incident_id, key in pending.steps:
                self.done.setdefault(incident_id, {})[key] = now
            if pending.outbox:
                self.wake_outbox()

    def _confirm(self, confirms: list[Confirm], actions: list[Action],
                 now: float) -> list[Action]:
        """Hold dependents' pages and probe their unsettled ancestors now (see
        reconcile._confirming); their results wake the pager (note_result)."""
        self._holding = {c.check: self._holding.get(c.check, now) for c in confirms}
        wanted = {name for c in confirms for name in c.ancestors}
        for name in wanted:
            self.probe_now(name)
        self._confirming = wanted
        return [a for a in actions if not isinstance(a, Confirm)] if confirms else actions

    def views(self, now: float) -> dict[str, View]:
        """What reconciliation sees of every check. Kept up to date per probe result
        (`note_result`), and rebuilt whole only when suppressions or the config change:
        this runs every second, and a site may have 20,000 checks."""
        key = self.suppression_key(now)
        if key != self._key or self._built_for is not self.engine.checks:
            self._rebuild(now)
            self._key, self._built_for = key, self.engine.checks
        self._take_alerts()
        if not self.quiet:
            return self._live
        out = dict(self._live)
        for name in list(self.quiet):
            view = out.get(name)
            if view is not None and view.state in (State.DOWN, State.FLAPPING, State.UNKNOWN):
                del out[name]
            else:
                self.quiet.discard(name)
        return out

    def _take_alerts(self) -> None:
        """Bring the firing Alertmanager alerts' views into `_live` when they changed (the
        source hands out the same dict until then)."""
        alerts = self.alerts()
        if alerts is self._alert_views:
            return
        for name in self._alert_views.keys() - alerts.keys():
            del self._live[name], self._order[name]
            self._troubled.discard(name)
        for view in alerts.values():
            self._put(view)
        self._alert_views = alerts

    def _rebuild(self, now: float) -> None:
        self._live, self._reason, self._troubled, self._order = {}, {}, set(), {}
        self._alert_views = {}  # taken again by _take_alerts
        self._refs = [c for c in self.engine.checks.values() if c.connectivity]
        for name, check in self.engine.checks.items():
            rt = self.engine.runtime.get(name)
            if rt is not None:
                reason = self.suppression(check, now)
                rt.maintenance = reason == "maintenance"
                self._reason[name] = reason
                self._put(self._view(check, rt.state.state, rt.last))

    def _put(self, view: View) -> None:
        if view.name not in self._live:
            self._order[view.name] = len(self._order)
        self._live[view.name] = view
        if view.down or view.failing or view.state is State.FLAPPING:
            self._troubled.add(view.name)
        else:
            self._troubled.discard(view.name)

    def _view(self, check: Check, state: State, last: ProbeResult | None) -> View:
        failing = last is not None and not last.ok
        rt = self.engine.runtime.get(check.name)
        since = rt.state.fail_started if failing and rt is not None else None
        return View(check.name, check.group, check.display_name, state, check.depends_on,
                    check.connectivity, self._reason.get(check.name),
                    check.escalation or "default", failing, since,
                    check.timeout * (check.fail_after + 1))

    def note_result(self, check: Check, result: ProbeResult, cs: CheckState) -> None:
        """Engine result listener: refresh this check's view if what matters changed."""
        view = self._live.get(check.name)
        changed = view is None or view.state is not cs.state or view.failing == result.ok
        current = self.engine.checks.get(check.name)
        if changed and current is not None:
            self._put(self._view(current, cs.state, result))
        if check.name in self._confirming:
            self.wake()  # a dependent's page waits for this answer

    async def _apply(self, actions: list[Action], now: float) -> None:
        changed: list[Incident] = []
        new: list[Incident] = []
        quiet = {a.incident_id for a in actions if isinstance(a, Resolve) and a.quiet}
        for action in actions:
            if isinstance(action, Open):
                new.append(self._new_incident(action, now))
            elif isinstance(action, Suppress):
                self._count_suppressed(action.check, action.reason)
            elif not isinstance(action, Confirm):
                inc = self.incidents.get(action.incident_id)
                if inc is not None:
                    self._change(inc, action, now)
                    changed.append(inc)
        resolved = Pending()
        for inc in changed:
            if inc.status is Status.RESOLVED and inc.id not in quiet:
                self._resolved_rows(inc, now, resolved)
        await self.store.run(self._write_incidents, new, changed, now, resolved)
        if resolved.outbox:
            self.wake_outbox()
        for inc in new + changed:
            if inc.is_open:
                self.incidents[inc.id] = inc
            else:
                self.incidents.pop(inc.id, None)
        self._update_gauge()
        for hook in self.on_change:
            hook()

    def _new_incident(self, action: Open, now: float) -> Incident:
        view = action.view
        rt = self.engine.runtime.get(view.name)
        reason = action.reason or (rt.state.reason if rt else "") or view.state.value
        if action.suppressed:
            self._count_suppressed(view.name, action.suppressed)
        for name in action.dependents:
            self._count_suppressed(name, "dependency")
        for name in action.grouped:
            self._count_suppressed(name, "grouped")
        return Incident(0, view.name, view.group, view.title, Status.OPEN, reason,
                        now, action.kind, {**dict.fromkeys(action.members, "mass"),
                                           **dict.fromkeys(action.grouped, "grouped"),
                                           **dict.fromkeys(action.dependents, "dependency")},
                        view.policy,
                        suppressed=action.suppressed,
                        paging_from=None if action.suppressed else now)

    def _change(self, inc: Incident, action: Action, now: float) -> None:
        if isinstance(action, Attach):
            inc.affected[action.check] = action.why
            self._count_suppressed(action.check, action.why)
        elif isinstance(action, Unsuppress):
            inc.suppressed, inc.paging_from = None, now
        elif isinstance(action, Hold):
            inc.suppressed = action.reason
            self._count_suppressed(inc.check, action.reason)
        elif isinstance(action, Resolve):
            inc.status, inc.resolved_at, inc.resolved_by = Status.RESOLVED, now, "siaga"
            inc.resolve_note = action.reason
        elif isinstance(action, Turn):
            inc.kind, inc.reason = action.kind, "flapping"

    async def record(self, inc: Incident, what: str, who: str, note: str | None,
                     now: float) -> None:
        """Store what a person did to an open incident (`inc`, already changed): its row and
        an event, with the "resolved" messages in the same transaction when it was resolved."""
        extra = Pending()
        if inc.status is Status.RESOLVED:
            self._resolved_rows(inc, now, extra)
        extra.events.append((inc.id, now, what, who, note))

        def write(conn: Conn) -> None:
            with transaction(conn):
                save_incident(conn, inc)
                self._write_pending(conn, extra)

        await self.store.run(write)
        if inc.status is Status.RESOLVED:
            self.incidents.pop(inc.id, None)
            self.quiet |= inc.covers
            self._update_gauge()
        for hook in self.on_change:
            hook()
        self.wake()
        self.wake_outbox()

    def _count_suppressed(self, check: str, reason: str) -> None:
        if (check, reason) not in self._counted:
            self._counted.add((check, reason))
            self.metrics.suppressed.labels(reason).inc()
            event(log, "suppressed", check=check, reason=reason)

    def _write_incidents(self, conn: Conn, new: list[Incident],
                         changed: list[Incident], now: float, resolved: Pending) -> None:
        with transaction(conn):
            self._write_pending(conn, resolved)
            for inc in new:
                insert_incident(conn, inc)
            for inc in changed:
                save_incident(conn, inc)
                detail = inc.resolve_note if inc.status is Status.RESOLVED else None
                kind = "resolved" if inc.status is Status.RESOLVED else "updated"
                add_event(conn, inc.id, now, kind, "siaga",
                          detail or ", ".join(sorted(inc.affected)))
        for inc in new:
            event(log, "incident_opened", id=inc.id, check=inc.check, kind=inc.kind,
                  suppressed=inc.suppressed or "-")
        for inc in changed:
            if inc.status is Status.RESOLVED:
                event(log, "incident_resolved", id=inc.id, check=inc.check,
                      reason=inc.resolve_note)

    def _write(self, conn: Conn, pending: Pending) -> None:
        with transaction(conn):
            self._write_pending(conn, pending)

    def _write_pending(self, conn: Conn, pending: Pending) -> None:
        enqueue(conn, pending.outbox)
        for inc in pending.incidents:
            save_incident(conn, inc)
        for incident_id, key in pending.steps:
            mark_step(conn, incident_id, key, self.clock())
        for args in pending.events:
            add_event(conn, *args)

    def _update_gauge(self) -> None:
        counts: dict[str, int] = {}
        for inc in self.incidents.values():
            counts[inc.group] = counts.get(inc.group, 0) + 1
        self.metrics.incidents_open.clear()
        for group, n in counts.items():
            self.metrics.incidents_open.labels(group).set(n)
