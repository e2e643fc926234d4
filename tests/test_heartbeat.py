"""Heartbeat (push) checks: the pure lateness rule walked with a clock, and a real daemon
taking pings over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.heartbeats import HeartbeatSpec, status
from monitor.checking.state import State
from monitor.config.loader import parse_config
from monitor.daemon import Daemon

JAKARTA = ZoneInfo("Asia/Jakarta")
H = 3600.0


def wib(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=JAKARTA).timestamp()


def test_an_every_heartbeat_is_on_time_until_interval_plus_grace_has_passed():
    spec = HeartbeatSpec(grace=2 * H, every=24 * H)
    ping = wib(27, 3, 10)
    assert status(spec, ping, None, None, ping + 26 * H, JAKARTA) == (True, "on time")
    ok, reason = status(spec, ping, None, None, ping + 26 * H + 1, JAKARTA)
    assert not ok
    assert reason == "no ping since 2026-11-27 03:10 WIB (expected every 1d, grace 2h)"


def test_a_failure_ping_newer_than_the_last_success_is_down_and_a_success_clears_it():
    spec = HeartbeatSpec(grace=H, every=H)
    ok, reason = status(spec, wib(28, 1), None, wib(28, 2), wib(28, 2, 1), JAKARTA)
    assert (ok, reason) == (False, "job reported failure at 02:00 WIB")
    assert status(spec, wib(28, 2, 5), None, wib(28, 2), wib(28, 2, 6), JAKARTA)[0]


def test_a_never_pinged_heartbeat_waits_a_period_and_grace_from_when_siaga_began_waiting():
    spec = HeartbeatSpec(grace=60, every=600)
    since = wib(28, 8)
    assert status(spec, None, None, None, since + 660, JAKARTA, since)[0]
    ok, reason = status(spec, None, None, None, since + 661, JAKARTA, since)
    assert not ok and reason.startswith("no ping yet")


def test_a_cron_heartbeat_walked_across_midnight_in_jakarta_goes_late_at_due_plus_grace():
    # The nightly job runs at 23:30 WIB (16:30 UTC); it pinged on the 27th at 23:35.
    spec = HeartbeatSpec(grace=H, schedule="30 23 * * *")
    ping = wib(27, 23, 35)
    verdicts = {}
    t = wib(28, 23, 0)
    while t <= wib(29, 1, 0):  # walk the clock a minute at a time over midnight
        verdicts[dt.datetime.fromtimestamp(t, JAKARTA).strftime("%d %H:%M")] = status(
            spec, ping, None, None, t, JAKARTA)[0]
        t += 60
    late = [k for k, ok in verdicts.items() if not ok]
    assert late[0] == "29 00:31"  # due 28th 23:30 + 1h grace, reached after midnight
    assert all(verdicts[k] for k in verdicts if k < "29 00:31")
    reason = status(spec, ping, None, None, wib(29, 0, 31), JAKARTA)[1]
    assert reason == ("no ping since 2026-11-27 23:35 WIB "
                      "(expected at 2026-11-28 23:30 WIB, grace 1h)")


def test_a_running_job_is_reported_as_running_while_on_time():
    spec = HeartbeatSpec(grace=H, every=24 * H)
    assert status(spec, wib(27, 2), wib(28, 2), None, wib(28, 2, 5), JAKARTA) == (
        True, "running since 02:00 WIB")


CONFIG = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", timezone: Asia/Jakarta, store: "{store}"}}
checks:
  - name: backup
    heartbeat: {{every: 24h, grace: 2h}}
  - name: quick
    heartbeat: {{every: 1s, grace: 500ms}}
  - name: fixed
    heartbeat: {{every: 1h, token: "{token}"}}
"""
TOKEN = "fixed-token-from-env-0123456789"


async def start(tmp_path, store: str) -> Daemon:
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path, token=TOKEN, store=store))
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry())
    await d.start()
    return d


@pytest.fixture
async def daemon(tmp_path, store_setting):
    d = await start(tmp_path, store_setting)
    yield d
    await d.stop()


def url(d: Daemon, check: str, suffix: str = "", token: str | None = None) -> str:
    tok = token or d.heartbeats.tokens.token(d.engine.checks[check])
    return f"http://127.0.0.1:{d.server.port}/push/{check}/{tok}{suffix}"


async def call(method: str, address: str, **kw) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.request(method, address, **kw) as r:
        return r.status, await r.json()


def state(d: Daemon, name: str) -> State:
    return d.engine.runtime[name].state.state


