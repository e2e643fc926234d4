"""The few figures the bench reads from Siaga's `/metrics`, and quantiles from buckets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

LATENESS = "siaga_scheduler_lateness_seconds_bucket{"
PROBES = "siaga_probes_total{"
MISSED = "siaga_scheduler_missed_slots_total"


@dataclass
class Snapshot:
    probes: float = 0.0
    failures: float = 0.0
    missed: float = 0.0
    lateness: dict[float, float] = field(default_factory=dict)  # le → cumulative count


def parse(text: str) -> Snapshot:
    snap = Snapshot()
    for line in text.splitlines():
        if line.startswith(PROBES):
            value = float(line.rsplit(" ", 1)[1])
            snap.probes += value
            if 'outcome="failure"' in line:
                snap.failures += value
        elif line.startswith(LATENESS):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            snap.lateness[math.inf if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(MISSED + " "):
            snap.missed = float(line.rsplit(" ", 1)[1])
    return snap


def bucket_delta(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    return {le: after[le] - before.get(le, 0.0) for le in after}


def quantile(cumulative: dict[float, float], q: float) -> float | None:
    """Prometheus-style histogram_quantile: linear inside the bucket that holds rank q.
    A rank in the +Inf bucket returns the last finite bound (a lower bound then)."""
    bounds = sorted(cumulative)
    if not bounds:
        return None
    total = cumulative[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for le in bounds:
        count = cumulative[le]
        if count >= rank:
            if math.isinf(le):
                return prev_bound
            if count == prev_count:
                return le
            return prev_bound + (le - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = le, count
    return prev_bound


def max_upper_bound(cumulative: dict[float, float]) -> tuple[float | None, bool]:
    """The bound of the highest non-empty bucket: the max is ≤ it. The flag is True when
    that bucket is +Inf (then the value returned is the last finite bound, and max exceeds it)."""
    bounds = sorted(cumulative)
    prev, best, prev_finite = 0.0, None, 0.0
    for le in bounds:
        count = cumulative[le]
        if count > prev:
            best = le
        prev = count
        if not math.isinf(le):
            prev_finite = le
    if best is None:
        return None, False
    if math.isinf(best):
        return prev_finite, True
    return best, False
