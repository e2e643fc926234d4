"""Who is on duty: handoffs, layers, overrides, month ends, DST and the 14-day schedule.

The clock is walked, not slept: every moment is a local wall-clock time turned into a unix
timestamp in the zone under test.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from monitor.config.loader import parse_config
from monitor.paging.oncall.model import OnCall
from monitor.paging.oncall.roster import (
    admins,
    contact_opens,
    in_contact_hours,
    next_officer,
    on_duty,
    schedule,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
BERLIN = ZoneInfo("Europe/Berlin")

OFFICERS = """\
oncall:
  officers:
    budi: {notify: "json://127.0.0.1:9999/budi", contact_hours: "07:00-22:00"}
    sari: {notify: "json://127.0.0.1:9999/sari"}
    andi: {notify: "json://127.0.0.1:9999/andi"}
    kasi: {notify: "json://127.0.0.1:9999/kasi"}
    kabid: {notify: "json://127.0.0.1:9999/kabid"}
  groups: {atasan: [kasi, kabid]}
"""

PIKET = """\
  rotations:
    - {name: piket, every: 1d, handoff: "08:00", start: "2026-11-02", officers: [budi, sari, andi]}
"""

WEEKEND = """\
    - {name: akhir-pekan, every: 1w, handoff: "08:00", start: "2026-11-07",
       officers: [andi, sari], days: [sat, sun]}
"""

OVERRIDE = """\
  overrides:
    - {officer: kasi, from: "2026-12-24 08:00", to: "2026-12-26 08:00", reason: tukar jaga}
"""


def load(*parts: str) -> OnCall:
    """The `oncall:` section built from YAML pieces by the real loader."""
    oncall: OnCall = parse_config("".join(parts), "t.yaml", env={}).sections["oncall"]
    return oncall


def at(text: str, tz: ZoneInfo = JAKARTA) -> float:
    """The instant of local wall-clock time `text` ("2026-11-02 08:00") in `tz`."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(instant: float, tz: ZoneInfo = JAKARTA) -> str:
    return datetime.fromtimestamp(instant, tz).strftime("%Y-%m-%d %H:%M")


def who(oncall: OnCall, text: str, tz: ZoneInfo = JAKARTA) -> str | None:
    return on_duty(oncall, at(text, tz), tz).officer


def test_nobody_is_on_duty_before_the_first_handoff():
    oncall = load(OFFICERS, PIKET)
    assert who(oncall, "2026-11-02 07:59") is None
    assert who(oncall, "2026-11-02 08:00") == "budi"


def test_the_handoff_happens_exactly_at_0800_local_and_officers_cycle():
    oncall = load(OFFICERS, PIKET)
    assert who(oncall, "2026-11-03 07:59") == "budi"
    assert who(oncall, "2026-11-03 08:00") == "sari"
    assert who(oncall, "2026-11-04 08:00") == "andi"
    assert who(oncall, "2026-11-05 08:00") == "budi"


def test_a_duty_names_its_rotation_and_shift_bounds():
    duty = on_duty(load(OFFICERS, PIKET), at("2026-11-03 15:00"), JAKARTA)
    assert (duty.officer, duty.rotation, duty.override) == ("sari", "piket", False)
    assert (local(duty.start), local(duty.end)) == ("2026-11-03 08:00", "2026-11-04 08:00")


def test_the_weekend_layer_wins_from_saturday_to_monday_handoff():
    oncall = load(OFFICERS, PIKET, WEEKEND)
    assert who(oncall, "2026-11-07 07:59") == "sari"  # Friday's piket shift
    saturday = on_duty(oncall, at("2026-11-07 08:00"), JAKARTA)
    assert (saturday.officer, saturday.rotation) == ("andi", "akhir-pekan")
    assert who(oncall, "2026-11-08 20:00") == "andi"
    assert who(oncall, "2026-11-09 07:59") == "andi"
    monday = on_duty(oncall, at("2026-11-09 08:00"), JAKARTA)
    assert (monday.officer, monday.rotation) == ("sari", "piket")
    assert who(oncall, "2026-11-14 08:00") == "sari"  # the weekend layer's second week


