"""What people do to incidents — acknowledge, resolve — from the ack link, the API or the
CLI, applied through the pager so the store, the outbox and the escalation stay in step."""

from __future__ import annotations

import logging

from monitor.errors import IncidentError
from monitor.incidents.model import Incident, acknowledge, resolve
from monitor.paging.pager import Pager
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.pager")


class Actions:
    """What people do to incidents (ack link, API, CLI), applied through the pager."""

    def __init__(self, pager: Pager) -> None:
        self.pager = pager

    async def acknowledge(self, incident_id: int, who: str, note: str | None = None) -> Incident:
        return await self._act(incident_id, "acknowledged", who, note)

    async def resolve(self, incident_id: int, who: str, note: str | None = None) -> Incident:
        return await self._act(incident_id, "resolved", who, note)

    async def _act(self, incident_id: int, what: str, who: str, note: str | None) -> Incident:
        pager = self.pager
        inc = pager.incidents.get(incident_id)
        if inc is None:
            raise IncidentError(f"incident {incident_id} is not open")
        now = pager.clock()
        (acknowledge if what == "acknowledged" else resolve)(inc, who, now, note)
        await pager.record(inc, what, who, note, now)
        event(log, f"incident_{what}", id=inc.id, by=who)
        return inc
