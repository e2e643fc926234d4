"""The status page under a citizen surge (issue 19): responses/s of `/status` from the cache,
and probe lateness with and without the surge. Prints one JSON line; progress on stderr.

    python bench/status_surge.py                 # 100 public checks, 200 clients, 30 s
    python bench/status_surge.py --smoke         # 20 public checks, 20 clients, 3 s
    python bench/status_surge.py --status-listen # the page in its own process (status_listen)

Siaga runs pinned to the second core (`taskset`), the target and the load generator on the
first. The store is seeded with 90 days of history (a few outages on every third check) so the
page has real bars. Phases: warm-up, a quiet window, then the surge window of the same length;
lateness p50/p99 of each window come from `siaga_scheduler_lateness_seconds` bucket deltas.
The load generator is a lean asyncio protocol (keep-alive, one request in flight per client,
`Accept-Encoding: gzip` like a browser): an aiohttp client would measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import procstat
import promtext
from run import HOST, ROOT, Pinning, free_port, log, r, stop_process, wait_listening

D = 86400.0


def make_config(tmp: Path, public: int, internal: int, interval: float, target: int,
                listen: int, status_listen: int | None = None) -> Path:
    url = f"http://{HOST}:{target}/ok"
    lines = [f'  - {{name: "pub-{i:03d}", group: "Layanan {i % 8}", title: "Layanan Publik '
             f'{i:03d}", public: true, http: {{url: "{url}"}}}}' for i in range(public)]
    lines += [f'  - {{name: "int-{i:03d}", group: Internal, http: {{url: "{url}"}}}}'
              for i in range(internal)]
    path = tmp / "checks.yaml"
    path.write_text(
        f'siaga: {{listen: "{HOST}:{listen}", state_dir: "{tmp / "state"}", '
        + (f'status_listen: "{HOST}:{status_listen}", ' if status_listen else "")
        + "max_concurrency: 500, per_host_concurrency: 500}\n"
        f"defaults: {{interval: {interval}s, timeout: {min(2.0, interval):g}s}}\n"
        "checks:\n" + "\n".join(lines) + "\n")
    return path


def seed(state: Path, public: int, now: float) -> None:
    sys.path.insert(0, str(ROOT))
    from monitor.checking.state import State, Transition
    from monitor.store.engine import Store
    from monitor.store.records import add_transitions

    items = []
    for i in range(public):
        name = f"pub-{i:03d}"
        items.append(Transition(name, State.UNKNOWN, State.UP, "", now - 95 * D))
        if i % 3 == 0:
            for day in (70, 33, 4):
                at = now - day * D + 37 * i
                items += [Transition(name, State.UP, State.DOWN, "x", at),
                          Transition(name, State.DOWN, State.UP, "", at + 1200 + 60 * i)]
    store = Store(state)
    store.call(add_transitions, items)
    store.close()


class Client(asyncio.Protocol):
    """One keep-alive client: send, read one whole response, send again until `until`."""

    def __init__(self, request: bytes, until: float, stats: dict[str, int],
                 done: asyncio.Future[None], pause: float = 0.0) -> None:
        self.request, self.until, self.stats, self.done = request, until, stats, done
        self.pause = pause  # think time between a response and the next request
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            status = head[9:12]
            self.stats["ok" if status in (b"200", b"304") else "bad"] += 1
            self.stats["bytes"] += length
            self.buffer = self.buffer[total:]
            if time.monotonic() >= self.until:
                self.finish()
                return
            if self.pause:
                asyncio.get_running_loop().call_later(self.pause, self.send)
            else:
                self.send()

    def send(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.request)

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if time.monotonic() < self.until:
            self.stats["dropped"] += 1
        if not self.done.done():
            self.done.set_result(None)


async def surge(port: int, clients: int, seconds: float, rate: float = 0.0,
                path: str = "/status") -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept-Encoding: gzip, br\r\n"
               "Accept-Language: id-ID,id;q=0.9\r\n\r\n").encode()
    stats = {"ok": 0, "bad": 0, "dropped": 0, "bytes": 0}
    until = time.monotonic() + seconds
    began = time.monotonic()
    waits = []
    pause = clients / rate if rate else 0.0
    for _ in range(clients):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(lambda d=done: Client(request, until, stats, d, pause),
                                     HOST, port)
        waits.append(done)
    await asyncio.gather(*waits)
    took = time.monotonic() - began
    return {**stats, "seconds": took, "per_s": stats["ok"] / took}


async def lateness(session: aiohttp.ClientSession, base: str) -> promtext.Snapshot:
    async with session.get(f"{base}/metrics") as resp:
        return promtext.parse(await resp.text())


def window(before: promtext.Snapshot, after: promtext.Snapshot) -> dict[str, Any]:
    delta = promtext.bucket_delta(before.lateness, after.lateness)
    return {"probes": after.probes - before.probes,
            "p50_s": r(promtext.quantile(delta, 0.5)), "p99_s": r(promtext.quantile(delta, 0.99)),
            "max_le_s": promtext.max_upper_bound(delta)[0]}


async def sizes(session: aiohttp.ClientSession, base: str) -> dict[str, int]:
    out = {}
    for name, path, enc in (("page_bytes", "/status", "identity"),
                            ("page_gzip_bytes", "/status", "gzip"),
                            ("json_bytes", "/status.json", "identity")):
        async with session.get(base + path, headers={"Accept-Encoding": enc},
                               auto_decompress=False) as resp:
            out[name] = len(await resp.read())
    return out


async def measure(args: argparse.Namespace, pin: Pinning, tmp: Path) -> dict[str, Any]:
    target_port, listen = free_port(), free_port()
    status_port = free_port() if args.status_listen else None
    target = subprocess.Popen([sys.executable, str(ROOT / "bench" / "target.py"),
                               str(target_port)], stdout=subprocess.DEVNULL)
    siaga = None
    try:
        wait_listening(target_port, 10)
        config = make_config(tmp, args.public, args.internal, args.interval, target_port, listen,
                             status_port)
        seed(tmp / "state", args.public, time.time())
        with open(tmp / "siaga.log", "wb") as daemon_log:
            siaga = subprocess.Popen([*pin.prefix(), sys.executable, "-m", "monitor", "run",
                                      "-c", str(config), "--log-level", "WARNING"], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=daemon_log)
        wait_listening(listen, 20)
        base = f"http://{HOST}:{listen}"
        child = None
        if status_port:
            wait_listening(status_port, 20)
            child = page_process(siaga.pid)
            if args.child_core == "harness" and pin.harness is not None:
                os.sched_setaffinity(child, {pin.harness})
        async with aiohttp.ClientSession() as session:
            log(f"warm-up {args.warmup:g} s")
            await asyncio.sleep(args.warmup)
            result: dict[str, Any] = await sizes(session, base)
            a = await lateness(session, base)
            cpu_a = procstat.cpu_seconds(siaga.pid)
            child_a = procstat.cpu_seconds(child) if child else 0.0
            log(f"quiet window {args.seconds:g} s")
            await asyncio.sleep(args.seconds)
            b = await lateness(session, base)
            cpu_b = procstat.cpu_seconds(siaga.pid)
            log(f"surge: {args.clients} clients for {args.seconds:g} s")
            load = await surge(status_port or listen, args.clients, args.seconds, args.rate)
            c = await lateness(session, base)
            cpu_c = procstat.cpu_seconds(siaga.pid)
            child_c = procstat.cpu_seconds(child) if child else 0.0
        quiet, loud = window(a, b), window(b, c)
        result |= {
            "public_checks": args.public, "checks": args.public + args.internal,
            "interval_s": args.interval, "clients": args.clients, "window_s": args.seconds,
            "rate_asked": args.rate or "unlimited",
            "responses": load["ok"], "responses_per_s": round(load["per_s"]),
            "bad_responses": load["bad"], "dropped_connections": load["dropped"],
            "siaga_cpu_share_quiet": r((cpu_b - cpu_a) / args.seconds, 3),
            "siaga_cpu_share_surge": r((cpu_c - cpu_b) / load["seconds"], 3),
            "lateness_quiet": quiet, "lateness_surge": loud, "pinning": pin.describe(),
            "served_by": (f"status_listen process (nice 10) on the "
                          f"{args.child_core} core" if child else "the daemon's own listener"),
            "page_process_cpu_share_over_both_windows": (
                r((child_c - child_a) / (args.seconds + load["seconds"]), 3) if child else None),
        }
        return result
    finally:
        stop_process(siaga)
        stop_process(target)


def page_process(pid: int) -> int:
    """The daemon's status page process (its only child)."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if len(kids) != 1:
        raise RuntimeError(f"expected one child of siaga ({pid}), found {kids}")
    return int(kids[0])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--public", type=int, default=100)
    p.add_argument("--internal", type=int, default=200, help="non-public checks also probed")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--rate", type=float, default=0.0,
                   help="requests/s of all clients together (think time); 0: as fast as served")
    p.add_argument("--seconds", type=float, default=30.0, help="quiet and surge window each")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--smoke", action="store_true", help="tiny: 20 public, 20 clients, 3 s")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--status-listen", action="store_true",
                   help="serve the page from its own process (siaga.status_listen)")
    p.add_argument("--child-core", choices=["sut", "harness"], default="sut",
                   help="with --status-listen: the page process shares Siaga's core (worst "
                        "case, the default) or the load generator's")
    args = p.parse_args(argv)
    if args.smoke:
        args.public, args.internal, args.clients, args.seconds, args.warmup = 20, 0, 20, 3.0, 2.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pin = Pinning.choose(not args.no_pin)
    pin.apply_to_harness()
    with tempfile.TemporaryDirectory(prefix="siaga-surge-") as tmp:
        try:
            result = asyncio.run(measure(args, pin, Path(tmp)))
        except RuntimeError:
            sys.stderr.write((Path(tmp) / "siaga.log").read_text()[-3000:])
            raise
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