def test_a_restricted_layer_s_duty_ends_where_its_days_end():
    duty = on_duty(load(OFFICERS, PIKET, WEEKEND), at("2026-11-07 10:00"), JAKARTA)
    assert (local(duty.start), local(duty.end)) == ("2026-11-07 08:00", "2026-11-09 08:00")


def test_an_override_beats_every_layer_and_ends_on_time():
    oncall = load(OFFICERS, PIKET, WEEKEND, OVERRIDE)
    assert who(oncall, "2026-12-24 07:59") == "budi"
    duty = on_duty(oncall, at("2026-12-24 08:00"), JAKARTA)
    assert (duty.officer, duty.override, duty.reason, duty.rotation) == (
        "kasi", True, "tukar jaga", None)
    assert who(oncall, "2026-12-26 07:59") == "kasi"  # already Saturday: still the override
    after = on_duty(oncall, at("2026-12-26 08:00"), JAKARTA)
    assert (after.officer, after.rotation, after.override) == ("sari", "akhir-pekan", False)


def test_a_years_long_override_with_one_inside_it_gives_each_its_own_span():
    """Under an override only overrides' edges count (the rotation's daily handoffs inside a
    79-year override were all walked: 0.8 s per page, on the event loop)."""
    oncall = load(OFFICERS, PIKET, """\
  overrides:
    - {officer: budi, from: "2020-01-01 00:00", to: "2099-01-01 00:00"}
    - {officer: sari, from: "2026-12-24 10:00", to: "2026-12-24 12:00", reason: rapat}
""")
    before = on_duty(oncall, at("2026-12-24 09:00"), JAKARTA)
    assert (before.officer, local(before.start), local(before.end)) == (
        "budi", "2020-01-01 00:00", "2026-12-24 10:00")
    inner = on_duty(oncall, at("2026-12-24 11:00"), JAKARTA)
    assert (inner.officer, inner.reason, local(inner.start), local(inner.end)) == (
        "sari", "rapat", "2026-12-24 10:00", "2026-12-24 12:00")
    after = on_duty(oncall, at("2026-12-25 09:00"), JAKARTA)
    assert (after.officer, local(after.start), local(after.end)) == (
        "budi", "2026-12-24 12:00", "2099-01-01 00:00")


def test_a_shift_cut_short_by_an_override_says_so_in_its_end():
    duty = on_duty(load(OFFICERS, PIKET, OVERRIDE), at("2026-12-24 06:00"), JAKARTA)
    assert (duty.officer, local(duty.end)) == ("budi", "2026-12-24 08:00")


def test_a_shift_runs_across_the_end_of_november():
    oncall = load(OFFICERS, PIKET)
    assert [who(oncall, t) for t in ("2026-11-30 23:59", "2026-12-01 00:00",
                                     "2026-12-01 07:59", "2026-12-01 08:00")] == [
        "sari", "sari", "sari", "andi"]


def test_a_shift_runs_across_new_year():
    oncall = load(OFFICERS, PIKET)
    assert [who(oncall, t) for t in ("2026-12-31 08:00", "2027-01-01 00:00",
                                     "2027-01-01 07:59", "2027-01-01 08:00")] == [
        "andi", "andi", "andi", "budi"]


def berlin(start: str, every: str = "1d") -> OnCall:
    return load("siaga: {timezone: Europe/Berlin}\n", OFFICERS,
                "  rotations:\n"
                f"    - {{name: piket, every: {every}, start: '{start}',"
                " officers: [budi, sari]}\n")


def test_the_handoff_stays_at_0800_when_clocks_spring_forward():
    oncall = berlin("2026-03-27")  # Sunday 2026-03-29 02:00 → 03:00
    assert who(oncall, "2026-03-29 07:59", BERLIN) == "sari"
    assert who(oncall, "2026-03-29 08:00", BERLIN) == "budi"
    assert who(oncall, "2026-03-30 08:00", BERLIN) == "sari"
    short = on_duty(oncall, at("2026-03-28 12:00", BERLIN), BERLIN)
    assert short.end - short.start == 23 * 3600
    assert local(short.end, BERLIN) == "2026-03-29 08:00"