async def test_a_success_ping_makes_a_heartbeat_up_and_is_stored(daemon):
    status_code, body = await call("GET", url(daemon, "backup"))
    assert status_code == 200 and body["ok"]
    assert state(daemon, "backup") is State.UP
    assert daemon.heartbeats.pings["backup"].last_ping is not None


async def test_a_heartbeat_that_misses_its_grace_goes_down_with_a_reason(daemon):
    await call("POST", url(daemon, "quick"))
    assert state(daemon, "quick") is State.UP
    await asyncio.sleep(1.6)
    daemon.heartbeats.evaluate()
    assert state(daemon, "quick") is State.DOWN
    assert daemon.engine.runtime["quick"].state.reason.startswith("no ping since ")
    await call("GET", url(daemon, "quick"))
    assert state(daemon, "quick") is State.UP


async def test_a_failure_ping_makes_it_down_at_once_with_the_message(daemon):
    await call("GET", url(daemon, "backup"))
    code, _ = await call("POST", url(daemon, "backup", "/fail?exit_code=3"),
                         data="disk full on /backup")
    assert code == 200
    assert state(daemon, "backup") is State.DOWN
    assert daemon.engine.runtime["backup"].state.reason == (
        "job failed (exit code 3): disk full on /backup")
    daemon.heartbeats.evaluate()  # the evaluator agrees and does not flip it back
    assert state(daemon, "backup") is State.DOWN


async def test_start_then_success_measures_the_run_time(daemon):
    await call("GET", url(daemon, "backup", "/start"))
    await asyncio.sleep(0.3)
    _, body = await call("GET", url(daemon, "backup"))
    assert 0.25 < body["duration"] < 2
    value = daemon.registry.get_sample_value(
        "probe_duration_seconds",
        {"check": "backup", "group": "default", "location": "local", "kind": "heartbeat"})
    assert value == pytest.approx(body["duration"])


async def test_a_wrong_token_is_refused_and_counted(daemon):
    code, _ = await call("GET", url(daemon, "backup", token="x" * 43))
    assert code == 403
    code, _ = await call("GET", url(daemon, "nope", token="x" * 43))
    assert code == 403
    value = daemon.registry.get_sample_value
    assert value("siaga_heartbeat_rejected_total", {"reason": "wrong_token"}) == 1
    assert value("siaga_heartbeat_rejected_total", {"reason": "unknown_check"}) == 1
    assert state(daemon, "backup") is State.UNKNOWN


async def test_a_configured_token_is_used_instead_of_a_generated_one(daemon):
    code, _ = await call("GET", url(daemon, "fixed", token=TOKEN))
    assert code == 200
    generated = daemon.heartbeats.tokens.token(daemon.engine.checks["backup"])
    assert len(generated) >= 40


async def test_a_source_sending_too_many_pushes_gets_429(daemon):
    daemon.push_limit.rate = 5
    codes = [(await call("GET", url(daemon, "backup")))[0] for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    assert daemon.registry.get_sample_value(
        "siaga_heartbeat_rejected_total", {"reason": "rate_limited"}) == 2


async def test_heartbeats_are_listed_by_the_api_and_in_metrics(daemon):
    await call("GET", url(daemon, "backup"))
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{daemon.server.port}/api/v1/checks") as r:
            checks = {c["name"]: c for c in (await r.json())["checks"]}
        async with s.get(f"http://127.0.0.1:{daemon.server.port}/metrics") as r:
            text = await r.text()
    assert checks["backup"]["kind"] == "heartbeat" and checks["backup"]["state"] == "up"
    assert 'siaga_check_state{check="backup",group="default",location="local",' \
           'kind="heartbeat"} 1.0' in text


async def test_a_restart_keeps_the_last_ping_and_the_token(tmp_path, store_setting):
    d = await start(tmp_path, store_setting)
    address = url(d, "backup")
    await call("GET", address)
    first = d.heartbeats.pings["backup"].last_ping
    await d.stop()
    d = await start(tmp_path, store_setting)
    try:
        assert d.heartbeats.pings["backup"].last_ping == first
        assert d.heartbeats.tokens.token(d.engine.checks["backup"]) == address.rsplit("/")[-1]
        d.heartbeats.evaluate()
        assert state(d, "backup") is State.UP
    finally:
        await d.stop()


async def test_heartbeat_url_prints_the_three_urls_with_curl(tmp_path, capsys):
    from monitor.cli import main

    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path, token=TOKEN, store="sqlite"))
    assert main(["-c", str(path), "heartbeat-url", "fixed"]) == 0
    out = capsys.readouterr().out
    assert f"/push/fixed/{TOKEN}/start" in out and f"/push/fixed/{TOKEN}/fail" in out
    assert "curl" in out
    assert main(["-c", str(path), "heartbeat-url", "nope"]) == 2
