"""The manager's dashboard at `/dashboard`, for agencies without Grafana: per group and
service, uptime over 7, 30 and 90 days against the SLO, the error budget left, incidents of
the last 30 days with mean time to acknowledge and to resolve, and hourly latency over the
last 7 days. Server-rendered HTML with inline SVG charts: no JavaScript, nothing loaded
from elsewhere, readable on a phone.

It names internal services, so it is not public: it needs the API token
(`Authorization: Bearer …`) or a signed, expiring read-only link (`siaga dashboard-url`,
`?key=…`, signed with the ack-link key under its own domain tag). Each request reads the
store on its thread and renders in a worker thread, never on the event loop; the uptime
figures are the ones `siaga_uptime_ratio` exports (monitor.reporting.uptime_windows).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from monitor.config.model import Check
from monitor.errors import AckTokenError
from monitor.i18n import LANGUAGES
from monitor.paging.acktoken import verify_view
from monitor.reporting import report as reports
from monitor.reporting.latency import hourly
from monitor.reporting.rollup import Maintenance, maintenance_of
from monitor.reporting.uptime import Uptime
from monitor.reporting.uptime_windows import WINDOWS, Figures, compute, window_start
from monitor.store.engine import Conn
from monitor.web.app import authorized
from monitor.web.services import CONFIG, SIGNER, STORE, UPTIME

if TYPE_CHECKING:
    import datetime as dt

LATENCY_DAYS = 7


def collect(conn: Conn, checks: list[Check], figures: Figures, now: float,
            tz: dt.tzinfo, timezone: str, maintenance: Maintenance,
            agency: str) -> dict[str, Any]:
    """Everything the page shows; runs on the store thread."""
    missing = [c.name for c in checks if c.name not in figures]
    figures = {**figures, **compute(conn, missing, now, tz, maintenance)}
    month = reports.build(conn, checks, window_start(now, 30, tz), now, now, timezone,
                          maintenance, agency=agency)
    latency = hourly(conn, [c.name for c in checks], now - LATENCY_DAYS * 86400)
    by_name = {c.name: c for c in checks}
    groups = []
    for total in month.groups:
        members = [ln for ln in month.checks if ln.group == total.group]
        sums = {d: Uptime() for d in WINDOWS}
        for ln in members:
            for d in WINDOWS:
                sums[d] += figures[ln.check][d]
        groups.append({"line": total, "uptime": sums, "services": [
            {"line": ln, "check": by_name[ln.check], "uptime": figures[ln.check],
             "latency": latency[ln.check]} for ln in members]})
    return {"agency": agency, "now": now, "timezone": timezone, "groups": groups}


def budget_left(up: Uptime, slo: float) -> float | None:
    """Share of the error budget (1 - SLO) not yet spent; negative when overspent."""
    if up.percent is None or slo >= 1:
        return None
    return 1 - (1 - up.percent / 100) / (1 - slo)


def allowed(request: web.Request) -> bool:
    if authorized(request):
        return True
    key = request.query.get("key", "")
    try:
        verify_view(request.app[SIGNER], key, time.time())
    except AckTokenError:
        return False
    return bool(key)


def _lang(request: web.Request, default: str) -> str:
    asked = request.query.get("lang", "")
    return asked if asked in LANGUAGES else default


async def dashboard(request: web.Request) -> web.Response:
    from monitor.web import dashboard_render

    config = request.app[CONFIG]()
    settings = config.settings
    lang = _lang(request, settings.language)
    headers = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
    if not allowed(request):
        body = dashboard_render.refused(lang)
        return web.Response(text=body, status=403, content_type="text/html", headers=headers)
    data = await request.app[STORE].run(collect, list(config.checks), request.app[UPTIME](),
                                        time.time(), settings.tz, settings.timezone,
                                        maintenance_of(config), settings.agency)
    key = request.query.get("key", "")
    page = await asyncio.to_thread(dashboard_render.render, data, lang, settings.tz, key)
    return web.Response(text=page, content_type="text/html", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard", dashboard)
