"""Routing incidents to Alertmanager instead of paging through apprise.

With `alerting: {alertmanager: [URL, …]}` Siaga posts every open, unsuppressed incident as a
firing alert on each change and every `resend` (so Alertmanager never times it out), and a
resolved one with `endsAt`. Posting the current state again is idempotent, so no outbox is
needed: after a restart the open incidents are simply posted again. Alertmanager's grouping,
routing, silences and cluster gossip then decide who is notified, once, however many Siaga
replicas post the same alert.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import aiohttp

from monitor.alerting.alertmanager import CHANNEL, AlertmanagerNotifier, AmAlert
from monitor.errors import NotifyError
from monitor.incidents import Incident, Kind
from monitor.logs import event
from monitor.metrics import Metrics

log = logging.getLogger("siaga.alertmanager")


class AlertmanagerRoute:
    def __init__(self, urls: tuple[str, ...], location: str, base_url: str, metrics: Metrics,
                 incidents: Callable[[], list[Incident]], *, resend: float = 60.0) -> None:
        self.urls, self.location, self.base_url = urls, location, base_url
        self.metrics, self.incidents, self.resend = metrics, incidents, resend
        self._resolved: list[Incident] = []
        self._wake = asyncio.Event()

    def on_resolved(self, inc: Incident) -> None:
        self._resolved.append(inc)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def alert(self, inc: Incident) -> AmAlert:
        severity = "warning" if inc.kind is Kind.FLAPPING else "critical"
        summary = {Kind.BLIND: "Siaga cannot see: its own network checks fail",
                   Kind.SELF: "Siaga cannot watch some checks",
                   Kind.FLAPPING: f"{inc.title} is flapping"}.get(inc.kind, f"{inc.title} is down")
        affected = f" Also affected: {', '.join(sorted(inc.affected))}." if inc.affected else ""
        ends = (dt.datetime.fromtimestamp(inc.resolved_at, dt.UTC) if inc.resolved_at
                else None)
        return AmAlert(check=inc.check, group=inc.group, location=self.location,
                       severity=severity, summary=summary,
                       description=f"{inc.reason}{affected}",
                       starts_at=dt.datetime.fromtimestamp(inc.opened_at, dt.UTC),
                       ends_at=ends, generator_url=f"{self.base_url}/status")

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            notifier = AlertmanagerNotifier(session, self.urls)
            while True:
                self._wake.clear()
                await self.post(notifier)
                try:
                    async with asyncio.timeout(self.resend):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def post(self, notifier: AlertmanagerNotifier) -> None:
        resolved, self._resolved = self._resolved, []
        alerts = [self.alert(i) for i in self.incidents() if i.suppressed is None]
        alerts += [self.alert(i) for i in resolved]
        if not alerts:
            return
        try:
            await notifier.post(alerts)
        except NotifyError as exc:
            self._resolved = resolved + self._resolved  # keep the endings for the next try
            self.metrics.notifications.labels(CHANNEL, "failed").inc()
            event(log, "post_failed", logging.WARNING, error=str(exc), alerts=len(alerts))
            return
        self.metrics.notifications.labels(CHANNEL, "sent").inc()
