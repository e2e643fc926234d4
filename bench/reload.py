"""Reload pause: how long a config reload stalls the event loop with N checks running.

Starts a target in a thread, runs a Daemon (no HTTP server) with N tcp (or `--kind http`)
checks, then reloads a file with 1% of the checks changed, 1% removed and 1% added
(`--edit one`: one check's title changed, nothing else), two ways:
`Daemon.reload()` (parse on the loop, for comparison) and `Reloader.reload()` (parse on a
thread, swap on the loop: what the watcher, SIGHUP and `siaga reload` do). A ticker task
measures the loop's lag. Prints one JSON line.

    python bench/reload.py [--checks 10000] [--interval 60] [--kind http] [--edit one]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry

from monitor.config.loader import load_config
from monitor.daemon import Daemon

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def target() -> int:
    """A listener on its own thread: reads what comes (nothing from a tcp check), answers
    `200` and closes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)

    def serve() -> None:
        while True:
            conn, _ = sock.accept()
            try:
                conn.settimeout(1.0)
                if conn.recv(65536):
                    conn.sendall(REPLY)
            except OSError:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(sock.getsockname()[1])


def config(state: Path, port: int, names: list[str], interval: float, kind: str = "tcp") -> str:
    lines = [f'siaga: {{listen: "127.0.0.1:0", state_dir: "{state}"}}',
             f"defaults: {{interval: {interval}s, timeout: 5s}}", "checks:"]
    if kind == "http":  # block style, as people write it
        lines += [f"  - name: {n}\n    http:\n      url: http://127.0.0.1:{port}/{n}\n"
                  "      expect:\n        status: 200" for n in names]
    else:
        lines += [f"  - {{name: {n}, tcp: {{host: 127.0.0.1, port: {port}}}}}" for n in names]
    return "\n".join(lines) + "\n"


class Ticker:
    def __init__(self, every: float = 0.005) -> None:
        self.every, self.max_lag = every, 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.every)
            self.max_lag = max(self.max_lag, loop.time() - before - self.every)


def time_swaps(daemon: Daemon) -> list[float]:
    """Time the on-loop part (`Daemon.reload(config)`) of the reloads that follow."""
    swaps: list[float] = []
    real = daemon.reloader.apply  # what the reloader calls on the loop

    def timed(loaded: object = None, plan: object = None) -> bool:
        t = time.perf_counter()
        try:
            return real(loaded, plan)  # type: ignore[arg-type]
        finally:
            swaps.append(time.perf_counter() - t)

    daemon.reloader.apply = timed
    return swaps


async def main(n: int, interval: float, kind: str, edit: str) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="siaga-reload-"))
    port, path = target(), tmp / "checks.yaml"
    names = [f"c{i}" for i in range(n)]
    path.write_text(config(tmp, port, names, interval, kind))
    daemon = Daemon(load_config(path), registry=CollectorRegistry(), serve=False)
    daemon.reloader.poll = 3600.0  # only the reloads below, not the file watcher's
    await daemon.start()
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    out: dict[str, float] = {"checks": n}
    try:
        await asyncio.sleep(3)
        ticker.max_lag = 0.0
        await asyncio.sleep(5)
        out["baseline_max_loop_lag_s"] = ticker.max_lag  # no reload: the daemon's own work
        k = max(1, n // 100)
        # churn: 1% removed, 1% added (and one title changed); one: only the title
        edited = names if edit == "one" else names[k:] + [f"new{i}" for i in range(k)]
        text = config(tmp, port, edited, interval, kind)
        changed = text.replace(f"name: c{k},", f"name: c{k}, title: changed,", 1)
        if changed == text:  # block style
            changed = text.replace(f"name: c{k}\n", f"name: c{k}\n    title: changed\n", 1)
        for way in ("off_loop", "on_loop"):
            path.write_text(changed if way == "off_loop"
                            else config(tmp, port, names, interval, kind))
            await asyncio.sleep(0.5)
            ticker.max_lag = 0.0
            started = time.perf_counter()
            if way == "on_loop":
                ok = daemon.reload()
                out["on_loop_reload_s"] = time.perf_counter() - started
            else:
                swaps = time_swaps(daemon)
                ok = await daemon.reloader.reload("bench")
                out["off_loop_swap_s"] = swaps[0]
                out["off_loop_total_s"] = time.perf_counter() - started
            assert ok
            await asyncio.sleep(0.5)
            out[f"{way}_max_loop_lag_s"] = ticker.max_lag
        out["missed_slots"] = daemon.scheduler.stats.missed if daemon.scheduler else -1
    finally:
        task.cancel()
        await daemon.stop()
    return {k: round(v, 4) for k, v in out.items()}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--checks", type=int, default=10_000)
    p.add_argument("--interval", type=float, default=60.0)
    p.add_argument("--kind", choices=("tcp", "http"), default="tcp")
    p.add_argument("--edit", choices=("churn", "one"), default="churn",
                   help="churn: 1%% changed, removed and added; one: one check's title")
    a = p.parse_args()
    out = asyncio.run(main(a.checks, a.interval, a.kind, a.edit))
    print(json.dumps({"kind": a.kind, "edit": a.edit, **out}))
