"""Rendering the public status page's data (monitor.web.status) as HTML and as an Atom feed.

Plain server-side HTML with the stylesheet inlined: it works without JavaScript and loads
nothing from other hosts. The 90-day bar of a check is one small inline SVG whose title (the
tooltip and what a screen reader reads) names the days below 99.9 %; each day's figure is in
`status.json`. One element per day (a focusable `<i>` with its own label) made 60 checks a
600 KB page that took 200 ms to render; this one stays under 60 KB (issue 19).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from functools import lru_cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from monitor.i18n import text

# What neither XML 1.0 nor HTML allows in text: C0 and C1 controls (tab and newlines aside),
# lone surrogates and the two non-characters U+FFFE/FFFF. A title from checks.yaml may hold
# any of them (YAML's "\x01"); one would make the feed unreadable to every reader.
_INVALID = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def valid_text(page: str) -> str:
    """`page` without the characters XML and HTML refuse."""
    return _INVALID.sub("", page)


log = logging.getLogger("siaga.status")
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".svg": "image/svg+xml", ".webp": "image/webp"}


def logo_uri(path: str | None) -> str | None:
    """The agency's logo as a data: URI (the page loads nothing from elsewhere), or None
    when there is none or it cannot be read now (validate checked it; it may have moved)."""
    if not path:
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        log.warning("event=logo_unreadable path=%s error=%s", path, exc.strerror or exc)
        return None
    kind = LOGO_TYPES.get(Path(path).suffix.lower(), "image/png")
    return f"data:{kind};base64,{base64.b64encode(raw).decode('ascii')}"


def update_word(lang: str, status: str) -> str:
    return text(lang, f"status.update.{status}")


@lru_cache(maxsize=1)
def stylesheet() -> str:
    return resources.files("monitor.web").joinpath("static/status.css").read_text("utf-8")


def _pct(value: float | None, lang: str) -> str:
    if value is None:
        return text(lang, "status.no_data")
    figure = f"{value:.2f}%"
    return figure.replace(".", ",") if lang == "id" else figure


def _time(ts: float, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M %Z")


def duration(seconds: float, lang: str) -> str:
    minutes = max(1, round(seconds / 60))
    hours, mins = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (mins, "m")]
    return " ".join(f"{n} {text(lang, f'status.unit.{u}')}" for n, u in parts if n) or "0"


def _day_class(value: float | None) -> str:
    if value is None:
        return "none"
    return "u100" if value >= 99.9 else "u99" if value >= 99 else "u95" if value >= 95 else "ulow"


def _bar(days: list[dict[str, Any]], lang: str) -> str:
    """The 90-day bar as one inline SVG: one path per colour, each a few horizontal runs of
    days (a dash pattern leaves the gap between days), so a check with no trouble costs the
    same bytes as one with a few bad days. The title (tooltip and accessible name) names
    the days below 99.9 %."""
    runs: dict[str, list[tuple[int, int]]] = {}
    for i, day in enumerate(days):
        cls = _day_class(day["uptime"])
        spans = runs.setdefault(cls, [])
        if spans and spans[-1][0] + spans[-1][1] == i:
            spans[-1] = (spans[-1][0], spans[-1][1] + 1)
        else:
            spans.append((i, 1))
    paths = "".join(f'<path class="{cls}" d="{"".join(f"M{x} 4h{n}" for x, n in spans)}"/>'
                    for cls, spans in runs.items())
    title = escape(_bar_title(days, lang))
    return (f'<svg class="bar" viewBox="0 0 {len(days)} 8" preserveAspectRatio="none" '
            f'role="img"><title>{title}</title>{paths}</svg>')


def _bar_title(days: list[dict[str, Any]], lang: str) -> str:
    bad = [f"{d['date']}: {_pct(d['uptime'], lang)}" for d in days
           if d["uptime"] is not None and d["uptime"] < 99.9]
    missing = sum(d["uptime"] is None for d in days)
    parts = [text(lang, "status.bar_bad", n=len(bad)) + (": " + "; ".join(bad) if bad else "")]
    if missing:
        parts.append(text(lang, "status.bar_missing", n=missing))
    return f"{text(lang, 'status.bar_last', n=len(days))}: " + " · ".join(parts)


def _figures(s: dict[str, Any], lang: str) -> str:
    """30- and 90-day uptime; for a check younger than that, the figure since its first
    day of data, saying so (a new check's 100 % of one morning is not 90 days of it)."""
    since = s.get("data_since")
    month = f'{text(lang, "status.uptime_30")}: {_pct(s["uptime_30d"], lang)}'
    if since is None:
        return f'{month} · {text(lang, "status.uptime_90")}: {_pct(s["uptime_90d"], lang)}'
    young = f'{text(lang, "status.data_since", date=since)}: {_pct(s["uptime_90d"], lang)}'
    thirty_ago = dt.date.fromisoformat(s["days"][-1]["date"]) - dt.timedelta(days=29)
    return young if dt.date.fromisoformat(since) > thirty_ago else f"{month} · {young}"


def _service(s: dict[str, Any], lang: str) -> str:
    return (f'<div class="svc"><div class="svc-head"><span class="svc-title">'
            f'{escape(s["title"])}</span><span class="state {escape(s["state"])}">'
            f'{escape(s["state_text"])}</span></div>{_bar(s["days"], lang)}'
            f'<div class="figs"><span>{text(lang, "status.days_ago", n=90)}</span><span>'
            f'{escape(_figures(s, lang))}</span>'
            f'<span>{text(lang, "status.today")}</span></div></div>')


def _legend(lang: str) -> str:
    items = "".join(f'<li><svg viewBox="0 0 1 1" class="key"><rect class="{cls}" width="1" '
                    f'height="1"/></svg>{text(lang, f"status.legend.{cls}")}</li>'
                    for cls in ("u100", "u99", "u95", "ulow", "none"))
    return f'<ul class="legend" aria-label="{text(lang, "status.legend")}">{items}</ul>'


def _updates(inc: dict[str, Any], tz: dt.tzinfo) -> str:
    """What people wrote about the incident, newest first."""
    items = "".join(
        f'<li><b>{escape(u["status_text"])}</b> — {escape(u["message"])}'
        f'<div class="when">{escape(_time(u["at"], tz))}</div></li>'
        for u in inc.get("updates", []))
    return f'<ul class="updates">{items}</ul>' if items else ""


def _banner(data: dict[str, Any], lang: str) -> str:
    states = {s["state"] for g in data["groups"] for s in g["services"]}
    if states & {"down", "flapping"}:
        return f'<p class="banner bad">{text(lang, "status.banner_down")}</p>'
    if states & {"degraded", "maintenance"}:
        return f'<p class="banner warn">{text(lang, "status.banner_partial")}</p>'
    return f'<p class="banner ok">{text(lang, "status.banner_ok")}</p>'


def _incident(inc: dict[str, Any], lang: str, tz: dt.tzinfo) -> str:
    names = escape(", ".join(inc["services"]))
    if inc["resolved_at"] is not None:
        when = (f'{_time(inc["opened_at"], tz)} → {_time(inc["resolved_at"], tz)} · '
                f'{text(lang, "status.lasted")} {duration(inc["duration"], lang)}')
        return (f'<li><b>{names}</b><div class="when">{escape(when)}</div>'
                f'{_updates(inc, tz)}</li>')
    handled = text(lang, "status.handled" if inc["acked_at"] else "status.investigating")
    if inc.get("updates"):
        handled = escape(inc["updates"][0]["status_text"])
    return (f'<li><b>{names}</b>: <span class="state {escape(inc["state"])}">'
            f'{escape(inc["state_text"])}</span><div class="when">'
            f'{text(lang, "status.since")} {escape(_time(inc["opened_at"], tz))} · '
            f'{handled}</div>{_updates(inc, tz)}</li>')


def _maintenance(m: dict[str, Any], lang: str, tz: dt.tzinfo) -> str:
    key = "status.maint_now" if m["ongoing"] else "status.maint_planned"
    return (f'<li><b>{escape(", ".join(m["services"]))}</b>: {text(lang, key)}'
            f'<div class="when">{escape(_time(m["start"], tz))} → '
            f'{escape(_time(m["end"], tz))}</div></li>')


def _list(items: list[str], lang: str, empty_key: str) -> str:
    if not items:
        return f'<p class="empty">{text(lang, empty_key)}</p>'
    return f'<ul class="list">{"".join(items)}</ul>'


Links = dict[str, str]  # "id", "en": the page in each language; "atom", "json": its feeds


def served_links(lang: str) -> Links:
    """Links of the page served by the daemon (one URL, the language in the query)."""
    return {"id": "?lang=id", "en": "?lang=en", "atom": f"/status/feed.atom?lang={lang}",
            "json": f"/status.json?lang={lang}"}


def render_html(data: dict[str, Any], lang: str, tz: dt.tzinfo,
                links: Links | None = None, *, logo: str | None = None) -> str:
    return valid_text(_html(data, lang, tz, links or served_links(lang), logo))


def _heading(data: dict[str, Any], lang: str, logo: str | None) -> tuple[str, str]:
    """The page's <title> and its heading: the agency's name and logo when configured."""
    title = text(lang, "status.title")
    agency = data.get("agency") or ""
    picture = f'<img class="logo" src="{logo}" alt="">' if logo else ""
    if not agency:
        return title, f"{picture}<h1>{title}</h1>"
    return (f"{title} · {escape(agency)}",
            f'{picture}<div><p class="agency">{escape(agency)}</p><h1>{title}</h1></div>')


def _html(data: dict[str, Any], lang: str, tz: dt.tzinfo, links: Links,
          logo: str | None = None) -> str:
    now = _list([_incident(i, lang, tz) for i in data["open_incidents"]], lang, "status.none_open")
    planned = _list([_maintenance(m, lang, tz) for m in data["maintenance"]], lang,
                    "status.none_maint")
    past = _list([_incident(i, lang, tz) for i in data["history"]], lang, "status.none_history")
    groups = "".join(
        f'<section class="group"><h2>{escape(g["name"])}</h2>'
        f'{"".join(_service(s, lang) for s in g["services"])}</section>'
        for g in data["groups"])
    other = "en" if lang == "id" else "id"
    title, heading = _heading(data, lang, logo)
    nav = (f'<nav><a href="{links["id"]}"{" aria-current=page" if lang == "id" else ""}>'
           f'Bahasa Indonesia</a><a href="{links["en"]}"'
           f'{" aria-current=page" if lang == "en" else ""}>English</a></nav>')
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title>"
        f'<link rel="alternate" type="application/atom+xml" href="{links["atom"]}">'
        f'<link rel="alternate" hreflang="{other}" href="{links[other]}">'
        f"<style>{stylesheet()}</style></head><body><main>"
        f'<header><div class="brand">{heading}</div>{nav}</header>{_banner(data, lang)}'
        f'<h2>{text(lang, "status.open")}</h2>'
        f"{now}"
        f'<h2>{text(lang, "status.maintenance")}</h2>'
        f"{planned}"
        f"{groups}{_legend(lang)}"
        f'<h2>{text(lang, "status.history")}</h2>'
        f"{past}"
        f'<footer>{text(lang, "status.updated")} {escape(_time(data["generated_at"], tz))} · '
        f'<a href="{links["atom"]}">Atom</a> · '
        f'<a href="{links["json"]}">JSON</a></footer></main></body></html>\n')


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _update_entry(inc: dict[str, Any], update: dict[str, Any], names: str,
                  base_url: str) -> str:
    """One entry per update people wrote, so feed readers announce each of them."""
    at, title = _iso(update["at"]), f"{names}: {update['status_text']}"
    return (f"<entry><id>{xml_escape(base_url)}/status#incident-{inc['id']}-{at}</id>"
            f"<title>{xml_escape(title)}</title>"
            f"<updated>{at}</updated><published>{at}</published>"
            f'<link href="{xml_escape(base_url)}/status"/>'
            f"<summary>{xml_escape(update['message'])}</summary></entry>")


