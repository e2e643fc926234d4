"""The status page as static files (`siaga status-export DIR`, or `siaga.status_export` on
every change), so an agency can serve it from nginx or a CDN apart from the monitor.

For each language: the page, its JSON and its Atom feed. The configured language gets the
plain names (`index.html`, `status.json`, `feed.atom`), the other one a suffix
(`index.en.html`, …); the page links to its neighbours by these names. Each file is written
to a temporary name and renamed, so a web server never sends half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from monitor.i18n import LANGUAGES
from monitor.reporting.rollup import Maintenance
from monitor.store.engine import Conn
from monitor.web import status_render


def file_names(lang: str, default: str) -> dict[str, str]:
    suffix = "" if lang == default else f".{lang}"
    return {"html": f"index{suffix}.html", "json": f"status{suffix}.json",
            "atom": f"feed{suffix}.atom"}


def links(lang: str, default: str) -> status_render.Links:
    own = file_names(lang, default)
    return {**{other: file_names(other, default)["html"] for other in LANGUAGES},
            "atom": own["atom"], "json": own["json"]}


def render_files(pages: dict[str, dict[str, Any]], tz: dt.tzinfo, base_url: str,
                 default: str, logo: str | None = None) -> dict[str, str]:
    """File name → text, from the page data of each language (`logo`: a data: URI)."""
    files = {}
    for lang, data in pages.items():
        names = file_names(lang, default)
        files[names["html"]] = status_render.render_html(data, lang, tz, links(lang, default),
                                                         logo=logo)
        files[names["json"]] = json.dumps(data, ensure_ascii=False, default=str)
        files[names["atom"]] = status_render.render_atom(data, lang, base_url)
    return files


def write(directory: str | Path, files: dict[str, str]) -> list[Path]:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = target / name
        tmp = target / f".{name}.tmp"
        tmp.write_bytes(text.encode("utf-8", "replace"))
        os.replace(tmp, path)
        written.append(path)
    return written


def stored_states(conn: Conn, names: list[str], maintenance: Maintenance,
                  now: float, watching: bool) -> dict[str, str]:
    """Each check's state as the store last recorded it (for an export without the daemon):
    unknown when no daemon is watching, maintenance inside a window."""
    states = {}
    for name in names:
        row = conn.execute("SELECT new FROM transitions WHERE check_name = ? "
                           "ORDER BY at DESC, id DESC LIMIT 1", (name,)).fetchone()
        state = row[0] if row and watching else "unknown"
        if maintenance(name, now, now + 1):
            state = "maintenance"
        states[name] = state
    return states
