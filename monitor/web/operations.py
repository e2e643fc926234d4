"""Operator actions on the running daemon over HTTP: POST /api/v1/reload (`siaga reload`).

Needs the API token, like every state change.
"""

from __future__ import annotations

from aiohttp import web

from monitor.web.app import authorized, json_error, json_response
from monitor.web.services import CONFIG, RELOADING


async def reload(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    reloading = request.app[RELOADING]
    if not await reloading.reload("api"):
        return json_error(f"config not reloaded, still running the old one: "
                          f"{reloading.last_error()}", 422)
    config = request.app[CONFIG]()
    return json_response({"reloaded": True, "file": config.path, "checks": len(config.checks),
                          "restart_needed": list(reloading.restart_needed())})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/reload", reload)
