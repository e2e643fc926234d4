"""Silence endpoints (token-protected): list, create, remove."""

from __future__ import annotations

from aiohttp import web

from monitor.config.scalars import parse_duration
from monitor.incidents import silences
from monitor.web.app import authorized, bounded_int, json_error, json_object, json_response
from monitor.web.services import CLOCK, CONFIG, REFRESH_SILENCES, STORE


async def list_silences(request: web.Request) -> web.Response:
    app = request.app
    items = await app[STORE].run(silences.current, app[CLOCK]())
    return json_response({"silences": [s.json() for s in items]})


async def create(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    app = request.app
    body = await json_object(request)
    if not body:
        return json_error("body must be a JSON object", 400)
    target = str(body.get("target", ""))
    checks = app[CONFIG]().checks
    known = {c.name for c in checks} | {c.group for c in checks}
    if target not in known:
        return json_error(f"{target!r} is neither a check nor a group", 400)
    seconds = parse_duration(str(body.get("for", "")))
    if not seconds or seconds > 30 * 86400:
        return json_error("'for' must be a duration like 2h (at most 30d)", 400)
    reason = str(body.get("reason") or "").strip()
    if not reason:
        return json_error("a reason is required", 400)
    now = app[CLOCK]()
    item = await app[STORE].run(silences.add, target, str(body.get("by") or "api")[:64],
                                reason[:500], now, now + seconds)
    await app[REFRESH_SILENCES]()
    return json_response(item.json(), 201)


async def delete(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    app = request.app
    silence_id = bounded_int(request.match_info["id"], 1)
    if silence_id is None:
        return json_error("no such silence (ids are positive numbers)", 404)
    if not await app[STORE].run(silences.remove, silence_id, app[CLOCK]()):
        return json_error(f"no active silence {silence_id}", 404)
    await app[REFRESH_SILENCES]()
    return json_response({"removed": silence_id})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", create)
    app.router.add_delete("/api/v1/silences/{id}", delete)
