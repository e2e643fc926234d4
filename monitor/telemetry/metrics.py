"""Prometheus metrics: blackbox_exporter-compatible per-check gauges and Siaga's own.

Per-check series are read from the engine's runtime state at scrape time (no per-probe
work), by `CheckCollector`. It is registered in the injected registry, so the generic
prometheus-client path (and `get_sample_value` in tests) sees exactly what `/metrics` serves;
`/metrics` itself uses `render()`, which writes the per-check families as text in one pass
with pre-built label strings, because the generic path is several times slower at 20,000
checks. Both read their names, help texts and types from `monitor.telemetry.families`, and
a test keeps the two paths equal.

`siaga_check_state` is one series per check whose value is the state code:
0 unknown, 1 up, 2 degraded, 3 down, 4 flapping, 5 maintenance.
"""

from __future__ import annotations

import asyncio
import platform
import threading
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
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
from monitor.telemetry import families as F
from monitor.telemetry.families import CHECK_LABELS, Family, escape_label

SLICE = 500  # checks whose lines a scrape renders between two turns of the event loop
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# A one-value-per-check gauge: its family (monitor.telemetry.families), the value of
# (check, runtime) or None, and its extra label values
Gauged = tuple[Family, Callable[[Check, Runtime], float | None], tuple[str, ...]]


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


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


GAUGES: list[Gauged] = [
    (F.SUCCESS, _success, ()),
    (F.DURATION, _last("duration"), ()),
    (F.HTTP_STATUS, lambda c, rt: None if rt.last is None
     or rt.last.status_code is None else float(rt.last.status_code), ()),
    (F.CERT_EXPIRY, _last("cert_expiry"), ()),
    (F.DNS_LOOKUP, _detail_phase("dns", "resolve"), ()),
    (F.ICMP_RTT, _detail_phase("icmp", "rtt"), ("rtt",)),
    (F.STATE, _state, ()),
    (F.SLO, lambda c, rt: c.slo, ()),
]
# One scrape's own data: every check's lines, and (labels, bucket counts…, sum) per opt-in
# latency histogram
Scrape = tuple[list[exposition.Row], list[tuple[str, tuple[float, ...]]]]
# A whole scrape: the per-check families, then each text family's header and rows
FullScrape = tuple[Scrape, list[tuple[str, list[str]]]]


class TextFamily(Protocol):
    """A per-check family written by `/metrics` as cached text (`text_head()` and one string
    per check from `text_rows()`), and by `collect()` on the generic path: same samples."""

    def collect(self) -> Iterator[Metric]: ...

    def text_head(self) -> str: ...

    def text_rows(self) -> list[str]: ...


class CheckCollector(Collector):
    """Renders every check's series from the engine's runtime, in one pass."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location
        self._location = escape_label(location)
        self._renderer = exposition.Renderer()

    def labels(self, check: Check) -> str:
        """The check's label string; kept with its cached lines (exposition.Renderer)."""
        return (f'check="{check.name}",group="{escape_label(check.group)}",'
                f'location="{self._location}",kind="{check.kind}"')

    def _items(self) -> Iterator[tuple[Check, Runtime]]:
        runtime, local = self.engine.runtime, self.engine.local
        for name, check in self.engine.checks.items():
            rt = runtime.get(name)
            if local and rt is not None and name in local:  # a fleet's voted check
                rt = rt.with_probes_of(local[name])
            if rt is not None:
                yield check, rt

    def collect(self) -> Iterator[Metric]:
        items = list(self._items())

        def values(check: Check) -> list[str]:
            return [check.name, check.group, self.location, check.kind]

        for family, get, extra in GAUGES:
            fam = _family(GaugeMetricFamily, family)
            for check, rt in items:
                v = get(check, rt)
                if v is not None:
                    fam.add_metric([*values(check), *extra], v)
            yield fam
        phases = _family(GaugeMetricFamily, F.HTTP_PHASES)
        for check, rt in items:
            if check.kind == "http" and rt.last is not None:
                for phase in PHASES:
                    if phase in rt.last.phases:
                        phases.add_metric([*values(check), phase], rt.last.phases[phase])
        yield phases
        probes = _family(CounterMetricFamily, F.PROBES)
        changes = _family(CounterMetricFamily, F.STATE_CHANGES)
        for check, rt in items:
            probes.add_metric([*values(check), "success"], rt.probes - rt.failures)
            probes.add_metric([*values(check), "failure"], rt.failures)
            changes.add_metric(values(check), rt.changes)
        yield probes
        yield changes
        yield self._latency_family(items, values)

    def _latency_family(self, items: list[tuple[Check, Runtime]],
                        values: Callable[[Check], list[str]]) -> Metric:
        fam = _family(HistogramMetricFamily, F.LATENCY)
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

    def rows(self, items: list[tuple[Check, Runtime]]) -> list[exposition.Row]:
        """The lines of some of the checks (a slice of a scrape; `prune` after the last)."""
        return self._renderer.rows(items, self.labels, prune=False)

    def prune(self, items: list[tuple[Check, Runtime]]) -> None:
        self._renderer.prune(items)

    def latency(self, items: list[tuple[Check, Runtime]]) -> list[tuple[str, tuple[float, ...]]]:
        return [(self.labels(c), tuple(rt.latency)) for c, rt in items if rt.latency]

    def scrape(self, items: list[tuple[Check, Runtime]]) -> Scrape:
        """What one scrape will write, fixed now: every check's cached lines and its latency
        counts. Only this step touches the shared caches; what it returns is the scrape's own,
        so writing it needs no lock (a client that stops reading delays nobody else)."""
        return self._renderer.rows(items, self.labels), self.latency(items)

    @staticmethod
    def chunks(scrape: Scrape) -> Iterator[str]:
        """The exposition text family by family, so a scrape never holds it all at once."""
        rows, latency = scrape
        for i in range(len(F.PER_CHECK)):
            yield from exposition.family_parts(rows, i)
        out: list[str] = []
        _render_latency(latency, out.append)
        yield "".join(out)



