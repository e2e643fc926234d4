"""Fallback HTTP target for the bench when Debian's nginx is not installed.

    python bench/target.py PORT [PORT ...]

Serves `GET /ok` (200) and `GET /fail` (503) on 127.0.0.1 on every given port, prints
"ready" once listening, and exits on SIGTERM/SIGINT or after `--max-seconds` (default 1 h),
so a forgotten target stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

HOST = "127.0.0.1"


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def fail(request: web.Request) -> web.Response:
    return web.Response(text="fail\n", status=503)


async def serve(ports: list[int], max_seconds: float) -> None:
    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/fail", fail)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for port in ports:
        await web.TCPSite(runner, HOST, port, backlog=4096).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max_seconds)
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ports", type=int, nargs="+")
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()
    asyncio.run(serve(args.ports, args.max_seconds))


if __name__ == "__main__":
    main()
