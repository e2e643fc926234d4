"""The scheduler, driven with a recording runner on a real event loop and short intervals."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict

from monitor.checking.scheduler import EARLY, EARLY_SHARE, Scheduler, first_offset
from monitor.config.model import Check


def make(name: str, interval: float = 0.1, host: str = "h") -> Check:
    return Check(name=name, kind="tcp", spec=(host, name), interval=interval, timeout=interval)


class Recorder:
    def __init__(self, delays: dict[str, float] | None = None) -> None:
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.delays = delays or {}
        self.running = 0
        self.max_running = 0

    async def __call__(self, check: Check) -> None:
        self.starts[check.name].append(asyncio.get_running_loop().time())
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(self.delays.get(check.name, 0))
        finally:
            self.running -= 1


async def run_for(scheduler: Scheduler, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await scheduler.stop()


async def test_runs_every_interval_start_to_start_without_drift():
    rec = Recorder(delays={"a": 0.03})  # the probe's own duration must not shift the slots
    s = Scheduler(rec, lambda c: c.spec[0])
    s.set_checks([make("a", 0.05)], initial=True)
    await run_for(s, 1.03)
    starts = rec.starts["a"]
    assert 19 <= len(starts) <= 21
    first = starts[0]
    for k, t in enumerate(starts):
        assert abs(t - (first + k * 0.05)) < 0.02, (k, t - first)


async def test_first_runs_are_spread_over_the_first_interval():
    rec = Recorder()
    s = Scheduler(rec, lambda c: c.spec[0])
    s.set_checks([make(f"c{i}", 1.0) for i in range(200)], initial=True)
    await run_for(s, 1.0)
    firsts = sorted(v[0] for v in rec.starts.values())
    spread = firsts[-1] - firsts[0]
    assert len(firsts) >= 190 and spread > 0.8
    # no burst: at most a tenth of the checks start within any 50 ms
    assert max(sum(1 for t in firsts if a <= t < a + 0.05) for a in firsts) <= 20


async def test_slots_due_close_together_share_one_wake_up_and_start_at_most_early():
    rec = Recorder()
    s = Scheduler(rec, lambda c: c.spec[0])
    loop = asyncio.get_running_loop()
    checks = [make(f"c{i}", 20.0) for i in range(400)]  # 20 slots a second
    start = loop.time()
    s.set_checks(checks, initial=True)
    await run_for(s, 1.0)
    ran = {name: times[0] for name, times in rec.starts.items()}
    assert len(ran) >= 15
    for name, at in ran.items():
        slot = start + first_offset(name, 20.0)
        assert slot - EARLY - 0.002 <= at <= slot + 0.02, (name, at - slot)
    # one wake-up serves the slots of the next EARLY seconds: far fewer start times than
    # probes (a wake-up per probe cost ~100 µs of CPU a probe; bench/README.md)
    wakeups = len({round(t, 3) for t in ran.values()})
    assert wakeups <= 12 < len(ran)


async def test_a_short_interval_never_starts_earlier_than_its_share():
    rec = Recorder()
    s = Scheduler(rec, lambda c: c.spec[0])
    s.set_checks([make("fast", 0.2), *(make(f"slow{i}", 5.0) for i in range(100))],
                 initial=True)
    await run_for(s, 1.5)
    fast = rec.starts["fast"]
    gaps = [b - a for a, b in itertools.pairwise(fast)]
    assert len(fast) >= 6
    assert min(gaps) >= 0.2 - 2 * 0.2 * EARLY_SHARE - 0.002, gaps
    assert s.stats.missed == 0


def test_first_offset_is_stable_per_name_and_within_the_interval():
    assert first_offset("portal", 30) == first_offset("portal", 30)
    assert all(0 <= first_offset(f"c{i}", 30) < 30 for i in range(1000))


async def test_a_hanging_check_does_not_delay_another():
    rec = Recorder(delays={"hang": 100})
    s = Scheduler(rec, lambda c: c.spec[0])
    s.set_checks([make("hang", 0.05, host="x"), make("ok", 0.05, host="y")], initial=True)
    await run_for(s, 0.5)
    assert len(rec.starts["ok"]) >= 9
    assert len(rec.starts["hang"]) == 1
    assert s.stats.missed >= 8  # its later slots are counted, not stacked


async def test_the_per_host_bound_limits_probes_in_flight_against_one_host():
    rec = Recorder(delays={f"c{i}": 0.2 for i in range(20)})
    s = Scheduler(rec, lambda c: c.spec[0], per_host=3)
    s.set_checks([make(f"c{i}", 0.3) for i in range(20)], initial=True)
    await run_for(s, 0.6)
    assert rec.max_running == 3


async def test_the_global_bound_limits_probes_in_flight():
    rec = Recorder(delays={f"c{i}": 0.2 for i in range(20)})
    s = Scheduler(rec, lambda c: c.spec[0], max_concurrency=5)
    s.set_checks([make(f"c{i}", 0.3, host=f"h{i}") for i in range(20)], initial=True)
    await run_for(s, 0.6)
    assert rec.max_running == 5


async def test_probes_waiting_for_a_busy_host_leave_room_for_other_hosts():
    # Host "slow" has room for one probe; three of its checks are due with another host's.
    # The two that wait must not take places under the global bound from "fast".
    rec = Recorder(delays={"s1": 0.4, "s2": 0.4, "s3": 0.4})
    s = Scheduler(rec, lambda c: c.spec[0], max_concurrency=3, per_host=1)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    checks = [make(n, 5.0, host="slow") for n in ("s1", "s2", "s3")]
    s.set_checks([*checks, make("f1", 5.0, host="fast")], initial=True)
    await run_for(s, 5.0)
    slot_f1 = t0 + first_offset("f1", 5.0)
    assert rec.starts["f1"][0] - slot_f1 < 0.05  # not behind the slow host's queue
    slow = sorted(rec.starts[n][0] for n in ("s1", "s2", "s3"))
    assert all(b - a >= 0.39 for a, b in itertools.pairwise(slow))  # one at a time
    assert rec.max_running <= 2


async def test_a_check_removed_while_waiting_for_room_never_runs():
    rec = Recorder(delays={"a": 0.3})
    s = Scheduler(rec, lambda c: c.spec[0], per_host=1)
    s.set_checks([make("a", 50.0), make("b", 50.0)], initial=True)
    await asyncio.sleep(0)
    for slot in s._slots.values():  # both far in the future: run them now instead
        slot.due += 100
    assert s.run_now("a")
    assert s.run_now("b") and s._slots["b"].waiting  # its host is busy with "a"
    assert not s.run_now("b")  # already on its way
    s.set_checks([make("a", 5.0)], initial=False)  # removed before it got room
    await run_for(s, 0.6)
    assert "b" not in rec.starts


async def test_a_probe_that_raises_is_logged_and_its_check_goes_on(caplog):
    calls = []

    async def runner(check: Check) -> None:
        calls.append(check.name)
        raise RuntimeError("bug")

    s = Scheduler(runner, lambda c: c.spec[0])
    s.set_checks([make("a", 0.1)], initial=True)
    await run_for(s, 0.5)
    assert len(calls) >= 4
    crashed = [r for r in caplog.records if "probe_crashed" in r.getMessage()]
    assert crashed and crashed[0].exc_info is not None
    caplog.clear()  # logged on purpose: conftest fails tests on logged exceptions


async def test_lateness_is_reported_for_each_start():
    rec = Recorder()
    s = Scheduler(rec, lambda c: c.spec[0])
    seen: list[float] = []
    s.stats.on_lateness.append(seen.append)
    s.set_checks([make("a", 0.05)], initial=True)
    await run_for(s, 0.3)
    assert len(seen) == len(rec.starts["a"]) >= 4
    assert all(0 <= x < 0.05 for x in seen)


async def test_stop_cancels_in_flight_probes_promptly():
    rec = Recorder(delays={"a": 100})
    s = Scheduler(rec, lambda c: c.spec[0])
    s.set_checks([make("a", 0.01)], initial=True)
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await s.stop()
    assert loop.time() - t0 < 0.1
    assert rec.running == 0


async def test_set_checks_keeps_phase_of_unchanged_adds_and_removes():
    rec = Recorder()
    s = Scheduler(rec, lambda c: c.spec[0])
    a, b = make("a", 0.2), make("b", 0.2)
    s.set_checks([a, b], initial=True)
    await asyncio.sleep(0.05)
    due_a = s.due("a")
    s.set_checks([a, make("c", 0.2)])
    assert s.due("a") == due_a
    assert sorted(s.names) == ["a", "c"]
    await run_for(s, 2.2)
    assert len(rec.starts["c"]) >= 1
    n_b = len(rec.starts["b"])
    assert n_b <= 1


async def test_a_finished_probe_task_is_not_kept_until_the_next_slot():
    """20,000 checks each holding their last, finished task was 16 MB (tracemalloc)."""
    import gc
    import weakref

    tasks: list[weakref.ref[asyncio.Task[object]]] = []

    async def runner(check: Check) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(weakref.ref(task))

    s = Scheduler(runner, lambda c: c.spec[0])
    s.set_checks([make(f"c{i}", 1.0) for i in range(40)], initial=True)
    await asyncio.sleep(0.5)  # about half of the first slots (spread over 1 s) have run
    await asyncio.sleep(0)
    gc.collect()
    try:
        assert tasks and [ref() for ref in tasks] == [None] * len(tasks)
    finally:
        await s.stop()
