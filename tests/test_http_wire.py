"""The HTTP probe against what real government sites send: compressed bodies it did not
ask for, gzip bombs, bare LF, odd Content-Length, Latin-1 pages, a black-holed address
before a working one, and forward proxies. Everything on the loopback range."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from monitor.config.loader import parse_config
from monitor.probes.base import ProbeContext, ProbeResult
from monitor.probes.dialer import DialError, dial, interleave
from monitor.probes.http.expect import Expect
from monitor.probes.http.probe import HttpSpec, run
from tests.farm import GZIP_PAGE, LATIN1_PAGE, Farm
from tests.proxy import ForwardProxy


async def probe(url: str, timeout: float = 2.0, **kw: Any) -> ProbeResult:
    return await run(HttpSpec(url=url, **kw), timeout, ProbeContext())


# ------------------------------------------------------------------ bodies


async def test_a_probe_leaves_no_reference_cycle_behind(farm: Farm) -> None:
    """A probe's objects must die by reference counting: llhttp held the protocol's bound
    callbacks (11 objects a probe for the cyclic collector, 7 % of the daemon's CPU at 200
    probes a second) and a failed response's exception its own frame. `siaga run` collects
    the young generation rarely because of this (monitor.process)."""
    paths = ["/ok", "/status/503", "/redirect/2", "/gzip", "/big", "/reset-mid-body"]
    for path in paths:  # warm: what imports and caches make on first use is not garbage
        await probe(f"{farm.http_url}{path}", body_limit=1000)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what a collection finds, to name it
    try:
        results = [await probe(f"{farm.http_url}{path}", body_limit=1000) for path in paths]
        assert [r.ok for r in results] == [True, False, True, True, True, False]
        gc.collect()
        # The farm's aiohttp server and asyncio's own transports (the tests' loop) make
        # cycles of their own; the probe's objects must not be among them.
        ours = {type(o).__qualname__ for o in gc.garbage
                if type(o).__module__.startswith(("monitor", "httptools"))}
        assert not ours
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_it_matches_body_contains_in_a_gzip_body_it_did_not_ask_for(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/gzip", expect=Expect(body_contains=("SIPD berjalan",)))
    assert (result.ok, result.reason) == (True, "ok")
    assert result.details["bytes"] == len(GZIP_PAGE) + len(" accept-encoding=-")


async def test_it_sends_accept_encoding_only_when_compressed(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/gzip", compressed=True,
                         expect=Expect(body_contains=("accept-encoding=gzip, deflate, br",)))
    assert (result.ok, result.reason) == (True, "ok")


@pytest.mark.parametrize("path", ["/deflate-raw", "/br"])
async def test_it_decodes_raw_deflate_and_brotli(farm: Farm, path: str) -> None:
    result = await probe(f"{farm.http_url}{path}", expect=Expect(body_contains=("SIPD",)))
    assert (result.ok, result.reason) == (True, "ok")


async def test_it_stops_a_gzip_bomb_at_the_decoded_cap(farm: Farm) -> None:
    cpu = time.process_time()
    result = await probe(f"{farm.http_url}/gzip-bomb", body_limit=1 << 20)
    assert (result.ok, result.reason) == (False, "body larger than 1 MiB after decompression")
    assert time.process_time() - cpu < 1.0  # 64 MiB were never inflated


async def test_it_reads_a_reply_with_bare_lf_line_ends(farm: Farm) -> None:
    url = f"http://127.0.0.1:{farm.raw_ports['bare_lf']}/"
    result = await probe(url, expect=Expect(body_contains=("bare LF!",)))
    assert (result.ok, result.reason, result.status_code) == (True, "ok", 200)


async def test_it_calls_a_unicode_digit_content_length_an_invalid_response(farm: Farm) -> None:
    result = await probe(f"http://127.0.0.1:{farm.raw_ports['unicode_length']}/")
    assert (result.ok, result.reason) == (
        False, "invalid HTTP response: invalid character in Content-Length")


async def test_a_body_of_exactly_the_limit_is_not_truncated(farm: Farm) -> None:
    result = await probe(f"http://127.0.0.1:{farm.raw_ports['exact_limit']}/", body_limit=1024)
    assert (result.ok, result.details["bytes"], result.details["truncated"]) == (True, 1024, False)


@pytest.mark.parametrize("path", ["/latin1", "/meta-charset"])
async def test_it_reads_text_in_its_declared_charset(farm: Farm, path: str) -> None:
    result = await probe(f"{farm.http_url}{path}", expect=Expect(body_contains=("Café Señor",)))
    assert (result.ok, result.reason) == (True, "ok")
    assert LATIN1_PAGE.encode("latin-1") != LATIN1_PAGE.encode()  # the test means something


# ------------------------------------------------------------------ addresses


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port on 127.0.0.2 whose listener never accepts and whose backlog is full: Linux
    drops further SYNs there, as a firewalled address would. The same port on 127.0.0.1 is
    left free for a working server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.2", port))
        time.sleep(0.05)
        try:
            yield port
        finally:
            for filler in fillers:
                filler.close()


@pytest_asyncio.fixture
async def resolver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, list[str]]]:
    """Names the system resolver answers in the test: the OS's own is the edge we replace."""
    names: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, **kw: Any) -> list[Any]:
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in names[host]]
        return await real(host, port, **kw)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    yield names


