"""The aiohttp application: routes, JSON errors, and the server's lifecycle.

Handlers live in one module per audience (api, incidents, silences, operations, push,
status); each has `add_routes(app)` and reaches the running daemon through `DAEMON`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from monitor.daemon import Daemon

DAEMON: web.AppKey[Daemon] = web.AppKey("daemon")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False, default=str), status=status,
                        content_type="application/json")


def json_error(message: str, status: int) -> web.Response:
    return json_response({"error": message}, status)


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/, every error is JSON `{"error": ...}` with the right status code."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        return json_error(exc.reason if exc.text is None else _text(exc), exc.status)


def _text(exc: web.HTTPException) -> str:
    text = exc.text or exc.reason
    return text.removeprefix(f"{exc.status}: ")


def build_app(daemon: Daemon) -> web.Application:
    # Handler modules import this one (DAEMON, json_response): import them here, not above.
    from monitor.web import api, incidents, operations, push, silences, status

    app = web.Application(middlewares=[api_errors], client_max_size=64 * 1024)
    app[DAEMON] = daemon
    for module in (api, incidents, silences, operations, push, status):
        module.add_routes(app)
    return app


class Server:
    """Runs the app on the configured address; `port` is the bound port (0 picks one)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.host, self.port = host, port

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        await self.runner.cleanup()
