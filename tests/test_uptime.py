"""Time-weighted uptime from transitions: exact figures, maintenance, a check added late."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from monitor.checking.state import State, Transition
from monitor.reporting.uptime import Uptime, daily, merge, uptime

JKT = ZoneInfo("Asia/Jakarta")
H = 3600.0
NOV = dt.datetime(2026, 11, 1, tzinfo=JKT).timestamp()
DEC = dt.datetime(2026, 12, 1, tzinfo=JKT).timestamp()


def tr(old: State, new: State, at: float) -> Transition:
    return Transition("sipd", old, new, "", at)


def at_day(day: int, hour: float = 0) -> float:
    return dt.datetime(2026, 11, day, tzinfo=JKT).timestamp() + hour * H


HISTORY = [
    tr(State.UNKNOWN, State.UP, NOV - 10 * 86400),
    tr(State.UP, State.DOWN, at_day(3, 10)),
    tr(State.DOWN, State.UP, at_day(3, 13)),  # 3 h down
    tr(State.UP, State.DEGRADED, at_day(10)),
    tr(State.DEGRADED, State.UP, at_day(11)),  # degraded counts as up
    tr(State.UP, State.FLAPPING, at_day(20, 8)),
    tr(State.FLAPPING, State.UP, at_day(20, 9)),  # flapping counts as down: 1 h
]


def test_downtime_is_measured_in_time_not_probe_samples():
    u = uptime(HISTORY, NOV, DEC, now=DEC + 1)
    assert u.down == 4 * H
    assert u.up == 30 * 86400 - 4 * H
    assert u.percent == pytest.approx(100 * (720 - 4) / 720)


def test_maintenance_is_left_out_of_the_denominator():
    window = [(at_day(3, 9), at_day(3, 11))]  # covers 1 h of the 3 h outage
    u = uptime(HISTORY, NOV, DEC, now=DEC + 1, maintenance=window)
    assert u.maintenance == 2 * H
    assert u.down == 3 * H
    assert u.counted == 30 * 86400 - 2 * H
    assert u.percent == pytest.approx(100 * (718 - 3) / 718)


def test_maintenance_counts_when_exclusion_is_off():
    window = [(at_day(3, 9), at_day(3, 11))]
    u = uptime(HISTORY, NOV, DEC, now=DEC + 1, maintenance=window, exclude_maintenance=False)
    assert u == Uptime(up=30 * 86400 - 4 * H, down=4 * H)


def test_a_check_added_mid_month_counts_only_from_its_first_verdict():
    added = [tr(State.UNKNOWN, State.UP, at_day(16)),
             tr(State.UP, State.DOWN, at_day(20)),
             tr(State.DOWN, State.UP, at_day(20, 6))]
    u = uptime(added, NOV, DEC, now=DEC + 1)
    assert u.unknown == 15 * 86400
    assert u.counted == 15 * 86400
    assert u.percent == pytest.approx(100 * (360 - 6) / 360)


def test_the_future_is_not_counted():
    u = uptime(HISTORY, NOV, DEC, now=at_day(3, 12))  # mid-outage
    assert u.down == 2 * H
    assert u.up == 2 * 86400 + 10 * H


def test_a_window_before_the_check_existed_has_no_figure():
    u = uptime(HISTORY, NOV - 30 * 86400, NOV - 20 * 86400, now=DEC)
    assert u.percent is None


def test_overlapping_maintenance_windows_are_merged():
    assert merge([(5, 10), (0, 3), (8, 12), (20, 20)]) == [(0, 3), (5, 12)]


def test_daily_buckets_follow_local_days_in_the_configured_zone():
    days = daily(HISTORY, dt.date(2026, 11, 2), 3, JKT, now=DEC)
    assert [d for d, _ in days] == [dt.date(2026, 11, 2), dt.date(2026, 11, 3),
                                    dt.date(2026, 11, 4)]
    assert [u.percent for _, u in days] == [100.0, pytest.approx(100 * 21 / 24), 100.0]


def test_daily_buckets_in_the_future_have_no_figure():
    days = daily(HISTORY, dt.date(2026, 11, 29), 3, JKT, now=at_day(30, 12))
    assert [u.percent for _, u in days] == [100.0, 100.0, None]
    assert days[1][1].counted == 12 * H