async def test_it_skips_a_black_holed_address_after_250ms(
    black_hole: int, resolver: dict[str, list[str]]
) -> None:
    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        writer.close()

    server = await asyncio.start_server(ok, "127.0.0.1", black_hole)
    resolver["dual.siaga.test"] = ["127.0.0.2", "127.0.0.1"]
    try:
        result = await probe(f"http://dual.siaga.test:{black_hole}/", timeout=3.0)
    finally:
        server.close()
        await server.wait_closed()
    assert (result.ok, result.reason) == (True, "ok")
    assert 0.2 < result.phases["connect"] < 1.0


async def test_it_names_every_address_when_none_accepts(
    black_hole: int, resolver: dict[str, list[str]]
) -> None:
    resolver["dead.siaga.test"] = ["127.0.0.2", "127.0.0.3"]
    started = time.perf_counter()
    result = await probe(f"http://dead.siaga.test:{black_hole}/", timeout=1.0)
    assert (result.ok, result.reason) == (False, "connect: 127.0.0.2 timed out, 127.0.0.3 refused")
    assert time.perf_counter() - started < 1.0


def test_it_interleaves_ipv6_and_ipv4_starting_with_the_resolvers_choice() -> None:
    v6, v4 = socket.AF_INET6, socket.AF_INET
    got = interleave([(v6, ("::1", 1)), (v6, ("::2", 1)), (v4, ("127.0.0.1", 1)),
                      (v6, ("::1", 1))])
    assert got == [(v6, ("::1", 1)), (v4, ("127.0.0.1", 1)), (v6, ("::2", 1))]


async def test_the_dialer_reports_each_refusal() -> None:
    with socket.socket() as a, socket.socket() as b:  # bound, not listening: refused
        a.bind(("127.0.0.4", 0))
        b.bind(("127.0.0.5", 0))
        addresses = [(socket.AF_INET, a.getsockname()), (socket.AF_INET, b.getsockname())]
        with pytest.raises(DialError, match=r"^connect: 127.0.0.4 refused, 127.0.0.5 refused$"):
            await dial(asyncio.get_running_loop(), addresses, 1.0)


# ------------------------------------------------------------------ proxies


@pytest_asyncio.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    p = await ForwardProxy().start()
    yield p
    await p.stop()


@pytest_asyncio.fixture
async def auth_proxy() -> AsyncIterator[ForwardProxy]:
    p = await ForwardProxy("piket:rahasia-proxy").start()
    yield p
    await p.stop()


async def test_it_requests_plain_http_through_a_proxy(farm: Farm, proxy: ForwardProxy) -> None:
    result = await probe(f"{farm.http_url}/ok", proxy=f"http://127.0.0.1:{proxy.port}")
    assert (result.ok, result.reason) == (True, "ok")
    assert proxy.seen == [("GET", f"{farm.http_url}/ok")]


