"""The CLI when the officer needs it most (#15): a half-edited checks.yaml, unset secrets,
a missing incident, a port taken by another program."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from aiohttp import web

from tests.test_silences_cli import cli, daemon  # noqa: F401  (the fixture)


def break_the_file(tmp_path) -> None:
    """A colleague's edit half done: a tab, a secret nobody exported on this shell."""
    path = tmp_path / "checks.yaml"
    text = path.read_text().replace("checks:\n", "checks:\n\t- {name: baru, http: {url: x}}\n")
    path.write_text(text + '\nextra: {token: "${NOT_EXPORTED_HERE}"}\n')


async def test_incidents_and_ack_work_while_the_file_is_half_edited(
        daemon, tmp_path, targets, json_receiver, capsys):  # noqa: F811
    targets.status["p"] = 503
    await json_receiver.wait_for(1, timeout=5)
    (inc,) = daemon.pager.incidents.values()
    break_the_file(tmp_path)
    code, out = await cli(tmp_path, capsys, "incidents")
    assert code == 0 and "Portal" in out
    assert "checks.yaml is not valid" in out
    assert f"listen 127.0.0.1:{daemon.server.port}" in out and "api.token" in out
    code, out = await cli(tmp_path, capsys, "ack", str(inc.id), "--by", "budi")
    assert code == 0 and "ditangani oleh budi" in out


async def test_ack_of_a_missing_incident_says_it_does_not_exist_without_http_codes(
        daemon, tmp_path, capsys):  # noqa: F811
    code, out = await cli(tmp_path, capsys, "ack", "99", "--by", "budi")
    assert code == 1
    assert out.strip() == "insiden 99 tidak ada"


async def test_ack_without_by_names_the_officer_matching_the_login(
        daemon, tmp_path, targets, json_receiver, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setattr("monitor.cli.people.login_name", lambda: "budi")
    targets.status["p"] = 503
    await json_receiver.wait_for(1, timeout=5)
    (inc,) = daemon.pager.incidents.values()
    code, out = await cli(tmp_path, capsys, "ack", str(inc.id))
    assert code == 0 and "ditangani oleh budi" in out


async def test_status_refuses_another_program_answering_on_the_port(tmp_path, capsys):
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"checks": []})

    app = web.Application()
    app.router.add_get("/api/v1/checks", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    (tmp_path / "checks.yaml").write_text(
        f'siaga: {{listen: "127.0.0.1:{port}", state_dir: "{tmp_path}"}}\nchecks: []\n')
    try:
        code, out = await cli(tmp_path, capsys, "status")
    finally:
        await runner.cleanup()
    assert code == 1 and f"the program answering at http://127.0.0.1:{port} is not Siaga" in out


async def test_status_refuses_a_siaga_with_another_state_dir(daemon, tmp_path, capsys):  # noqa: F811
    (tmp_path / "state" / "instance.id").write_text("someone-else\n")
    code, out = await cli(tmp_path, capsys, "status")
    assert code == 1 and "is another instance" in out and str(tmp_path / "state") in out


@pytest.mark.slow
def test_run_on_a_port_in_use_says_so_in_one_line_and_exits_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "checks.yaml").write_text(
            f'siaga: {{listen: "127.0.0.1:{port}", state_dir: "{tmp_path / "state"}"}}\n'
            "checks: []\n")
        proc = subprocess.run([sys.executable, "-m", "monitor", "-c",
                               str(tmp_path / "checks.yaml"), "run"],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "siaga:" in line]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "siaga.listen" in lines[0]


def test_siaga_timezone_may_be_written_wib_wita_or_wit(tmp_path):
    from monitor.config.loader import parse_config

    for abbr, zone in (("WIB", "Asia/Jakarta"), ("WITA", "Asia/Makassar"),
                       ("WIT", "Asia/Jayapura")):
        config = parse_config(f"siaga: {{timezone: {abbr}}}\nchecks: []\n",
                              str(tmp_path / "checks.yaml"))
        assert config.settings.timezone == zone




def validate(tmp_path, capsys, text: str) -> tuple[int, str]:
    from monitor.cli import main

    path = tmp_path / "checks.yaml"
    path.write_text(text)
    code = main(["-c", str(path), "validate"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_indentation_mistake_is_said_in_plain_words_with_the_line_and_a_caret(
        tmp_path, capsys):
    code, out = validate(tmp_path, capsys, "checks:\n  - name: a\n    tcp: {host: h, port: 1}\n"
                                           "   - name: b\n")
    assert code == 2
    assert ("line 4: this line is indented differently from the ones above it — use 2 or 4 "
            "spaces, no tabs") in out
    assert "\n       - name: b\n       ^\n" in out
    assert "expected <block end>" not in out


def test_a_tab_is_named_as_such(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, "checks:\n  - name: a\n\ttcp: {host: h, port: 1}\n")
    assert code == 2 and "line 3: a tab character" in out and "cannot start any token" not in out


def test_expect_one_level_too_shallow_says_where_it_belongs(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, "checks:\n  - name: sipd\n    http:\n"
                                           "      url: https://sipd.example.go.id/\n"
                                           "    expect: {status: 200}\n")
    assert code == 2
    assert "checks[sipd].expect: `expect` belongs under `http:` (line 3)" in out
    assert "unknown key" not in out


def test_paths_name_the_check(tmp_path, capsys):
    code, out = validate(tmp_path, capsys, "checks:\n  - name: portal\n    tcp: {host: h, port: 1}"
                                           "\n  - name: sipd\n    http: {url: 'htp:/x'}\n")
    assert code == 2 and "checks[sipd].http.url:" in out


def test_a_holiday_layer_takes_national_holidays_and_the_agency_days_and_oncall_shows_them(
        tmp_path, capsys):
    from monitor.cli import main

    (tmp_path / "checks.yaml").write_text(
        f'siaga: {{state_dir: "{tmp_path}"}}\nchecks: []\noncall:\n'
        "  officers:\n    budi: {notify: 'json://127.0.0.1:9/'}\n"
        "    sari: {name: Sari Dewi, notify: 'json://127.0.0.1:9/'}\n"
        "  rotations:\n    - {name: kerja, officers: [budi]}\n"
        "    - {name: libur, days: [sat, sun, holiday], officers: [sari]}\n"
        "  holidays:\n    - {date: 2026-12-24, name: cuti bersama Natal}\n")
    code = main(["-c", str(tmp_path / "checks.yaml"), "oncall", "--at", "2026-08-17 10:00",
                 "--days", "30"])
    out = capsys.readouterr().out
    assert code == 0 and "On duty / piket at 2026-08-17 10:00 WIB: Sari Dewi (sari)" in out
    assert "Mon 17 Aug Hari Kemerdekaan Republik Indonesia" in out
    code = main(["-c", str(tmp_path / "checks.yaml"), "oncall", "--at", "2026-12-24 10:00"])
    out = capsys.readouterr().out
    assert "Sari Dewi (sari)" in out.splitlines()[0] and "cuti bersama Natal" in out


def test_maintenance_with_nothing_scheduled_says_so(tmp_path, capsys):
    from monitor.cli import main

    (tmp_path / "checks.yaml").write_text(f'siaga: {{state_dir: "{tmp_path}"}}\nchecks: []\n')
    code = main(["-c", str(tmp_path / "checks.yaml"), "maintenance"])
    out = capsys.readouterr().out
    assert code == 0 and out.strip() == "tidak ada pemeliharaan terjadwal dalam 14 hari ke depan"
