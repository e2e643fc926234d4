#!/usr/bin/env python3
"""Siaga performance harness: local targets, N generated checks, one JSON line of figures.

    python bench/run.py --smoke            # CI size: 50 checks, 2 s interval, 10 s
    python bench/run.py                    # 2,000 checks, 10 s interval, 60 s
    python bench/run.py --large            # 20,000 checks, 30 s interval, 90 s
    python bench/run.py --vs-blackbox      # then the same load through blackbox_exporter

Everything listens on 127.0.0.1 only; every process the harness starts is stopped at the end
(and every load has a fixed duration). See bench/README.md for what each field means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import dns.message
import dns.rdatatype
import dns.rrset
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import am_latency
import procstat
import promtext

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
NGINX = "/usr/sbin/nginx"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
FLIP = "bench-flip"
AM_OUTAGES = 3  # outages measured in Alertmanager mode (each ~3 s: group_wait 1s)
DNS_NAME = "bench.siaga.test."
SIZES: dict[str, dict[str, Any]] = {
    "smoke": {"checks": 50, "interval": 2.0, "duration": 10.0, "outages": 2},
    "default": {"checks": 2000, "interval": 10.0, "duration": 60.0, "outages": 10},
    "large": {"checks": 20000, "interval": 30.0, "duration": 90.0, "outages": 10},
}
TARGET_PORTS = 4


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout}s") from None
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of a small sample."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


# -- CPU pinning --------------------------------------------------------------------------
@dataclass
class Pinning:
    harness: int | None = None  # core for the harness, targets and driver
    sut: int | None = None  # core for Siaga / blackbox_exporter

    @classmethod
    def choose(cls, enabled: bool) -> Pinning:
        cores = sorted(os.sched_getaffinity(0))
        if not enabled or len(cores) < 2 or shutil.which("taskset") is None:
            return cls()
        return cls(cores[0], cores[1])

    def apply_to_harness(self) -> None:
        if self.harness is not None:
            os.sched_setaffinity(0, {self.harness})  # children (nginx, target) inherit it

    def prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.sut)] if self.sut is not None else []

    def core_busy(self) -> float:
        """Busy seconds of the system-under-test core: what else ran there shows in the
        difference to the measured process's own CPU."""
        return procstat.core_busy_seconds(self.sut) if self.sut is not None else 0.0

    def describe(self) -> str:
        if self.sut is None:
            return "none"
        return f"targets+harness on cpu{self.harness}, system under test on cpu{self.sut}"


# -- targets ------------------------------------------------------------------------------
NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/plain;
{servers}}}
"""
NGINX_SERVER = """\
    server {{
        listen {host}:{port} backlog=4096;
        location = /ok {{ return 200 "ok\\n"; }}
        location = /fail {{ return 503 "fail\\n"; }}
    }}
"""


class Targets:
    """nginx (Debian's) when installed, else bench/target.py (aiohttp) in a subprocess."""

    def __init__(self, tmp: Path, ports: list[int], *, use_nginx: bool) -> None:
        self.tmp, self.ports = tmp, ports
        self.kind = "nginx" if use_nginx and os.access(NGINX, os.X_OK) else "aiohttp"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        errlog = open(self.tmp / "target.log", "wb")  # noqa: SIM115 - lives as long as proc
        if self.kind == "nginx":
            servers = "".join(NGINX_SERVER.format(host=HOST, port=p) for p in self.ports)
            user = "user root;\n" if os.geteuid() == 0 else ""
            conf = self.tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(user=user, tmp=self.tmp, servers=servers))
            cmd = [NGINX, "-p", str(self.tmp), "-e", str(self.tmp / "nginx-error.log"),
                   "-c", str(conf)]
        else:
            cmd = [sys.executable, str(Path(__file__).parent / "target.py"),
                   *map(str, self.ports), "--max-seconds", "3600"]
        self.proc = subprocess.Popen(cmd, stdout=errlog, stderr=errlog, stdin=subprocess.DEVNULL)
        for port in self.ports:
            wait_listening(port, 15)

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def stop(self) -> None:
        stop_process(self.proc)


