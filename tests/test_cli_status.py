"""`siaga status` against a running daemon: one table with the group as a column, states in
the configured language, and the incident with who is handling it."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from tests.test_silences_cli import cli, wait_for
from tests.test_storms import config_text


@pytest.fixture
async def daemon(tmp_path, targets, json_receiver, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich: a wide terminal, so no cell is folded
    portal, sipd = targets.url("p"), targets.url("s")
    checks = (f"  - {{name: portal, title: Portal, group: Publik, http: {{url: '{portal}'}}}}\n"
              f"  - {{name: sipd, group: Keuangan, http: {{url: '{sipd}'}}}}")
    text = config_text(tmp_path, json_receiver, checks).replace(
        "budi: {notify:", "budi: {name: Budi Santoso, notify:")
    d = Daemon(parse_config(text, str(tmp_path / "checks.yaml")), registry=CollectorRegistry())
    await d.start()
    (tmp_path / "checks.yaml").write_text(
        text.replace('listen: "127.0.0.1:0"', f'listen: "127.0.0.1:{d.server.port}"'))
    yield d
    await d.stop()


async def acknowledged_outage(daemon, tmp_path, targets, json_receiver, capsys) -> int:
    targets.status["p"] = 503
    await json_receiver.wait_for(1, timeout=5)
    (inc,) = daemon.pager.incidents.values()
    code, _ = await cli(tmp_path, capsys, "ack", str(inc.id), "--by", "budi")
    assert code == 0
    await wait_for(lambda: daemon.engine.runtime["sipd"].state.state.value == "up")
    return inc.id


def table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "│" in line or "┃" in line]


async def test_status_is_one_table_with_group_state_and_who_handles_the_incident(
        daemon, tmp_path, targets, json_receiver, capsys):
    incident = await acknowledged_outage(daemon, tmp_path, targets, json_receiver, capsys)
    code, out = await cli(tmp_path, capsys, "status")
    assert code == 0
    header, *rows = table_lines(out)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "grup", "layanan", "kondisi", "sejak", "latensi", "keterangan", "insiden"]
    portal = next(r for r in rows if "portal" in r)
    assert "Publik" in portal and "gangguan" in portal
    assert f"#{incident} ditangani oleh Budi Santoso" in portal
    assert "status 503, diharapkan" in portal
    sipd = next(r for r in rows if "sipd" in r)
    assert "Keuangan" in sipd and "normal" in sipd
    assert rows.index(portal) < rows.index(sipd)  # the group with a problem first
    assert out.count("┏") == 1  # one table, not one per group


async def test_status_speaks_english_with_lang_en(
        daemon, tmp_path, targets, json_receiver, capsys):
    incident = await acknowledged_outage(daemon, tmp_path, targets, json_receiver, capsys)
    code, out = await cli(tmp_path, capsys, "status", "--lang", "en")
    assert code == 0
    portal = next(r for r in table_lines(out) if "portal" in r)
    assert " down " in portal and f"#{incident} handled by Budi Santoso" in portal

