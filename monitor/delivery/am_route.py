"""Routing incidents to Alertmanager instead of paging through apprise.

With `alerting: {alertmanager: [URL, …]}` Siaga posts every open, unsuppressed incident as a
firing alert whenever the pager opens, changes (members, acknowledgement, suppression) or
resolves one — the pager's `on_change` hook, not check transitions, so the post carries the
incident that was just decided — and again every `resend`, so Alertmanager never times it
out. Changes within `BATCH` go out in one POST. An incident that resolves or becomes
suppressed is posted once more with `endsAt`. Posting the current state again is
idempotent, so no outbox is needed: after a restart the open incidents are simply posted
again. Alertmanager's grouping, routing, silences and cluster gossip then decide who is
notified, once, however many Siaga replicas post the same alert.

Each configured Alertmanager has its own sender with its own timeout: one that is down or
hangs delays neither the others nor the next change. Failures are counted and logged per
Alertmanager by its index in the list and its host — never the URL, which may carry
credentials.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from prometheus_client import Counter

from monitor.delivery.alertmanager import CHANNEL, DEFAULT_TIMEOUT, AlertmanagerNotifier, AmAlert
from monitor.incidents.model import Incident, Kind, Status
from monitor.telemetry.logs import event
from monitor.telemetry.metrics import Metrics

log = logging.getLogger("siaga.alertmanager")
BATCH = 0.005  # changes this close together go out in one POST
ENDED_KEPT = 600.0  # an ended alert an Alertmanager has not taken is offered this long
RETRY_FIRST = 1.0  # a failed post is tried again after 1 s, 2 s, 4 s … up to `resend`

Key = tuple[tuple[str, str], ...]


def _key(alert: AmAlert) -> Key:
    return tuple(sorted(alert.labels().items()))


def host_of(url: str) -> str:
    """The host:port of an Alertmanager URL, for logs: no user, password, path or query."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    except ValueError:
        return "?"


@dataclass(eq=False)
class _Endpoint:
    """One configured Alertmanager: what it should be told next, and its sender's state."""

    index: int
    host: str
    firing: list[AmAlert] = field(default_factory=list)
    ended: dict[Key, tuple[float, AmAlert]] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0


class AlertmanagerRoute:
    def __init__(self, urls: tuple[str, ...], location: str, base_url: str, metrics: Metrics,
                 incidents: Callable[[], list[Incident]], *, resend: float = 60.0,
                 timeout: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.time,
                 active: Callable[[], bool] = lambda: True) -> None:
        self.urls, self.location, self.base_url = urls, location, base_url
        self.active = active  # a fleet: only the pager speaks for the incidents
        self.metrics, self.incidents, self.resend = metrics, incidents, resend
        self.timeout, self.clock = timeout, clock
        self.endpoints = [_Endpoint(i, host_of(url)) for i, url in enumerate(urls)]
        self.posts = metrics.add(Counter(
            "siaga_alertmanager_posts", "Posts to each configured Alertmanager by outcome "
            "(alertmanager: its index in alerting.alertmanager, from 0)",
            ["alertmanager", "outcome"], registry=None))
        self._firing: dict[Key, AmAlert] = {}
        self._wake = asyncio.Event()

    def changed(self) -> None:
        """The pager changed incidents: post the new state (within BATCH)."""
        self._wake.set()

    def alert(self, inc: Incident) -> AmAlert:
        severity = "warning" if inc.kind is Kind.FLAPPING else "critical"
        summary = {Kind.BLIND: "Siaga cannot see: its own network checks fail",
                   Kind.SELF: "Siaga cannot watch some checks",
                   Kind.FLAPPING: f"{inc.title} is flapping"}.get(inc.kind, f"{inc.title} is down")
        affected = f" Also affected: {', '.join(sorted(inc.affected))}." if inc.affected else ""
        acked = (f" Acknowledged by {inc.acked_by}." if inc.status is Status.ACKNOWLEDGED
                 and inc.acked_by else "")
        ends = (dt.datetime.fromtimestamp(inc.resolved_at, dt.UTC) if inc.resolved_at
                else None)
        return AmAlert(check=inc.check, group=inc.group, location=self.location,
                       severity=severity, summary=summary,
                       description=f"{inc.reason}{affected}{acked}",
                       starts_at=dt.datetime.fromtimestamp(inc.opened_at, dt.UTC),
                       ends_at=ends, generator_url=f"{self.base_url}/status")

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as senders:
            notifier = AlertmanagerNotifier(session, self.urls, timeout=self.timeout)
            for endpoint in self.endpoints:
                senders.create_task(self._send(notifier, endpoint))
            await self._decide()

    async def _decide(self) -> None:
        """Hand each sender the current state on every change and every `resend`."""
        while True:
            if self.active():
                self.snapshot()
            try:
                async with asyncio.timeout(self.resend):
                    await self._wake.wait()
                await asyncio.sleep(BATCH)  # the rest of this change joins the same POST
            except TimeoutError:
                pass
            self._wake.clear()

    def snapshot(self) -> None:
        """Take the incidents as they are now; alerts that stopped firing become ended."""
        now = self.clock()
        # Alerts that came from Alertmanager (kind alert) are not sent back to it.
        firing = {_key(a): a for a in (self.alert(i) for i in self.incidents()
                                       if i.suppressed is None and i.kind is not Kind.ALERT)}
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        gone = {k: a.resolved(at) for k, a in self._firing.items() if k not in firing}
        self._firing = firing
        for endpoint in self.endpoints:
            for key in firing:
                endpoint.ended.pop(key, None)
            endpoint.ended.update({k: (now, a) for k, a in gone.items()})
            endpoint.firing = list(firing.values())
            endpoint.ready.set()

    async def _send(self, notifier: AlertmanagerNotifier, endpoint: _Endpoint) -> None:
        """One Alertmanager's sender: post the newest state; after a failure, try again
        with a growing pause (or at the next change, whichever comes first)."""
        while True:
            pause = (min(self.resend, RETRY_FIRST * 2 ** min(endpoint.failures - 1, 16))
                     if endpoint.failures else None)
            try:
                async with asyncio.timeout(pause):
                    await endpoint.ready.wait()
            except TimeoutError:
                pass
            endpoint.ready.clear()
            await self.post(notifier, endpoint)

    async def post(self, notifier: AlertmanagerNotifier, endpoint: _Endpoint) -> None:
        ended = dict(endpoint.ended)
        alerts = [alert for _, alert in ended.values()] + endpoint.firing
        if not alerts:
            endpoint.failures = 0
            return
        error = await notifier.post_to(endpoint.index, alerts)
        outcome = "sent" if error is None else "failed"
        self.posts.labels(str(endpoint.index), outcome).inc()
        self.metrics.notifications.labels(CHANNEL, outcome).inc()
        if error is None:
            endpoint.failures = 0
            for key, item in ended.items():
                if endpoint.ended.get(key) is item:
                    del endpoint.ended[key]
            return
        endpoint.failures += 1
        oldest = self.clock() - ENDED_KEPT  # Alertmanager has timed these out by now
        endpoint.ended = {k: v for k, v in endpoint.ended.items() if v[0] >= oldest}
        event(log, "alertmanager_post_failed", logging.WARNING, alertmanager=endpoint.index,
              host=endpoint.host, error=str(error), alerts=len(alerts),
              failures=endpoint.failures)
