"""The HTTP probe against the local target farm: outcomes, reasons, limits and config."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any

import pytest
import yaml

from monitor.config.schema import Ctx
from monitor.probes.base import PHASES, ProbeContext, ProbeResult
from monitor.probes.http.expect import ANY_2XX, Expect, JsonCheck, JsonPath, StatusSet
from monitor.probes.http.probe import (
    HTTP_PHASES,
    SCHEMA,
    BasicAuth,
    HttpSpec,
    parse_url,
    run,
    target,
)
from monitor.probes.http.wire import Exchange, ResponseParser, Trace
from tests.farm import Farm

DAY = 86400.0


def status(*ranges: tuple[int, int], text: str = "") -> StatusSet:
    return StatusSet(tuple(ranges), text)


def json_check(path: str, steps: tuple[str | int, ...], **kw: Any) -> JsonCheck:
    return JsonCheck(JsonPath(path, steps), **kw)


async def probe(
    url: str, timeout: float = 2.0, ctx: ProbeContext | None = None, **kw: Any
) -> ProbeResult:
    return await run(HttpSpec(url=url, **kw), timeout, ctx or ProbeContext())


def build(text: str) -> tuple[Any, list[str]]:
    """Check a YAML snippet against the HTTP schema: (built spec, problems as printed)."""
    ctx = Ctx("checks.yaml", env={})
    value = SCHEMA.check(yaml.compose(text), "checks[0].http", ctx)
    return value, [str(p) for p in ctx.problems]


# ------------------------------------------------------------------ plain outcomes


async def test_it_passes_a_healthy_endpoint(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/ok")
    assert (result.ok, result.reason, result.status_code) == (True, "ok", 200)
    assert result.details == {
        "bytes": 2,
        "truncated": False,
        "redirects": 0,
        "final_url": f"{farm.http_url}/ok",
    }
    assert result.degraded is None
    assert result.cert_expiry is None
    assert abs(result.started_at - time.time()) < 5


async def test_it_fails_a_500_when_200_is_expected(farm: Farm) -> None:
    result = await probe(
        f"{farm.http_url}/status/500", expect=Expect(status=status((200, 200), text="200"))
    )
    assert (result.ok, result.reason, result.status_code) == (
        False,
        "status 500, expected 200",
        500,
    )


async def test_it_fails_a_503_against_the_default_2xx(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/status/503")
    assert (result.ok, result.reason) == (False, "status 503, expected 2xx")


@pytest.mark.parametrize(
    ("code", "yaml_status", "ok"),
    [
        (503, "[200, 503]", True),
        (204, "200-299", True),
        (404, "4xx", True),
        (418, "[2xx, 400-417]", False),
    ],
)
async def test_it_matches_status_lists_ranges_and_classes(
    farm: Farm, code: int, yaml_status: str, ok: bool
) -> None:
    spec, problems = build(f"url: {farm.http_url}/status/{code}\nexpect: {{status: {yaml_status}}}")
    assert problems == []
    result = await run(spec, 2.0, ProbeContext())
    assert result.ok is ok
    assert result.reason == ("ok" if ok else f"status {code}, expected {spec.expect.status.text}")


async def test_it_reports_connection_refused(farm: Farm) -> None:
    result = await probe(f"http://127.0.0.1:{farm.refused_port}/")
    assert (result.ok, result.reason) == (False, "connect: connection refused")
    assert result.status_code is None


async def test_it_rejects_a_server_that_does_not_speak_http(farm: Farm) -> None:
    result = await probe(f"http://127.0.0.1:{farm.tcp_banner_port}/", timeout=1.0)
    assert (result.ok, result.reason) == (False, "invalid HTTP response: '220 siaga-test ready'")


# ------------------------------------------------------------------ timeouts and broken bodies


async def test_it_times_out_on_a_response_slower_than_the_timeout(farm: Farm) -> None:
    started = time.perf_counter()
    result = await probe(f"{farm.http_url}/slow?delay=5", timeout=0.5)
    assert (result.ok, result.reason) == (False, "timeout after 500ms (no response headers)")
    assert time.perf_counter() - started < 1.5


async def test_it_times_out_on_a_port_that_accepts_and_never_answers(farm: Farm) -> None:
    result = await probe(f"http://127.0.0.1:{farm.hang_port}/", timeout=0.5)
    assert (result.ok, result.reason) == (False, "timeout after 500ms (no response headers)")


async def test_it_times_out_connecting_to_a_port_whose_backlog_is_full() -> None:
    # A listener that never accepts, with its queue filled: Linux drops further SYNs, so
    # a connect hangs as it would to a firewalled host, without leaving 127.0.0.1.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            await asyncio.sleep(0.05)
            result = await probe(f"http://127.0.0.1:{port}/", timeout=0.5)
        finally:
            for filler in fillers:
                filler.close()
    assert (result.ok, result.reason) == (False, "timeout after 500ms (connecting)")


async def test_it_times_out_on_a_tls_handshake_that_never_completes(farm: Farm) -> None:
    result = await probe(f"https://127.0.0.1:{farm.hang_port}/", timeout=0.5)
    assert (result.ok, result.reason) == (False, "timeout after 500ms (tls handshake)")


async def test_it_times_out_on_a_body_that_stalls_after_the_headers(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/headers-then-stall", timeout=0.5)
    assert (result.ok, result.reason) == (False, "timeout after 500ms (reading body)")


async def test_it_reads_an_endless_body_only_up_to_the_limit(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/endless", timeout=2.0, body_limit=100_000)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.details["bytes"] == 100_000
    assert result.details["truncated"] is True
    assert result.duration < 1.0


async def test_it_caps_a_big_body_at_the_context_limit(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/big?size=5000000", ctx=ProbeContext(body_limit=65_536))
    assert (result.ok, result.details["bytes"], result.details["truncated"]) == (True, 65_536, True)


async def test_it_reads_a_body_below_the_limit_whole(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/big?size=300000")
    assert (result.ok, result.details["bytes"], result.details["truncated"]) == (
        True,
        300_000,
        False,
    )


async def test_it_reports_a_reset_in_the_middle_of_the_body(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/reset-mid-body")
    assert (result.ok, result.reason) == (False, "connection reset while reading body")


# ------------------------------------------------------------------ the parser, byte by byte

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


async def parse(data: bytes, step: int, limit: int = 1000) -> tuple[Any, ...]:
    """Feed a response to the parser `step` bytes at a time, then close: what it made of it."""
    exchange = Exchange(parse_url("http://127.0.0.1/"), b"", False, False, limit, None, None)
    parser = ResponseParser(asyncio.get_running_loop(), exchange, Trace(dict.fromkeys(PHASES, 0.0)))
    for i in range(0, len(data), step):
        parser.data_received(data[i : i + step])
    parser.connection_lost(None)
    assert parser.done.done() and parser.done.exception() is None
    if parser.error is not None:
        return ("error", parser.error)
    resp = parser.response()
    return (resp.status, resp.body, resp.truncated)


@pytest.mark.parametrize("step", [1, 7, 10_000])
@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        (CHUNKED + b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", (200, b"hello world", False)),
        (CHUNKED + b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", (200, b"hello", False)),
        (CHUNKED + b"400\r\n" + b"z" * 1024 + b"\r\n0\r\n\r\n", (200, b"z" * 1000, True)),
        (
            CHUNKED + b"zz\r\nhello\r\n",
            ("error", "invalid HTTP response: invalid character in chunk size"),
        ),
        (CHUNKED + b"5\r\nhello", ("error", "connection closed while reading body")),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", (204, b"", False)),
        (b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close", (200, b"until close", False)),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            ("error", "connection closed while reading body (3 of 10 bytes)"),
        ),
        (b"HTTP/1.1 2000 OK\r\n\r\n", ("error", "invalid HTTP response: 'HTTP/1.1 2000 OK'")),
        (
            b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
            ("error", "invalid HTTP response: invalid header token"),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            ("error", "invalid HTTP response: invalid character in Content-Length"),
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000,
            ("error", "invalid HTTP response: headers larger than 64 KiB"),
        ),
        (b"SSH-2.0-OpenSSH_9.6\r\n", ("error", "invalid HTTP response: 'SSH-2.0-OpenSSH_9.6'")),
        (b"", ("error", "connection closed before response headers")),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
            ("error", "content-encoding gzip: invalid data"),
        ),
    ],
)
async def test_it_parses_responses_however_they_are_split(
    data: bytes, outcome: tuple[Any, ...], step: int
) -> None:
    assert await parse(data, step) == outcome


async def test_it_joins_repeated_headers_and_unfolds_folded_ones() -> None:
    data = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nX-B: one\r\n  two\r\nContent-Length: 0\r\n\r\n"
    exchange = Exchange(parse_url("http://127.0.0.1/"), b"", False, False, 10, None, None)
    parser = ResponseParser(asyncio.get_running_loop(), exchange, Trace(dict.fromkeys(PHASES, 0.0)))
    parser.data_received(data)
    assert parser.response().headers == {"x-a": "1, 2", "x-b": "one  two", "content-length": "0"}


# ------------------------------------------------------------------ redirects


async def test_it_follows_a_redirect_chain(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/redirect/3")
    assert (result.ok, result.reason, result.status_code) == (True, "ok", 200)
    assert result.details["redirects"] == 4
    assert result.details["final_url"] == f"{farm.http_url}/ok"


async def test_it_gives_up_on_a_redirect_loop(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/redirect-loop")
    assert (result.ok, result.reason) == (False, "too many redirects (5)")


async def test_it_counts_redirects_against_max_redirects(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/redirect/3", max_redirects=3)
    assert (result.ok, result.reason) == (False, "too many redirects (3)")


async def test_it_judges_the_redirect_itself_when_not_following(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/redirect/1", follow_redirects=False)
    assert (result.ok, result.reason, result.status_code) == (
        False,
        "status 302, expected 2xx",
        302,
    )
    wanted = Expect(status=status((300, 399), text="3xx"))
    result = await probe(f"{farm.http_url}/redirect/1", follow_redirects=False, expect=wanted)
    assert (result.ok, result.status_code) == (True, 302)


# ------------------------------------------------------------------ TLS


async def test_it_passes_a_valid_https_endpoint_and_reports_the_expiry(farm: Farm) -> None:
    result = await probe(f"{farm.https_url}/ok", ca_file=farm.ca_pem)
    assert (result.ok, result.reason, result.status_code) == (True, "ok", 200)
    assert result.cert_expiry is not None
    assert 59 < (result.cert_expiry - time.time()) / DAY < 61
    assert result.phases["tls"] > 0


async def test_it_reports_an_expired_certificate(farm: Farm) -> None:
    result = await probe(f"{farm.https_expired_url}/ok", ca_file=farm.ca_pem)
    assert (result.ok, result.reason) == (False, "tls: certificate has expired")


async def test_it_reports_a_certificate_for_another_host(farm: Farm) -> None:
    result = await probe(f"{farm.https_wrong_host_url}/ok", ca_file=farm.ca_pem)
    assert (result.ok, result.reason) == (False, "tls: certificate is not valid for 127.0.0.1")


async def test_it_checks_the_certificate_against_tls_server_name(farm: Farm) -> None:
    result = await probe(
        f"{farm.https_wrong_host_url}/ok", ca_file=farm.ca_pem, tls_server_name="wrong.example.test"
    )
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_reports_an_untrusted_certificate(farm: Farm) -> None:
    result = await probe(f"{farm.https_self_signed_url}/ok", ca_file=farm.ca_pem)
    assert (result.ok, result.reason) == (
        False,
        "tls: untrusted certificate (self-signed or unknown CA)",
    )


async def test_it_reads_the_expiry_of_an_unverified_certificate(farm: Farm) -> None:
    result = await probe(f"{farm.https_self_signed_url}/ok", tls_verify=False)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.cert_expiry is not None
    assert 59 < (result.cert_expiry - time.time()) / DAY < 61


async def test_it_fails_a_certificate_closer_to_expiry_than_cert_days_min(farm: Farm) -> None:
    result = await probe(
        f"{farm.https_expiring_url}/ok", ca_file=farm.ca_pem, expect=Expect(cert_days_min=14)
    )
    assert (result.ok, result.reason) == (False, "certificate expires in 3 days (minimum 14)")


async def test_it_degrades_a_certificate_closer_to_expiry_than_cert_days_warn(farm: Farm) -> None:
    result = await probe(
        f"{farm.https_expiring_url}/ok", ca_file=farm.ca_pem, expect=Expect(cert_days_warn=14)
    )
    assert (result.ok, result.reason) == (True, "ok")
    assert result.degraded == "certificate expires in 3 days (warning below 14)"


async def test_it_reports_a_plain_http_port_asked_for_tls(farm: Farm) -> None:
    result = await probe(farm.http_url.replace("http://", "https://") + "/ok")
    assert (result.ok, result.reason) == (False, "tls: server did not answer with TLS")


async def test_it_reports_an_unreadable_ca_file(farm: Farm, tmp_path: Any) -> None:
    missing = tmp_path / "nope.pem"
    result = await probe(f"{farm.https_url}/ok", ca_file=str(missing))
    assert result.ok is False
    assert result.reason == f"tls: cannot load ca_file {missing}: no such file or directory"


# ------------------------------------------------------------------ latency


async def test_it_degrades_a_response_slower_than_warn_latency(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/slow?delay=0.3", expect=Expect(warn_latency=0.1))
    assert (result.ok, result.reason) == (True, "ok")
    assert result.degraded is not None
    assert re.fullmatch(r"slow: took \d{3}ms \(warning above 100ms\)", result.degraded)


async def test_it_fails_a_response_slower_than_max_latency(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/slow?delay=0.3", expect=Expect(max_latency=0.1))
    assert result.ok is False
    assert re.fullmatch(r"took \d{3}ms, expected at most 100ms", result.reason)


# ------------------------------------------------------------------ body, JSON and headers


@pytest.mark.parametrize(
    ("path", "expect", "reason"),
    [
        ("/ok", Expect(body_contains=("OK",)), "ok"),
        ("/ok", Expect(body_contains=("OK", "fine")), "body does not contain 'fine'"),
        ("/ok", Expect(body_not_contains=("error",)), "ok"),
        ("/status/200", Expect(body_not_contains=("200",)), "body contains '200'"),
        ("/json", Expect(body_regex=re.compile(r'"version": "1\.\d+')), "ok"),
        ("/ok", Expect(body_regex=re.compile(r"^ok$")), "body does not match '^ok$'"),
    ],
)
async def test_it_checks_the_body_text(farm: Farm, path: str, expect: Expect, reason: str) -> None:
    result = await probe(f"{farm.http_url}{path}", expect=expect)
    assert (result.ok, result.reason) == (reason == "ok", reason)


@pytest.mark.parametrize(
    ("checks", "reason"),
    [
        (
            [
                json_check("db.up", ("db", "up"), equals=True),
                json_check("items[1].name", ("items", 1, "name"), equals="b"),
                json_check("db.latency_ms", ("db", "latency_ms"), equals=12),
                json_check("version", ("version",), exists=True),
                json_check("error", ("error",), exists=False),
            ],
            "ok",
        ),
        ([json_check("db.up", ("db", "up"), equals=False)], "json db.up is true, expected false"),
        (
            [json_check("db.latency_ms", ("db", "latency_ms"), equals=True)],
            "json db.latency_ms is 12, expected true",
        ),
        (
            [json_check("items[5].name", ("items", 5, "name"), equals="a")],
            "json items[5].name missing",
        ),
        (
            [json_check("status", ("status",), exists=False)],
            "json status present, expected it to be absent",
        ),
    ],
)
async def test_it_checks_json_paths(farm: Farm, checks: list[JsonCheck], reason: str) -> None:
    result = await probe(f"{farm.http_url}/json", expect=Expect(json=tuple(checks)))
    assert (result.ok, result.reason) == (reason == "ok", reason)


async def test_it_fails_json_checks_on_a_body_that_is_not_json(farm: Farm) -> None:
    expect = Expect(json=(json_check("db.up", ("db", "up"), equals=True),))
    result = await probe(f"{farm.http_url}/ok", expect=expect)
    assert (result.ok, result.reason) == (False, "body is not JSON")


@pytest.mark.parametrize(
    ("name", "regex", "reason"),
    [
        ("X-Siaga-Test", "^hel+o$", "ok"),
        ("x-siaga-test", "bye", "header x-siaga-test is 'hello', expected to match 'bye'"),
        ("X-Foo", ".*", "header X-Foo missing"),
    ],
)
async def test_it_checks_response_headers(farm: Farm, name: str, regex: str, reason: str) -> None:
    expect = Expect(headers=((name, re.compile(regex)),))
    result = await probe(f"{farm.http_url}/header", expect=expect)
    assert (result.ok, result.reason) == (reason == "ok", reason)


# ------------------------------------------------------------------ requests we send


async def test_it_sends_basic_auth(farm: Farm) -> None:
    good = await probe(f"{farm.http_url}/auth/basic", basic_auth=BasicAuth("siaga", "rahasia"))
    bad = await probe(f"{farm.http_url}/auth/basic", basic_auth=BasicAuth("siaga", "salah"))
    assert (good.ok, good.reason) == (True, "ok")
    assert (bad.ok, bad.reason) == (False, "status 401, expected 2xx")


async def test_it_takes_basic_auth_from_the_url_but_never_shows_it(farm: Farm) -> None:
    url = farm.http_url.replace("http://", "http://siaga:rahasia@") + "/auth/basic?x=1"
    result = await probe(url)
    assert (result.ok, result.reason) == (True, "ok")
    assert "rahasia" not in repr(result)
    assert result.details["final_url"] == f"{farm.http_url}/auth/basic"
    assert target(HttpSpec(url=url)) == farm.http_url.removeprefix("http://")


async def test_it_sends_a_bearer_token(farm: Farm) -> None:
    good = await probe(f"{farm.http_url}/auth/bearer", bearer_token="token-123")
    bad = await probe(f"{farm.http_url}/auth/bearer", bearer_token="token-456")
    assert (good.ok, bad.ok, bad.reason) == (True, False, "status 401, expected 2xx")


async def test_it_posts_a_body_with_custom_headers(farm: Farm) -> None:
    expect = Expect(
        json=(
            json_check("method", ("method",), equals="POST"),
            json_check("body", ("body",), equals="halo dunia"),
            json_check("headers.X-Custom", ("headers", "X-Custom"), equals="ya"),
            json_check("headers.Content-Length", ("headers", "Content-Length"), equals="10"),
            json_check("headers.Connection", ("headers", "Connection"), equals="close"),
            json_check("headers.User-Agent", ("headers", "User-Agent"), equals="siaga-test"),
        )
    )
    result = await probe(
        f"{farm.http_url}/echo",
        method="POST",
        body="halo dunia",
        headers={"X-Custom": "ya", "User-Agent": "siaga-test", "Connection": "keep-alive"},
        expect=expect,
    )
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_sends_head_and_reads_no_body(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/echo", method="HEAD")
    assert (result.ok, result.status_code, result.details["bytes"]) == (True, 200, 0)


# ------------------------------------------------------------------ phases, names, loops


async def test_it_times_every_phase_and_they_add_up_to_the_duration(farm: Farm) -> None:
    result = await probe(f"{farm.https_url}/json", ca_file=farm.ca_pem)
    assert result.ok
    assert set(result.phases) == set(HTTP_PHASES)
    assert all(value >= 0 for value in result.phases.values())
    assert result.phases["connect"] > 0 and result.phases["tls"] > 0
    assert result.phases["processing"] > 0
    assert abs(sum(result.phases.values()) - result.duration) < 0.005


async def test_it_resolves_a_host_name(farm: Farm) -> None:
    url = farm.http_url.replace("127.0.0.1", "localhost") + "/ok"
    result = await probe(url)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.phases["resolve"] > 0


async def test_it_reports_a_name_that_does_not_resolve(
    farm: Farm, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_such_name(*args: Any, **kw: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # The system resolver is the edge we fake: the test must not ask real DNS servers.
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_name)
    result = await probe("http://nosuch.invalid/")
    assert (result.ok, result.reason) == (False, "resolve: name not found (nosuch.invalid)")


async def test_it_lets_cancellation_through(farm: Farm) -> None:
    task = asyncio.create_task(probe(f"http://127.0.0.1:{farm.hang_port}/", timeout=5))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_it_runs_on_uvloop(farm: Farm) -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        plain = loop.run_until_complete(probe(f"{farm.http_url}/redirect/1"))
        tls = loop.run_until_complete(probe(f"{farm.https_url}/ok", ca_file=farm.ca_pem))
        stall = loop.run_until_complete(probe(f"{farm.http_url}/headers-then-stall", timeout=0.3))
        loop.run_until_complete(asyncio.sleep(0))  # let the aborted transports close
    finally:
        loop.close()
    assert (plain.ok, plain.details["redirects"], tls.ok) == (True, 2, True)
    assert tls.cert_expiry is not None
    assert stall.reason == "timeout after 300ms (reading body)"


# ------------------------------------------------------------------ config


def test_it_builds_a_spec_from_yaml(farm: Farm) -> None:
    spec, problems = build(
        f"""
