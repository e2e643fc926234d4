"""Prometheus metrics: blackbox_exporter-compatible per-check gauges and Siaga's own.

Per-check series are read from the engine's runtime state at scrape time (no per-probe
work), by `CheckCollector`. It is registered in the injected registry, so the generic
prometheus-client path (and `get_sample_value` in tests) sees exactly what `/metrics` serves;
`/metrics` itself uses `render()`, which writes the per-check families as text in one pass
with pre-built label strings, because the generic path is several times slower at 20,000
checks. A test keeps the two paths equal.

`siaga_check_state` is one series per check whose value is the state code:
0 unknown, 1 up, 2 degraded, 3 down, 4 flapping, 5 maintenance.
"""

from __future__ import annotations

import asyncio
import platform
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.checking.engine import Engine, Runtime
from monitor.checking.state import CheckState
from monitor.config.model import Check
from monitor.probes.base import PHASES, ProbeResult
from monitor.telemetry import exposition

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# (name, value-of(check, runtime) -> float | None, extra label text); the help texts are
# exposition.HELP, shared with the fast path
Family = tuple[str, Callable[[Check, Runtime], float | None], str]


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}.0"
    return repr(value)


def _last(attr: str) -> Callable[[Check, Runtime], float | None]:
    def get(check: Check, rt: Runtime) -> float | None:
        return getattr(rt.last, attr) if rt.last is not None else None

    return get


def _detail_phase(kind: str, key: str) -> Callable[[Check, Runtime], float | None]:
    def get(check: Check, rt: Runtime) -> float | None:
        if rt.last is None or check.kind != kind:
            return None
        value = rt.last.phases.get(key)
        return float(value) if value is not None else None

    return get


def _success(check: Check, rt: Runtime) -> float | None:
    return None if rt.last is None else float(rt.last.ok)


def _state(check: Check, rt: Runtime) -> float | None:
    return float(rt.shown_state.value_code)


FAMILIES: list[Family] = [
    ("probe_success", _success, ""),
    ("probe_duration_seconds", _last("duration"), ""),
    ("probe_http_status_code", lambda c, rt: None if rt.last is None
     or rt.last.status_code is None else float(rt.last.status_code), ""),
    ("probe_ssl_earliest_cert_expiry", _last("cert_expiry"), ""),
    ("probe_dns_lookup_time_seconds", _detail_phase("dns", "resolve"), ""),
    ("probe_icmp_duration_seconds", _detail_phase("icmp", "rtt"), ',phase="rtt"'),
    ("siaga_check_state", _state, ""),
    ("siaga_check_slo_objective", lambda c, rt: c.slo, ""),
]
HELP = exposition.HELP
# One scrape's own data: every check's lines, and (labels, bucket counts…, sum) per opt-in
# latency histogram
Scrape = tuple[list[exposition.Lines], list[tuple[str, tuple[float, ...]]]]
LATENCY_NAME = "siaga_probe_latency_seconds"
LATENCY_HELP = "Probe latency of the check (opt-in per check or globally)"


