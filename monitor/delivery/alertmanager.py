"""Alerts posted to an Alertmanager (cluster) through its v2 API instead of paging directly.

Two Siaga replicas watching the same checks post alerts with identical labels (nothing in
them names the instance), so Alertmanager's fingerprint, and its cluster gossip, turn the
two into one notification. Annotations and `startsAt` may differ between replicas:
Alertmanager keeps the earliest start and does not use annotations for identity.

Alertmanager treats an alert it has not heard about for `resolve_timeout` (5 min by default)
as resolved when `endsAt` is unset, so the caller re-posts firing alerts regularly (as
Prometheus does, every minute) or sets `ends_at` a few minutes ahead on each post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from monitor.errors import NotifyError
from monitor.telemetry.logs import event

ALERTNAME = "SiagaCheckDown"
CHANNEL = "alertmanager"  # the metrics/log label: the URL itself may carry credentials
DEFAULT_TIMEOUT = 10.0
_ERROR_BODY_LIMIT = 300

log = logging.getLogger("siaga.notify.alertmanager")


def _rfc3339(moment: datetime) -> str:
    """UTC RFC 3339 as Alertmanager expects; naive datetimes are a bug, not a guess."""
    if moment.tzinfo is None:
        raise ValueError("Alertmanager timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class AmAlert:
    """One Siaga alert as Alertmanager sees it. `ends_at` set in the past means resolved."""

    check: str
    group: str
    location: str
    severity: str
    summary: str
    description: str
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""

    def labels(self) -> dict[str, str]:
        """The identity of the alert: the same on every replica (no instance label)."""
        labels = {
            "alertname": ALERTNAME,
            "check": self.check,
            "group": self.group,
            "location": self.location,
            "severity": self.severity,
        }
        # Alertmanager treats an empty value as an absent label; leaving it out says so.
        return {name: value for name, value in labels.items() if value}

    def resolved(self, at: datetime) -> AmAlert:
        """The same alert (same labels), ended at `at`."""
        return replace(self, ends_at=at)

    def to_json(self) -> dict[str, Any]:
        """The v2 API's postable alert; also how the outbox persists it."""
        body: dict[str, Any] = {
            "labels": self.labels(),
            "annotations": {"summary": self.summary, "description": self.description},
            "startsAt": _rfc3339(self.starts_at),
        }
        if self.ends_at is not None:
            body["endsAt"] = _rfc3339(self.ends_at)
        if self.generator_url:  # the API validates it as a URI: an empty one is rejected
            body["generatorURL"] = self.generator_url
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AmAlert:
        """Rebuild an alert that `to_json` produced (the outbox's stored form)."""
        labels, notes = data["labels"], data.get("annotations", {})
        ends = data.get("endsAt")
        return cls(
            check=labels["check"], group=labels.get("group", ""),
            location=labels.get("location", ""), severity=labels.get("severity", ""),
            summary=notes.get("summary", ""), description=notes.get("description", ""),
            starts_at=_parse_time(data["startsAt"]),
            ends_at=_parse_time(ends) if ends else None,
            generator_url=data.get("generatorURL", ""),
        )


class AlertmanagerNotifier:
    """Posts alerts to every Alertmanager of a cluster, as Prometheus does.

    Delivery succeeds when at least one instance accepted the alerts (gossip spreads them).
    When all fail, the error is permanent only if every instance answered 4xx: a malformed
    alert will not get better by retrying, an outage will.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("AlertmanagerNotifier needs at least one Alertmanager URL")
        self.session = session
        self.endpoints = [url.rstrip("/") + "/api/v2/alerts" for url in urls]
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = dict(headers or {})  # e.g. Authorization: Bearer …, from the env

    async def post(self, alerts: Sequence[AmAlert]) -> None:
        """Send `alerts` (firing or resolved); raise NotifyError(permanent=…) on failure."""
        payload = [alert.to_json() for alert in alerts]
        outcomes = await asyncio.gather(*(self._post_one(url, payload) for url in self.endpoints))
        errors = [outcome for outcome in outcomes if outcome is not None]
        if len(errors) < len(outcomes):
            event(log, "notify_sent", channel=CHANNEL, alerts=len(alerts),
                  accepted=len(outcomes) - len(errors), instances=len(outcomes))
            return
        permanent = all(error.permanent for error in errors)
        detail = "; ".join(str(error) for error in errors)
        event(log, "notify_failed", logging.WARNING, channel=CHANNEL, alerts=len(alerts),
              permanent=permanent, detail=detail)
        raise NotifyError(f"{CHANNEL}: {detail}", permanent=permanent)

    async def post_to(self, index: int, alerts: Sequence[AmAlert]) -> NotifyError | None:
        """Send `alerts` to the `index`-th instance only: None when it accepted them, else
        the error (returned, not raised: each instance has its own sender and timeout)."""
        return await self._post_one(self.endpoints[index], [a.to_json() for a in alerts])

    async def _post_one(self, url: str, payload: list[dict[str, Any]]) -> NotifyError | None:
        """One instance's outcome: None when accepted, else the error (never raised here,
        so one instance's failure does not cancel the post to the others)."""
        try:
            async with self.session.post(
                url, json=payload, headers=self.headers, timeout=self.timeout
            ) as response:
                if response.status < 300:
                    return None
                text = (await response.content.read(_ERROR_BODY_LIMIT)).decode(errors="replace")
                detail = f"HTTP {response.status} {text.strip()}".strip()
                return NotifyError(detail, permanent=400 <= response.status < 500
                                   and response.status not in (408, 429))
        except TimeoutError:
            return NotifyError("timeout", permanent=False)
        except aiohttp.ClientError as exc:
            # The exception text names host and port, never the URL's userinfo.
            return NotifyError(f"connection error: {type(exc).__name__}", permanent=False)