def test_the_handoff_stays_at_0800_when_clocks_fall_back():
    oncall = berlin("2026-10-23")  # Sunday 2026-10-25 03:00 → 02:00
    assert who(oncall, "2026-10-25 07:59", BERLIN) == "sari"
    assert who(oncall, "2026-10-25 08:00", BERLIN) == "budi"
    long = on_duty(oncall, at("2026-10-24 12:00", BERLIN), BERLIN)
    assert long.end - long.start == 25 * 3600
    assert who(oncall, "2026-10-26 07:59", BERLIN) == "budi"
    assert who(oncall, "2026-10-26 08:00", BERLIN) == "sari"


def test_sub_day_shifts_keep_fixed_length_across_a_dst_change():
    oncall = berlin("2026-03-27", every="12h")
    before = on_duty(oncall, at("2026-03-28 21:00", BERLIN), BERLIN)
    assert local(before.start, BERLIN) == "2026-03-28 20:00"
    assert before.end - before.start == 12 * 3600
    assert local(before.end, BERLIN) == "2026-03-29 09:00"  # documented: elapsed time


def test_week_long_shifts_hand_off_once_a_week():
    oncall = load(OFFICERS, """\
  rotations:
    - {name: mingguan, every: 1w, handoff: "09:00", start: "2026-11-02", officers: [budi, sari]}
""")
    assert who(oncall, "2026-11-06 23:00") == "budi"
    assert who(oncall, "2026-11-09 08:59") == "budi"
    assert who(oncall, "2026-11-09 09:00") == "sari"
    assert who(oncall, "2026-11-16 09:00") == "budi"
    duty = on_duty(oncall, at("2026-11-10 12:00"), JAKARTA)
    assert (local(duty.start), local(duty.end)) == ("2026-11-09 09:00", "2026-11-16 09:00")


def test_a_rotation_starting_in_the_future_has_no_one_yet():
    oncall = load(OFFICERS, """\
  rotations:
    - {name: piket, start: "2027-01-04", officers: [budi, sari]}
""")
    duty = on_duty(oncall, at("2026-12-31 12:00"), JAKARTA)
    assert (duty.officer, duty.rotation, duty.start) == (None, None, None)
    assert next_officer(oncall, at("2026-12-31 12:00"), JAKARTA, after=None) is None
    assert who(oncall, "2027-01-04 08:00") == "budi"  # handoff defaults to 08:00


def test_night_hours_belong_to_the_duty_day_they_start_on():
    oncall = load(OFFICERS, PIKET, """\
    - {name: malam, handoff: "17:00", start: "2026-11-02", officers: [kasi],
       days: [mon, tue, wed, thu, fri], hours: "17:00-08:00"}
""")
    assert who(oncall, "2026-11-06 16:59") == "sari"
    assert who(oncall, "2026-11-06 17:00") == "kasi"  # Friday night
    assert who(oncall, "2026-11-07 02:00") == "kasi"  # still Friday's night
    assert who(oncall, "2026-11-07 20:00") == "andi"  # Saturday: no night layer


def test_the_next_officer_follows_the_winning_rotation():
    oncall = load(OFFICERS, PIKET, WEEKEND, OVERRIDE)
    weekday = at("2026-11-03 10:00")
    assert next_officer(oncall, weekday, JAKARTA, after="sari") == "andi"
    assert next_officer(oncall, weekday, JAKARTA, after="andi") == "budi"
    assert next_officer(oncall, weekday, JAKARTA, after="kasi") == "sari"  # not in rotation
    assert next_officer(oncall, at("2026-11-07 10:00"), JAKARTA, after="andi") == "sari"
    # Under the override the rotation underneath decides who comes next.
    assert next_officer(oncall, at("2026-12-24 10:00"), JAKARTA, after="kasi") == "sari"


def test_a_one_person_rotation_has_no_next_officer():
    oncall = load(OFFICERS, '  rotations: [{name: solo, start: "2026-11-02", officers: [budi]}]\n')
    assert next_officer(oncall, at("2026-11-03 10:00"), JAKARTA, after="budi") is None