def render_atom(data: dict[str, Any], lang: str, base_url: str) -> str:
    return valid_text(_atom(data, lang, base_url))


def _atom(data: dict[str, Any], lang: str, base_url: str) -> str:
    incidents = sorted(data["open_incidents"] + data["history"], key=lambda i: -i["opened_at"])
    entries = []
    for inc in incidents:
        names = ", ".join(inc["services"])
        done = inc["resolved_at"] is not None
        updated = inc["resolved_at"] or inc["acked_at"] or inc["opened_at"]
        title = f'{names}: {text(lang, "status.recovered" if done else "status.disrupted")}'
        summary = (f'{text(lang, "status.lasted")} {duration(inc["duration"], lang)}'
                   if done else f'{text(lang, "status.since")} {_iso(inc["opened_at"])}')
        entries.append(
            f"<entry><id>{xml_escape(base_url)}/status#incident-{inc['id']}</id>"
            f"<title>{xml_escape(title)}</title><updated>{_iso(updated)}</updated>"
            f"<published>{_iso(inc['opened_at'])}</published>"
            f'<link href="{xml_escape(base_url)}/status"/>'
            f"<summary>{xml_escape(summary)}</summary></entry>")
        entries += [_update_entry(inc, u, names, base_url) for u in inc.get("updates", [])]
    updated = _iso(max([data["generated_at"] if not incidents else 0] +
                       [i["resolved_at"] or i["acked_at"] or i["opened_at"] for i in incidents]
                       + [u["at"] for i in incidents for u in i.get("updates", [])]))
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">'
            f"<id>{xml_escape(base_url)}/status</id>"
            f'<title>{xml_escape(text(lang, "status.title"))}</title><updated>{updated}</updated>'
            f'<link rel="self" href="{xml_escape(base_url)}/status/feed.atom"/>'
            f'<link href="{xml_escape(base_url)}/status"/>{"".join(entries)}</feed>\n')
