"""`siaga demo`: simulated services on 127.0.0.1 and a daemon watching them, so a newcomer
sees every state (up, degraded, down, flapping, recovery) within a minute, with no config."""

from __future__ import annotations

import asyncio
import tempfile
import time

from aiohttp import web
from rich.console import Console

from monitor.config.loader import parse_config
from monitor.daemon import Daemon

DEMO_CONFIG = """
siaga: {{location: demo, language: {lang}, listen: "127.0.0.1:0", state_dir: "{state}"}}
defaults: {{interval: 1s, timeout: 800ms, fail_after: 2, recover_after: 2,
            flapping: {{window: 10, high: 50, low: 25}}}}
checks:
  - {{name: portal, title: "Portal Layanan",
      http: {{url: "{base}/healthy", expect: {{body_contains: OK}}}}}}
  - {{name: perizinan, title: "Perizinan Online (slow)",
      http: {{url: "{base}/slow", expect: {{warn_latency: 200ms}}}}}}
  - {{name: pengaduan, title: "Pengaduan (broken)", http: {{url: "{base}/failing"}}}}
  - {{name: keuangan, title: "Keuangan (unstable)", flapping: {{window: 10, high: 50, low: 25}},
      http: {{url: "{base}/flapping"}}}}
  - {{name: surat, title: "Surat Elektronik (outage from 6 s to 16 s)",
      http: {{url: "{base}/outage"}}}}
  - {{name: hang, title: "Database (hangs)", tcp: {{host: 127.0.0.1, port: {hang}, expect: READY}}}}
"""


class DemoServices:
    """Simulated services with scripted behaviour."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.flips = 0

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.4)
        return web.Response(text="OK, slowly")

    async def failing(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="Service Unavailable")

    async def flapping(self, request: web.Request) -> web.Response:
        self.flips += 1
        return web.Response(status=200 if self.flips % 2 else 500)

    async def outage(self, request: web.Request) -> web.Response:
        down = 6 <= time.monotonic() - self.started < 16
        return web.Response(status=502 if down else 200)

    def app(self) -> web.Application:
        app = web.Application()
        for name in ("healthy", "slow", "failing", "flapping", "outage"):
            app.router.add_get(f"/{name}", getattr(self, name))
        return app


async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.read()  # never answer; wait for the client to give up
    finally:
        writer.close()


async def run_demo(console: Console, *, duration: float = 0, language: str = "en") -> None:
    runner = web.AppRunner(DemoServices().app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    hang = await asyncio.start_server(_hang, "127.0.0.1", 0)
    hang_port = hang.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="siaga-demo-") as state:
        text = DEMO_CONFIG.format(base=f"http://127.0.0.1:{port}", hang=hang_port,
                                  lang=language, state=state)
        config = parse_config(text, "<demo>")
        console.print(f"[bold]Siaga demo[/]: {len(config.checks)} simulated services on "
                      f"127.0.0.1:{port}; watch them change state. Ctrl-C stops.")
        daemon = Daemon(config, console=console)
        if duration:
            asyncio.get_running_loop().call_later(duration, daemon.request_stop)
        try:
            await daemon.run()
        finally:
            hang.close()
            await hang.wait_closed()
            await runner.cleanup()
