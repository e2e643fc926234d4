"""The words of a page: the template context for an incident and an officer, and the
outbox row that carries the rendered message (full and SMS variants)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from monitor.i18n import text
from monitor.incidents.model import Incident, Kind
from monitor.paging import templates
from monitor.paging.context import PagingContext
from monitor.paging.oncall.roster import on_duty

ACK_LINK_TTL = 24 * 3600.0
ACKABLE = ("page", "reminder", "flapping", "blind", "self", "mass", "still_down")


def outbox_row(paging: PagingContext, inc: Incident, kind: str, officer: str, step_key: str,
               now: float, joined: tuple[str, ...] = (), note: str | None = None
               ) -> dict[str, Any]:
    """One officer's message; `joined`: for a digest, the checks it tells of; `note`: what
    held a "still_down" message (maintenance, silence)."""
    lang = language(paging, officer)
    ctx = context(paging, inc, kind, officer, now, lang, joined)
    if note is not None:
        ctx = replace(ctx, note=note)
    title, body = templates.render(ctx, lang)
    sms_title, sms_body = templates.render(ctx, lang, sms=True)
    return {"key": f"inc-{inc.id}/{step_key}/{officer}", "incident_id": inc.id,
            "kind": kind, "recipient": officer, "title": title, "body": body,
            "sms_title": sms_title, "sms_body": sms_body, "created_at": now, "due_at": now}


def language(paging: PagingContext, officer: str) -> str:
    person = paging.oncall.officers.get(officer) if paging.oncall else None
    return person.language if person and person.language else paging.language


def context(paging: PagingContext, inc: Incident, kind: str, officer: str | None, now: float,
            lang: str = "id", joined: tuple[str, ...] = ()) -> templates.PageContext:
    base = paging.base_url
    ack_url = None
    if kind in ACKABLE and officer:
        ack_url = f"{base}/ack/{paging.sign(inc.id, officer, now + ACK_LINK_TTL)}"
    duty = on_duty(paging.oncall, now, paging.tz).officer if paging.oncall else None
    heading, group, reason = inc.title, inc.group, inc.reason
    affected = [title(paging, c) for c in sorted(inc.affected)]
    if kind == "digest":
        where = inc.group if inc.kind is not Kind.MASS else text(
            lang, "alert.digest.everywhere")
        heading = text(lang, "alert.digest.title", count=len(joined), group=where)
        group, affected = "", [title(paging, c) for c in joined]
    elif inc.kind is Kind.MASS:
        members = [c for c in inc.covers if c != inc.check]
        groups = {check.group for check in map(paging.check, members) if check is not None}
        heading = text(lang, "alert.mass.title", count=len(members),
                                 groups=len(groups))
        group, reason = "", ""
    return templates.PageContext(
        kind=kind, incident_id=inc.id, check_title=heading, group=group,
        reason=reason, since=dt.datetime.fromtimestamp(inc.opened_at, paging.tz),
        on_duty=officer_name(paging, duty), ack_url=ack_url, status_url=f"{base}/status",
        affected=affected, acked_by=inc.acked_by,
        duration=(inc.resolved_at - inc.opened_at) if inc.resolved_at else None,
        heartbeat=_is_heartbeat(paging, inc.check) and inc.kind is Kind.DOWN,
        alert=inc.kind is Kind.ALERT,
        note=inc.resolve_note or inc.ack_note)


def _is_heartbeat(paging: PagingContext, name: str) -> bool:
    check = paging.check(name)
    return check is not None and check.kind == "heartbeat"


def officer_name(paging: PagingContext, officer: str | None) -> str | None:
    if officer is None or paging.oncall is None:
        return officer
    person = paging.oncall.officers.get(officer)
    return person.name if person else officer


def title(paging: PagingContext, name: str) -> str:
    check = paging.check(name)
    return check.display_name if check else name
