"""A probe's Deadline behaves as asyncio.timeout does, with one loop timer for all of them."""

from __future__ import annotations

import asyncio

import pytest

from monitor.probes import deadline as deadline_module
from monitor.probes.deadline import Deadline


async def test_a_deadline_that_passes_raises_timeout_error_and_says_it_expired():
    d = Deadline(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with d:
            await asyncio.sleep(10)
    assert d.expired()
    assert 0.04 <= loop.time() - started < 0.5


async def test_work_done_in_time_is_not_touched():
    d = Deadline(1.0)
    async with d:
        await asyncio.sleep(0.01)
    assert not d.expired()
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_someone_elses_cancel_stays_a_cancel():
    async def probe() -> None:
        async with Deadline(10):
            await asyncio.sleep(10)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outer_asyncio_timeout_still_wins_over_a_later_deadline():
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            async with Deadline(5):
                await asyncio.sleep(10)


async def test_many_deadlines_share_one_timer_and_each_fires_at_its_own_time():
    loop = asyncio.get_running_loop()
    fired: dict[int, float] = {}
    started = loop.time()
    calls = 0
    real_call_at = loop.call_at

    def counting_call_at(*args, **kw):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += getattr(args[1], "__name__", "") == "_fire"  # not the sleeps' own timers
        return real_call_at(*args, **kw)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        async def probe(i: int, seconds: float) -> None:
            try:
                async with Deadline(seconds):
                    await asyncio.sleep(10 if i % 2 else 0.001)  # odd ones hang
            except TimeoutError:
                fired[i] = loop.time() - started

        await asyncio.gather(*(probe(i, 0.05 + 0.01 * i) for i in range(20)))
    finally:
        loop.call_at = real_call_at  # type: ignore[method-assign]
    assert sorted(fired) == list(range(1, 20, 2))
    for i, at in fired.items():
        assert 0.05 + 0.01 * i - 0.002 <= at < 0.05 + 0.01 * i + 0.1, (i, at)
    # One timer, moved on only to the next deadline still running: not one per probe
    assert 10 <= calls <= 12
    timers = deadline_module._timers(loop)
    assert not [e for e in timers.heap if e[2]._state == deadline_module._PENDING]


async def test_a_finished_probe_does_not_keep_its_task_alive():
    async def probe() -> Deadline:
        d = Deadline(30)
        async with d:
            await asyncio.sleep(0)
        return d

    d = await asyncio.create_task(probe())
    assert d._task is None
