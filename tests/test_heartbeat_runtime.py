"""Heartbeats that start and never finish (`max_runtime`), and a never-pinged heartbeat's
deadline surviving a restart (issue 18). Time is injected: nothing here sleeps."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from monitor.checking.heartbeats import HeartbeatSpec, load_pings, status
from monitor.checking.state import State
from monitor.config.loader import parse_config
from monitor.daemon import Daemon

JAKARTA = ZoneInfo("Asia/Jakarta")
H, M = 3600.0, 60.0


def wib(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=JAKARTA).timestamp()


NIGHTLY = HeartbeatSpec(grace=4 * H, schedule="0 2 * * *", max_runtime=2 * H)


def test_a_run_that_started_and_did_not_finish_within_max_runtime_is_down():
    yesterday, started = wib(27, 2, 40), wib(28, 2)
    assert status(NIGHTLY, yesterday, started, None, started + 2 * H, JAKARTA) == (
        True, "running since 02:00 WIB")
    assert status(NIGHTLY, yesterday, started, None, started + 2 * H + 1, JAKARTA) == (
        False, "started at 02:00 WIB, no finish after 2h (max_runtime 2h)")


def test_a_finished_run_is_judged_by_its_outcome_not_by_max_runtime():
    started = wib(28, 2)
    assert status(NIGHTLY, started + 3 * H, started, None, started + 5 * H, JAKARTA)[0]
    ok, reason = status(NIGHTLY, wib(27, 2, 40), started, started + 3 * H, started + 5 * H,
                        JAKARTA)
    assert (ok, reason) == (False, "job reported failure at 05:00 WIB")


def test_without_max_runtime_a_hanging_run_is_noticed_only_when_the_next_ping_is_late():
    spec = HeartbeatSpec(grace=4 * H, schedule="0 2 * * *")
    assert status(spec, wib(27, 2, 40), wib(28, 2), None, wib(28, 5), JAKARTA) == (
        True, "running since 02:00 WIB")


def test_max_runtime_is_read_from_checks_yaml():
    config = parse_config("""
checks:
  - {name: backup, heartbeat: {schedule: "0 2 * * *", grace: 4h, max_runtime: 2h}}
""", "checks.yaml")
    spec = config.by_name["backup"].spec
    assert spec.max_runtime == 2 * H
    assert spec.describe() == "at '0 2 * * *', grace 4h, max_runtime 2h"


CONFIG = """
siaga: {{state_dir: "{state}", timezone: Asia/Jakarta, store: "{store}"}}
checks:
  - {{name: backup, heartbeat: {{schedule: "0 2 * * *", grace: 4h, max_runtime: 2h}}}}
  - {{name: sync, heartbeat: {{every: 1h, grace: 10m}}}}
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def running(tmp_path: Path, clock: Clock, store: str = "sqlite") -> AsyncIterator[Daemon]:
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path, store=store))
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry(),
               serve=False)
    d.heartbeats.clock = clock
    await d.start()
    try:
        yield d
    finally:
        await d.stop()


def state(d: Daemon, name: str) -> tuple[State, str]:
    cs = d.engine.runtime[name].state
    return cs.state, cs.reason


async def test_a_job_that_pings_start_and_hangs_goes_down_after_max_runtime(tmp_path,
                                                                            store_setting):
    clock = Clock(wib(27, 2, 40))
    async with running(tmp_path, clock, store_setting) as d:
        backup = d.engine.checks["backup"]
        await d.heartbeats.ping(backup, "ping")
        clock.now = wib(28, 2)
        await d.heartbeats.ping(backup, "start")
        clock.now = wib(28, 4) - 1
        await d.heartbeats.tick()
        assert state(d, "backup")[0] is State.UP
        clock.now = wib(28, 4) + 2  # the next evaluation, two seconds later
        await d.heartbeats.tick()
        assert state(d, "backup") == (
            State.DOWN, "started at 02:00 WIB, no finish after 2h (max_runtime 2h)")
        clock.now = wib(28, 4, 30)
        await d.heartbeats.ping(backup, "ping")  # it finished after all
        assert state(d, "backup")[0] is State.UP


async def test_a_restart_keeps_the_deadline_of_a_heartbeat_that_never_pinged(tmp_path,
                                                                            store_setting):
    began = wib(28, 8)
    clock = Clock(began)
    async with running(tmp_path, clock, store_setting) as d:
        await d.heartbeats.tick()
        assert state(d, "sync")[0] is State.UNKNOWN
    clock.now = began + H + 10 * M + 1  # the deadline passes while Siaga is down
    async with running(tmp_path, clock, store_setting) as d:
        assert (await d.store.run(load_pings))["sync"].expected_since == began
        await d.heartbeats.tick()
        assert state(d, "sync") == (
            State.DOWN, "no ping yet (expected every 1h, grace 10m)")
