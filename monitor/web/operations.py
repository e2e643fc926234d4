"""Operator actions on the running daemon over HTTP: POST /api/v1/reload (`siaga reload`).

Needs the API token, like every state change.
"""

from __future__ import annotations

from aiohttp import web

from monitor.web.app import DAEMON, authorized, json_error, json_response


async def reload(request: web.Request) -> web.Response:
    if not authorized(request):
        return json_error("missing or wrong API token", 401)
    daemon = request.app[DAEMON]
    if not await daemon.reloader.reload("api"):
        return json_error(f"config not reloaded, still running the old one: "
                          f"{daemon.last_reload_error}", 422)
    return json_response({"reloaded": True, "file": daemon.config.path,
                          "checks": len(daemon.config.checks),
                          "restart_needed": list(daemon.restart_needed)})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/reload", reload)
