"""How long `/metrics` takes to render for many checks.

    python bench/scrape.py --checks 10000 20000 [--repeat 10]

Builds a config of N http checks (10 groups, every 10th with the opt-in latency histogram),
fills each check's runtime with a realistic probe result (five HTTP phases, status code,
certificate expiry; 1 in 20 failing) through the engine and the metrics listener, as the
daemon would, without probing anything, plus each check's 7/30/90-day `siaga_uptime_ratio`
figures (registered as the daemon registers them). Then times `Metrics.render()` (what `/metrics`
serves) and `prometheus_client.generate_latest(registry)` (the generic path) and prints one
JSON line per N: {"checks", "render_ms_median", "render_ms_best", "generic_ms_median",
"generic_ms_best", "bytes", "generic_bytes", "repeat"}.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

GROUPS = 10


def config_text(n: int) -> str:
    lines = [
        'siaga: {location: bench-1, listen: "127.0.0.1:0"}',
        "defaults: {interval: 60s, timeout: 10s}",
        "checks:",
    ]
    for i in range(n):
        histogram = ", latency_histogram: true" if i % 10 == 0 else ""
        lines.append(
            f'  - {{name: "svc-{i:05d}", group: "Layanan {i % GROUPS}", '
            f'http: {{url: "https://svc-{i:05d}.example.test/healthz"}}{histogram}}}'
        )
    return "\n".join(lines) + "\n"


def build(n: int, seed: int = 1) -> tuple[Any, Any]:
    """(Metrics, registry) for N http checks, each with a recorded probe result."""
    from prometheus_client import CollectorRegistry

    from monitor.checking.engine import Engine
    from monitor.config.loader import parse_config
    from monitor.probes.base import ProbeContext, ProbeResult
    from monitor.reporting.uptime import Uptime
    from monitor.reporting.uptime_windows import WINDOWS, UptimeWindows
    from monitor.telemetry.metrics import Metrics

    rng = random.Random(seed)
    config = parse_config(config_text(n), "bench.yaml")
    engine = Engine(config, ProbeContext())
    registry = CollectorRegistry()
    metrics = Metrics(registry, engine, config.settings.location)
    engine.on_result.append(metrics.on_result)
    windows = UptimeWindows(None, lambda: config)  # type: ignore[arg-type]  # figures set below
    windows.figures = {c.name: {d: Uptime(up=rng.uniform(0, 1e6), down=rng.uniform(0, 1e3))
                                for d in WINDOWS} for c in config.checks}
    metrics.add_text(windows.collector())
    now = time.time()
    for i, check in enumerate(config.checks):
        for _ in range(3):  # a few probes: counters, state and histograms are not all zero
            ok = i % 20 != 0
            phases = {
                "resolve": rng.uniform(0.0005, 0.02),
                "connect": rng.uniform(0.001, 0.05),
                "tls": rng.uniform(0.005, 0.08),
                "processing": rng.uniform(0.01, 0.4),
                "transfer": rng.uniform(0.0001, 0.01),
            }
            engine.record(check, ProbeResult(
                ok=ok,
                reason="ok" if ok else "status 503, expected 2xx",
                duration=sum(phases.values()),
                phases=phases,
                status_code=200 if ok else 503,
                cert_expiry=now + rng.uniform(5, 90) * 86400,
                started_at=now,
            ))
    return metrics, registry


def timed(fn: Callable[[], bytes], repeat: int) -> tuple[list[float], bytes]:
    out = fn()  # warm-up (label caches, imports)
    times = []
    gc.collect()
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - start) * 1000)
    return times, out


def run(n: int, repeat: int) -> dict[str, Any]:
    from prometheus_client import generate_latest

    metrics, registry = build(n)
    fast, body = timed(metrics.render, repeat)
    generic, generic_body = timed(lambda: generate_latest(registry), repeat)
    return {
        "checks": n,
        "render_ms_median": round(statistics.median(fast), 2),
        "render_ms_best": round(min(fast), 2),
        "generic_ms_median": round(statistics.median(generic), 2),
        "generic_ms_best": round(min(generic), 2),
        "bytes": len(body),
        "generic_bytes": len(generic_body),
        "repeat": repeat,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    for n in args.checks:
        print(json.dumps(run(n, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
