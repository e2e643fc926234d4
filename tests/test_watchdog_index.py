"""The watchdog's heap finds exactly the checks the plain definition calls stale: a check of
the live config, owned here, whose last result is older than `stale_after` — through
results, reloads (intervals changed, checks added and removed) and ownership moving."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitor.checking.engine import Runtime
from monitor.checking.watchdog import Watchdog, stale_after
from monitor.config.model import Check

NAMES = [f"c{i}" for i in range(8)]


def check(name: str, interval: float) -> Check:
    return Check(name=name, kind="tcp", spec=("h", 1), interval=interval, timeout=1.0)


@dataclass
class FakeEngine:
    checks: dict[str, Check] = field(default_factory=dict)
    runtime: dict[str, Runtime] = field(default_factory=dict)


def plain(engine: FakeEngine, now: float, owned: set[str]) -> list[str]:
    return sorted(name for name, c in engine.checks.items()
                  if now - engine.runtime[name].seen > stale_after(c) and name in owned)


steps = st.lists(st.one_of(
    st.tuples(st.just("wait"), st.floats(0.1, 30.0)),
    st.tuples(st.just("result"), st.sampled_from(NAMES)),
    st.tuples(st.just("reload"), st.dictionaries(st.sampled_from(NAMES),
                                                 st.sampled_from([1.0, 2.0, 5.0]),
                                                 min_size=1)),
    st.tuples(st.just("own"), st.sets(st.sampled_from(NAMES))),
), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_the_heap_finds_what_a_walk_over_every_check_finds(steps):
    now = [1000.0]
    owned = set(NAMES)
    engine = FakeEngine({n: check(n, 2.0) for n in NAMES[:4]})
    engine.runtime = {n: Runtime(seen=now[0]) for n in engine.checks}
    dog = Watchdog(engine, CollectorRegistry(), clock=lambda: now[0],  # type: ignore[arg-type]
                   owns=lambda name: name in owned)
    for what, arg in steps:
        if what == "wait":
            now[0] += arg
        elif what == "result" and arg in engine.runtime:
            engine.runtime[arg].seen = now[0]
        elif what == "reload":  # a new dict, as Engine.apply makes; kept names keep state
            runtime = {n: engine.runtime.get(n) or Runtime(seen=now[0]) for n in arg}
            engine.checks = {n: check(n, interval) for n, interval in arg.items()}
            engine.runtime = runtime
        elif what == "own":
            owned.clear()
            owned.update(arg)
        assert dog.scan() == plain(engine, now[0], owned), (what, arg)
        assert dog.stale == plain(engine, now[0], owned)
