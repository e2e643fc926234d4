"""Random requests at a real daemon's HTTP server on 127.0.0.1: odd paths, query strings,
headers and JSON bodies, with and without the API token. Nothing may answer 5xx, and nothing
may log a traceback (the autouse fixture watches). Found: ids and numbers too big for SQLite,
`?limit=abc`, non-UTF-8 Authorization, JSON bodies that are not objects."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon

TOKEN = "fuzz-api-token-0123456789"
PUSH = "fuzz-push-token-0123456789"
CONFIG = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", api_token: "{token}"}}
defaults: {{interval: 1h}}
checks:
  - {{name: site, title: Portal, public: true, tcp: {{host: 127.0.0.1, port: 9}}}}
  - {{name: backup, heartbeat: {{every: 1h, token: "{push}"}}}}
"""


class Running:
    """A daemon on its own loop in a thread, so sync hypothesis tests can call it."""

    def __init__(self, state: Path) -> None:
        path = state / "checks.yaml"
        path.write_text(CONFIG.format(state=state, token=TOKEN, push=PUSH))
        self.path = path
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        d = Daemon(parse_config(self.path.read_text(), str(self.path)),
                   registry=CollectorRegistry())
        d.push_limit.rate = 10**9  # the fuzzer is one source sending thousands of pushes
        await d.start()
        assert d.server is not None
        self.port = d.server.port
        self._ready.set()
        await self._stop.wait()
        await d.stop()

    def __enter__(self) -> Running:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with Running(tmp_path_factory.mktemp("fuzz")) as r:
        yield r


def send(port: int, request: bytes) -> int:
    """One raw request; the status code (0 when the server closed without answering)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            piece = sock.recv(4096)
            if not piece:
                return 0
            data += piece
    return int(data.split(b" ", 2)[1])


def encoded(raw: bytes) -> str:
    return quote_from_bytes(raw, safe=b"")


PATHS = ["/metrics", "/healthz", "/status", "/status.json", "/status/feed.atom", "/",
         "/api/v1/checks", "/api/v1/checks/{x}", "/api/v1/incidents", "/api/v1/incidents/{x}",
         "/api/v1/incidents/{x}/ack", "/api/v1/incidents/{x}/resolve", "/api/v1/silences",
         "/api/v1/silences/{x}", "/api/v1/reload", "/ack/{x}", f"/push/backup/{PUSH}",
         f"/push/backup/{PUSH}/fail", f"/push/backup/{PUSH}/start", "/push/{x}/{x}",
         "/push/backup/{x}/fail", "/api/v1/alertmanager"]
NUMBERS = st.sampled_from(["0", "-1", "1", "abc", "", "99999999999999999999", "1e3", "٣",
                           "9" * 5000, " 7 ", "0x10", "1_0", "nan", "²"])
TEXT = st.one_of(NUMBERS.map(lambda t: encoded(t.encode())),
                 st.binary(max_size=20).map(encoded),
                 st.text(max_size=12).map(lambda t: encoded(t.encode("utf-8", "surrogatepass"))))
WORDS = st.sampled_from(["site", "backup", "default", "2h", "30d", "31d", "99999999999w", ".inf",
                         "1e400s", "0s", "-1h", "x" * 600])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                    | WORDS,
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["by", "note", "target", "for", "reason",
                                                       "x"]), inner, max_size=4),
                    max_leaves=8)
HEADER_VALUE = st.binary(max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "HEAD"]))
    path = draw(st.sampled_from(PATHS)).replace("{x}", draw(TEXT) or "1")
    params = draw(st.lists(st.tuples(st.sampled_from(
        ["limit", "exit_code", "lang", "message", "since", "x"]), TEXT), max_size=3))
    query = "&".join(f"{k}={v}" for k, v in params)
    target = f"{path}?{query}" if query else path
    auth = draw(st.one_of(st.just(f"Bearer {TOKEN}".encode()), HEADER_VALUE.map(
        lambda b: b"Bearer " + b)))
    language = draw(HEADER_VALUE)
    body = draw(st.one_of(st.just(b""), JSON.map(lambda v: json.dumps(v).encode()),
                          st.binary(max_size=40)))
    head = (f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n").encode("latin-1")
    return (head + b"Authorization: " + auth + b"\r\nAccept-Language: " + language +
            b"\r\nContent-Type: application/json\r\n\r\n" + body)


@settings(max_examples=1000, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_no_request_makes_the_server_fail(running, request):
    status = send(running.port, request)
    assert 0 < status < 500, request


# Alertmanager's webhook notification, each part either right or any JSON at all.
ANY = JSON | st.text(max_size=12)
STAMP = st.sampled_from(["2026-11-30T20:00:00Z", "0001-01-01T00:00:00Z", "2026-11-30",
                         "9999-12-31T23:59:59+14:00", "x", "2026-11-30T20:00:00.123456789Z"])
LABELS = st.dictionaries(st.text(max_size=6), st.text(max_size=8) | st.just("a\udc80"),
                         max_size=4)  # a lone surrogate: JSON can carry it, UTF-8 cannot
ALERT = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(["firing", "resolved"]) | ANY,
    "fingerprint": st.from_regex(r"[0-9a-f]{1,20}", fullmatch=True) | ANY,
    "labels": LABELS | ANY, "annotations": LABELS | ANY, "startsAt": STAMP | ANY,
    "endsAt": STAMP | ANY, "generatorURL": st.text(max_size=10) | ANY})
NOTIFICATION = st.fixed_dictionaries({}, optional={
    "version": st.just("4") | ANY, "groupKey": st.sampled_from(["g1", "g2", ""]) | ANY,
    "truncatedAlerts": st.integers(-2, 3) | ANY, "status": ANY, "receiver": ANY,
    "alerts": st.lists(ALERT | ANY, max_size=4) | ANY})


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=NOTIFICATION | ANY)
def test_no_alertmanager_notification_makes_the_receiver_fail(running, body):
    raw = json.dumps(body).encode()
    head = (f"POST /api/v1/alertmanager HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n").encode()
    status = send(running.port, head + raw)
    assert status in (200, 400), body
