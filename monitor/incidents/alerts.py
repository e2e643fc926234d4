"""Alerts Alertmanager sends to Siaga's webhook receiver (`POST /api/v1/alertmanager`): the
firing ones, kept in the store so a restart keeps them, and their views for the pager.

A firing alert is a view that is DOWN, keyed `alert:<fingerprint>`; reconciliation opens
one incident for it (kind `alert`) and the pager escalates, reminds, takes acks and sends
"resolved" exactly as for a check. Alertmanager repeats a group's notification every
`repeat_interval` and on every change of the group: the same fingerprint with the same
`startsAt` is the same alert, so repeats change nothing. The alert ends when Alertmanager
says `resolved`, or when a complete (not truncated) notification of its group no longer
lists it (`send_resolved: false`, or its resolution was flushed while Siaga was away). A
person who resolves the incident while the alert still fires ends paging for it until
Alertmanager reports a new episode (a new `startsAt`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node

from monitor.config.model import Config
from monitor.config.scalars import Str
from monitor.config.schema import Ctx, Obj
from monitor.errors import StoreError
from monitor.incidents.am_webhook import AmAlert, Notification, view
from monitor.incidents.model import ALERT_PREFIX, Incident, Kind, View
from monitor.store.engine import Conn, Store, transaction
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.alerts")


@dataclass(frozen=True, slots=True)
class Receiver:
    """The `alertmanager_receiver:` section."""

    token: str | None = None  # accepted besides the API token
    escalation: str = "default"  # policy of alerts without a `siaga_escalation` label


RECEIVER = Obj(
    {
        "token": Str("Bearer token Alertmanager sends (its http_config.authorization."
                     "credentials_file); use ${VAR}. The API token is accepted too",
                     default=None),
        "escalation": Str("Escalation policy of alerts without a `siaga_escalation` label",
                          default="default"),
    },
    "Siaga as an Alertmanager webhook receiver (POST /api/v1/alertmanager)",
    build=lambda v, node, path, ctx: _build(v, node, path, ctx),
)


def _build(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Receiver:
    return Receiver(token=v["token"] or None, escalation=v["escalation"])


@dataclass(slots=True)
class Firing:
    """One firing alert as Siaga holds it."""

    alert: AmAlert
    group_key: str
    first_seen: float  # Siaga's clock when this episode (startsAt) was first reported
    handled: bool = False  # a person resolved its incident: no paging until a new episode


class Alerts:
    """The firing alerts: what the webhook reports, what the pager sees."""

    def __init__(self, store: Store, *, wake: Callable[[], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.wake, self.clock = store, wake, clock
        self.settings = Receiver()
        self.firing: dict[str, Firing] = {}  # fingerprint → alert
        self._views: dict[str, View] | None = None
        self._lock = asyncio.Lock()  # Alertmanager replicas may post at the same moment

    def configure(self, config: Config) -> None:
        self.settings = config.sections.get("alertmanager_receiver") or Receiver()
        self._views = None

    def views(self) -> dict[str, View]:
        """The views of the alerts that fire and were not resolved by hand."""
        if self._views is None:
            policy = self.settings.escalation
            self._views = {f.alert.name: view(f.alert, policy)
                           for f in self.firing.values() if not f.handled}
        return self._views

    async def load(self) -> None:
        self.firing = {f.alert.fingerprint: f for f in await self.store.run(read)}
        self._views = None

    async def follow(self, every: float = 2.0) -> None:
        """A fleet: Alertmanager may post to any member; every member reads the firing
        alerts from the store again each `every` seconds, so the pager sees them all."""
        while True:
            await asyncio.sleep(every)
            try:
                async with self._lock:
                    stored = {f.alert.fingerprint: f for f in await self.store.run(read)}
                    if stored != self.firing:
                        self.firing, self._views = stored, None
                        self.wake()
            except StoreError as exc:
                event(log, "alerts_not_read", logging.WARNING, error=str(exc))

    async def receive(self, note: Notification) -> dict[str, int]:
        """Take one notification: store what changed, then let the pager see it."""
        async with self._lock:
            now = self.clock()
            upserts, ended, fresh = self._diff(note, now)
            if upserts or ended:
                await self.store.run(write, upserts, ended)
            for item in upserts:
                self.firing[item.alert.fingerprint] = item
            for fingerprint in ended:
                self.firing.pop(fingerprint, None)
            if upserts or ended:
                self._views = None
                self.wake()
        firing = sum(1 for a in note.alerts if a.firing)
        return {"firing": firing, "resolved": len(note.alerts) - firing, "new": fresh,
                "ended": len(ended)}

    def _diff(self, note: Notification, now: float) -> tuple[list[Firing], list[str], int]:
        upserts: list[Firing] = []
        ended: list[str] = []
        fresh = 0
        for alert in note.alerts:
            held = self.firing.get(alert.fingerprint)
            if not alert.firing:
                if held is not None and not _older(alert, held.alert):
                    ended.append(alert.fingerprint)
                continue
            if held is None or held.alert.starts_at != alert.starts_at:
                if held is not None and _older(alert, held.alert):
                    continue  # a late copy of an earlier episode
                upserts.append(Firing(alert, note.group_key, now))
                fresh += 1
            elif held.alert != alert or held.group_key != note.group_key:
                upserts.append(Firing(alert, note.group_key, held.first_seen, held.handled))
        if note.group_key and not note.truncated:
            listed = {a.fingerprint for a in note.alerts}
            ended += [fp for fp, held in self.firing.items()
                      if held.group_key == note.group_key and fp not in listed]
        return upserts, ended, fresh

    def on_resolved(self, inc: Incident) -> None:
        """Pager hook: a person resolved an alert's incident while it still fires."""
        if inc.kind is not Kind.ALERT or inc.resolved_by == "siaga":
            return
        held = self.firing.get(inc.check.removeprefix(ALERT_PREFIX))
        if held is not None:
            held.handled = True
            self._views = None


