"""SLA reports from a store with a known history: exact figures, CSV text, rollups."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from monitor.checking.state import State, Transition
from monitor.cli import main
from monitor.config.model import Check
from monitor.incidents.model import Incident, Kind, Status
from monitor.reporting.report import (
    build,
    coverage_note,
    days_window,
    month_window,
    open_readonly,
    to_csv,
    to_html,
)
from monitor.reporting.rollup import check_uptime, prune, roll_up
from monitor.store.engine import Store
from monitor.store.records import add_transitions, insert_incident, save_incident

JKT = ZoneInfo("Asia/Jakarta")
H, D = 3600.0, 86400.0
NOV, DEC = month_window("2026-11", JKT)


def at_day(day: int, hour: float = 0) -> float:
    return dt.datetime(2026, 11, day, tzinfo=JKT).timestamp() + hour * H


CHECKS = [
    Check("sipd", "http", None, group="Keuangan", title="SIPD", slo=0.995),
    Check("bphtb", "http", None, group="Keuangan", title="BPHTB Online", slo=0.999),
    Check("web", "http", None, group="Portal", title="Portal", slo=0.99),
]


def t(check: str, old: State, new: State, at: float) -> Transition:
    return Transition(check, old, new, "", at)


def incident(check: str, opened: float, acked: float | None, resolved: float | None,
             affected: dict[str, str] | None = None) -> Incident:
    return Incident(0, check, "Keuangan", check, Status.RESOLVED if resolved else Status.OPEN,
                    "down", opened, Kind.DOWN, affected or {}, acked_at=acked,
                    acked_by="budi" if acked else None, resolved_at=resolved)


@pytest.fixture
def state_dir(tmp_path):
    store = Store(tmp_path)
    store.call(add_transitions, [
        t("sipd", State.UNKNOWN, State.UP, NOV - 40 * D),
        t("sipd", State.UP, State.DOWN, at_day(3, 10)),
        t("sipd", State.DOWN, State.UP, at_day(3, 13)),  # 180 min
        t("bphtb", State.UNKNOWN, State.UP, at_day(16)),  # added mid-month: 15 days
        t("bphtb", State.UP, State.DOWN, at_day(20)),
        t("bphtb", State.DOWN, State.UP, at_day(20, 0.5)),  # 30 min
        t("web", State.UNKNOWN, State.UP, NOV - D),
    ])

    def incidents(conn):
        for inc in (incident("sipd", at_day(3, 10), at_day(3, 10.25), at_day(3, 13)),
                    incident("bphtb", at_day(20), at_day(20, 0.5), at_day(20, 0.5),
                             affected={"sipd": "grouped"}),
                    incident("web", at_day(25), None, None)):
            insert_incident(conn, inc)
            save_incident(conn, inc)

    store.call(incidents)
    store.close()
    return tmp_path


def report(state_dir):
    conn = open_readonly(state_dir)
    try:
        return build(conn, CHECKS, NOV, DEC, now=DEC + D, timezone="Asia/Jakarta")
    finally:
        conn.close()


def test_it_reports_time_weighted_uptime_per_check_and_group(state_dir):
    rep = report(state_dir)
    lines = {ln.check: ln for ln in rep.checks}
    assert lines["sipd"].percent == pytest.approx(100 * (720 - 3) / 720)
    assert lines["sipd"].downtime_minutes == 180
    assert lines["bphtb"].percent == pytest.approx(100 * (360 - 0.5) / 360)
    assert lines["bphtb"].uptime.counted == 15 * D
    assert lines["web"].percent == 100.0
    groups = {g.group: g for g in rep.groups}
    assert groups["Keuangan"].percent == pytest.approx(100 * (1080 - 3.5) / 1080)


def test_it_counts_incidents_and_mean_times_to_acknowledge_and_resolve(state_dir):
    lines = {ln.check: ln for ln in report(state_dir).checks}
    assert lines["sipd"].incidents == 2  # its own and the grouped one
    assert lines["sipd"].mtta == pytest.approx((15 * 60 + 30 * 60) / 2)
    assert lines["sipd"].mttr == pytest.approx((3 * H + 0.5 * H) / 2)
    assert lines["web"].incidents == 1
    assert lines["web"].mtta is None and lines["web"].mttr is None


def test_it_judges_each_slo(state_dir):
    rep = report(state_dir)
    assert [(ln.check, ln.met) for ln in rep.checks] == [
        ("sipd", True), ("bphtb", False), ("web", True)]


def test_csv_has_exact_figures_by_group_with_each_total_under_its_members(state_dir):
    assert to_csv(report(state_dir)) == (
        "Group,Check name,Service,Uptime (%),Downtime (minutes),Incidents,"
        "Mean time to acknowledge (minutes),Mean time to resolve (minutes),"
        "SLO objective (%),SLO met,Data coverage (%)\r\n"
        "Keuangan,sipd,SIPD,99.583,180.0,2,22.5,105.0,99.50,yes,100.0\r\n"
        "Keuangan,bphtb,BPHTB Online,99.861,30.0,1,30.0,30.0,99.90,no,50.0\r\n"
        "Keuangan,,Total Keuangan,99.676,210.0,2,22.5,105.0,,no,75.0\r\n"
        "Portal,web,Portal,100.000,0.0,1,,,99.00,yes,100.0\r\n"
        "Portal,,Total Portal,100.000,0.0,1,,,,yes,100.0\r\n")


def test_csv_for_excel_with_indonesian_settings_uses_semicolons_and_decimal_commas(state_dir):
    lines = to_csv(report(state_dir), "id", "id").splitlines()
    assert lines[0].startswith("Kelompok;Nama pemeriksaan;Layanan;Ketersediaan (%);"
                               "Lama gangguan (menit);Jumlah insiden;")
    assert lines[1] == "Keuangan;sipd;SIPD;99,583;180,0;2;22,5;105,0;99,50;ya;100,0"
    assert lines[3] == "Keuangan;;Total Keuangan;99,676;210,0;2;22,5;105,0;;tidak;75,0"


def test_the_coverage_note_names_the_check_added_mid_month(state_dir):
    assert coverage_note(report(state_dir), "id") == (
        "Cakupan data: 1 layanan tidak dipantau sepanjang periode (ditambahkan belakangan "
        "atau pemantau tidak berjalan); angkanya hanya mencakup waktu dengan data: "
        "BPHTB Online (50,0%).")


def test_html_is_a_self_contained_printable_page(state_dir):
    page = to_html(report(state_dir), "en")
    assert page.startswith("<!doctype html>")
    assert "BPHTB Online" in page and "99.861" in page and "@media print" in page
    assert "http://" not in page and "https://" not in page


def test_from_to_dates_include_the_last_day():
    start, end = days_window("2026-11-01", "2026-11-30", JKT)
    assert (start, end) == (NOV, DEC)


def test_rollups_keep_figures_after_raw_transitions_are_pruned(state_dir):
    store = Store(state_dir)
    now = DEC + 60 * D
    before = store.call(check_uptime, "sipd", NOV, DEC, now)
    assert store.call(roll_up, now, JKT) > 0
    # sipd and bphtb each keep one carrier of their state and lose two older transitions
    assert store.call(lambda c: prune(c, now, JKT, raw_days=35)) == 4
    after = store.call(check_uptime, "sipd", NOV, DEC, now)
    store.close()
    assert after.up == before.up and after.down == before.down == 3 * H


def test_the_report_reads_the_store_while_it_is_open_for_writing(state_dir):
    writer = Store(state_dir)
    try:
        assert report(state_dir).checks[0].downtime_minutes == 180
    finally:
        writer.close()


def test_hourly_rollups_are_written_only_for_hours_that_were_not_fully_up(state_dir):
    store = Store(state_dir)
    store.call(roll_up, DEC, JKT)
    rows = store.conn.execute(
        "SELECT start, up_seconds, down_seconds FROM rollups "
        "WHERE check_name = 'sipd' AND period = 'hour' AND start >= ? ORDER BY start",
        (NOV,)).fetchall()
    days = store.conn.execute("SELECT COUNT(*) FROM rollups WHERE check_name = 'sipd' "
                              "AND period = 'day' AND start >= ?", (NOV,)).fetchone()[0]
    store.close()
    assert [tuple(r) for r in rows] == [(at_day(3, h), 0.0, H) for h in (10, 11, 12)]
    assert days == 30


async def test_the_periodic_task_rolls_up_and_prunes(state_dir):
    import asyncio

    from monitor.config.model import Config, Settings
    from monitor.reporting.rollup import run

    store = Store(state_dir)
    config = Config("checks.yaml", Settings(timezone="Asia/Jakarta"), tuple(CHECKS))
    task = asyncio.create_task(run(store, lambda: config, clock=lambda: DEC + 60 * D))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if store.call(lambda c: c.execute("SELECT COUNT(*) FROM transitions").fetchone()[0]) == 3:
            break
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    after = store.call(check_uptime, "sipd", NOV, DEC, DEC + 60 * D)
    store.close()
    assert after.down == 3 * H and after.counted == 30 * D


MANAGER_CONFIG = """
siaga: {{state_dir: "{state}", language: id, agency: "Diskominfo Kabupaten Contoh"}}
checks:
  - {{name: web, group: Portal, title: Portal, slo: 0.99, http: {{url: "http://127.0.0.1:9/"}}}}
  - {{name: sipd, group: Keuangan, title: SIPD, slo: 0.995, http: {{url: "http://127.0.0.1:9/"}}}}
  - {{name: bphtb, group: Keuangan, title: BPHTB Online, slo: 0.999,
      http: {{url: "http://127.0.0.1:9/"}}}}
