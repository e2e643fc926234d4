"""Incident endpoints: the token-protected API used by `siaga ack / resolve / incidents`
and the status page's updates. The officer's signed acknowledge link is `web/ack.py`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.errors import IncidentError
from monitor.incidents.model import Incident
from monitor.store.records import (
    UPDATE_STATUSES,
    add_update,
    get_incident,
    incident_events,
    incident_updates,
    list_incidents,
)
from monitor.web.app import authorized, bounded_int, json_error, json_object, json_response
from monitor.web.services import ACTIONS, CLOCK, CONFIG, STATUS_PAGES, STORE


def incident_json(inc: Incident) -> dict[str, Any]:
    return {"id": inc.id, "check": inc.check, "title": inc.title, "group": inc.group,
            "status": inc.status.value, "kind": inc.kind.value, "reason": inc.reason,
            "opened_at": inc.opened_at, "acked_at": inc.acked_at, "acked_by": inc.acked_by,
            "ack_note": inc.ack_note, "resolved_at": inc.resolved_at,
            "resolved_by": inc.resolved_by, "resolve_note": inc.resolve_note,
            "affected": inc.affected, "suppressed": inc.suppressed}


async def api_list(request: web.Request) -> web.Response:
    limit = bounded_int(request.query.get("limit") or "50", 1, 2**31)
    if limit is None:
        return json_error("limit must be a positive integer", 400)
    limit = min(limit, 500)
    incs = await request.app[STORE].run(lambda conn: list_incidents(conn, limit=limit))
    return json_response({"incidents": [incident_json(i) for i in incs]})


async def api_get(request: web.Request) -> web.Response:
    store = request.app[STORE]
    incident_id = _id(request)
    inc = await store.run(get_incident, incident_id)
    if inc is None:
        return json_error(f"no incident {incident_id}", 404)
    data = incident_json(inc)
    data["events"] = await store.run(incident_events, incident_id)
    data["updates"] = (await store.run(incident_updates, [incident_id]))[incident_id]
    return json_response(data)


async def api_update(request: web.Request) -> web.Response:
    """An update people write for the status page: {"status": "identified", "message":
    "text in siaga.language" or {"id": "…", "en": "…"}, "by": "sari"}."""
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    store = request.app[STORE]
    body = await json_object(request)
    if body is None:
        return json_error("body must be a JSON object", 400)
    status = body.get("status")
    if status not in UPDATE_STATUSES:
        return json_error(f"status must be one of {', '.join(UPDATE_STATUSES)}", 400)
    messages = update_messages(body.get("message"), request.app[CONFIG]().settings.language)
    if not messages:
        return json_error('message must be text, or {"id": text, "en": text} '
                          "(at most 2,000 characters each)", 400)
    incident_id = _id(request)
    if await store.run(get_incident, incident_id) is None:
        return json_error(f"no incident {incident_id}", 404)
    who = str(body.get("by") or "api")[:64]
    update = await store.run(add_update, incident_id, request.app[CLOCK](), status, messages,
                             who)
    request.app[STATUS_PAGES].changed()  # the page and the feed show it within a second
    return json_response(update, 201)


def update_messages(given: Any, default_lang: str) -> dict[str, str]:
    """The update's text by language, or {} when it is missing or malformed."""
    if isinstance(given, str):
        given = {default_lang: given}
    if not isinstance(given, dict):
        return {}
    out = {lang: given[lang].strip() for lang in ("id", "en")
           if isinstance(given.get(lang), str) and given[lang].strip()}
    if set(given) - {"id", "en"} or any(len(t) > 2000 for t in out.values()):
        return {}
    return out


async def api_act(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    body = await json_object(request)
    if body is None:
        return json_error("body must be a JSON object", 400)
    who = str(body.get("by") or "api")[:64]
    note = body.get("note")
    action = request.match_info["action"]
    actions = request.app[ACTIONS]
    act = actions.acknowledge if action == "ack" else actions.resolve
    incident_id = _id(request)
    try:
        inc = await act(incident_id, who, str(note)[:500] if note else None)
    except IncidentError as exc:
        if await request.app[STORE].run(get_incident, incident_id) is None:
            return json_error(f"no incident {incident_id}", 404)
        return json_error(str(exc), 409)
    return json_response(incident_json(inc))


def _id(request: web.Request) -> int:
    incident_id = bounded_int(request.match_info["id"], 1)
    if incident_id is None:
        raise web.HTTPNotFound(text="no such incident (ids are positive numbers)")
    return incident_id


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/incidents", api_list)
    app.router.add_get("/api/v1/incidents/{id}", api_get)
    app.router.add_post("/api/v1/incidents/{id}/{action:ack|resolve}", api_act)
    app.router.add_post("/api/v1/incidents/{id}/updates", api_update)
