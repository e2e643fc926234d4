"""Heartbeat push endpoints: jobs call `/push/{check}/{token}` (success), `…/start` and
`…/fail?message=…&exit_code=N` with GET or POST (a POST body may carry the message).

Every source address is rate limited before the token is looked at, so tokens cannot be
guessed quickly; refusals answer 403 (wrong token, unknown or non-heartbeat check — the same
answer, so names cannot be probed) or 429, and are counted in
`siaga_heartbeat_rejected_total{reason}`.
"""

from __future__ import annotations

from aiohttp import web

from monitor.web.app import bounded_int, json_response, same_secret
from monitor.web.services import HEARTBEATS, PUSH_LIMIT, PUSH_REFUSED

BODY_LIMIT = 4096
EXIT_CODES = (-(2**31), 2**32 - 1)  # any process status a shell or Windows job reports


def _refuse(request: web.Request, reason: str, status: int, text: str) -> web.Response:
    request.app[PUSH_REFUSED](reason)
    return json_response({"error": text}, status)


async def _message(request: web.Request) -> str | None:
    message = request.query.get("message")
    if message is None and request.method == "POST" and request.can_read_body:
        raw = await request.content.read(BODY_LIMIT)
        message = raw.decode("utf-8", "replace").strip() or None
    return message


async def push(request: web.Request) -> web.Response:
    heartbeats = request.app[HEARTBEATS]
    if not request.app[PUSH_LIMIT].allow(request.remote or "-"):
        return _refuse(request, "rate_limited", 429, "too many requests; slow down")
    name, action = request.match_info["check"], request.match_info.get("action", "ping")
    check = heartbeats.check(name)
    if check is None:
        return _refuse(request, "unknown_check", 403, "refused")
    if not same_secret(request.match_info["token"], heartbeats.tokens.token(check)):
        return _refuse(request, "wrong_token", 403, "refused")
    exit_code: int | None = None
    if "exit_code" in request.query:
        exit_code = bounded_int(request.query["exit_code"], *EXIT_CODES)
        if exit_code is None:
            return _refuse(request, "bad_request", 400,
                           f"exit_code must be an integer from {EXIT_CODES[0]} to {EXIT_CODES[1]}")
    message = await _message(request) if action == "fail" else None
    pings = await heartbeats.ping(check, action, message, exit_code)
    return json_response({"ok": True, "check": name, "ping": action,
                          "duration": pings.last_duration if action == "ping" else None})


def add_routes(app: web.Application) -> None:
    for path in ("/push/{check}/{token}", "/push/{check}/{token}/{action:start|fail}"):
        app.router.add_get(path, push)
        app.router.add_post(path, push)
