"""The status page's bytes, built once per change and served to any number of citizens.

A citizen surge must never compete with probing: requests only pick prepared bytes (plain
and gzip, each with a strong `ETag`) and answer `304` to a matching `If-None-Match`. A build
reads the store on the store's thread and renders in a worker thread; it runs when a public
check changes state, an incident changes or the config is reloaded (at most once per
`min_gap`, so a storm of transitions costs one build a second), and every `refresh` seconds
so times and the day bars move on.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("siaga.status")
MAX_AGE = 5  # seconds a browser or CDN may reuse the page: a change shows within seconds
TYPES = {"html": "text/html", "json": "application/json", "atom": "application/atom+xml"}
# The page has no script and loads nothing: its style is inline, its bars inline SVG, the
# logo a data: URI. Say so, so an injected tag could do nothing (it may still be framed:
# agencies embed it in their portals).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src data:; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Body:
    """One representation of a page: its bytes, gzipped, and the strong tags of both."""

    kind: str  # html | json | atom
    raw: bytes
    packed: bytes
    etag: str

    @classmethod
    def of(cls, kind: str, text: str) -> Body:
        raw = text.encode("utf-8", "replace")
        digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
        return cls(kind, raw, gzip.compress(raw, 6, mtime=0), f'"{digest}"')

    @property
    def packed_etag(self) -> str:
        return f'"{self.etag[1:-1]}-gz"'


Bodies = dict[tuple[str, str], Body]  # (kind, language) → body
Build = Callable[[], Awaitable[Bodies]]


def respond(request: web.Request, body: Body, lang: str) -> web.Response:
    """The cached body for this request: 304, gzip or plain."""
    from aiohttp import web  # the daemon builds its status cache before its web server

    gz = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    etag = body.packed_etag if gz else body.etag
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE}",
               "Vary": "Accept-Encoding, Accept-Language", "Content-Language": lang,
               **PAGE_HEADERS}
    asked = request.headers.get("If-None-Match", "")
    if asked and (asked.strip() == "*" or {body.etag, body.packed_etag} & _tags(asked)):
        return web.Response(status=304, headers=headers)
    if gz:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body.packed if gz else body.raw, headers=headers,
                        content_type=TYPES[body.kind], charset="utf-8")


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",")}


class StatusCache:
    """The latest built bodies; `changed()` asks for a new build, `run()` makes them."""

    def __init__(self, build: Build, *, refresh: float = 60.0, min_gap: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._build = build
        self.refresh, self.min_gap, self.clock = refresh, min_gap, clock
        self.bodies: Bodies = {}
        self.builds = 0
        self.on_build: list[Callable[[Bodies], None]] = []  # e.g. the status page's process
        self._wanted = asyncio.Event()
        self._ready = asyncio.Event()

    def changed(self, *_: object) -> None:
        """A listener for transitions, incident changes and reloads."""
        self._wanted.set()

    async def get(self, kind: str, lang: str, wait: float = 10.0) -> Body | None:
        """The body to serve; waits for the first build (None if it does not come)."""
        if not self._ready.is_set():
            try:
                async with asyncio.timeout(wait):
                    await self._ready.wait()
            except TimeoutError:
                return None
        return self.bodies.get((kind, lang))

    async def run(self) -> None:
        while True:
            began = self.clock()
            self._wanted.clear()
            await self._build_once()
            try:
                async with asyncio.timeout(self.refresh):
                    await self._wanted.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(max(0.0, began + self.min_gap - self.clock()))

    async def _build_once(self) -> None:
        try:
            bodies = await self._build()
        except Exception:  # the store may recover; keep serving the last page meanwhile
            log.exception("event=status_build_failed")
            return
        self.bodies, self.builds = bodies, self.builds + 1
        self._ready.set()
        for listener in self.on_build:
            listener(bodies)
