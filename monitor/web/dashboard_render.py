"""HTML and inline SVG of the manager's dashboard (monitor.web.dashboard): one card per
service under its group's total; cards flow into one column on a phone."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any
from urllib.parse import urlencode

from monitor.i18n import text
from monitor.reporting.report import Line, number
from monitor.reporting.uptime import Uptime
from monitor.reporting.uptime_windows import WINDOWS
from monitor.web.dashboard import budget_left

CSS = """
:root{--up:#1f9d55;--warn:#b7791f;--bad:#d64545;--muted:#5b6670;--fg:#17202a}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:var(--fg);
background:#f6f7f9}main{max-width:1200px;margin:0 auto;padding:16px}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:8px}
h1{font-size:1.4rem;margin:.2em 0}.agency{margin:0;color:var(--muted);font-weight:600}
nav a{margin-left:.6em;color:var(--muted)}nav a[aria-current]{color:var(--fg);font-weight:700}
h2{font-size:1.15rem;margin:1.4em 0 .4em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card.total{border-left:4px solid #2b6cb0}.card h3{margin:0 0 6px;font-size:1rem}
dl{display:grid;grid-template-columns:auto auto;gap:2px 12px;margin:0}dt{color:var(--muted)}
dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.ok{color:var(--up)}.warn{color:var(--warn)}.bad{color:var(--bad)}
.budget{display:block;width:100%;height:10px;margin:6px 0}.budget rect{fill:#e6e9ee}
.budget .spent{fill:var(--up)}.budget .over{fill:var(--bad)}
.lat{display:block;width:100%;height:48px;margin-top:6px}
.lat polyline{fill:none;stroke:#2b6cb0;stroke-width:1.5;vector-effect:non-scaling-stroke}
.lat .worst{stroke:#c3cfe0;stroke-width:1}.small{color:var(--muted);font-size:.85rem}
footer{color:var(--muted);font-size:.85rem;margin:24px 0}
"""


def _pct(u: Uptime, lang: str) -> str:
    return text(lang, "dash.none") if u.percent is None else f"{number(u.percent, 3, lang)}%"


def _mins(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return text(lang, "dash.none")
    return f"{number(seconds / 60, 1, lang)} {'menit' if lang == 'id' else 'min'}"


def _ms(seconds: float, lang: str) -> str:
    return f"{number(seconds * 1000, 0, lang)} ms"


def _judge(u: Uptime, slo: float | None) -> str:
    if u.percent is None or slo is None:
        return ""
    return "ok" if u.percent >= 100 * slo else "bad"


def _budget_bar(left: float | None, lang: str) -> str:
    if left is None:
        return ""
    width = max(0.0, min(1.0, left)) * 100
    cls = "spent" if left > 0 else "over"
    label = (f"{number(left * 100, 1, lang)}%" if left > 0
             else f"{text(lang, 'dash.overspent')} ({number(left * 100, 1, lang)}%)")
    tone = "ok" if left > 0.25 else "warn" if left > 0 else "bad"
    return (f'<dt>{text(lang, "dash.budget")}</dt><dd class="{tone}">{label}</dd></dl>'
            f'<svg class="budget" viewBox="0 0 100 4" '
            f'preserveAspectRatio="none" role="img"><title>{text(lang, "dash.budget")}: '
            f'{label}</title><rect width="100" height="4"/><rect class="{cls}" '
            f'width="{width if left > 0 else 100:.1f}" height="4"/></svg><dl>')


def _latency(points: list[tuple[float, float, float]], now: float, lang: str) -> str:
    """Hourly mean (and the worst probe of each hour, faint) over the last 7 days."""
    if not points:
        return f'<p class="small">{text(lang, "dash.latency")}: {text(lang, "dash.no_latency")}</p>'
    span = 7 * 86400.0
    top = max(p[2] for p in points) or 1.0

    def line(index: int) -> str:
        return " ".join(f"{(h - (now - span)) / span * 168:.1f},{40 - p / top * 38:.1f}"
                        for h, *vals in points for p in [vals[index - 1]])

    mean = sum(p[1] for p in points) / len(points)
    worst = max(p[1] for p in points)
    figs = text(lang, "dash.latency_figs", mean=_ms(mean, lang), worst=_ms(worst, lang))
    return (f'<svg class="lat" viewBox="0 0 168 40" preserveAspectRatio="none" role="img">'
            f'<title>{text(lang, "dash.latency")}: {figs}</title>'
            f'<polyline class="worst" points="{line(2)}"/><polyline points="{line(1)}"/></svg>'
            f'<p class="small">{text(lang, "dash.latency")}: {figs}</p>')


def _figures(uptime: dict[int, Uptime], slo: float | None, lang: str) -> str:
    rows = "".join(f'<dt>{text(lang, "dash.days", n=d)}</dt>'
                   f'<dd class="{_judge(uptime[d], slo)}">{_pct(uptime[d], lang)}</dd>'
                   for d in WINDOWS)
    return rows


def _incidents(line: Line, lang: str) -> str:
    return (f'<dt>{text(lang, "dash.incidents")}</dt><dd>{line.incidents}</dd>'
            f'<dt>{text(lang, "dash.mtta")}</dt><dd>{_mins(line.mtta, lang)}</dd>'
            f'<dt>{text(lang, "dash.mttr")}</dt><dd>{_mins(line.mttr, lang)}</dd>')


def _service(s: dict[str, Any], now: float, lang: str) -> str:
    line, slo = s["line"], s["check"].slo
    return (f'<article class="card"><h3>{escape(line.title)}</h3><dl>'
            f'{_figures(s["uptime"], slo, lang)}'
            f'<dt>{text(lang, "dash.slo")}</dt><dd>{number(slo * 100, 2, lang)}%</dd>'
            f'{_budget_bar(budget_left(s["uptime"][30], slo), lang)}'
            f'{_incidents(line, lang)}</dl>{_latency(s["latency"], now, lang)}</article>')


def _group(g: dict[str, Any], now: float, lang: str) -> str:
    total: Line = g["line"]
    verdict = ("" if total.met is None else
               f' · <span class="{"ok" if total.met else "bad"}">'
               f'{text(lang, "dash.met" if total.met else "dash.missed")}</span>')
    cards = "".join(_service(s, now, lang) for s in g["services"])
    summary = (f'<article class="card total"><h3>{text(lang, "dash.total")}{verdict}</h3>'
               f'<dl>{_figures(g["uptime"], None, lang)}{_incidents(total, lang)}</dl>'
               f"</article>")
    return (f'<section><h2>{escape(total.group)}</h2><div class="cards">{cards}{summary}'
            f"</div></section>")


def render(data: dict[str, Any], lang: str, tz: dt.tzinfo, key: str) -> str:
    now = data["now"]

    def link(to: str) -> str:
        return "?" + urlencode({"lang": to, **({"key": key} if key else {})})

    nav = "".join(f'<a href="{escape(link(code))}"{" aria-current=page" if code == lang else ""}>'
                  f"{name}</a>" for code, name in (("id", "Bahasa Indonesia"), ("en", "English")))
    agency = f'<p class="agency">{escape(data["agency"])}</p>' if data["agency"] else ""
    made = dt.datetime.fromtimestamp(now, tz).strftime("%Y-%m-%d %H:%M %Z")
    groups = "".join(_group(g, now, lang) for g in data["groups"])
    title = text(lang, "dash.title")
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="referrer" content="no-referrer"><title>{title}</title>'
            f"<style>{CSS}</style></head><body><main><header><div>{agency}<h1>{title}</h1>"
            f"</div><nav>{nav}</nav></header>{groups}<footer>{text(lang, 'dash.updated')} "
            f"{made} · {escape(text(lang, 'report.note'))}</footer></main></body></html>\n")


def refused(lang: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{text(lang, 'dash.refused')}</title><style>{CSS}</style></head><body>"
            f"<main><h1>{text(lang, 'dash.refused')}</h1>"
            f"<p>{escape(text(lang, 'dash.refused_text'))}</p></main></body></html>\n")