"""


def manager_config(state_dir):
    path = state_dir / "checks.yaml"
    path.write_text(MANAGER_CONFIG.format(state=state_dir))
    return str(path)


def test_the_report_names_the_agency_period_and_time_with_group_totals_under_members(
        state_dir, capsys):
    code = main(["-c", manager_config(state_dir), "report", "--month", "2026-11"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Laporan ketersediaan layanan" in out and "Diskominfo Kabupaten Contoh" in out
    assert "Periode: 2026-11-01 – 2026-11-30 (Asia/Jakarta)" in out
    assert re.search(r"Dibuat: \d{4}-\d\d-\d\d \d\d:\d\d WIB", out)
    order = [out.index(x) for x in ("SIPD", "BPHTB Online", "Total Keuangan", "Portal",
                                    "Total Portal")]
    assert order == sorted(order)
    assert "99,583" in out and "99,676" in out  # Indonesian decimal commas
    assert "BPHTB Online (50,0%)" in out  # the coverage note


def test_report_csv_with_locale_id_opens_in_indonesian_excel(state_dir, capsys):
    code = main(["-c", manager_config(state_dir), "report", "--month", "2026-11",
                 "--format", "csv", "--locale", "id", "-o", str(state_dir / "r.csv")])
    assert code == 0 and capsys.readouterr().out == ""
    raw = (state_dir / "r.csv").read_bytes()
    assert raw.startswith("\ufeffKelompok;Nama pemeriksaan;".encode())  # BOM: Excel reads UTF-8
    assert "Keuangan;;Total Keuangan;99,676;210,0;" in raw.decode("utf-8-sig")
