"""Siaga's per-probe histograms (scheduler lateness, duration by kind) export exactly what
prometheus-client's Histogram exports for the same observations (less its `_created`)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from monitor.telemetry import families as F
from monitor.telemetry.metrics import LATENCY_BUCKETS, LATENESS_BUCKETS, QuickHistogram


def exposition(collector: object) -> list[str]:
    registry = CollectorRegistry()
    registry.register(collector)  # type: ignore[arg-type]
    return [line for line in generate_latest(registry).decode().splitlines()
            if "_created" not in line]


def test_an_unlabelled_histogram_matches_prometheus_client():
    rng = random.Random(7)
    values = [rng.expovariate(50) for _ in range(5000)] + [0.001, 0.0, 10.0, 99.0]
    ours = QuickHistogram(F.LATENESS, LATENESS_BUCKETS)
    theirs = Histogram(F.LATENESS.name, F.LATENESS.help, registry=None,
                       buckets=LATENESS_BUCKETS)
    for v in values:
        ours.observe(v)
        theirs.observe(v)
    assert exposition(ours) == exposition(theirs)


def test_a_labelled_histogram_matches_prometheus_client():
    rng = random.Random(8)
    ours = QuickHistogram(F.KIND_DURATION, LATENCY_BUCKETS)
    theirs = Histogram(F.KIND_DURATION.name, F.KIND_DURATION.help, ["kind"], registry=None,
                       buckets=LATENCY_BUCKETS)
    for _ in range(3000):
        kind, v = rng.choice(["http", "tcp", "dns"]), rng.uniform(0, 12)
        ours.labels(kind).observe(v)
        theirs.labels(kind).observe(v)
    assert sorted(exposition(ours)) == sorted(exposition(theirs))
