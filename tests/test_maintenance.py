"""Maintenance windows, walked with a clock: one-off, weekly, cron, groups, all; config errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from monitor.config.loader import parse_config
from monitor.errors import ConfigError
from monitor.incidents.maintenance import ActiveNow, intervals, upcoming

WIB = ZoneInfo("Asia/Jakarta")
BASE = """
checks:
  - {name: sipd, group: Keuangan, tcp: {host: 127.0.0.1, port: 1}}
  - {name: portal, group: Publik, tcp: {host: 127.0.0.1, port: 2}}
maintenance:
"""


def at(text: str, tz: ZoneInfo = WIB) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz).timestamp()


def windows(yaml: str, tz: str = "Asia/Jakarta"):
    config = parse_config(f"siaga: {{timezone: {tz}}}\n" + BASE + yaml, "t.yaml", env={})
    return config.sections["maintenance"]


def covers(ws, check: str, group: str, when: float, tz: ZoneInfo = WIB) -> bool:
    return ActiveNow(ws, when, tz).covers(check, group)


def test_a_one_off_window_covers_its_two_hours_in_the_configured_zone():
    ws = windows('  - {checks: [sipd], start: "2026-12-01 22:00", duration: 2h}\n')
    assert not covers(ws, "sipd", "Keuangan", at("2026-12-01 21:59"))
    assert covers(ws, "sipd", "Keuangan", at("2026-12-01 22:00"))
    assert covers(ws, "sipd", "Keuangan", at("2026-12-01 23:59"))
    assert not covers(ws, "sipd", "Keuangan", at("2026-12-02 00:00"))
    assert not covers(ws, "portal", "Publik", at("2026-12-01 23:00"))


def test_end_instead_of_duration():
    ws = windows('  - {checks: [sipd], start: "2026-12-01 22:00", end: "2026-12-02 01:30"}\n')
    assert ws[0].duration == 3.5 * 3600


def test_a_weekly_window_for_a_group_recurs_on_its_days():
    ws = windows('  - {groups: [Publik], weekly: {days: [sat, sun], at: "01:00"}, duration: 1h}\n')
    assert covers(ws, "portal", "Publik", at("2026-11-28 01:30"))  # a Saturday
    assert covers(ws, "portal", "Publik", at("2026-11-29 01:00"))  # Sunday
    assert not covers(ws, "portal", "Publik", at("2026-11-30 01:30"))  # Monday
    assert not covers(ws, "sipd", "Keuangan", at("2026-11-28 01:30"))


def test_a_cron_window_for_all_checks():
    ws = windows('  - {all: true, cron: "0 3 1 * *", duration: 1h, note: bulanan}\n')
    assert covers(ws, "sipd", "Keuangan", at("2026-12-01 03:10"))
    assert not covers(ws, "sipd", "Keuangan", at("2026-12-02 03:10"))


def test_a_window_crossing_midnight_and_a_month_end():
    ws = windows('  - {checks: [sipd], weekly: {days: [mon], at: "23:00"}, duration: 2h}\n')
    assert covers(ws, "sipd", "Keuangan", at("2026-12-01 00:30"))  # Mon 30 Nov 23:00 + 2h


def test_weekly_windows_keep_local_time_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    ws = windows('  - {checks: [sipd], weekly: {days: [sun], at: "04:00"}, duration: 1h}\n',
                 tz="Europe/Berlin")
    spans = intervals(ws, "sipd", "Keuangan", at("2026-03-21 00:00", berlin),
                      at("2026-03-30 00:00", berlin), berlin)
    starts = [dt.datetime.fromtimestamp(s, berlin).strftime("%a %d %H:%M") for s, _ in spans]
    assert starts == ["Sun 22 04:00", "Sun 29 04:00"]  # clocks jump forward on the 29th
    assert spans[1][0] - spans[0][0] == 7 * 86400 - 3600


def test_intervals_are_merged_and_clipped_for_uptime():
    ws = windows('  - {checks: [sipd], start: "2026-12-01 22:00", duration: 2h}\n'
                 '  - {groups: [Keuangan], start: "2026-12-01 23:00", duration: 2h}\n')
    spans = intervals(ws, "sipd", "Keuangan", at("2026-12-01 00:00"), at("2026-12-02 00:30"), WIB)
    assert spans == [(at("2026-12-01 22:00"), at("2026-12-02 00:30"))]


def test_upcoming_lists_current_and_next_occurrences_in_order():
    ws = windows('  - {groups: [Publik], weekly: {days: [sun], at: "01:00"}, duration: 1h}\n'
                 '  - {checks: [sipd], start: "2026-12-01 22:00", duration: 2h}\n')
    found = upcoming(ws, at("2026-11-29 01:30"), 7, WIB)
    assert [dt.datetime.fromtimestamp(s, WIB).strftime("%d %H:%M") for _, s, _ in found] == [
        "29 01:00", "01 22:00", "06 01:00"]


@pytest.mark.parametrize(("yaml", "message"), [
    ('  - {checks: [sipd], duration: 2h}\n', "give exactly one of start, weekly or cron"),
    ('  - {checks: [nope], start: "2026-12-01 22:00", duration: 2h}\n', "'nope' is no check"),
    ('  - {start: "2026-12-01 22:00", duration: 2h}\n', "name what it covers"),
    ('  - {checks: [sipd], start: "2026-12-01 22:00"}\n', "needs a duration"),
    ('  - {checks: [sipd], start: "1 Dec", duration: 2h}\n', "expected a local time"),
    ('  - {checks: [sipd], cron: "every day", duration: 2h}\n', "expected a cron expression"),
    ('  - {checks: [sipd], weekly: {days: [sonday], at: "01:00"}, duration: 2h}\n',
     "expected a weekday"),
])
def test_bad_windows_are_config_errors_with_their_place(yaml: str, message: str):
    with pytest.raises(ConfigError) as info:
        windows(yaml)
    assert any(message in str(p) and p.line >= 6 for p in info.value.problems), [
        str(p) for p in info.value.problems]