PerCheck = TypeVar("PerCheck", GaugeMetricFamily, CounterMetricFamily, HistogramMetricFamily)


def _family(kind: type[PerCheck], family: Family) -> PerCheck:
    """An empty per-check metric family of prometheus-client's `kind`, as the table says."""
    return kind(family.name, family.help, labels=[*CHECK_LABELS, *family.labels])


def _render_latency(items: list[tuple[str, tuple[float, ...]]],
                    add: Callable[[str], None]) -> None:
    add(F.LATENCY.header)
    bounds = [_bound(b) for b in (*LATENCY_BUCKETS, float("inf"))]
    for labels, counts in items:
        cumulative = 0.0
        for bound, count in zip(bounds, counts, strict=False):
            cumulative += count
            add(f'{F.LATENCY.name}_bucket{{{labels},le="{bound}"}} {_fmt(cumulative)}\n')
        add(f"{F.LATENCY.name}_count{{{labels}}} {_fmt(cumulative)}\n"
            f"{F.LATENCY.name}_sum{{{labels}}} {_fmt(counts[-1])}\n")


class Metrics:
    """Siaga's collectors on an injected registry."""

    def __init__(self, registry: CollectorRegistry, engine: Engine, location: str,
                 *, latency_histogram: bool = False) -> None:
        self.registry = registry
        self.latency_everywhere = latency_histogram
        self._render_lock = threading.Lock()  # one render at a time (the lines cache)
        self._scrape_lock = asyncio.Lock()
        self.engine = engine
        self._globals = CollectorRegistry(auto_describe=True)
        self._text: list[TextFamily] = []
        self.checks = CheckCollector(engine, location)
        registry.register(self.checks)
        self._declare_probing()
        self._declare_paging()
        info = self._add(_instance(Gauge, F.BUILD_INFO))
        info.labels(__version__, platform.python_version()).set(1)
        self.config_loaded(True)

    def _declare_probing(self) -> None:
        self.lateness = self._add(QuickHistogram(F.LATENESS, LATENESS_BUCKETS))
        self.missed = self._add(_instance(Counter, F.MISSED))
        self.kind_duration = self._add(QuickHistogram(F.KIND_DURATION, LATENCY_BUCKETS))
        self.reload_ok = self._add(_instance(Gauge, F.RELOAD_OK))
        self.reload_time = self._add(_instance(Gauge, F.RELOAD_TIME))

    def _declare_paging(self) -> None:
        self.incidents_open = self._add(_instance(Gauge, F.INCIDENTS_OPEN))
        self.notifications = self._add(_instance(Counter, F.NOTIFICATIONS))
        self.suppressed = self._add(_instance(Counter, F.SUPPRESSED))
        self.heartbeat_rejected = self._add(_instance(Counter, F.HEARTBEAT_REJECTED))
        self.am_received = self._add(_instance(Counter, F.AM_RECEIVED))
        self.deadman = self._add(_instance(Counter, F.DEADMAN))

    def _add(self, metric: Any) -> Any:
        self.registry.register(metric)
        self._globals.register(metric)
        return metric

    def add(self, metric: Any) -> Any:
        """Register a collector made elsewhere (created with `registry=None`) so that
        `/metrics` serves it: the fast path writes only what is registered here."""
        return self._add(metric)

    def add_text(self, family: TextFamily) -> None:
        """Register a per-check family that `/metrics` writes from its own cached text (the
        generic path, `generate_latest(self._globals)`, is far too slow for 20,000 checks and
        runs on the event loop); the injected registry still sees it through `collect()`."""
        self.registry.register(family)
        self._text.append(family)

    def config_loaded(self, ok: bool) -> None:
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_time.set(time.time())

    def on_result(self, check: Check, result: ProbeResult, state: CheckState) -> None:
        self.kind_duration.labels(check.kind).observe(result.duration)
        if check.latency_histogram or self.latency_everywhere:
            rt = self.engine.runtime.get(check.name)
            if rt is not None:
                observe_latency(rt, result.duration)

    def render(self, items: list[tuple[Check, Runtime]] | None = None) -> bytes:
        scrape = self._scrape(self.checks.snapshot() if items is None else items)
        return generate_latest(self._globals) + "".join(self._chunks(scrape)).encode()

    async def stream(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        """Write /metrics family by family, on the event loop in slices: at 20,000 checks
        the text is ~31 MB and ~0.2-1 s of Python. Rendered in a thread (as before), that
        took the core from the probes for as long (the loop fell behind: lateness p99
        ~180 ms during scrapes, ~47 ms without); in slices of SLICE checks (a few ms each)
        the probes due meanwhile run between them. Building it whole would double the
        daemon's memory for the length of a scrape.

        Only taking the rows touches the shared line cache (one scrape at a time); writing
        happens outside the lock, so a client that stops reading holds up nobody else. What
        it keeps alive meanwhile is its rows (references to cached lines, replaced ones
        included) and the piece being written; the web handler drops it after a timeout."""
        items = self.checks.snapshot()  # on the loop: a reload may change the dict
        async with self._scrape_lock:
            rows: list[exposition.Row] = []
            for start in range(0, len(items), SLICE):
                with self._render_lock:
                    rows += self.checks.rows(items[start:start + SLICE])
                await asyncio.sleep(0)
            with self._render_lock:
                self.checks.prune(items)
                latency = self.checks.latency(items)
            # usually cached; all 60,000 lines again after each 5-minute uptime refresh
            texts = await asyncio.to_thread(self._texts)
        await write(generate_latest(self._globals))
        for chunk in self._chunks(((rows, latency), texts)):
            # "replace": a lone surrogate in a group name (YAML's "\ud800") has no UTF-8
            # form and must not fail every scrape
            await write(chunk.encode("utf-8", "replace"))
            await asyncio.sleep(0)

    def _texts(self) -> list[tuple[str, list[str]]]:
        with self._render_lock:
            return [(family.text_head(), family.text_rows()) for family in self._text]

    def _scrape(self, items: list[tuple[Check, Runtime]]) -> FullScrape:
        with self._render_lock:
            checks = self.checks.scrape(items)
        return checks, self._texts()

    def _chunks(self, scrape: FullScrape) -> Iterator[str]:
        checks, texts = scrape
        yield from self.checks.chunks(checks)
        for head, rows in texts:
            for start in range(0, max(len(rows), 1), exposition.CHUNK):
                text = "".join(rows[start:start + exposition.CHUNK])
                yield head + text if start == 0 else text


class QuickHistogram:
    """A histogram observed on every probe, cheaply: a bisect into plain counters.
    prometheus-client's Histogram walks its buckets in Python and takes two locks per
    observation (~5,000 instructions; two per probe). Observed on the event loop only; a
    scrape reads a consistent enough copy (a count may lag its sum by one observation)."""

    def __init__(self, family: Family, buckets: tuple[float, ...]) -> None:
        self.family = family
        self.bounds = list(buckets)
        self._children: dict[tuple[str, ...], _Counts] = {}
        self._plain = _Counts(self.bounds) if not family.labels else None

    def labels(self, *values: str) -> _Counts:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = _Counts(self.bounds)
        return child

    def observe(self, value: float) -> None:
        assert self._plain is not None, "a labelled histogram: use labels()"
        self._plain.observe(value)

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.family.name, self.family.help,
                                       labels=list(self.family.labels))
        children = ([((), self._plain)] if self._plain is not None
                    else sorted(self._children.items()))
        for values, counts in children:
            cumulative, buckets = 0, []
            for bound, n in zip([*self.bounds, float("inf")], list(counts.counts), strict=True):
                cumulative += n
                buckets.append((_bound(bound), cumulative))
            family.add_metric(list(values), buckets, counts.total)
        yield family


class _Counts:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: list[float]) -> None:
        self.bounds = bounds  # the histogram's, shared
        self.counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative; last is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


def _instance(kind: Callable[..., Any], family: Family, **options: Any) -> Any:
    """One of Siaga's own metrics, as the table says, registered nowhere yet (see `_add`)."""
    return kind(family.name, family.help, list(family.labels), registry=None, **options)



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
