"""The public status page: `/status` (HTML, no JavaScript), `/status.json` and
`/status/feed.atom`, with `/` redirecting to `/status`.

Only checks marked `public: true` appear, under their `title`, with their state in plain
words. Nothing else leaves: no check names, hosts, URLs or probe reasons — an incident whose
root is an internal check shows only the public services it affects. Bahasa Indonesia by
default; English with `?lang=en` or `Accept-Language: en`.

Requests are answered from prepared bytes (monitor.web.status_cache), built by
monitor.web.status_pages on changes: a surge of citizens costs no store reads or rendering.
"""

from __future__ import annotations

from aiohttp import web

from monitor.i18n import LANGUAGES
from monitor.web.services import CONFIG, STATUS_PAGES
from monitor.web.status_cache import respond


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



async def _serve(request: web.Request, kind: str) -> web.Response:
    lang = choose_language(request, request.app[CONFIG]().settings.language)
    body = await request.app[STATUS_PAGES].get(kind, lang)
    if body is None:
        raise web.HTTPServiceUnavailable(text="status page not ready yet")
    return respond(request, body, lang)


async def status_html(request: web.Request) -> web.Response:
    return await _serve(request, "html")


async def status_json(request: web.Request) -> web.Response:
    return await _serve(request, "json")


async def status_feed(request: web.Request) -> web.Response:
    return await _serve(request, "atom")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/status")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/status", status_html)
    app.router.add_get("/status.json", status_json)
    app.router.add_get("/status/feed.atom", status_feed)