def _older(alert: AmAlert, than: AmAlert) -> bool:
    return (alert.starts_at is not None and than.starts_at is not None
            and alert.starts_at < than.starts_at)


# -- store rows (table am_alerts) ------------------------------------------------------------

def write(conn: Conn, upserts: list[Firing], ended: list[str]) -> None:
    with transaction(conn):
        conn.executemany("DELETE FROM am_alerts WHERE fingerprint=?", [(fp,) for fp in ended])
        conn.executemany(
            "INSERT INTO am_alerts (fingerprint, group_key, labels, annotations, starts_at, "
            "generator_url, first_seen) VALUES (?,?,?,?,?,?,?) ON CONFLICT (fingerprint) DO "
            "UPDATE SET group_key=excluded.group_key, labels=excluded.labels, "
            "annotations=excluded.annotations, starts_at=excluded.starts_at, "
            "generator_url=excluded.generator_url, first_seen=excluded.first_seen",
            [(f.alert.fingerprint, f.group_key, json.dumps(dict(f.alert.labels)),
              json.dumps(dict(f.alert.annotations)), f.alert.starts_at, f.alert.generator_url,
              f.first_seen) for f in upserts])


def read(conn: Conn) -> list[Firing]:
    """The stored firing alerts; one whose incident a person resolved after this episode
    began is `handled` (derived from the incident history, not stored twice)."""
    out = []
    rows = conn.execute("SELECT fingerprint, group_key, labels, annotations, starts_at, "
                        "generator_url, first_seen FROM am_alerts "
                        "ORDER BY first_seen, fingerprint")
    for fp, group_key, labels, notes, starts_at, url, first_seen in rows.fetchall():
        alert = AmAlert(fp, True, json.loads(labels), json.loads(notes), starts_at, url)
        handled = conn.execute(
            "SELECT 1 FROM incidents WHERE check_name=? AND opened_at>=? AND status='resolved' "
            "AND resolved_by<>'siaga' LIMIT 1", (alert.name, first_seen)).fetchone()
        out.append(Firing(alert, group_key, first_seen, handled is not None))
    return out
