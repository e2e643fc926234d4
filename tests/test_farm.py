"""Sanity checks for the target farm itself (tests/farm.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl

import aiohttp
import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from cryptography import x509

from tests.farm import Farm


def _dns_query(name: str, rdtype: str) -> dns.message.Message:
    return dns.message.make_query(name, rdtype)


async def test_http_ok(farm: Farm) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{farm.http_url}/ok") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert await resp.text() == "OK"


async def test_https_good_with_farm_ca(farm: Farm) -> None:
    ctx = ssl.create_default_context(cafile=farm.ca_pem)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{farm.https_url}/json", ssl=ctx) as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["db"] == {"up": True, "latency_ms": 12}


async def test_hits_and_flap(farm: Farm) -> None:
    farm.reset_hits()
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(f"{farm.http_url}/flap") as resp:
                statuses.append(resp.status)
        async with session.get(f"{farm.http_url}/redirect/2") as resp:
            assert resp.status == 200
            assert str(resp.url).endswith("/ok")
    assert statuses == [200, 500, 200]
    assert farm.hits("/flap") == 3
    assert farm.hits("/ok") == 1


async def test_headers_then_stall_times_out(farm: Farm) -> None:
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{farm.http_url}/headers-then-stall") as resp,
    ):
        assert resp.status == 200
        assert resp.content_length == 1000
        with pytest.raises(asyncio.TimeoutError):
            await resp.read()


async def test_reset_mid_body(farm: Farm) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{farm.http_url}/reset-mid-body") as resp,
    ):
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


async def test_dns_a_records(farm: Farm) -> None:
    reply = await dns.asyncquery.udp(
        _dns_query("www.siaga.test.", "A"), farm.host, port=farm.dns_port, timeout=2
    )
    assert reply.rcode() == dns.rcode.NOERROR
    addresses = {rr.address for rrset in reply.answer for rr in rrset}
    assert addresses == {"192.0.2.10", "192.0.2.11"}


async def test_dns_cname_over_tcp(farm: Farm) -> None:
    reply = await dns.asyncquery.tcp(
        _dns_query("portal.siaga.test.", "A"), farm.host, port=farm.dns_port, timeout=2
    )
    types = [rrset.rdtype for rrset in reply.answer]
    assert types == [dns.rdatatype.CNAME, dns.rdatatype.A]


@pytest.mark.parametrize(
    ("name", "rdtype", "rcode"),
    [
        ("nope.siaga.test.", "A", dns.rcode.NXDOMAIN),
        ("servfail.siaga.test.", "A", dns.rcode.SERVFAIL),
        ("www.siaga.test.", "MX", dns.rcode.NOERROR),
    ],
)
async def test_dns_negative_answers(farm: Farm, name: str, rdtype: str, rcode: int) -> None:
    reply = await dns.asyncquery.udp(
        _dns_query(name, rdtype), farm.host, port=farm.dns_port, timeout=2
    )
    assert reply.rcode() == rcode
    assert reply.answer == []


async def test_dns_timeout_port_never_answers(farm: Farm) -> None:
    with pytest.raises(dns.exception.Timeout):
        await dns.asyncquery.udp(
            _dns_query("www.siaga.test.", "A"),
            farm.host,
            port=farm.dns_timeout_port,
            timeout=0.2,
        )


def test_expired_cert_not_after_in_past(farm: Farm) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((farm.host, farm.tls_ports["expired"]), timeout=2) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    assert cert.not_valid_after_utc < dt.datetime.now(dt.UTC)


def test_refused_port_refuses(farm: Farm) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((farm.host, farm.refused_port), timeout=2).close()


def test_tcp_banner_echo(farm: Farm) -> None:
    with (
        socket.create_connection((farm.host, farm.tcp_banner_port), timeout=2) as sock,
        sock.makefile("rb") as stream,
    ):
        assert stream.readline() == b"220 siaga-test ready\r\n"
        sock.sendall(b"hello\r\n")
        assert stream.readline() == b"echo: hello\r\n"


def test_hang_port_sends_nothing(farm: Farm) -> None:
    with socket.create_connection((farm.host, farm.hang_port), timeout=2) as sock:
        sock.settimeout(0.1)
        with pytest.raises(TimeoutError):
            sock.recv(1)