def test_the_schedule_lists_fourteen_days_as_merged_spans():
    oncall = load(OFFICERS, PIKET, WEEKEND)
    rows = schedule(oncall, at("2026-11-02 08:00"), 14, JAKARTA)
    assert [(local(r.start), r.officer, r.rotation) for r in rows] == [
        ("2026-11-02 08:00", "budi", "piket"),
        ("2026-11-03 08:00", "sari", "piket"),
        ("2026-11-04 08:00", "andi", "piket"),
        ("2026-11-05 08:00", "budi", "piket"),
        ("2026-11-06 08:00", "sari", "piket"),
        ("2026-11-07 08:00", "andi", "akhir-pekan"),
        ("2026-11-09 08:00", "sari", "piket"),
        ("2026-11-10 08:00", "andi", "piket"),
        ("2026-11-11 08:00", "budi", "piket"),
        ("2026-11-12 08:00", "sari", "piket"),
        ("2026-11-13 08:00", "andi", "piket"),
        ("2026-11-14 08:00", "sari", "akhir-pekan"),
    ]
    assert local(rows[-1].end) == "2026-11-16 08:00"
    assert all(a.end == b.start for a, b in pairwise(rows))


def test_the_schedule_shows_gaps_and_overrides():
    oncall = load(OFFICERS, PIKET, OVERRIDE)
    rows = schedule(oncall, at("2026-11-01 00:00"), 2, JAKARTA)
    assert [(local(r.start), r.officer) for r in rows] == [
        ("2026-11-01 00:00", None), ("2026-11-02 08:00", "budi")]
    rows = schedule(oncall, at("2026-12-24 00:00"), 3, JAKARTA)
    assert [(local(r.start), r.officer, r.override) for r in rows] == [
        ("2026-12-24 00:00", "budi", False), ("2026-12-24 08:00", "kasi", True),
        ("2026-12-26 08:00", "budi", False)]


def test_admins_default_to_the_first_rotation_and_expand_groups():
    assert admins(load(OFFICERS, PIKET, WEEKEND)) == ("budi", "sari", "andi")
    assert admins(load(OFFICERS, "  admins: [atasan, budi, kasi]\n")) == ("kasi", "kabid", "budi")
    assert admins(load(OFFICERS)) == ("budi", "sari", "andi", "kasi", "kabid")


def test_contact_hours_are_read_on_the_local_clock():
    oncall = load(OFFICERS)
    assert in_contact_hours(oncall, "budi", at("2026-11-02 21:59"), JAKARTA)
    assert not in_contact_hours(oncall, "budi", at("2026-11-02 22:00"), JAKARTA)
    assert in_contact_hours(oncall, "sari", at("2026-11-02 03:00"), JAKARTA)


def test_contact_hours_next_begin_at_their_start_on_the_local_clock():
    oncall = load(OFFICERS)
    opens = contact_opens(oncall, "budi", at("2026-11-02 03:00"), JAKARTA)
    assert opens is not None and local(opens) == "2026-11-02 07:00"  # later the same night
    opens = contact_opens(oncall, "budi", at("2026-11-02 22:30"), JAKARTA)
    assert opens is not None and local(opens) == "2026-11-03 07:00"  # the next morning
    assert contact_opens(oncall, "budi", at("2026-11-02 07:00"), JAKARTA) is None
    assert contact_opens(oncall, "sari", at("2026-11-02 03:00"), JAKARTA) is None  # no hours


def test_contact_hours_across_midnight_open_at_their_start():
    oncall = load(OFFICERS.replace('contact_hours: "07:00-22:00"', 'contact_hours: "22:00-06:00"'))
    assert contact_opens(oncall, "budi", at("2026-11-02 23:30"), JAKARTA) is None
    assert contact_opens(oncall, "budi", at("2026-11-03 05:59"), JAKARTA) is None
    opens = contact_opens(oncall, "budi", at("2026-11-03 06:00"), JAKARTA)
    assert opens is not None and local(opens) == "2026-11-03 22:00"


def test_contact_hours_that_begin_in_a_dst_gap_open_as_if_the_clock_had_not_moved():
    oncall = load(OFFICERS.replace('contact_hours: "07:00-22:00"', 'contact_hours: "02:30-20:00"'))
    # Berlin skips 02:00-03:00 on 2026-03-29: the window opens at 03:30 summer time
    opens = contact_opens(oncall, "budi", at("2026-03-29 01:00", BERLIN), BERLIN)
    assert opens is not None and local(opens, BERLIN) == "2026-03-29 03:30"
    assert opens - at("2026-03-29 01:00", BERLIN) == 1.5 * 3600
