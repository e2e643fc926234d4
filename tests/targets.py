"""Many services on one local server whose health each test sets by path."""

from __future__ import annotations

from aiohttp import web


class Targets:
    """Many services on one local server; the test sets each path's status."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.flap: set[str] = set()
        self.hits: dict[str, int] = {}
        self.port = 0

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/{name}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        return runner

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        if name in self.flap:
            return web.Response(status=200 if self.hits[name] % 2 else 500)
        return web.Response(status=self.status.get(name, 200))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"
