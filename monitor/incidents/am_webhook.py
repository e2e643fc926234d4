"""Alertmanager's webhook notification (format version "4"), read and checked, and the view
of one firing alert that reconciliation reads (pure: no I/O).

Alertmanager POSTs one notification per alert group: `groupKey`, `status`, `receiver`,
`truncatedAlerts` (cut by the receiver's `max_alerts`) and `alerts[]`, each with `status`
(firing | resolved), `labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL` and
`fingerprint` (a hash of the labels: the alert's identity, and the incident's key here).
`parse` names the first thing wrong (`alerts[2].labels.severity: expected a string`) so
the sender's log says what to fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.checking.state import State
from monitor.incidents.model import ALERT_PREFIX, View

FINGERPRINT = re.compile(r"[0-9A-Za-z_-]{1,64}")
MAX_ALERTS = 10_000  # one notification; Alertmanager's `max_alerts` caps it at the sender
MAX_TEXT = 8192  # characters of one label or annotation value
TITLE_MAX, REASON_MAX = 200, 1000  # what a page shows of them
POLICY_LABEL = "siaga_escalation"  # names the escalation policy of an alert
GROUP_LABEL = "group"  # the group a page names (Siaga's own rules carry their check's)
SHOWN_LABELS = 8  # labels a page lists after the description


class PayloadError(ValueError):
    """What is wrong with a notification, naming the place (`alerts[0].status: …`)."""


@dataclass(frozen=True, slots=True)
class AmAlert:
    fingerprint: str
    firing: bool
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float | None  # None: Alertmanager's zero time
    generator_url: str = ""

    @property
    def name(self) -> str:
        """The pseudo-check its incident is keyed by."""
        return ALERT_PREFIX + self.fingerprint


@dataclass(frozen=True, slots=True)
class Notification:
    group_key: str
    truncated: int  # alerts left out by `max_alerts`: absence then proves nothing
    alerts: tuple[AmAlert, ...]


def parse(body: object) -> Notification:
    """The notification in `body` (decoded JSON), or PayloadError saying what is wrong."""
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object (Alertmanager's webhook notification), "
                           f"got {_kind(body)}")
    version = body.get("version", "4")
    if version != "4":
        raise PayloadError(f'version: expected "4" (Alertmanager\'s webhook format), '
                           f"got {_shown(version)}")
    group_key = _text(body.get("groupKey", ""), "groupKey")
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or not (
            0 <= truncated <= 2**31):
        raise PayloadError(f"truncatedAlerts: expected a count, got {_shown(truncated)}")
    if "alerts" not in body:
        raise PayloadError("alerts: missing (the list of alerts of the notification)")
    alerts = body["alerts"]
    if not isinstance(alerts, list):
        raise PayloadError(f"alerts: expected a list, got {_kind(alerts)}")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"alerts: {len(alerts)} alerts in one notification, at most "
                           f"{MAX_ALERTS} (set max_alerts in Alertmanager's webhook_config)")
    return Notification(group_key, truncated,
                        tuple(_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)))


def _alert(raw: object, path: str) -> AmAlert:
    if not isinstance(raw, dict):
        raise PayloadError(f"{path}: expected an object, got {_kind(raw)}")
    status = raw.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f'{path}.status: expected "firing" or "resolved", '
                           f"got {_shown(status)}")
    fingerprint = raw.get("fingerprint")
    if not isinstance(fingerprint, str) or not FINGERPRINT.fullmatch(fingerprint):
        raise PayloadError(f"{path}.fingerprint: expected Alertmanager's fingerprint "
                           f"(1-64 letters or digits), got {_shown(fingerprint)}")
    if "labels" not in raw:
        raise PayloadError(f"{path}.labels: missing")
    return AmAlert(fingerprint, status == "firing", _strings(raw["labels"], f"{path}.labels"),
                   _strings(raw.get("annotations", {}), f"{path}.annotations"),
                   _time(raw.get("startsAt"), f"{path}.startsAt"),
                   _text(raw.get("generatorURL", ""), f"{path}.generatorURL"))


def _strings(raw: object, path: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise PayloadError(f"{path}: expected an object of strings, got {_kind(raw)}")
    return {_text(k, f"{path} key"): _text(v, f"{path}.{_clip(k, 40)}") for k, v in raw.items()}


def _text(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{path}: expected a string, got {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise PayloadError(f"{path}: longer than {MAX_TEXT} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): the store could not keep it
        raise PayloadError(f"{path}: not valid Unicode text") from None
    return value


def _time(value: object, path: str) -> float | None:
    if value is None:
        return None
    text = _text(value, path)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise PayloadError(f"{path}: expected an RFC 3339 time like "
                           f'"2026-11-30T20:15:00Z", got {_shown(text)}')
    return None if moment.year <= 1 else moment.timestamp()


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    return repr(_clip(value, 40)) if isinstance(value, str) else _kind(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def view(alert: AmAlert, policy: str) -> View:
    """What reconciliation sees of a firing alert: DOWN, titled by its `summary` (else its
    alertname), with its `description` and labels as the reason; `policy` unless the alert's
    `siaga_escalation` label names one."""
    labels, notes = alert.labels, alert.annotations
    title = notes.get("summary") or labels.get("alertname") or alert.fingerprint
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())[:SHOWN_LABELS]
                      if k != POLICY_LABEL)
    described = notes.get("description") or ""
    reason = f"{described} [{shown}]" if described and shown else described or shown
    return View(alert.name, labels.get(GROUP_LABEL) or "Alertmanager", _clip(title, TITLE_MAX),
                State.DOWN, policy=labels.get(POLICY_LABEL) or policy, alert=True,
                reason=_clip(reason, REASON_MAX))

