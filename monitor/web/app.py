"""The aiohttp application: routes, JSON errors, and the server's lifecycle.

Handlers live in one module per audience (api, incidents, silences, operations, push,
status); each has `add_routes(app)` and reads the few services it uses through the typed
keys of `monitor.web.services`, never the daemon.
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from monitor.errors import ListenError
from monitor.telemetry.logs import kv
from monitor.web.services import API_TOKEN, INSTANCE_ID, missing

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


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON body when it is an object ({} when there is none), else None."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:  # not JSON, or not UTF-8
        return None
    return body if isinstance(body, dict) else None


def authorized(request: web.Request) -> bool:
    """Whether the request carries the daemon's current API token (it follows reloads)."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return same_secret(given, request.app[API_TOKEN]())


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


async def _identify(request: web.Request, response: web.StreamResponse) -> None:
    """Say which Siaga answers (monitor.cli.client checks it against its state directory)."""
    response.headers["X-Siaga-Instance"] = request.app[INSTANCE_ID]


def build_app(provide: Callable[[web.Application], None]) -> web.Application:
    """The app with every route; `provide(app)` puts a value under each key of
    `monitor.web.services` (the wiring's job), and a key left out stops the start here."""
    # Handler modules import this one (json_response…): import them here, not above.
    from monitor.web import (
        ack,
        alertmanager,
        api,
        dashboard,
        incidents,
        operations,
        push,
        silences,
        status,
    )

    app = web.Application(middlewares=[api_errors], client_max_size=64 * 1024)
    provide(app)
    if missing(app):
        raise RuntimeError(f"web services not provided: {', '.join(missing(app))}")
    app.on_response_prepare.append(_identify)
    for module in (api, ack, incidents, silences, operations, push, status, dashboard,
                   alertmanager):
        module.add_routes(app)
    return app


class ClientFaults(logging.Filter):
    """aiohttp logs a request it cannot parse (a scanner's garbage, a non-ASCII header) at
    ERROR with a traceback: anyone could fill the log. Such a request is the client's fault
    and already answered 400: make it one INFO line. A handler's own crash stays an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and exc.code < 500:
            record.msg, record.args, record.exc_info, record.exc_text = (
                "%s", (kv(event="bad_request", status=exc.code, error=exc.message[:80]),),
                None, None)
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def server_log() -> logging.Logger:
    log = logging.getLogger("siaga.web")
    if not any(isinstance(f, ClientFaults) for f in log.filters):
        log.addFilter(ClientFaults())
    return log


class Server:
    """Runs the app on the configured address; `port` is the bound port (0 picks one)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                    logger=server_log())
        self.host, self.port = host, port

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self.runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise ListenError(
                    f"port {self.port} on {self.host} is already in use: stop the program "
                    f"using it (`ss -ltnp 'sport = :{self.port}'` shows which) or set another "
                    "siaga.listen in checks.yaml") from None
            raise ListenError(f"cannot listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        await self.runner.cleanup()