async def test_it_tunnels_https_through_connect_and_times_the_proxy(
    farm: Farm, proxy: ForwardProxy
) -> None:
    result = await probe(f"{farm.https_url}/ok", proxy=f"http://127.0.0.1:{proxy.port}",
                         ca_file=farm.ca_pem)
    assert (result.ok, result.reason) == (True, "ok")
    assert proxy.seen == [("CONNECT", farm.https_url.removeprefix("https://"))]
    assert result.phases["proxy"] > 0 and result.phases["tls"] > 0
    assert abs(sum(result.phases.values()) - result.duration) < 0.005


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_it_says_when_the_proxy_wants_credentials(
    farm: Farm, auth_proxy: ForwardProxy, scheme: str
) -> None:
    url = farm.http_url if scheme == "http" else farm.https_url
    result = await probe(f"{url}/ok", proxy=f"http://127.0.0.1:{auth_proxy.port}",
                         ca_file=farm.ca_pem)
    assert (result.ok, result.reason) == (False, "proxy: 407 Proxy Authentication Required")


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_it_authenticates_to_the_proxy_and_never_shows_the_password(
    farm: Farm, auth_proxy: ForwardProxy, scheme: str
) -> None:
    url = farm.http_url if scheme == "http" else farm.https_url
    spec = HttpSpec(url=f"{url}/ok", proxy=f"http://piket:rahasia-proxy@127.0.0.1:{auth_proxy.port}",
                    ca_file=farm.ca_pem)
    result = await run(spec, 2.0, ProbeContext())
    assert (result.ok, result.reason) == (True, "ok")
    assert "rahasia" not in repr(spec) + repr(result)


async def test_it_reports_a_proxy_that_refuses_connections(farm: Farm) -> None:
    result = await probe(f"{farm.http_url}/ok", proxy=f"http://127.0.0.1:{farm.refused_port}")
    assert (result.ok, result.reason) == (
        False, f"proxy http://127.0.0.1:{farm.refused_port}: connect: connection refused")


async def test_it_takes_the_proxy_from_the_environment_except_no_proxy(
    farm: Farm, proxy: ForwardProxy
) -> None:
    env = {"HTTP_PROXY": f"127.0.0.1:{proxy.port}", "NO_PROXY": "example.go.id,10.0.0.0/8"}
    config = parse_config(
        f"defaults: {{proxy: env}}\nchecks:\n  - name: a\n    http: {{url: '{farm.http_url}/ok'}}\n"
        "  - name: b\n    http: {url: 'http://10.1.2.3/', proxy: none}\n",
        "checks.yaml", env=env)
    spec = config.checks[0].spec
    assert (await run(spec, 2.0, ProbeContext())).ok
    assert proxy.seen == [("GET", f"{farm.http_url}/ok")]
    assert config.checks[1].spec.proxies is None
    assert spec.proxies.for_target("portal.example.go.id", 80, False) is None
    assert spec.proxies.for_target("10.9.9.9", 80, False) is None


def test_it_refuses_a_proxy_url_it_cannot_use_at_its_place() -> None:
    text = "checks:\n  - name: a\n    http: {url: 'http://x.go.id/', proxy: 'socks5://p:1080'}\n"
    with pytest.raises(Exception) as info:
        parse_config(text, "checks.yaml", env={})
    assert "checks[a].http.proxy: a proxy is http://host:port (or `env`)" in str(info.value)


async def test_a_probe_cancelled_as_its_connection_is_made_leaves_no_failure_unheard(
        monkeypatch, caplog):
    """The probe's deadline can cancel it just as the connection is made: the transport
    then still reports its end to the response parser, whose failure nobody awaits. It was
    logged as "Future exception was never retrieved" whenever the garbage collector came."""
    import gc

    from monitor.probes.http import wire

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    made: list[asyncio.Transport] = []

    async def connect_then_cancelled(loop, addresses, protocol, attempt_timeout, proxy):
        transport, _ = await loop.create_connection(lambda: protocol, "127.0.0.1", port)
        made.append(transport)
        raise asyncio.CancelledError  # as if the deadline struck right here

    monkeypatch.setattr(wire, "_connect", connect_then_cancelled)
    spec = HttpSpec(url=f"http://127.0.0.1:{port}/")
    with pytest.raises(asyncio.CancelledError):
        await run(spec, 2.0, ProbeContext())
    made[0].close()  # the loop closes it: the parser hears the connection end
    await asyncio.sleep(0.1)
    gc.collect()
    await asyncio.sleep(0)
    server.close()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
