"""The ICMP probe: pings 127.0.0.1 only, and the path where no socket is permitted."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from monitor.probes.base import ProbeContext
from monitor.probes.icmp import (
    NOT_PERMITTED,
    SCHEMA,
    V4,
    V6,
    IcmpExpect,
    IcmpSpec,
    Pinger,
    checksum,
    echo_request,
    parse_reply,
    run,
)
from tests.probe_helpers import cancel_soon, check_schema


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


def _can_ping() -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
        except PermissionError:
            continue
        return True
    return False


needs_ping = pytest.mark.skipif(
    not _can_ping(),
    reason="ICMP not permitted here: needs root, CAP_NET_RAW or net.ipv4.ping_group_range",
)


class Recorder:
    """A socket factory that remembers which socket types were asked for."""

    def __init__(self, deny: tuple[int, ...] = ()) -> None:
        self.deny = deny
        self.asked: list[int] = []

    def __call__(self, family: int, kind: int, proto: int) -> socket.socket:
        self.asked.append(kind)
        if kind in self.deny:
            raise PermissionError(1, "Operation not permitted")
        return socket.socket(family, kind, proto)


@needs_ping
async def test_it_pings_localhost_without_loss(ctx: ProbeContext) -> None:
    result = await run(IcmpSpec("127.0.0.1", count=3, packet_interval=0.05), 2, ctx)
    assert (result.ok, result.reason) == (True, "ok")
    details = result.details
    assert (details["sent"], details["received"], details["loss_percent"]) == (3, 3, 0.0)
    assert 0 < details["rtt_min"] <= details["rtt_avg"] <= details["rtt_max"] < 1
    assert result.phases["rtt"] == details["rtt_avg"]


@needs_ping
async def test_it_falls_back_to_a_raw_socket_when_ping_sockets_are_denied(
    ctx: ProbeContext,
) -> None:
    factory = Recorder(deny=(socket.SOCK_DGRAM,))
    try:
        result = await Pinger(factory).run(IcmpSpec("127.0.0.1", count=2, packet_interval=0.01),
                                           2, ctx)
    except PermissionError:  # pragma: no cover - depends on the machine
        pytest.skip("raw ICMP sockets are not permitted here")
    if result.reason == NOT_PERMITTED:
        pytest.skip("raw ICMP sockets are not permitted here")
    assert factory.asked == [socket.SOCK_DGRAM, socket.SOCK_RAW]
    assert (result.ok, result.details["received"]) == (True, 2)


@needs_ping
async def test_it_fails_an_average_rtt_above_the_maximum(ctx: ProbeContext) -> None:
    spec = IcmpSpec("127.0.0.1", count=2, packet_interval=0.01,
                    expect=IcmpExpect(max_rtt=0.000_000_1))
    result = await run(spec, 2, ctx)
    assert not result.ok
    assert result.reason.startswith("average rtt ")
    assert result.reason.endswith("ms (maximum 0.0001ms)")


@needs_ping
async def test_it_says_when_the_packets_do_not_fit_in_the_timeout(ctx: ProbeContext) -> None:
    result = await run(IcmpSpec("127.0.0.1", count=5, packet_interval=0.2), 0.3, ctx)
    assert (result.ok, result.reason) == (
        False,
        "timeout after 300ms (2 of 5 packets sent; "
        "count × packet_interval does not fit in the timeout)",
    )


async def test_it_explains_how_to_allow_icmp_when_not_permitted(ctx: ProbeContext) -> None:
    factory = Recorder(deny=(socket.SOCK_DGRAM, socket.SOCK_RAW))
    result = await Pinger(factory).run(IcmpSpec("127.0.0.1"), 1, ctx)
    assert (result.ok, result.reason) == (False, NOT_PERMITTED)
    assert "setcap cap_net_raw+ep" in result.reason
    assert "ping_group_range" in result.reason
    assert factory.asked == [socket.SOCK_DGRAM, socket.SOCK_RAW]


def test_echo_requests_carry_a_valid_checksum() -> None:
    packet = echo_request(V4, 0x1234, 7, b"token")
    assert packet[0] == 8 and checksum(packet) == 0


def test_replies_are_matched_by_type_and_read_past_the_ipv4_header() -> None:
    reply = bytes([0, 0, 0, 0, 0x12, 0x34, 0, 7]) + b"token"
    ip_header = bytes([0x45]) + bytes(19)
    assert parse_reply(ip_header + reply, V4, raw=True) == (0x1234, 7, b"token")
    assert parse_reply(reply, V4, raw=False) == (0x1234, 7, b"token")
    assert parse_reply(echo_request(V4, 1, 1, b"x"), V4, raw=False) is None  # a request


def test_icmpv6_uses_its_own_types_and_no_header_offset() -> None:
    assert echo_request(V6, 1, 2, b"t")[0] == 128
    reply = bytes([129, 0, 0, 0, 0, 1, 0, 2]) + b"t"
    assert parse_reply(reply, V6, raw=True) == (1, 2, b"t")


@needs_ping
async def test_cancelling_propagates_and_closes_the_socket(ctx: ProbeContext) -> None:
    await cancel_soon(run(IcmpSpec("127.0.0.1", count=5, packet_interval=1), 10, ctx))




def _check(text: str) -> tuple[Any, list[str]]:
    return check_schema(SCHEMA, "icmp", text)


def test_schema_builds_a_spec_with_defaults() -> None:
    value, problems = _check("host: 127.0.0.1\nexpect:\n  max_loss: 20\n  max_rtt: 50ms\n")
    assert problems == []
    assert value == IcmpSpec("127.0.0.1", 3, 0.2, IcmpExpect(max_loss=20.0, max_rtt=0.05))


def test_schema_bounds_count_and_loss() -> None:
    _, problems = _check("host: 127.0.0.1\ncount: 50\nexpect:\n  max_loss: 150\n")
    assert problems == [
        "checks.yaml:2:8: checks[0].icmp.count: expected an integer 1–20, got 50",
        "checks.yaml:4:13: checks[0].icmp.expect.max_loss: expected a number 0–100, got 150",
    ]
