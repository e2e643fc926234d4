"""Issue 19, case 7: a bad --month is a usage error with a clear message, and time when the
daemon was not running counts as "no data", not as the last state it saw."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from monitor.checking import liveness
from monitor.checking.state import State, Transition
from monitor.cli import main
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.reporting.report import build, open_readonly
from monitor.reporting.rollup import check_uptime
from monitor.store.engine import Store
from monitor.store.records import add_transitions

H = 3600.0
CONFIG = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}"}}
defaults: {{interval: 100ms, timeout: 100ms, fail_after: 1, recover_after: 1}}
checks:
  - {{name: web, http: {{url: "{http}/ok"}}}}
"""


@pytest.fixture
def config_file(farm, tmp_path):
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state", http=farm.http_url))
    Store(tmp_path / "state").close()
    return path


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-1x", "26-11", "november"])
def test_a_bad_month_is_a_usage_error_that_says_what_was_expected(config_file, capsys, month):
    code = main(["-c", str(config_file), "report", "--month", month])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--month {month}" in err and "YYYY-MM" in err
    assert "unconverted" not in err and "does not match" not in err


def test_bad_from_to_dates_name_the_option_and_the_format(config_file, capsys):
    code = main(["-c", str(config_file), "report", "--from", "2026-02-30", "--to", "2026-03-01"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--from 2026-02-30" in err and "YYYY-MM-DD" in err
    assert "isoformat" not in err


def uptime_until(state_dir, check: str, start: float, end: float):
    conn = open_readonly(state_dir)
    try:
        return check_uptime(conn, check, start, end, end)
    finally:
        conn.close()


async def test_time_after_the_daemon_stopped_counts_as_no_data(config_file, tmp_path):
    config = parse_config(config_file.read_text(), str(config_file))
    began = time.time()
    d = Daemon(config, registry=CollectorRegistry())
    await d.start()
    await asyncio.sleep(1.0)
    await d.stop()
    stopped = time.time()
    u = uptime_until(tmp_path / "state", "web", began, stopped + 10 * H)
    assert 0.5 < u.up < stopped - began  # the second it ran, not ten hours of "up"
    assert u.down == 0
    assert u.unknown >= 10 * H
    assert u.percent == 100.0


async def test_after_a_crash_the_next_start_counts_the_gap_as_no_data(config_file, tmp_path):
    state = tmp_path / "state"
    now = time.time()
    # What a crashed run left: "web" was up, and Siaga last said it was watching 5 h ago.
    Store(state).call(add_transitions, [Transition("web", State.UNKNOWN, State.UP, "",
                                                   now - 6 * H)])
    liveness.write_mark(state, now - 5 * H)
    config = parse_config(config_file.read_text(), str(config_file))
    d = Daemon(config, registry=CollectorRegistry())
    await d.start()
    await asyncio.sleep(0.5)
    await d.stop()
    u = uptime_until(state, "web", now - 6 * H, time.time())
    assert u.up == pytest.approx(1 * H, abs=5)  # the hour before the crash (and the restart)
    assert u.unknown == pytest.approx(5 * H, abs=5)


def test_a_report_while_the_daemon_is_down_counts_the_time_since_as_no_data(tmp_path):
    state = tmp_path / "state"
    now = time.time()
    Store(state).call(add_transitions, [Transition("web", State.UNKNOWN, State.UP, "",
                                                   now - 3 * H)])
    liveness.write_mark(state, now - 2 * H)  # crashed two hours ago, not restarted
    until = liveness.watched_until(state, now)
    assert until == pytest.approx(now - 2 * H)
    conn = open_readonly(state)
    try:
        from monitor.config.model import Check
        rep = build(conn, [Check("web", "http", None)], now - 3 * H, now, until, "UTC")
    finally:
        conn.close()
    assert rep.checks[0].uptime.up == pytest.approx(1 * H, abs=1)


def test_a_running_daemon_is_watching_until_now(tmp_path):
    now = time.time()
    liveness.write_mark(tmp_path, now - 5)
    assert liveness.watched_until(tmp_path, now) == now
    assert liveness.watched_until(tmp_path / "nothing", now) == now
