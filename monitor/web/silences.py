"""Silence endpoints (token-protected): list, create, remove."""

from __future__ import annotations

from aiohttp import web

from monitor.config.scalars import parse_duration
from monitor.incidents import silences
from monitor.web.app import DAEMON, authorized, bounded_int, json_error, json_object, json_response


async def list_silences(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    items = await daemon.store.run(silences.current, daemon.pager.clock())
    return json_response({"silences": [s.json() for s in items]})


async def create(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    daemon = request.app[DAEMON]
    body = await json_object(request)
    if not body:
        return json_error("body must be a JSON object", 400)
    target = str(body.get("target", ""))
    known = {c.name for c in daemon.config.checks} | {c.group for c in daemon.config.checks}
    if target not in known:
        return json_error(f"{target!r} is neither a check nor a group", 400)
    seconds = parse_duration(str(body.get("for", "")))
    if not seconds or seconds > 30 * 86400:
        return json_error("'for' must be a duration like 2h (at most 30d)", 400)
    reason = str(body.get("reason") or "").strip()
    if not reason:
        return json_error("a reason is required", 400)
    now = daemon.pager.clock()
    item = await daemon.store.run(silences.add, target, str(body.get("by") or "api")[:64],
                                  reason[:500], now, now + seconds)
    await daemon.refresh_silences()
    return json_response(item.json(), 201)


async def delete(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    daemon = request.app[DAEMON]
    silence_id = bounded_int(request.match_info["id"], 1)
    if silence_id is None:
        return json_error("no such silence (ids are positive numbers)", 404)
    if not await daemon.store.run(silences.remove, silence_id, daemon.pager.clock()):
        return json_error(f"no active silence {silence_id}", 404)
    await daemon.refresh_silences()
    return json_response({"removed": silence_id})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", create)
    app.router.add_delete("/api/v1/silences/{id}", delete)
