"""The Alertmanager path of the page-latency figure (issue 18).

A second Siaga process watches only the flip target and routes incidents to a real
Alertmanager (Debian's `prometheus-alertmanager`, `group_wait: 1s`, no cluster) whose webhook
reaches a local receiver. Latency is from the deciding probe (the down transition the API
reports) to the webhook's arrival, so it includes Alertmanager's own `group_wait`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

HOST = "127.0.0.1"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
GROUP_WAIT = 1.0
AM_CONFIG = """\
route: {{receiver: hook, group_by: [alertname, check], group_wait: 1s, group_interval: 1s,
        repeat_interval: 1h}}
receivers: [{{name: hook, webhook_configs: [{{url: "{hook}", send_resolved: true}}]}}]
"""


class Webhook:
    """Alertmanager's notifications as they arrive: (time, status)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self.changed = asyncio.Event()

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seen.append((time.time(), str(body.get("status"))))
        self.changed.set()
        return web.Response(text="ok")

    async def wait(self, status: str, count: int, timeout: float) -> float:
        async with asyncio.timeout(timeout):
            while True:
                arrived = [t for t, s in self.seen if s == status]
                if len(arrived) >= count:
                    return arrived[count - 1]
                self.changed.clear()
                await self.changed.wait()


async def _ready(session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes],
                 what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early")
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def _config(tmp: Path, listen: int, am_port: int, flip_port: int) -> Path:
    config = {
        "siaga": {"listen": f"{HOST}:{listen}", "state_dir": str(tmp / "am-state"),
                  "language": "en"},
        "alerting": {"alertmanager": [f"http://{HOST}:{am_port}"]},
        "checks": [{"name": "bench-flip", "interval": "1s", "timeout": "900ms",
                    "fail_after": 1, "recover_after": 1, "flapping": {"enabled": False},
                    "http": {"url": f"http://{HOST}:{flip_port}/flip"}}],
    }
    path = tmp / "am-checks.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def _down_at(session: aiohttp.ClientSession, base: str) -> float | None:
    async with session.get(f"{base}/api/v1/checks/bench-flip") as response:
        data = await response.json()
    downs = [t["at"] for t in data.get("transitions", []) if t.get("new") == "down"]
    return dt.datetime.fromisoformat(downs[0]).timestamp() if downs else None


async def measure(tmp: Path, outages: int, set_failing: Any, flip_port: int,
                  free_port: Any, root: Path) -> dict[str, Any]:
    """Induce `outages` outages of the flip target (`set_failing(bool)`); return the
    `am_*` figures, or a note saying why they were not measured."""
    if ALERTMANAGER is None:
        return {"am_page_latency": "prometheus-alertmanager not installed; skipped"}
    hook, app = Webhook(), web.Application()
    app.router.add_post("/hook", hook.receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    hook_port, am_port, listen = free_port(), free_port(), free_port()
    await web.TCPSite(runner, HOST, hook_port).start()
    (tmp / "am.yml").write_text(AM_CONFIG.format(hook=f"http://{HOST}:{hook_port}/hook"))
    logs = open(tmp / "am-bench.log", "wb")  # noqa: SIM115 - closed below
    am = subprocess.Popen([ALERTMANAGER, f"--config.file={tmp / 'am.yml'}",
                           f"--storage.path={tmp / 'am-data'}", "--cluster.listen-address=",
                           f"--web.listen-address={HOST}:{am_port}"], stdout=logs, stderr=logs)
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    siaga = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c",
                              str(_config(tmp, listen, am_port, flip_port))],
                             cwd=root, env=env, stdout=logs, stderr=logs,
                             stdin=subprocess.DEVNULL)
    latencies: list[float] = []
    problems: list[str] = []
    base = f"http://{HOST}:{listen}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await _ready(session, f"http://{HOST}:{am_port}/-/ready", am, "alertmanager")
            await _ready(session, f"{base}/metrics", siaga, "siaga (alertmanager mode)")
            await asyncio.sleep(1.5)  # the flip check has been seen up
            for k in range(outages):
                set_failing(True)
                try:
                    arrived = await hook.wait("firing", k + 1, 20)
                    down = await _down_at(session, base)
                    if down is None:
                        problems.append(f"alertmanager outage {k + 1}: no down transition")
                    else:
                        latencies.append(arrived - down)
                    set_failing(False)
                    await hook.wait("resolved", k + 1, 20)
                except TimeoutError:
                    problems.append(f"alertmanager outage {k + 1}: timed out")
                finally:
                    set_failing(False)
    finally:
        for proc in (siaga, am):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()
        await runner.cleanup()
    return {"am_group_wait_s": GROUP_WAIT, "am_pages_measured": len(latencies),
            "am_page_latency_p50_s": round(sorted(latencies)[len(latencies) // 2], 4)
            if latencies else None,
            "am_page_latency_max_s": round(max(latencies), 4) if latencies else None,
            "am_problems": problems}
