"""Silences and the CLI against a running daemon: `silence`, `silences`, `unsilence`,
`incidents`, `ack`, `resolve` — all through the HTTP API with the token."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.cli import main
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from tests.test_storms import config_text


@pytest.fixture
async def daemon(tmp_path, targets, json_receiver, store_setting):
    url = targets.url("p")
    checks = f"  - {{name: portal, title: Portal, group: Publik, http: {{url: '{url}'}}}}"
    text = config_text(tmp_path, json_receiver, checks, store=store_setting)
    d = Daemon(parse_config(text, str(tmp_path / "checks.yaml")), registry=CollectorRegistry())
    await d.start()
    path = tmp_path / "checks.yaml"
    # the CLI finds the daemon through the config's listen address: write the bound port
    path.write_text(text.replace('listen: "127.0.0.1:0"', f'listen: "127.0.0.1:{d.server.port}"'))
    yield d
    await d.stop()


async def cli(tmp_path, capsys, *args: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["-c", str(tmp_path / "checks.yaml"), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def wait_for(predicate, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_a_silenced_check_pages_nobody_and_pages_when_the_silence_is_removed(
        daemon, tmp_path, targets, json_receiver, capsys):
    code, out = await cli(tmp_path, capsys, "silence", "Publik", "--for", "2h",
                          "--reason", "migrasi server", "--by", "budi")
    assert code == 0 and "silence 1: Publik until" in out
    code, out = await cli(tmp_path, capsys, "silences")
    assert code == 0 and "migrasi server" in out and "budi" in out
    targets.status["p"] = 503
    await wait_for(lambda: daemon.engine.runtime["portal"].state.state.value == "down")
    await asyncio.sleep(1.5)
    assert json_receiver.posts == []
    (inc,) = daemon.pager.incidents.values()
    assert inc.suppressed == "silence"
    code, out = await cli(tmp_path, capsys, "unsilence", "1")
    assert code == 0
    posts = await json_receiver.wait_for(1, timeout=5)
    assert posts[0].path == "/budi"
    value = daemon.registry.get_sample_value
    assert value("siaga_notifications_suppressed_total", {"reason": "silence"}) == 1


async def test_changing_state_over_http_needs_the_token(daemon):
    base = f"http://127.0.0.1:{daemon.server.port}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/silences",
                             json={"target": "portal", "for": "1h", "reason": "x"}) as r:
            assert r.status == 401 and (await r.json())["error"] == "missing or wrong API token"
        async with http.post(f"{base}/api/v1/incidents/1/ack",
                             headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        headers = {"Authorization": f"Bearer {daemon.api_token}"}
        async with http.post(f"{base}/api/v1/silences", headers=headers,
                             json={"target": "nosuch", "for": "1h", "reason": "x"}) as r:
            assert r.status == 400 and "neither a check nor a group" in await r.text()
        async with http.post(f"{base}/api/v1/silences", headers=headers,
                             json={"target": "portal", "for": "soon", "reason": "x"}) as r:
            assert r.status == 400


async def test_incidents_ack_and_resolve_from_the_cli(
        daemon, tmp_path, targets, json_receiver, capsys):
    targets.status["p"] = 503
    await json_receiver.wait_for(1, timeout=5)
    (inc,) = daemon.pager.incidents.values()
    code, out = await cli(tmp_path, capsys, "incidents")
    assert code == 0 and "open" in out and "Portal" in out
    code, out = await cli(tmp_path, capsys, "ack", str(inc.id), "--note", "cek server",
                          "--by", "sari")
    assert code == 0 and "ditangani oleh sari" in out
    code, out = await cli(tmp_path, capsys, "ack", str(inc.id))
    assert code == 1 and "sudah ditangani oleh sari" in out
    code, out = await cli(tmp_path, capsys, "resolve", str(inc.id), "--note", "restart")
    assert code == 0 and "diselesaikan" in out
    await asyncio.sleep(1.5)  # still down, but resolved by hand: no new incident, no page
    assert not daemon.pager.incidents
    assert [p.json["title"].split(":")[0] for p in json_receiver.posts] == ["GANGGUAN", "PULIH"]
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{daemon.server.port}/api/v1/incidents/{inc.id}") as r:
        detail = await r.json()
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds[:1] == ["opened"] and "acknowledged" in kinds and "resolved" in kinds


async def test_the_cli_says_clearly_when_the_daemon_is_not_running(tmp_path, capsys):
    (tmp_path / "checks.yaml").write_text(
        f'siaga: {{listen: "127.0.0.1:9", state_dir: "{tmp_path}"}}\nchecks: []\n')
    code, out = await cli(tmp_path, capsys, "incidents")
    assert code == 1 and "cannot reach the daemon" in out
