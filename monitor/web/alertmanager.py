"""Siaga as an Alertmanager webhook receiver: `POST /api/v1/alertmanager` takes Alertmanager's
notification (webhook format "4") and hands its alerts to `monitor.incidents.alerts`, whose
firing alerts the pager pages for like checks. Needs a bearer token: the receiver's
(`alertmanager_receiver.token`) or the API token."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from monitor.incidents.alerts import Receiver
from monitor.incidents.am_webhook import PayloadError, parse
from monitor.telemetry.logs import event
from monitor.web.app import authorized, json_error, json_response, same_secret
from monitor.web.services import ALERTS_COUNT, ALERTS_IN, CONFIG

# A notification lists every alert of its group; beyond the API's usual 64 KiB. Larger
# groups should be cut by Alertmanager's `max_alerts` (Siaga then resolves none by absence).
BODY_LIMIT = 8 * 1024 * 1024
log = logging.getLogger("siaga.web")


async def receive(request: web.Request) -> web.Response:
    count = request.app[ALERTS_COUNT]
    settings = request.app[CONFIG]().sections.get("alertmanager_receiver") or Receiver()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not (authorized(request) or same_secret(given, settings.token or "")):
        count("unauthorized")
        refused = json_error("missing or wrong token: send `Authorization: Bearer …` with the "
                             "alertmanager_receiver token or the API token", 401)
        refused.headers["WWW-Authenticate"] = "Bearer"
        return refused
    raw = await _body(request)
    if raw is None:
        count("too_large")
        return json_error(f"notification larger than {BODY_LIMIT} bytes: set max_alerts "
                          "in Alertmanager's webhook_config", 413)
    try:
        note = parse(json.loads(raw))
    except (ValueError, RecursionError) as exc:  # PayloadError is a ValueError
        why = str(exc) if isinstance(exc, PayloadError) else "body is not JSON (UTF-8)"
        count("invalid")
        event(log, "alertmanager_refused", logging.WARNING, error=why[:200])
        return json_error(f"not an Alertmanager webhook notification: {why}", 400)
    outcome = await request.app[ALERTS_IN](note)
    count("accepted")
    return json_response(outcome)


async def _body(request: web.Request) -> bytes | None:
    """The request body, or None when it is over BODY_LIMIT."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > BODY_LIMIT:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/alertmanager", receive)
