"""The TCP probe against the local target farm: connect, banners, send/expect, TLS."""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.probes.base import ProbeContext
from monitor.probes.tcp import SCHEMA, TcpSpec, run, shown, target
from tests.farm import Farm
from tests.probe_helpers import cancel_soon, check_schema


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A listener whose accept queue is full: Linux drops further SYNs, so connects hang."""
    if not sys.platform.startswith("linux"):
        pytest.skip("relies on Linux dropping SYNs to a full accept queue")
    server = socket.socket()
    fillers: list[socket.socket] = []
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            fillers.append(filler)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        time.sleep(0.05)  # let the handshakes that fit complete
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


async def test_it_connects_to_an_open_port(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(TcpSpec(farm.host, farm.tcp_banner_port), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert set(result.phases) == {"resolve", "connect"}
    assert result.details["peer"] == f"127.0.0.1:{farm.tcp_banner_port}"
    assert result.started_at > 0 and result.duration > 0


async def test_it_reports_connection_refused(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(TcpSpec(farm.host, farm.refused_port), 1, ctx)
    assert (result.ok, result.reason) == (False, "connect: connection refused")


async def test_it_names_connecting_when_the_connect_times_out(
    full_backlog_port: int, ctx: ProbeContext
) -> None:
    result = await run(TcpSpec("127.0.0.1", full_backlog_port), 0.3, ctx)
    assert (result.ok, result.reason) == (False, "timeout after 300ms (connecting)")


async def test_it_times_out_waiting_for_a_banner_that_never_comes(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(TcpSpec(farm.host, farm.hang_port, expect="220"), 0.5, ctx)
    assert (result.ok, result.reason) == (False, "timeout after 500ms (waiting for '220')")
    assert result.duration < 1.5


async def test_it_accepts_a_banner_with_the_expected_text(farm: Farm, ctx: ProbeContext) -> None:
    result = await run(TcpSpec(farm.host, farm.tcp_banner_port, expect="220 siaga"), 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert result.details["response"] == "220 siaga-test ready"
    assert "processing" in result.phases


async def test_it_quotes_the_banner_when_the_expected_text_is_missing(
    farm: Farm, ctx: ProbeContext
) -> None:
    result = await run(TcpSpec(farm.host, farm.tcp_banner_port, expect="READY"), 0.5, ctx)
    assert (result.ok, result.reason) == (
        False,
        "response does not contain 'READY' (got '220 siaga-test ready')",
    )


async def test_it_sends_a_line_and_expects_the_echo(farm: Farm, ctx: ProbeContext) -> None:
    spec = TcpSpec(farm.host, farm.tcp_banner_port, send="PING siaga\r\n", expect="echo: PING")
    result = await run(spec, 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_matches_the_response_against_a_regex(farm: Farm, ctx: ProbeContext) -> None:
    spec = TcpSpec(farm.host, farm.tcp_banner_port, expect_regex=r"^220 \S+ ready")
    assert (await run(spec, 1, ctx)).ok
    miss = TcpSpec(farm.host, farm.tcp_banner_port, expect_regex=r"^250 ")
    result = await run(miss, 0.5, ctx)
    assert result.reason == "response does not match /^250 / (got '220 siaga-test ready')"


async def test_it_speaks_tls_after_connecting(farm: Farm, ctx: ProbeContext) -> None:
    spec = TcpSpec(farm.host, farm.tls_ports["good"], tls=True, ca_file=farm.ca_pem)
    result = await run(spec, 1, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    assert "tls" in result.phases
    assert result.cert_expiry is not None and result.cert_expiry > time.time() + 59 * 86400


async def test_it_reports_an_untrusted_certificate_over_tls(
    farm: Farm, ctx: ProbeContext
) -> None:
    spec = TcpSpec(farm.host, farm.tls_ports["untrusted"], tls=True, ca_file=farm.ca_pem)
    result = await run(spec, 1, ctx)
    assert (result.ok, result.reason) == (
        False,
        "tls: untrusted certificate (self-signed or unknown CA)",
    )


async def test_it_reports_a_plain_text_server_when_tls_is_expected(
    farm: Farm, ctx: ProbeContext
) -> None:
    spec = TcpSpec(farm.host, farm.tcp_banner_port, tls=True, ca_file=farm.ca_pem)
    result = await run(spec, 1, ctx)
    assert (result.ok, result.reason) == (False, "tls: server did not answer with TLS")


async def test_it_reports_an_unreadable_ca_file(farm: Farm, ctx: ProbeContext) -> None:
    spec = TcpSpec(farm.host, farm.tls_ports["good"], tls=True, ca_file="/nonexistent/ca.pem")
    result = await run(spec, 1, ctx)
    assert (result.ok, result.reason) == (
        False,
        "cannot load ca_file /nonexistent/ca.pem: no such file or directory",
    )


def test_shown_bytes_are_printable_and_short() -> None:
    assert shown(b"220 hello\r\n\x00\x01world") == "220 hello world"
    assert shown(b"x" * 100) == "x" * 40 + "…"


async def test_cancelling_propagates_and_closes_the_connection(
    farm: Farm, ctx: ProbeContext
) -> None:
    await cancel_soon(run(TcpSpec(farm.host, farm.hang_port, expect="220"), 5, ctx))




def _check(text: str) -> tuple[Any, list[str]]:
    return check_schema(SCHEMA, "tcp", text)


def test_schema_builds_a_spec_with_defaults() -> None:
    value, problems = _check("host: db.example.test\nport: 5432\nsend: \"PING\\r\\n\"\n")
    assert problems == []
    assert value == TcpSpec("db.example.test", 5432, send="PING\r\n")
    assert target(value) == "db.example.test:5432"


def test_schema_rejects_a_port_out_of_range_at_its_place() -> None:
    _, problems = _check("host: db.example.test\nport: 70000\n")
    assert problems == [
        "checks.yaml:2:7: checks[0].tcp.port: expected an integer 1–65535, got 70000"
    ]


def test_schema_rejects_a_missing_port_and_a_bad_regex() -> None:
    _, problems = _check("host: db.example.test\nexpect_regex: '('\n")
    assert problems[0].startswith(
        "checks.yaml:2:15: checks[0].tcp.expect_regex: invalid regular expression:"
    )
    assert problems[1] == "checks.yaml:1:1: checks[0].tcp.port: is required"
