"""The acknowledge page behind a page's signed link: what the officer needs to decide
(service, what is wrong, since when, incident number, who else was paged), in the
officer's language, and after the ack who handles it and when.

The link's GET only shows the page: link previewers (chat apps fetch every URL they see)
must not acknowledge anything. The POST from its button does, once. The same link stays the
officer's view of the incident afterwards: it then says who acknowledged and when, without
a button.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from aiohttp import web

from monitor.errors import AckTokenError, IncidentError
from monitor.i18n import LANGUAGES, reason, state_word, text
from monitor.incidents.model import Incident, Kind, Status
from monitor.paging.acktoken import reason_text
from monitor.store.records import get_incident, paged_recipients, token_used_at, use_token
from monitor.web.services import ACTIONS, CLOCK, CONFIG, OPEN_INCIDENTS, SIGNER, STORE

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
dt{{font-weight:600;margin-top:.6rem}}dd{{margin:0}}
button{{font-size:1.2rem;padding:.6rem 1.2rem;margin-top:1rem}}</style></head>
<body>{body}</body></html>"""


def page(lang: str, title: str, body: str, status: int = 200) -> web.Response:
    html = PAGE.format(lang=lang, title=escape(title), body=body)
    return web.Response(text=html, status=status, content_type="text/html")


def refused(lang: str, message: str, status: int) -> web.Response:
    title = text(lang, "ack.refused")
    return page(lang, title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", status)


def officers(app: web.Application) -> Any:
    return getattr(app[CONFIG]().sections.get("oncall"), "officers", {})


def name_of(app: web.Application, officer: str | None) -> str:
    person = officers(app).get(officer) if officer else None
    return person.name if person else (officer or "")


def language(request: web.Request, officer: str | None = None) -> str:
    """The officer's language (oncall `language`, else `siaga.language`), not the browser's:
    the page reads like the message that brought the officer here."""
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        return asked
    person = officers(request.app).get(officer) if officer else None
    return (person.language if person else None) or request.app[CONFIG]().settings.language


def when(app: web.Application, at: float) -> str:
    tz = app[CONFIG]().settings.tz
    return dt.datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M %Z")


async def incident_of(app: web.Application, incident_id: int) -> Incident | None:
    return app[OPEN_INCIDENTS]().get(incident_id) or await app[STORE].run(
        get_incident, incident_id)


def problem(lang: str, inc: Incident) -> str:
    """What is wrong, as the officer's message says it: "gangguan: status 503, …"."""
    if inc.kind is Kind.ALERT:
        return inc.reason  # the rule's own words, as its author wrote them
    said = reason(lang, inc.reason)
    if inc.kind in (Kind.DOWN, Kind.FLAPPING):
        word = state_word(lang, inc.kind.value)
        return f"{word}: {said}" if said else word
    return said


async def facts(app: web.Application, lang: str, inc: Incident, officer: str) -> str:
    """The list the officer decides on."""
    paged = await app[STORE].run(paged_recipients, inc.id)
    others = sorted(name_of(app, o) for o in paged - {officer})
    rows = [("ack.service", f"{inc.title} ({inc.group})" if inc.group else inc.title),
            ("ack.problem", problem(lang, inc)),
            ("ack.since", when(app, inc.opened_at)),
            ("ack.incident", f"#{inc.id}"),
            ("ack.others", ", ".join(others) or text(lang, "ack.nobody_else"))]
    return "<dl>" + "".join(f"<dt>{escape(text(lang, key))}</dt><dd>{escape(value)}</dd>"
                            for key, value in rows) + "</dl>"


def outcome(app: web.Application, lang: str, inc: Incident) -> str | None:
    """Who acknowledged and when (or that it is over); None while nobody has."""
    lines = []
    if inc.acked_by and inc.acked_at:
        lines.append(text(lang, "ack.acked_by", who=name_of(app, inc.acked_by),
                          at=when(app, inc.acked_at)))
    if inc.status is Status.RESOLVED and inc.resolved_at:
        lines.append(text(lang, "ack.resolved", at=when(app, inc.resolved_at)))
    return "".join(f"<p>{escape(line)}</p>" for line in lines) or None


async def ack_form(request: web.Request) -> web.Response:
    app = request.app
    try:
        claim = app[SIGNER].verify(request.match_info["token"], app[CLOCK]())
    except AckTokenError as exc:
        lang = language(request)
        return refused(lang, reason_text(lang, exc.reason), 403)
    lang = language(request, claim.officer)
    inc = await incident_of(app, claim.incident_id)
    if inc is None:
        return refused(lang, text(lang, "ack.no_incident", id=claim.incident_id), 404)
    details = await facts(app, lang, inc, claim.officer)
    done = outcome(app, lang, inc)
    used = await app[STORE].run(token_used_at, claim.token_id)
    if done is not None or used is not None or not inc.is_open:
        heading = text(lang, "ack.status_title", id=inc.id)
        return page(lang, heading, f"<h1>{escape(heading)}</h1>{details}{done or ''}")
    heading = text(lang, "ack.confirm_title")
    body = (f"<h1>{escape(heading)}</h1>{details}<form method=post><button type=submit>"
            f"{escape(text(lang, 'ack.button'))}</button></form>")
    return page(lang, heading, body)


async def ack_post(request: web.Request) -> web.Response:
    app = request.app
    try:
        claim = app[SIGNER].verify(request.match_info["token"], app[CLOCK]())
    except AckTokenError as exc:
        lang = language(request)
        return refused(lang, reason_text(lang, exc.reason), 403)
    lang = language(request, claim.officer)
    if not await app[STORE].run(use_token, claim.token_id, app[CLOCK]()):
        return await used_link(app, lang, claim.incident_id)
    try:
        inc = await app[ACTIONS].acknowledge(claim.incident_id, claim.officer)
    except IncidentError as exc:
        return refused(lang, str(exc), 409)
    done = text(lang, "ack.done", title=inc.title, who=name_of(app, claim.officer))
    link = (f'<p><a href="{escape(request.path)}">'
            f'{escape(text(lang, "ack.view", id=inc.id))}</a></p>')
    return page(lang, done, f"<h1>{escape(done)}</h1>{link}")


async def used_link(app: web.Application, lang: str, incident_id: int) -> web.Response:
    """A second press: say who acknowledged and when, no button."""
    inc = await incident_of(app, incident_id)
    done = outcome(app, lang, inc) if inc else None
    title = text(lang, "ack.already_used")
    return page(lang, title, f"<h1>{escape(title)}</h1>{done or ''}", 409)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ack/{token}", ack_form)
    app.router.add_post("/ack/{token}", ack_post)