url: {farm.https_url}/json
method: post
headers: {{X-Api: "1"}}
basic_auth: {{username: siaga, password: rahasia}}
expect:
  status: [200, 2xx, "300-302"]
  body_contains: ok
  json:
    - {{path: "items[0].name", equals: a}}
    - {{path: db.up, exists: true}}
  headers: {{Content-Type: json}}
  max_latency: 3s
  cert_days_min: 14
"""
    )
    assert problems == []
    assert (spec.method, spec.headers, spec.basic_auth) == (
        "POST",
        {"X-Api": "1"},
        BasicAuth("siaga", "rahasia"),
    )
    assert spec.expect.status.text == "200 or 2xx or 300-302"
    assert 301 in spec.expect.status and 303 not in spec.expect.status
    assert spec.expect.body_contains == ("ok",)
    assert spec.expect.json[0] == json_check("items[0].name", ("items", 0, "name"), equals="a")
    assert (spec.expect.max_latency, spec.expect.cert_days_min) == (3.0, 14)
    assert "rahasia" not in repr(spec)


def test_it_defaults_to_get_following_redirects_expecting_2xx() -> None:
    spec, problems = build("url: http://127.0.0.1/")
    assert problems == []
    assert spec == HttpSpec(url="http://127.0.0.1/")
    assert (spec.method, spec.follow_redirects, spec.max_redirects) == ("GET", True, 5)
    assert spec.expect.status == ANY_2XX


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        (
            "url: http://x/\nexpect: {status: 20O}",
            "checks.yaml:2:18: checks[0].http.expect.status: expected a status code 100–599, "
            "a range like 200-299 or a class like 2xx, got '20O'",
        ),
        (
            "url: http://x/\nexpect:\n  status: [200, 600]",
            "checks.yaml:3:17: checks[0].http.expect.status[1]: expected a status code 100–599, "
            "a range like 200-299 or a class like 2xx, got 600",
        ),
        (
            "url: http://x/\nexpect:\n  body_contain: OK",
            "checks.yaml:3:3: checks[0].http.expect.body_contain: unknown key "
            "(did you mean 'body_contains'?)",
        ),
        (
            "url: http://x/\nexpect:\n  body_regex: '(unclosed'",
            "checks.yaml:3:15: checks[0].http.expect.body_regex: invalid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            "url: ftp://x/",
            "checks.yaml:1:6: checks[0].http.url: expected a URL starting with http:// or "
            "https:// and a host, got 'ftp://x/'",
        ),
        (
            "url: http://x/\nexpect:\n  json: [{path: 'a..b', equals: 1}]",
            "checks.yaml:3:17: checks[0].http.expect.json[0].path: expected a path like db.up "
            "or items[0].name, got 'a..b'",
        ),
        (
            "url: http://x/\nexpect:\n  json: [{path: a}]",
            "checks.yaml:3:10: checks[0].http.expect.json[0]: expected exactly one of equals "
            "or exists",
        ),
        (
            "url: http://x/\nbearer_token: t\nbasic_auth: {username: u, password: p}",
            "checks.yaml:1:1: checks[0].http: use either basic_auth or bearer_token, not both",
        ),
        (
            "url: http://x/\nmethod: HEAD\nexpect: {body_contains: OK}",
            "checks.yaml:1:1: checks[0].http: a HEAD response has no body to check; use GET",
        ),
    ],
)
def test_it_reports_config_problems_with_their_place(snippet: str, problem: str) -> None:
    _, problems = build(snippet)
    assert problems == [problem]


# ------------------------------------------------------------------ cost


async def test_it_measures_cpu_per_probe(farm: Farm, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timed assertion: prints the CPU cost per probe (the farm shares this process,
    so its server work is in the number too)."""
    ctx, spec, count = ProbeContext(), HttpSpec(url=f"{farm.http_url}/ok"), 2000
    results: list[ProbeResult] = []
    cpu = time.process_time()
    for _ in range(count):
        results.append(await run(spec, 2.0, ctx))
    cpu = time.process_time() - cpu
    assert all(r.ok for r in results)
    with capsys.disabled():
        print(f"\nhttp probe: {cpu / count * 1e6:.0f} µs CPU per probe (client + in-process farm)")