class CheckCollector(Collector):
    """Renders every check's series from the engine's runtime, in one pass."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location
        self._labels: dict[int, tuple[Check, str]] = {}
        self._renderer = exposition.Renderer()

    def labels(self, check: Check) -> str:
        cached = self._labels.get(id(check))
        if cached is None or cached[0] is not check:
            text = (f'check="{check.name}",group="{_escape(check.group)}",'
                    f'location="{_escape(self.location)}",kind="{check.kind}"')
            cached = self._labels[id(check)] = (check, text)
        return cached[1]

    def forget(self) -> None:
        """Drop cached label strings (after a reload)."""
        self._labels.clear()

    def _items(self) -> Iterator[tuple[Check, Runtime]]:
        runtime = self.engine.runtime
        for name, check in self.engine.checks.items():
            rt = runtime.get(name)
            if rt is not None:
                yield check, rt

    def collect(self) -> Iterator[Metric]:
        items = list(self._items())
        base = ["check", "group", "location", "kind"]

        def values(check: Check) -> list[str]:
            return [check.name, check.group, self.location, check.kind]

        for name, get, extra in FAMILIES:
            extra_names = ["phase"] if extra else []
            fam = GaugeMetricFamily(name, HELP[name], labels=base + extra_names)
            for check, rt in items:
                v = get(check, rt)
                if v is not None:
                    fam.add_metric(values(check) + (["rtt"] if extra else []), v)
            yield fam
        phases = GaugeMetricFamily("probe_http_duration_seconds",
                                   HELP["probe_http_duration_seconds"], labels=[*base, "phase"])
        for check, rt in items:
            if check.kind == "http" and rt.last is not None:
                for phase in PHASES:
                    if phase in rt.last.phases:
                        phases.add_metric([*values(check), phase], rt.last.phases[phase])
        yield phases
        probes = CounterMetricFamily("siaga_probes", HELP["siaga_probes_total"],
                                     labels=[*base, "outcome"])
        changes = CounterMetricFamily("siaga_check_state_changes",
                                      HELP["siaga_check_state_changes_total"], labels=base)
        for check, rt in items:
            probes.add_metric([*values(check), "success"], rt.probes - rt.failures)
            probes.add_metric([*values(check), "failure"], rt.failures)
            changes.add_metric(values(check), rt.changes)
        yield probes
        yield changes
        yield self._latency_family(items, values)

    def _latency_family(self, items: list[tuple[Check, Runtime]],
                        values: Callable[[Check], list[str]]) -> Metric:
        fam = HistogramMetricFamily(LATENCY_NAME, LATENCY_HELP,
                                    labels=["check", "group", "location", "kind"])
        for check, rt in items:
            if rt.latency is not None:
                cumulative, buckets = 0.0, []
                for bound, count in zip((*LATENCY_BUCKETS, float("inf")), rt.latency, strict=False):
                    cumulative += count
                    buckets.append((_bound(bound), cumulative))
                fam.add_metric(values(check), buckets, rt.latency[-1])
        return fam

    def snapshot(self) -> list[tuple[Check, Runtime]]:
        """The checks to render, taken on the event loop (a reload may change the dict)."""
        return list(self._items())

    def render(self, items: list[tuple[Check, Runtime]] | None = None) -> str:
        """The same families as `collect()`, as exposition text, fast (see exposition.py)."""
        return "".join(self.chunks(self.scrape(self.snapshot() if items is None else items)))

    def scrape(self, items: list[tuple[Check, Runtime]]) -> Scrape:
        """What one scrape will write, fixed now: every check's cached lines and its latency
        counts. Only this step touches the shared caches; what it returns is the scrape's own,
        so writing it needs no lock (a client that stops reading delays nobody else)."""
        rows = self._renderer.rows(items, self.labels)
        latency = [(self.labels(c), tuple(rt.latency)) for c, rt in items if rt.latency]
        return rows, latency

    @staticmethod
    def chunks(scrape: Scrape) -> Iterator[str]:
        """The exposition text family by family, so a scrape never holds it all at once."""
        rows, latency = scrape
        for i in range(len(exposition.ORDER)):
            yield from exposition.family_parts(rows, i)
        out: list[str] = []
        _render_latency(latency, out.append)
        yield "".join(out)



def _render_latency(items: list[tuple[str, tuple[float, ...]]],
                    add: Callable[[str], None]) -> None:
    add(f"# HELP {LATENCY_NAME} {LATENCY_HELP}\n# TYPE {LATENCY_NAME} histogram\n")
    bounds = [_bound(b) for b in (*LATENCY_BUCKETS, float("inf"))]
    for labels, counts in items:
        cumulative = 0.0
        for bound, count in zip(bounds, counts, strict=False):
            cumulative += count
            add(f'{LATENCY_NAME}_bucket{{{labels},le="{bound}"}} {_fmt(cumulative)}\n')
        add(f"{LATENCY_NAME}_count{{{labels}}} {_fmt(cumulative)}\n"
            f"{LATENCY_NAME}_sum{{{labels}}} {_fmt(counts[-1])}\n")


class Metrics:
    """Siaga's collectors on an injected registry."""

    def __init__(self, registry: CollectorRegistry, engine: Engine, location: str,
                 *, latency_histogram: bool = False) -> None:
        self.registry = registry
        self.latency_everywhere = latency_histogram
        self._kind_children: dict[str, Any] = {}
        self._render_lock = threading.Lock()  # one render at a time (the lines cache)
        self._scrape_lock = asyncio.Lock()
        self.engine = engine
        self._globals = CollectorRegistry(auto_describe=True)
        self.checks = CheckCollector(engine, location)
        registry.register(self.checks)
        self._declare_probing()
        self._declare_paging()
        info = self._add(Gauge("siaga_build_info", "Siaga build information",
                               ["version", "python"], registry=None))
        info.labels(__version__, platform.python_version()).set(1)
        self.config_loaded(True)

    def _declare_probing(self) -> None:
        self.lateness = self._add(Histogram(
            "siaga_scheduler_lateness_seconds", "How late probes start against their slot",
            buckets=LATENESS_BUCKETS, registry=None))
        self.missed = self._add(Counter(
            "siaga_scheduler_missed_slots", "Probe slots skipped because the previous probe "
            "of the check was still running or the loop was blocked", registry=None))
        self.kind_duration = self._add(Histogram(
            "siaga_probe_duration_by_kind_seconds", "Probe duration by kind", ["kind"],
            buckets=LATENCY_BUCKETS, registry=None))
        self.reload_ok = self._add(Gauge(
            "siaga_config_last_reload_successful", "Whether the last config load worked",
            registry=None))
        self.reload_time = self._add(Gauge(
            "siaga_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load", registry=None))

    def _declare_paging(self) -> None:
        self.incidents_open = self._add(Gauge(
            "siaga_incidents_open", "Open incidents by group", ["group"], registry=None))
        self.notifications = self._add(Counter(
            "siaga_notifications", "Notifications by channel and outcome",
            ["channel", "outcome"], registry=None))
        self.suppressed = self._add(Counter(
            "siaga_notifications_suppressed", "Notifications not sent, by reason", ["reason"],
            registry=None))
        self.heartbeat_rejected = self._add(Counter(
            "siaga_heartbeat_rejected", "Heartbeat pushes refused, by reason", ["reason"],
            registry=None))
        self.am_received = self._add(Counter(
            "siaga_alertmanager_notifications", "Webhook notifications the Alertmanager "
            "receiver got, by outcome (accepted, unauthorized, invalid, too_large)",
            ["outcome"], registry=None))
        self.deadman = self._add(Counter(
            "siaga_deadman_pings", "Dead-man's switch rounds by outcome (sent, failed, skipped)",
            ["outcome"], registry=None))

    def _add(self, metric: Any) -> Any:
        self.registry.register(metric)
        self._globals.register(metric)
        return metric

    def add(self, metric: Any) -> Any:
        """Register a collector made elsewhere (created with `registry=None`) so that
        `/metrics` serves it: the fast path writes only what is registered here."""
        return self._add(metric)

    def config_loaded(self, ok: bool) -> None:
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_time.set(time.time())
            self.checks.forget()

    def on_result(self, check: Check, result: ProbeResult, state: CheckState) -> None:
        child = self._kind_children.get(check.kind)
        if child is None:
            child = self._kind_children[check.kind] = self.kind_duration.labels(check.kind)
        child.observe(result.duration)
        if check.latency_histogram or self.latency_everywhere:
            rt = self.engine.runtime.get(check.name)
            if rt is not None:
                observe_latency(rt, result.duration)

    def render(self, items: list[tuple[Check, Runtime]] | None = None) -> bytes:
        with self._render_lock:
            return generate_latest(self._globals) + self.checks.render(items).encode()

    async def stream(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        """Write /metrics family by family, rendering in a thread: at 20,000 checks the
        text is ~27 MB and ~0.2 s of Python that would otherwise stall every probe, and
        building it whole would double the daemon's memory for the length of a scrape.

        The lock covers only taking the scrape's rows (the shared line cache); writing
        happens outside it, so a client that stops reading holds up nobody else. What it
        keeps alive meanwhile is its rows (references to cached lines, replaced ones
        included) and the piece being written; the web handler drops it after a timeout."""
        items = self.checks.snapshot()  # on the loop: a reload may change the dict
        async with self._scrape_lock:  # one thread at a time waits for the render lock
            scrape = await asyncio.to_thread(self._scrape, items)
        await write(generate_latest(self._globals))
        chunks = self.checks.chunks(scrape)
        while True:
            chunk = await asyncio.to_thread(_next_encoded, chunks)
            if chunk is None:
                return
            await write(chunk)

    def _scrape(self, items: list[tuple[Check, Runtime]]) -> Scrape:
        with self._render_lock:
            return self.checks.scrape(items)


def _next_encoded(chunks: Iterator[str]) -> bytes | None:
    chunk = next(chunks, None)
    # "replace": a lone surrogate in a group name (YAML's "\ud800") has no UTF-8 form and
    # must not fail every scrape
    return None if chunk is None else chunk.encode("utf-8", "replace")


def observe_latency(rt: Runtime, seconds: float) -> None:
    """Count one probe in the check's own (opt-in) histogram: buckets…, +Inf, then sum."""
    if rt.latency is None:
        rt.latency = [0.0] * (len(LATENCY_BUCKETS) + 2)
    for i, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            rt.latency[i] += 1
            break
    else:
        rt.latency[len(LATENCY_BUCKETS)] += 1
    rt.latency[-1] += seconds
