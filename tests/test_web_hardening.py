"""The HTTP server under odd input and odd clients: oversized numbers, undecodable headers,
a scraper that stops reading, a reload that changes the tokens or fails with a secret in it.
A real daemon on 127.0.0.1 each time; nothing may answer 5xx or log a traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.probes.base import ProbeResult
from monitor.web.app import Server, build_app

CONFIG = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", api_token: "{token}"}}
checks:
  - {{name: site, title: "Layanan\\x01 Publik", public: true, http: {{url: "{url}"}}}}
  - {{name: backup, heartbeat: {{every: 1h, token: "{push}"}}}}
"""
TOKEN = "old-api-token-0123456789"
PUSH = "push-token-0123456789abcdef"


def write(tmp_path, url: str, *, token: str = TOKEN, push: str = PUSH) -> str:
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path, token=token, url=url, push=push))
    return str(path)


@pytest.fixture
async def daemon(tmp_path, targets):
    path = write(tmp_path, targets.url("site"))
    d = Daemon(parse_config(Path(path).read_text(), path), registry=CollectorRegistry())
    await d.start()
    yield d
    await d.stop()


def base(d: Daemon) -> str:
    assert d.server is not None
    return f"http://127.0.0.1:{d.server.port}"


async def call(method: str, url: str, **kw) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.request(method, url, **kw) as r:
        return r.status, await r.text()


async def raw(port: int, request: bytes) -> int:
    """Send bytes as they are (aiohttp's client would refuse to) and return the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    await writer.wait_closed()
    return int(line.split()[1])


# -- case 9: numbers and bytes from outside ---------------------------------------------------
async def test_a_push_with_a_huge_exit_code_is_refused_and_later_pings_still_count(daemon):
    url = f"{base(daemon)}/push/backup/{PUSH}"
    code, body = await call("POST", f"{url}/fail?exit_code=99999999999999999999")
    assert code == 400 and "exit_code" in body
    for _ in range(2):
        code, _ = await call("GET", url)
        assert code == 200
    assert daemon.engine.runtime["backup"].last.reason == "ping received"


async def test_a_fail_ping_with_an_ordinary_exit_code_is_recorded(daemon):
    code, _ = await call("GET", f"{base(daemon)}/push/backup/{PUSH}/fail?exit_code=3")
    assert code == 200
    assert "(exit code 3)" in daemon.engine.runtime["backup"].last.reason


async def test_a_limit_that_is_not_a_number_is_a_400(daemon):
    code, body = await call("GET", f"{base(daemon)}/api/v1/incidents?limit=abc")
    assert code == 400 and "limit" in body


async def test_an_incident_id_too_big_for_the_store_is_a_404(daemon):
    code, _ = await call("GET", f"{base(daemon)}/api/v1/incidents/99999999999999999999")
    assert code == 404
    code, _ = await call("POST", f"{base(daemon)}/api/v1/incidents/99999999999999999999/ack",
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert code == 404


async def test_a_silence_id_too_big_for_the_store_is_a_404(daemon):
    code, _ = await call("DELETE", f"{base(daemon)}/api/v1/silences/99999999999999999999",
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert code == 404


async def test_a_non_utf8_authorization_header_is_a_401(daemon):
    request = (b"POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
               b"Authorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n")
    assert await raw(daemon.server.port, request) == 401


# -- case 11: web-facing settings follow a reload ----------------------------------------------
async def test_a_new_api_token_works_after_a_reload_and_the_old_one_stops(daemon, tmp_path,
                                                                         targets):
    write(tmp_path, targets.url("site"), token="new-api-token-9876543210")
    assert await daemon.reloader.reload("test")
    url = f"{base(daemon)}/api/v1/reload"
    code, _ = await call("POST", url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert code == 401
    code, _ = await call("POST", url, headers={"Authorization": "Bearer new-api-token-9876543210"})
    assert code == 200


async def test_a_new_push_token_works_after_a_reload_and_the_old_one_stops(daemon, tmp_path,
                                                                          targets):
    write(tmp_path, targets.url("site"), push="new-push-token-abcdef0123")
    assert await daemon.reloader.reload("test")
    code, _ = await call("GET", f"{base(daemon)}/push/backup/{PUSH}")
    assert code == 403
    code, _ = await call("GET", f"{base(daemon)}/push/backup/new-push-token-abcdef0123")
    assert code == 200


# -- case 10: a failed reload's text stays off the public pages and out of the log -----------
async def test_a_failed_reload_keeps_its_secret_off_healthz_and_out_of_the_log(
        daemon, tmp_path, monkeypatch, capfd):
    from monitor.telemetry import logs

    monkeypatch.setenv("PROBE_SECRET", "s3cr3t-value-xyz")
    siaga = logging.getLogger("siaga")
    saved = siaga.handlers[:], siaga.level, siaga.propagate
    logs.setup("INFO", daemon.config.secrets)
    try:
        path = tmp_path / "checks.yaml"
        path.write_text(path.read_text().replace(
            'api_token:', 'timezone: "Asia/${PROBE_SECRET}", api_token:'))
        assert not await daemon.reloader.reload("test")
        code, body = await call("GET", f"{base(daemon)}/healthz")
    finally:
        siaga.handlers[:], siaga.level, siaga.propagate = saved
    assert code == 503
    assert "config reload failed: see the log" in body
    assert "s3cr3t" not in body and "Asia" not in body
    err = capfd.readouterr().err
    assert "event=reload_failed" in err and "unknown time zone" in err
    assert "s3cr3t" not in err


async def test_a_secret_first_seen_in_a_reload_is_redacted_from_then_on(
        daemon, tmp_path, monkeypatch, capfd):
    from monitor.telemetry import logs

    monkeypatch.setenv("NEW_SECRET", "fresh-secret-abc")
    siaga = logging.getLogger("siaga")
    saved = siaga.handlers[:], siaga.level, siaga.propagate
    logs.setup("INFO", daemon.config.secrets)
    try:
        path = tmp_path / "checks.yaml"
        path.write_text(path.read_text().replace('/site"', '/site?k=${NEW_SECRET}"'))
        assert await daemon.reloader.reload("test")
        logging.getLogger("siaga.test").info("event=x url=%s", "...k=fresh-secret-abc")
    finally:
        siaga.handlers[:], siaga.level, siaga.propagate = saved
    err = capfd.readouterr().err
    assert "event=x url=...k=***" in err and "fresh-secret" not in err


# -- case 12: target text on the status feed ----------------------------------------------------
async def test_the_atom_feed_stays_well_formed_with_a_control_character_in_a_title(daemon):
    import xml.etree.ElementTree as ET

    from monitor.web.status_render import render_atom

    data = {"generated_at": time.time(), "history": [], "open_incidents": [
        {"id": 1, "services": ["Layanan\x01 Publik\ud800"], "resolved_at": None,
         "acked_at": None, "opened_at": time.time() - 60, "duration": None}]}
    root = ET.fromstring(render_atom(data, "en", "http://x\x02"))
    assert "Layanan Publik" in "".join(root.itertext())
    code, body = await call("GET", f"{base(daemon)}/status/feed.atom")
    assert code == 200
    ET.fromstring(body)
    code, body = await call("GET", f"{base(daemon)}/status?lang=en")
    assert code == 200 and "\x01" not in body


# -- case 8: a scraper that stops reading --------------------------------------------------------
MANY = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", latency_histogram: true,
        location: "{location}"}}
defaults: {{interval: 1h}}
checks:
{checks}
"""


