"""The aiohttp application: routes, JSON errors, and the server's lifecycle.

Handlers live in one module per audience (api, incidents, silences, operations, push,
status); each has `add_routes(app)` and reaches the running daemon through `DAEMON`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from monitor.daemon import Daemon

DAEMON: web.AppKey[Daemon] = web.AppKey("daemon")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200) -> web.Response:
    # "replace": text from checks.yaml or a target may hold a lone surrogate, which has no
    # UTF-8 form; one such title must not turn every answer that lists it into a 500.
    body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8", "replace")
    return web.Response(body=body, status=status, content_type="application/json",
                        charset="utf-8")


def json_error(message: str, status: int) -> web.Response:
    return json_response({"error": message}, status)


INT64 = (-(2**63), 2**63 - 1)  # what an SQLite INTEGER holds


def bounded_int(text: str | None, low: int = INT64[0], high: int = INT64[1]) -> int | None:
    """`text` as an integer within [low, high], else None: numbers from outside are stored in
    SQLite, and an int it cannot hold fails every later read of its row."""
    if text is None or not text.strip().lstrip("+-").isascii():
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a token from a request with the configured one. Header
    and path text from outside may hold undecodable bytes (as surrogate escapes)."""
    return bool(expected) and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def authorized(request: web.Request) -> bool:
    """Whether the request carries the daemon's current API token (it follows reloads)."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return same_secret(given, request.app[DAEMON].api_token)


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