# -- in-harness servers: page receiver, flip target, DNS responder ------------------------
@dataclass
class Harness:
    failing: bool = False  # the flip target answers 503 while True
    posts: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    dns_answers: int = 0

    async def receive(self, request: web.Request) -> web.Response:
        arrived = time.time()
        try:
            body = await request.json()
        except ValueError:
            body = {"raw": await request.text()}
        self.posts.append((arrived, body))
        self.changed.set()
        return web.json_response({"ok": True})

    async def flip(self, request: web.Request) -> web.Response:
        if self.failing:
            return web.Response(text="failing\n", status=503)
        return web.Response(text="ok\n")

    def pages(self, kind: str = "failure") -> list[tuple[float, dict[str, Any]]]:
        """Messages of apprise type `kind` about the flip check: "failure" is a page,
        "success" a resolved message."""
        out = []
        for arrived, body in self.posts:
            text = f"{body.get('title', '')} {body.get('message', '')}".lower()
            if body.get("type") == kind and "flip" in text:
                out.append((arrived, body))
        return out

    async def wait_pages(self, count: int, timeout: float,
                         kind: str = "failure") -> tuple[float, dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.pages(kind)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.pages(kind)[count - 1]


class DnsResponder(asyncio.DatagramProtocol):
    """Answers every A question with 127.0.0.1 (TTL 60), anything else with no answer."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        response = dns.message.make_response(query)
        for q in query.question:
            if q.rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", "127.0.0.1"))
        self.harness.dns_answers += 1
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


# -- config -------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def make_config(*, n: int, interval: float, ports: list[int], listen: int, flip: int,
                dns_port: int | None, receiver: int, state_dir: Path, concurrency: int,
                n_tcp: int, n_dns: int) -> tuple[dict[str, Any], list[str]]:
    checks: list[dict[str, Any]] = []
    urls = []
    for i in range(n):
        port = ports[i % len(ports)]
        failing = i % 10 == 9  # ~10 % answer 503
        url = f"http://{HOST}:{port}/{'fail' if failing else 'ok'}"
        urls.append(url)
        check: dict[str, Any] = {"name": f"h{i:05d}", "http": {"url": url,
                                                                "expect": {"status": 200}}}
        if failing:
            # Failing probes are part of the load; staying below fail_after keeps 10 % of
            # the checks from each paging the receiver, so only the flip check pages.
            check["fail_after"] = 100
        checks.append(check)
    for i in range(n_tcp):
        checks.append({"name": f"t{i:03d}", "tcp": {"host": HOST, "port": ports[i % len(ports)]}})
    if dns_port is not None:
        for i in range(n_dns):
            checks.append({"name": f"d{i:03d}", "dns": {"name": DNS_NAME, "type": "A",
                                                       "server": HOST, "port": dns_port}})
    checks.append({"name": FLIP, "title": "Bench flip target", "interval": "1s",
                   "timeout": "900ms", "fail_after": 1, "recover_after": 1,
                   "flapping": {"enabled": False},  # outages are induced back to back
                   "http": {"url": f"http://{HOST}:{flip}/flip", "expect": {"status": 200}}})
    config = {
        "siaga": {"listen": f"{HOST}:{listen}", "state_dir": str(state_dir), "language": "en",
                  "max_concurrency": concurrency, "per_host_concurrency": concurrency},
        "defaults": {"interval": ms(interval), "timeout": ms(min(5.0, interval * 0.8))},
        "oncall": {
            "officers": {"bench": {"notify": [f"json://{HOST}:{receiver}/"]}},
            "rotations": [{"name": "r", "every": "1d", "officers": ["bench"]}],
            "escalation": {"default": {"steps": [{"notify": "on_duty"}]}},
        },
        "checks": checks,
    }
    return config, urls


# -- Siaga run ----------------------------------------------------------------------------
async def scrape(session: aiohttp.ClientSession, base: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    async with session.get(f"{base}/metrics") as resp:
        text = await resp.text()
    return text, time.perf_counter() - t0


def iso_ts(value: str) -> float:
    return dt.datetime.fromisoformat(value).timestamp()


async def drive_outages(count: int, harness: Harness, session: aiohttp.ClientSession,
                        base: str) -> tuple[list[float], list[str]]:
    """Flip the dedicated target to failing, wait for the page, flip back, wait for UP."""
    latencies: list[float] = []
    problems: list[str] = []

    async def state() -> dict[str, Any]:
        async with session.get(f"{base}/api/v1/checks/{FLIP}") as resp:
            return dict(await resp.json())

    async def wait_state(want: str, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                data = await state()
                if data.get("state") == want:
                    return data
                await asyncio.sleep(0.2)

    for k in range(count):
        try:
            await wait_state("up", 30)
            harness.failing = True
            arrived, _body = await harness.wait_pages(k + 1, 30)
            data = await state()
            downs = [t for t in data.get("transitions", []) if t.get("new") == "down"]
            if not downs:
                problems.append(f"outage {k + 1}: no down transition in the API")
            else:
                latencies.append(arrived - iso_ts(downs[0]["at"]))
            harness.failing = False
            # The resolved message tells us it is UP again, without polling the API.
            with contextlib.suppress(TimeoutError):
                await harness.wait_pages(k + 1, 15, kind="success")
        except TimeoutError:
            problems.append(f"outage {k + 1}: timed out")
        finally:
            harness.failing = False
    return latencies, problems


async def first_probe(session: aiohttp.ClientSession, base: str,
                      proc: subprocess.Popen[bytes], tmp: Path, t_spawn: float) -> float:
    """When /metrics first shows a probe (polled every 0.1 s)."""
    deadline = t_spawn + 120
    while True:
        if proc.poll() is not None:
            tail = (tmp / "siaga.log").read_text()[-3000:]
            raise RuntimeError("siaga exited early:\n" + tail)
        if time.monotonic() > deadline:
            raise RuntimeError("siaga did not probe within 120 s")
        try:
            text, _ = await scrape(session, base)
            if promtext.parse(text).probes > 0:
                return time.monotonic()
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.1)


async def restart(cmd: list[str], env: dict[str, str], tmp: Path, base: str,
                  timeout: aiohttp.ClientTimeout) -> float:
    """Start Siaga again on the same file (its compiled-config cache entry now exists, and
    so does its store) and time its first probe; then stop it."""
    with open(tmp / "siaga-restart.log", "wb") as out:
        t_spawn = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                return await first_probe(session, base, proc, tmp, t_spawn) - t_spawn
        finally:
            stop_process(proc)


async def run_siaga(args: argparse.Namespace, pin: Pinning, tmp: Path, targets: Targets,
                    harness: Harness, flip_port: int, receiver_port: int,
                    dns_port: int | None) -> tuple[dict[str, Any], list[str], list[str]]:
    listen = free_port()
    config, urls = make_config(
        n=args.checks, interval=args.interval, ports=targets.ports, listen=listen,
        flip=flip_port, dns_port=dns_port, receiver=receiver_port, state_dir=tmp / "state",
        concurrency=args.concurrency, n_tcp=args.tcp, n_dns=args.dns)
    cfg = tmp / "checks.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C one: 20,000 checks
    cfg.write_text(yaml.dump(config, Dumper=dumper, sort_keys=False))
    base = f"http://{HOST}:{listen}"
    env = dict(os.environ, SIAGA_API_TOKEN="bench-token", PYTHONUNBUFFERED="1",
               XDG_CACHE_HOME=str(tmp / "cache"))  # the compiled-config cache of this run
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = open(tmp / "siaga.log", "wb")  # noqa: SIM115 - closed below
    cmd = [*pin.prefix(), sys.executable, "-m", "monitor", "run", "-c", str(cfg)]
    log(f"siaga: {len(config['checks'])} checks, interval {args.interval}s, "
        f"duration {args.duration}s")
    t_spawn = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out,
                            stdin=subprocess.DEVNULL)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            t_first = await first_probe(session, base, proc, tmp, t_spawn)
            outages = asyncio.create_task(drive_outages(args.outages, harness, session, base))
            warm = args.interval if args.interval <= args.duration / 2 else args.duration / 3
            await asyncio.sleep(max(0.0, t_first + warm - time.monotonic()))
            # Probe counts come from renders at the start of each scrape (ta, tb); CPU is
            # read between the scrapes (w0, w1) so their cost is left out. Rates use ta..tb.
            ta = time.monotonic()
            snap0 = promtext.parse((await scrape(session, base))[0])
            siaga_cpu = procstat.CpuMeter([proc.pid])
            target_cpu = procstat.CpuMeter(targets.pids(), with_children=True)
            siaga_cpu.start()
            target_cpu.start()
            core0 = pin.core_busy()
            w0 = time.monotonic()
            await asyncio.sleep(max(0.0, t_first + args.duration - time.monotonic()))
            cpu = siaga_cpu.stop()
            tcpu = target_cpu.stop()
            foreign = pin.core_busy() - core0 - cpu
            w1 = tb = time.monotonic()
            snap1 = promtext.parse((await scrape(session, base))[0])
            try:
                latencies, problems = await asyncio.wait_for(outages, 30 * args.outages + 30)
            except TimeoutError:
                latencies, problems = [], ["outages did not finish in time"]
            times = []
            size = 0
            for _ in range(3):
                text, took = await scrape(session, base)
                times.append(took)
                size = len(text)
            final = promtext.parse(text)
            hwm = procstat.status_kb(proc.pid, "VmHWM")
    finally:
        stop_process(proc)
        out.close()
    cached = await restart(cmd, env, tmp, base, timeout)
    window = w1 - w0
    probes = snap1.probes - snap0.probes
    rate = probes / (tb - ta) if tb > ta else 0.0
    lateness = promtext.bucket_delta(snap0.lateness, snap1.lateness)
    late_max, late_over = promtext.max_upper_bound(lateness)
    result = {
        "checks": len(config["checks"]),
        "http_checks": args.checks,
        "tcp_checks": args.tcp,
        "dns_checks": args.dns if dns_port is not None else 0,
        "interval_s": args.interval,
        "duration_s": args.duration,
        "window_s": r(window, 3),
        "probes": int(final.probes),
        "probes_window": int(probes),
        "probes_per_s": r(rate, 2),
        "expected_probes_per_s": r(args.checks / args.interval + (args.tcp + args.dns)
                                   / args.interval + 1.0, 2),
        "failed_probes": int(final.failures),
        "cpu_s_per_probe": r(cpu / (rate * window) if rate > 0 and window > 0 else None, 7),
        "cpu_share": r(cpu / window if window > 0 else None, 4),
        "peak_rss_mb": r(hwm / 1024 if hwm is not None else None, 1),
        "lateness_p50_s": r(promtext.quantile(lateness, 0.5)),
        "lateness_p99_s": r(promtext.quantile(lateness, 0.99)),
        "lateness_max_le_s": late_max,
        "lateness_max_above_buckets": late_over,
        "missed_slots": int(final.missed),
        "metrics_scrape_s": r(statistics.median(times), 4),
        "metrics_bytes": size,
        "first_probe_s": r(t_first - t_spawn, 3),
        "first_probe_cached_s": r(cached, 3),
        "outages": args.outages,
        "pages_measured": len(latencies),
        "page_latency_p50_s": r(pct(latencies, 0.5), 4),
        "page_latency_p99_s": r(pct(latencies, 0.99), 4),
        "page_latency_max_s": r(max(latencies) if latencies else None, 4),
        "dns_answers": harness.dns_answers,
        "sut_core_foreign_share": r(foreign / window if window > 0 and pin.sut is not None
                                    else None, 4),
        "target": targets.kind,
        "target_cpu_share": r(tcpu / window if window > 0 else None, 4),
    }
    return result, urls, problems


# -- blackbox_exporter run ----------------------------------------------------------------
BLACKBOX_CONF = """\
modules:
  http_2xx:
    prober: http
    timeout: {timeout}s
    http:
      preferred_ip_protocol: ip4
"""


async def run_blackbox(args: argparse.Namespace, pin: Pinning, tmp: Path, targets: Targets,
                       urls: list[str]) -> dict[str, Any]:
    port = free_port()
    conf = tmp / "blackbox.yml"
    conf.write_text(BLACKBOX_CONF.format(timeout=min(5.0, args.interval * 0.8)))
    out = open(tmp / "blackbox.log", "wb")  # noqa: SIM115 - closed below
    cmd = [*pin.prefix(), BLACKBOX, f"--config.file={conf}",
           f"--web.listen-address={HOST}:{port}"]
    log(f"blackbox_exporter: {len(urls)} targets, interval {args.interval}s, "
        f"duration {args.duration}s")
    proc = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    base = f"http://{HOST}:{port}"
    done: list[float] = []
    failed = 0
    try:
        await asyncio.to_thread(wait_listening, port, 15)
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=60)
        timeout = aiohttp.ClientTimeout(total=args.interval + 10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def probe(url: str) -> None:
                nonlocal failed
                try:
                    async with session.get(f"{base}/probe",
                                           params={"module": "http_2xx", "target": url}) as resp:
                        await resp.read()
                        done.append(time.monotonic())
                        if resp.status != 200:
                            failed += 1
                except (aiohttp.ClientError, OSError, TimeoutError):
                    failed += 1

            # One slot per target per interval, spread over the interval as Prometheus does.
            slots = sorted(((zlib.crc32(u.encode() + str(i).encode()) / 2**32) * args.interval, u)
                           for i, u in enumerate(urls))
            t0 = time.monotonic()
            end = t0 + args.duration
            warm = args.interval if args.interval <= args.duration / 2 else args.duration / 3
            meter = procstat.CpuMeter([proc.pid])
            core0 = 0.0
            tasks: set[asyncio.Task[None]] = set()
            measuring = False
            w0 = w1 = t0
            k = 0
            while True:
                base_t = t0 + k * args.interval
                if base_t >= end:
                    break
                for offset, url in slots:
                    due = base_t + offset
                    if due >= end:
                        break
                    now = time.monotonic()
                    if not measuring and due >= t0 + warm:
                        await asyncio.sleep(max(0.0, t0 + warm - now))
                        meter.start()
                        core0 = pin.core_busy()
                        w0 = time.monotonic()
                        measuring = True
                        now = w0
                    if due > now:
                        await asyncio.sleep(due - now)
                    task = asyncio.create_task(probe(url))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                k += 1
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            cpu = meter.stop()
            foreign = pin.core_busy() - core0 - cpu
            w1 = time.monotonic()
            if tasks:
                await asyncio.wait(tasks, timeout=args.interval + 10)
            hwm = procstat.status_kb(proc.pid, "VmHWM")
    finally:
        stop_process(proc)
        out.close()
    window = w1 - w0
    probes = sum(1 for t in done if w0 <= t <= w1)
    return {
        "blackbox_probes_window": probes,
        "blackbox_probes_per_s": r(probes / window if window > 0 else None, 2),
        "blackbox_cpu_s_per_probe": r(cpu / probes if probes > 0 else None, 7),
        "blackbox_cpu_share": r(cpu / window if window > 0 else None, 4),
        "blackbox_peak_rss_mb": r(hwm / 1024 if hwm is not None else None, 1),
        "blackbox_driver_errors": failed,
        "blackbox_sut_core_foreign_share": r(foreign / window if window > 0 and
                                             pin.sut is not None else None, 4),
    }


# -- main ---------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Siaga performance harness (prints one JSON line)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="CI size: 50 checks, 2 s, 10 s")
    size.add_argument("--large", action="store_true", help="20,000 checks, 30 s, 90 s")
    p.add_argument("--checks", "-n", type=int, help="HTTP checks (N)")
    p.add_argument("--interval", "-i", type=float, help="probe interval in seconds (I)")
    p.add_argument("--duration", "-d", type=float,
                   help="seconds of load after the first probe")
    p.add_argument("--outages", type=int, help="induced outages for the page latency")
    p.add_argument("--tcp", type=int, default=5, help="TCP checks besides the HTTP ones")
    p.add_argument("--dns", type=int, default=3, help="DNS checks (local dnspython responder)")
    p.add_argument("--concurrency", type=int, default=500,
                   help="siaga max_concurrency and per_host_concurrency (all targets share "
                        "one host, 127.0.0.1)")
    p.add_argument("--vs-blackbox", action="store_true",
                   help="then drive prometheus-blackbox-exporter over the same HTTP targets")
    p.add_argument("--no-nginx", action="store_true", help="use the aiohttp target even if "
                   "nginx is installed")
    p.add_argument("--no-alertmanager", action="store_true", help="skip the page latency "
                   "through a real Alertmanager (measured when prometheus-alertmanager is "
                   "installed)")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    args.size = "smoke" if args.smoke else "large" if args.large else "default"
    for key, value in SIZES[args.size].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.checks < 1 or args.interval <= 0 or args.duration <= 0 or args.outages < 0:
        p.error("checks, interval and duration must be positive; outages ≥ 0")
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    pin = Pinning.choose(not args.no_pin)
    pin.apply_to_harness()
    tmp = Path(tempfile.mkdtemp(prefix="siaga-bench-"))
    targets = Targets(tmp, [free_port() for _ in range(TARGET_PORTS)], use_nginx=not args.no_nginx)
    harness = Harness()
    app = web.Application()
    app.router.add_post("/{tail:.*}", harness.receive)
    app.router.add_get("/flip", harness.flip)
    runner = web.AppRunner(app, access_log=None)
    dns_transport = None
    result: dict[str, Any] = {"size": args.size}
    try:
        targets.start()
        log(f"targets: {targets.kind} on ports {targets.ports}")
        await runner.setup()
        receiver_port, flip_port = free_port(), free_port()
        await web.TCPSite(runner, HOST, receiver_port).start()
        await web.TCPSite(runner, HOST, flip_port).start()
        dns_port = None
        if args.dns > 0:
            dns_port = free_port(socket.SOCK_DGRAM)
            loop = asyncio.get_running_loop()
            dns_transport, _ = await loop.create_datagram_endpoint(
                lambda: DnsResponder(harness), local_addr=(HOST, dns_port))
        siaga, urls, problems = await run_siaga(args, pin, tmp, targets, harness, flip_port,
                                                receiver_port, dns_port)
        result.update(siaga)
        result["problems"] = problems
        if args.outages and not args.no_alertmanager:  # the same figure in Alertmanager mode
            result.update(await am_latency.measure(
                tmp, min(args.outages, AM_OUTAGES), lambda v: setattr(harness, "failing", v),
                flip_port, free_port, ROOT))
        if args.vs_blackbox:
            if not os.access(BLACKBOX, os.X_OK):
                note = f"prometheus-blackbox-exporter not installed ({BLACKBOX}); skipped"
                log(note)
                result["blackbox"] = note
            else:
                bb = await run_blackbox(args, pin, tmp, targets, urls)
                result.update(bb)
                ours, theirs = siaga["cpu_s_per_probe"], bb["blackbox_cpu_s_per_probe"]
                result["cpu_ratio_siaga_over_blackbox"] = (
                    r(ours / theirs, 3) if ours and theirs else None)
                result["rss_ratio_siaga_over_blackbox"] = (
                    r(siaga["peak_rss_mb"] / bb["blackbox_peak_rss_mb"], 3)
                    if siaga["peak_rss_mb"] and bb["blackbox_peak_rss_mb"] else None)
    finally:
        if dns_transport is not None:
            dns_transport.close()
        await runner.cleanup()
        targets.stop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result.update({
        "pinning": pin.describe(),
        "machine": {"nproc": os.cpu_count(), "arch": platform.machine(),
                    "python": platform.python_version()},
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # run the finally blocks: stop every child

    signal.signal(signal.SIGTERM, on_term)
    result = asyncio.run(amain(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
