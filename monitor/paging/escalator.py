"""Escalation, digests and holds: which messages became due for the open incidents.

The pager's half that walks each open incident's escalation plan, sends one digest per
window for checks that joined later, tells the officer once that an incident is still down
after a window or silence held it, and words the "resolved" messages. It only collects rows
(`Pending`); the pager writes them in one transaction with the steps they complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from monitor.checking.engine import Engine
from monitor.config.model import Check
from monitor.incidents.model import SELF_KINDS, Grouping, Incident, Kind, Status
from monitor.paging import digests, messages
from monitor.paging.context import PagingContext
from monitor.paging.oncall import escalation
from monitor.paging.oncall.model import OnCall
from monitor.paging.oncall.roster import admins, dedupe, on_duty
from monitor.paging.plans import Planner


@dataclass(slots=True)
class Pending:
    """Rows to write in one transaction."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    steps: list[tuple[int, str]] = field(default_factory=list)
    events: list[tuple[int, float, str, str | None, str | None]] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)  # announced members changed


class Escalation:
    """The escalation half of the `Pager` (a mixin: it shares the pager's incident state)."""

    engine: Engine
    oncall: OnCall | None
    grouping: Grouping
    tz: ZoneInfo
    context: PagingContext
    incidents: dict[int, Incident]
    done: dict[int, dict[str, float]]
    paged: dict[int, set[str]]
    suppression: Callable[[Check, float], str | None]
    on_resolved: list[Callable[[Incident], None]]
    _planner: Planner
    _held: dict[int, str]
    _skip: set[int]
    _refs: list[Check]

    def wake(self) -> None:
        raise NotImplementedError  # the pager's

    def plan(self, inc: Incident) -> escalation.Plan:
        return self._planner.plan(inc)

    def _escalate(self, now: float) -> Pending:
        pending = Pending()
        if self.oncall is None or self.grouping.alertmanager:
            return pending
        for inc in list(self.incidents.values()):
            held = inc.suppressed or self._root_silenced(inc, now)
            if held:
                self._held[inc.id] = held
                continue
            if inc.id in self._held:
                self._after_hold(inc, self._held.pop(inc.id), now, pending)
            if self._guard_agrees(inc, now):
                self._due_pages(inc, now, pending)
        for incident_id in self._skip:
            skipped = self.incidents.get(incident_id)
            if skipped is not None and skipped.status is Status.OPEN:
                done = self.done.get(skipped.id, {})
                due = escalation.skip_to_next(self.plan(skipped), done, now)
                self._queue(skipped, due, "page", now, pending)
        self._skip.clear()
        return pending

    def _guard_agrees(self, inc: Incident, now: float) -> bool:
        """Page for a service only once every connectivity reference has been probed since
        the incident opened (so Siaga knows its own network works), or after a bounded wait."""
        if inc.kind in SELF_KINDS or inc.kind is Kind.ALERT:
            return True  # Siaga's own network did not decide these
        refs = self._refs  # connectivity references of the current config
        if not refs:
            return True
        limit = max(c.interval + c.timeout for c in refs)
        if now - inc.opened_at > limit:
            return True
        for ref in refs:
            rt = self.engine.runtime.get(ref.name)
            if rt is None or rt.last is None or rt.last.started_at < inc.opened_at:
                return False
        return True

    def _root_silenced(self, inc: Incident, now: float) -> str | None:
        check = self.engine.checks.get(inc.check)
        return self.suppression(check, now) if check is not None else None

    def _after_hold(self, inc: Incident, held: str, now: float, pending: Pending) -> None:
        """A window or silence ended on an incident that had been paged and is still open:
        the officer on duty hears once that it is still down (issue 19's decision)."""
        if held not in ("maintenance", "silence") or not self.paged.get(inc.id):
            return
        if self.oncall is None or inc.kind not in (Kind.DOWN, Kind.MASS):
            return
        officer = on_duty(self.oncall, now, self.tz).officer
        to = (officer,) if officer else admins(self.oncall)
        key = f"after-{held}@{now:.3f}"
        for name in to:
            pending.outbox.append(self._message(inc, "still_down", name, key, now, held))
        self.paged.setdefault(inc.id, set()).update(to)
        pending.events.append((inc.id, now, "still_down", "siaga", ", ".join(to)))

    def _due_pages(self, inc: Incident, now: float, pending: Pending) -> None:
        plan = self.plan(inc)
        done = self.done.get(inc.id, {})
        acked = inc.acked_at if inc.status is Status.ACKNOWLEDGED else None
        remind_to = self._remind_to(inc, now) if acked is not None else ()
        resolve = (escalation.roster_resolver(self.oncall, self.tz)
                   if self.oncall is not None else None)
        due = escalation.due(plan, done, now, acked_at=acked, remind_to=remind_to,
                             resolve=resolve)
        if not due.steps:
            return
        kind = "reminder" if due.steps[0].reminder else "page"
        if inc.kind not in (Kind.DOWN, Kind.ALERT) and kind == "page":
            kind = inc.kind.value
        self._queue(inc, due, kind, now, pending)

    def _remind_to(self, inc: Incident, now: float) -> tuple[str, ...]:
        """Reminders go to the officer on duty now and whoever acknowledged."""
        assert self.oncall is not None
        names = [on_duty(self.oncall, now, self.tz).officer]
        if inc.acked_by in self.oncall.officers:
            names.append(inc.acked_by)
        return dedupe(names) or admins(self.oncall)

    def escalate_now(self, incident_id: int | None) -> None:
        """An officer had no working channel: take the next escalation step at once."""
        if incident_id is not None:
            self._skip.add(incident_id)
            self.wake()

    def _queue(self, inc: Incident, due: escalation.Due, kind: str, now: float,
               pending: Pending) -> None:
        if not due.steps:
            return
        step_key = "+".join(due.keys)
        for officer in due.recipients:
            pending.outbox.append(self._message(inc, kind, officer, step_key, now))
        pending.steps += [(inc.id, key) for key in due.keys]
        pending.events.append((inc.id, now, kind, "siaga", ", ".join(due.recipients)))
        self.paged.setdefault(inc.id, set()).update(due.recipients)
        digests.announce(inc, now)  # the message lists every member it has now
        pending.incidents.append(inc)

    def _digests(self, now: float, pending: Pending) -> None:
        """One follow-up per window for checks that joined after the officers were paged."""
        if self.oncall is None or self.grouping.alertmanager:
            return
        for digest in digests.due(list(self.incidents.values()), self.paged,
                                  self.grouping.window, now):
            inc = digest.incident
            key = f"digest@{now:.3f}"
            for officer in digest.recipients:
                pending.outbox.append(messages.outbox_row(self.context, inc, "digest", officer, key,
                                                          now, digest.joined))
            pending.events.append((inc.id, now, "digest", "siaga", ", ".join(digest.joined)))
            digests.announce(inc, now)
            pending.incidents.append(inc)

    def _resolved_rows(self, inc: Incident, now: float, pending: Pending) -> None:
        """One "resolved" (or "stable again") message to everyone who was paged."""
        for hook in self.on_resolved:
            hook(inc)
        if self.oncall is None or self.grouping.alertmanager:
            return
        kind = {Kind.FLAPPING: "stable", Kind.SELF: "self_over"}.get(inc.kind, "resolved")
        for officer in sorted(self.paged.pop(inc.id, ())):
            pending.outbox.append(self._message(inc, kind, officer, "resolved", now))
        pending.steps.append((inc.id, "resolved"))
        self.done.pop(inc.id, None)

    def _message(self, inc: Incident, kind: str, officer: str, step_key: str,
                 now: float, note: str | None = None) -> dict[str, Any]:
        return messages.outbox_row(self.context, inc, kind, officer, step_key, now, note=note)
