"""The public status page: `/status` (HTML, no JavaScript), `/status.json` and
`/status/feed.atom`, with `/` redirecting to `/status`.

Only checks marked `public: true` appear, under their `title`, with their state in plain
words. Nothing else leaves: no check names, hosts, URLs or probe reasons — an incident whose
root is an internal check shows only the public services it affects. Bahasa Indonesia by
default; English with `?lang=en` or `Accept-Language: en`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from monitor.config.model import Check
from monitor.i18n import LANGUAGES, state_word
from monitor.incidents import Incident
from monitor.records import list_incidents
from monitor.rollup import Maintenance, daily_uptime, maintenance_of
from monitor.uptime import Interval, Uptime, local_day
from monitor.web.app import DAEMON, json_response
from monitor.web.status_render import render_atom, render_html

if TYPE_CHECKING:
    from monitor.daemon import Daemon

BAR_DAYS = 90
HISTORY_DAYS = 90
ANNOUNCE_AHEAD = 14 * 86400.0  # maintenance shown two weeks before it starts


@dataclass(frozen=True, slots=True)
class Public:
    """What the page may say about one public check."""

    name: str  # internal: used to look up data, never rendered
    title: str
    group: str


def choose_language(request: web.Request, default: str) -> str:
    asked = request.query.get("lang", "")
    if asked in LANGUAGES:
        return asked
    prefs = []
    for part in request.headers.get("Accept-Language", "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            prefs.append((float(q) if q else 1.0, tag.split("-")[0].lower()))
        except ValueError:
            continue
    for _, tag in sorted(prefs, key=lambda p: -p[0]):
        if tag in LANGUAGES:
            return tag
    return default if default in LANGUAGES else "id"


def public_checks(checks: dict[str, Check]) -> dict[str, Public]:
    return {n: Public(n, c.title or n, c.group) for n, c in checks.items() if c.public}


def _pct(u: Uptime) -> float | None:
    p = u.percent
    return None if p is None else round(p, 2)


def _service(conn: sqlite3.Connection, p: Public, state: str, lang: str, now: float,
             tz: dt.tzinfo, planned: list[Interval]) -> dict[str, Any]:
    first = local_day(now, tz) - dt.timedelta(days=BAR_DAYS - 1)
    days = daily_uptime(conn, p.name, first, BAR_DAYS, tz, now, planned)
    month, quarter = Uptime(), Uptime()
    for i, (_, u) in enumerate(days):
        quarter += u
        if i >= BAR_DAYS - 30:
            month += u
    return {"title": p.title, "state": state, "state_text": state_word(lang, state),
            "uptime_30d": _pct(month), "uptime_90d": _pct(quarter),
            "days": [{"date": d.isoformat(), "uptime": _pct(u)} for d, u in days]}


def _incident(inc: Incident, public: dict[str, Public], states: dict[str, str],
              lang: str) -> dict[str, Any] | None:
    shown = sorted({public[c].title for c in inc.covers if c in public})
    if not shown:
        return None
    worst = next((states[c] for c in inc.covers if c in public and states.get(c) != "up"),
                 "down")
    end = inc.resolved_at
    return {"id": inc.id, "services": shown, "status": inc.status.value,
            "state": worst, "state_text": state_word(lang, worst),
            "opened_at": inc.opened_at, "acked_at": inc.acked_at, "resolved_at": end,
            "duration": (end - inc.opened_at) if end is not None else None}


def _announcements(public: dict[str, Public], maintenance: Maintenance,
                   now: float) -> list[dict[str, Any]]:
    by_window: dict[Interval, list[str]] = {}
    for p in public.values():
        # Look back a week so an ongoing window shows when it really started.
        for a, b in maintenance(p.name, now - 7 * 86400, now + ANNOUNCE_AHEAD):
            if b > now:
                by_window.setdefault((a, b), []).append(p.title)
    return [{"start": a, "end": b, "services": sorted(titles), "ongoing": a <= now}
            for (a, b), titles in sorted(by_window.items())]


def collect(conn: sqlite3.Connection, public: dict[str, Public], states: dict[str, str],
            maintenance: Maintenance, now: float, tz: dt.tzinfo, lang: str) -> dict[str, Any]:
    """Everything the page shows; runs on the store thread."""
    since = now - HISTORY_DAYS * 86400
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(public.values(), key=lambda p: (p.group, p.title)):
        planned = list(maintenance(p.name, since - 86400, now))
        service = _service(conn, p, states.get(p.name, "unknown"), lang, now, tz, planned)
        groups.setdefault(p.group, []).append(service)
    incidents = [i for i in (_incident(inc, public, states, lang)
                             for inc in list_incidents(conn, since=since, limit=200)) if i]
    return {
        "generated_at": now, "language": lang,
        "groups": [{"name": g, "services": s} for g, s in groups.items()],
        "open_incidents": [i for i in incidents if i["status"] != "resolved"],
        "history": [i for i in incidents if i["status"] == "resolved"][:30],
        "maintenance": _announcements(public, maintenance, now),
    }


async def _data(request: web.Request) -> tuple[dict[str, Any], Daemon, str]:
    daemon = request.app[DAEMON]
    settings = daemon.config.settings
    lang = choose_language(request, settings.language)
    engine = daemon.engine
    public = public_checks(engine.checks)
    states = {n: engine.runtime[n].shown_state.value for n in public if n in engine.runtime}
    data = await daemon.store.run(collect, public, states, maintenance_of(daemon.config),
                                  time.time(), settings.tz, lang)
    data["timezone"] = settings.timezone
    return data, daemon, lang


async def status_html(request: web.Request) -> web.Response:
    data, daemon, lang = await _data(request)
    body = render_html(data, lang, daemon.config.settings.tz)
    return web.Response(text=body, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=30",
                                 "Content-Language": lang, "Vary": "Accept-Language"})


async def status_json(request: web.Request) -> web.Response:
    data, _, _ = await _data(request)
    return json_response(data)


async def status_feed(request: web.Request) -> web.Response:
    data, daemon, lang = await _data(request)
    body = render_atom(data, lang, daemon.config.settings.base_url)
    return web.Response(text=body, content_type="application/atom+xml", charset="utf-8")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/status")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/status", status_html)
    app.router.add_get("/status.json", status_json)
    app.router.add_get("/status/feed.atom", status_feed)