def many_checks(tmp_path, n: int) -> Daemon:
    group = "Dinas Komunikasi dan Informatika Kabupaten " * 2
    lines = "\n".join(f'  - {{name: layanan-publik-{i:05d}, group: "{group}", '
                      f'http: {{url: "http://127.0.0.1:9/{i}"}}}}' for i in range(n))
    path = tmp_path / "checks.yaml"
    path.write_text(MANY.format(state=tmp_path, checks=lines, location="jakarta-1"))
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry(),
               serve=False)
    phases = {"resolve": 0.001, "connect": 0.002, "tls": 0.003, "processing": 0.01,
              "transfer": 0.001}
    for name, rt in d.engine.runtime.items():
        rt.last = ProbeResult(True, "ok", 0.0123, dict(phases), 200, time.time() + 86400)
        rt.probes = 7
        d.metrics.on_result(d.engine.checks[name], rt.last, rt.state)
        rt.latency = [1.0] * 13 + [0.1]
    return d


async def test_a_scraper_that_stops_reading_does_not_delay_other_scrapes(tmp_path):
    d = many_checks(tmp_path, 3000)
    server = Server(build_app(d.provide_web), "127.0.0.1", 0)
    await server.start()
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(1.0)  # it has taken a few KB of many MB and stopped reading
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as s, \
                s.get(f"http://127.0.0.1:{server.port}/metrics") as r:
            body = await r.read()
        assert r.status == 200 and body.endswith(b"\n")
        assert b'siaga_probes_total{check="layanan-publik-02999"' in body
        assert time.monotonic() - started < 5
    finally:
        stalled.close()
        await asyncio.sleep(0.1)
        await server.stop()


async def test_a_scraper_that_stops_reading_is_dropped_after_the_send_timeout(
        tmp_path, monkeypatch):
    from monitor.web import api

    monkeypatch.setattr(api, "SEND_TIMEOUT", 0.5)
    d = many_checks(tmp_path, 3000)
    full = len(d.metrics.render())
    server = Server(build_app(d.provide_web), "127.0.0.1", 0)
    await server.start()
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(2.0)
        stalled.setblocking(False)
        received, closed = 0, False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not closed:
            try:
                data = stalled.recv(1 << 20)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            except ConnectionResetError:
                data = b""
            received += len(data)
            closed = not data
        assert closed and received < full
    finally:
        stalled.close()
        await server.stop()


def test_a_json_answer_with_a_lone_surrogate_from_the_config_still_encodes():
    from monitor.web.app import json_response

    response = json_response({"title": "Layanan\ud800"})
    assert response.status == 200 and b"Layanan?" in response.body


@pytest.mark.parametrize("path", ["/api/v1/incidents/1/ack", "/api/v1/silences"])
async def test_a_json_body_that_is_not_an_object_is_a_400(daemon, path):
    code, body = await call("POST", f"{base(daemon)}{path}", data="[1, 2]",
                            headers={"Authorization": f"Bearer {TOKEN}",
                                     "Content-Type": "application/json"})
    assert code == 400 and "JSON object" in body


async def test_a_request_aiohttp_cannot_parse_is_one_info_line_not_a_traceback(daemon, caplog):
    request = b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: a\x15b\r\n\r\n"
    assert await raw(daemon.server.port, request) == 400
    lines = [r for r in caplog.records if r.name == "siaga.web"]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.INFO, None)]
    assert lines[0].getMessage().startswith("event=bad_request status=400")
