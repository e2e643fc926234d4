"""Operators' HTTP endpoints: /metrics, /healthz and the read-only /api/v1 JSON.

Nothing here changes state. Targets are shown as the probe kind names them (host and port,
never credentials or query strings).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from aiohttp import web

from monitor.checking.engine import Runtime
from monitor.checking.state import Transition
from monitor.config.model import Check
from monitor.probes import KINDS
from monitor.web.app import json_error, json_response
from monitor.web.services import CONFIG, ENGINE, HEALTH, OPEN_INCIDENTS, SCRAPE, SUPPRESSED

# A scraper that takes no piece of /metrics (a few hundred KB) for this long is dropped;
# Prometheus gives up far sooner (scrape_timeout ≤ scrape_interval).
SEND_TIMEOUT = 60.0


def iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else None


def transition_json(t: Transition) -> dict[str, Any]:
    return {"old": t.old.value, "new": t.new.value, "reason": t.reason, "at": iso(t.at)}


def check_json(check: Check, rt: Runtime, *, detail: bool = False) -> dict[str, Any]:
    kind = KINDS.get(check.kind)
    last = rt.last
    data: dict[str, Any] = {
        "name": check.name,
        "title": check.display_name,
        "group": check.group,
        "kind": check.kind,
        "target": kind.target(check.spec) if kind else None,
        "state": rt.shown_state.value,
        "since": iso(rt.state.since),
        "reason": rt.state.reason,
        "interval": check.interval,
        "depends_on": list(check.depends_on),
    }
    if last is not None:
        data["last"] = {
            "ok": last.ok, "reason": last.reason, "at": iso(last.started_at),
            "duration": round(last.duration, 6),
            "phases": {k: round(v, 6) for k, v in last.phases.items()},
            "status_code": last.status_code, "degraded": last.degraded,
            "cert_expiry": iso(last.cert_expiry),
        }
    if detail:
        data["probes"] = rt.probes
        data["failures"] = rt.failures
        data["flapping_percent"] = round(rt.state.flap_percent, 1)
        data["transitions"] = [transition_json(t) for t in reversed(rt.transitions)]
    return data


async def metrics(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain; version=0.0.4"})
    await response.prepare(request)

    async def send(chunk: bytes) -> None:
        async with asyncio.timeout(SEND_TIMEOUT):
            await response.write(chunk)

    try:
        await request.app[SCRAPE](send)
        await response.write_eof()
    except (ConnectionError, TimeoutError):  # the scraper left or stopped reading
        if request.transport is not None:
            request.transport.abort()  # frees what its scrape holds (see Metrics.stream)
    return response


async def healthz(request: web.Request) -> web.Response:
    problems = request.app[HEALTH]()
    if problems:
        return json_response({"status": "failing", "problems": problems}, 503)
    return json_response({"status": "ok"})


def with_paging(app: web.Application, check: Check, data: dict[str, Any],
                now: float) -> dict[str, Any]:
    """Why nobody is paged for this check, if so, and the incident covering it."""
    data["suppressed"] = app[SUPPRESSED](check, now)
    for inc in app[OPEN_INCIDENTS]().values():
        if check.name in inc.covers:
            data["incident"] = {"id": inc.id, "status": inc.status.value, "root": inc.check,
                                "suppressed": inc.suppressed,
                                "why": inc.affected.get(check.name, "root"),
                                "acked_by": inc.acked_by, "acked_at": iso(inc.acked_at),
                                "acked_by_name": officer_name(app, inc.acked_by)}
            break
    return data


def officer_name(app: web.Application, officer: str | None) -> str | None:
    """An officer's name as people say it ("Budi Santoso"), not the login id."""
    officers = getattr(app[CONFIG]().sections.get("oncall"), "officers", {})
    person = officers.get(officer) if officer else None
    return person.name if person else officer


async def list_checks(request: web.Request) -> web.Response:
    engine, now = request.app[ENGINE], time.time()
    items = [with_paging(request.app, c, check_json(c, engine.runtime[n]), now)
             for n, c in engine.checks.items() if n in engine.runtime]
    return json_response({"checks": items})


async def get_check(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    name = request.match_info["name"]
    check = engine.checks.get(name)
    if check is None or name not in engine.runtime:
        return json_error(f"no check named {name!r}", 404)
    data = check_json(check, engine.runtime[name], detail=True)
    return json_response(with_paging(request.app, check, data, time.time()))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/checks", list_checks)
    app.router.add_get("/api/v1/checks/{name}", get_check)
