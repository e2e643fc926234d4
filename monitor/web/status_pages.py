"""What the public status page shows, built once per change: the public checks' states,
uptime bars, incidents and planned maintenance from the store, rendered in both languages
(`status_cache()` wires the rebuild to state changes; the daemon adds incidents and reloads),
and exported to `siaga.status_export`. `monitor.web.status` serves the bytes; this module
needs no web framework, so the daemon builds it before its HTTP server.

Only checks marked `public: true` appear, under their `title`, with their state in plain
words. Nothing else leaves: no check names, hosts, URLs or probe reasons — an incident whose
root is an internal check shows only the public services it affects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.model import Check, Config, Settings
from monitor.i18n import LANGUAGES, state_word
from monitor.incidents.model import Incident
from monitor.reporting.rollup import Maintenance, daily_uptime, maintenance_of
from monitor.reporting.uptime import Interval, Uptime, local_day
from monitor.store.engine import Conn
from monitor.store.records import incident_updates, list_incidents
from monitor.telemetry.logs import event
from monitor.web import status_export, status_render
from monitor.web.status_cache import Bodies, Body, StatusCache

if TYPE_CHECKING:
    from monitor.checking.engine import Engine
    from monitor.store.engine import Store

log = logging.getLogger("siaga.status")
BAR_DAYS = 90
HISTORY_DAYS = 90
ANNOUNCE_AHEAD = 14 * 86400.0  # maintenance shown two weeks before it starts


@dataclass(frozen=True, slots=True)
class Public:
    """What the page may say about one public check."""

    name: str  # internal: used to look up data, never rendered
    title: str
    group: str


def public_checks(checks: dict[str, Check]) -> dict[str, Public]:
    return {n: Public(n, c.title or n, c.group) for n, c in checks.items() if c.public}


def _pct(u: Uptime) -> float | None:
    p = u.percent
    return None if p is None else round(p, 2)


def _service(conn: Conn, p: Public, state: str, lang: str, now: float,
             tz: dt.tzinfo, planned: list[Interval]) -> dict[str, Any]:
    first = local_day(now, tz) - dt.timedelta(days=BAR_DAYS - 1)
    days = daily_uptime(conn, p.name, first, BAR_DAYS, tz, now, planned)
    month, quarter = Uptime(), Uptime()
    for i, (_, u) in enumerate(days):
        quarter += u
        if i >= BAR_DAYS - 30:
            month += u
    # A check added this morning has one day of data: say since when, so its figure is
    # not read as 90 days of history (and grey days before it as an outage).
    counted = [d for d, u in days if u.percent is not None]
    since = counted[0].isoformat() if counted and counted[0] > first else None
    return {"title": p.title, "state": state, "state_text": state_word(lang, state),
            "uptime_30d": _pct(month), "uptime_90d": _pct(quarter), "data_since": since,
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


def collect(conn: Conn, public: dict[str, Public], states: dict[str, str],
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
    updates = incident_updates(conn, [i["id"] for i in incidents])
    for inc in incidents:
        inc["updates"] = updates[inc["id"]]
    return {
        "generated_at": now, "language": lang,
        "groups": [{"name": g, "services": s} for g, s in groups.items()],
        "open_incidents": [i for i in incidents if i["status"] != "resolved"],
        "history": [i for i in incidents if i["status"] == "resolved"][:30],
        "maintenance": _announcements(public, maintenance, now),
    }


def localized(data: dict[str, Any], lang: str) -> dict[str, Any]:
    """The page data in `lang` (collect once, show in every language)."""
    def word(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "state_text": state_word(lang, item["state"])}

    def told(item: dict[str, Any]) -> dict[str, Any]:
        return {**word(item), "updates": [
            {**u, "status_text": status_render.update_word(lang, u["status"]),
             "message": u["messages"].get(lang) or next(iter(u["messages"].values()), "")}
            for u in item.get("updates", [])]}

    return {**data, "language": lang,
            "groups": [{**g, "services": [word(s) for s in g["services"]]}
                       for g in data["groups"]],
            "open_incidents": [told(i) for i in data["open_incidents"]],
            "history": [told(i) for i in data["history"]]}


def branded(data: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The agency's name (public, in the JSON too); the logo goes to the page only."""
    return {**data, "agency": settings.agency}


def bodies_of(data: dict[str, Any], tz: dt.tzinfo, base_url: str,
              logo: str | None = None) -> Bodies:
    """Page, JSON and feed in every language; CPU work, run in a worker thread."""
    out: Bodies = {}
    picture = status_render.logo_uri(logo)
    for lang in LANGUAGES:
        page = localized(data, lang)
        out["html", lang] = Body.of("html", status_render.render_html(page, lang, tz,
                                                                      logo=picture))
        out["json", lang] = Body.of("json", json.dumps(page, ensure_ascii=False, default=str))
        out["atom", lang] = Body.of("atom", status_render.render_atom(page, lang, base_url))
    return out


def export_files(data: dict[str, Any], settings: Settings) -> dict[str, str]:
    pages = {lang: localized(data, lang) for lang in LANGUAGES}
    return status_export.render_files(pages, settings.tz, settings.base_url, settings.language,
                                      status_render.logo_uri(settings.logo))


def status_cache(config_of: Callable[[], Config], engine: Engine, store: Store) -> StatusCache:
    """The status page of the live config: rebuilt when a public check changes state (wired
    here), and when the wiring calls `changed()` (an incident or people's update changed,
    the config was reloaded); exported to `siaga.status_export` on each build."""

    async def build() -> Bodies:
        config = config_of()
        settings = config.settings
        public = public_checks(engine.checks)
        states = {n: engine.runtime[n].shown_state.value for n in public
                  if n in engine.runtime}
        data = await store.run(collect, public, states, maintenance_of(config),
                               time.time(), settings.tz, settings.language)
        data["timezone"] = settings.timezone
        data = branded(data, settings)
        bodies = await asyncio.to_thread(bodies_of, data, settings.tz, settings.base_url,
                                         settings.logo)
        if settings.status_export:
            await _export(export_dir(config), settings, data)
        return bodies

    cache = StatusCache(build)

    def on_transition(check: Check, *_: object) -> None:
        if check.public:
            cache.changed()

    engine.on_transition.append(on_transition)
    return cache


def export_dir(config: Config) -> Path:
    """`siaga.status_export`, relative to the config file."""
    return Path(config.path).resolve().parent / (config.settings.status_export or ".")


async def _export(directory: Path, settings: Settings, data: dict[str, Any]) -> None:
    def work() -> None:
        status_export.write(directory, export_files(data, settings))

    try:
        await asyncio.to_thread(work)
    except OSError as exc:  # a full or missing export directory fails only the export
        event(log, "status_export_failed", logging.WARNING, error=str(exc))
