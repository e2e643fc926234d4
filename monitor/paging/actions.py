"""What people do to incidents — acknowledge, resolve — from the ack link, the API or the
CLI, applied through the pager so the store, the outbox and the escalation stay in step.

In a fleet only one member is the pager. An action that reaches another member (the ack
link behind a load balancer, the API of any instance) is queued in `fleet_actions`; the
pager applies it within a second and records the outcome, which the member waits for."""

from __future__ import annotations

import asyncio
import logging
import secrets

from monitor.errors import IncidentError, StoreError
from monitor.incidents.model import Incident, acknowledge, resolve
from monitor.paging.pager import Pager
from monitor.store.engine import Conn, transaction
from monitor.store.records import get_incident
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.pager")
FORWARD_WAIT = 10.0  # seconds a member waits for the pager to apply a forwarded action
POLL = 0.2
SERVE_EVERY = 0.5


class Actions:
    """What people do to incidents (ack link, API, CLI), applied through the pager."""

    def __init__(self, pager: Pager, *, fleet: bool = False) -> None:
        self.pager = pager
        self.fleet = fleet  # a shared store: actions may have to go to another member

    async def acknowledge(self, incident_id: int, who: str, note: str | None = None) -> Incident:
        return await self._act(incident_id, "acknowledged", who, note)

    async def resolve(self, incident_id: int, who: str, note: str | None = None) -> Incident:
        return await self._act(incident_id, "resolved", who, note)

    async def _act(self, incident_id: int, what: str, who: str, note: str | None) -> Incident:
        if self.fleet and not self.pager.active():
            return await self._forward(incident_id, what, who, note)
        return await self._apply(incident_id, what, who, note)

    async def _apply(self, incident_id: int, what: str, who: str,
                     note: str | None) -> Incident:
        pager = self.pager
        inc = pager.incidents.get(incident_id)
        if inc is None:
            raise IncidentError(f"incident {incident_id} is not open")
        now = pager.clock()
        (acknowledge if what == "acknowledged" else resolve)(inc, who, now, note)
        await pager.record(inc, what, who, note, now)
        event(log, f"incident_{what}", id=inc.id, by=who)
        return inc

    # -- a fleet ----------------------------------------------------------------------------
    async def _forward(self, incident_id: int, what: str, who: str,
                       note: str | None) -> Incident:
        """Queue the action for the pager and wait for its outcome."""
        token = secrets.token_hex(12)
        store = self.pager.store
        await store.run(_ask, token, incident_id, what, who, note, self.pager.clock())
        event(log, "action_forwarded", id=incident_id, what=what)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FORWARD_WAIT
        while loop.time() < deadline:
            await asyncio.sleep(POLL)
            if self.pager.active():  # became the pager meanwhile: serve it here
                await self.serve_once()
            outcome = await store.run(_outcome, token)
            if outcome is None:
                continue
            if outcome != "ok":
                raise IncidentError(outcome)
            inc = await store.run(get_incident, incident_id)
            if inc is None:
                raise IncidentError(f"incident {incident_id} is not open")
            return inc
        await store.run(_withdraw, token)
        raise StoreError("no pager answered within 10 s: the fleet has no pager right now; "
                         "try again shortly")

    async def serve_once(self) -> None:
        """On the pager: apply actions other members queued."""
        for token, incident_id, what, who, note in await self.pager.store.run(_pending):
            try:
                await self._apply(incident_id, what, who, note)
                outcome = "ok"
            except IncidentError as exc:
                outcome = str(exc)
            await self.pager.store.run(_done, token, outcome, self.pager.clock())

    async def serve(self) -> None:
        """The pager's side of forwarding, while this member is the pager."""
        while True:
            await asyncio.sleep(SERVE_EVERY)
            if not self.pager.active():
                continue
            try:
                await self.serve_once()
            except StoreError as exc:
                event(log, "forwarded_actions_failed", logging.WARNING, error=str(exc))


def _ask(conn: Conn, token: str, incident_id: int, what: str, who: str, note: str | None,
         now: float) -> None:
    with transaction(conn):
        conn.execute("INSERT INTO fleet_actions (token, incident_id, what, who, note, asked_at) "
                     "VALUES (?,?,?,?,?,?)", (token, incident_id, what, who, note, now))


def _outcome(conn: Conn, token: str) -> str | None:
    row = conn.execute("SELECT outcome FROM fleet_actions WHERE token=? AND done_at IS NOT NULL",
                       (token,)).fetchone()
    return None if row is None else str(row[0])


def _withdraw(conn: Conn, token: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM fleet_actions WHERE token=? AND done_at IS NULL", (token,))


def _pending(conn: Conn) -> list[tuple[str, int, str, str, str | None]]:
    rows = conn.execute("SELECT token, incident_id, what, who, note FROM fleet_actions "
                        "WHERE done_at IS NULL ORDER BY asked_at").fetchall()
    return [(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]


def _done(conn: Conn, token: str, outcome: str, now: float) -> None:
    with transaction(conn):
        conn.execute("UPDATE fleet_actions SET done_at=?, outcome=? WHERE token=?",
                     (now, outcome, token))
        conn.execute("DELETE FROM fleet_actions WHERE done_at < ?", (now - 3600,))
