"""ICMP probe: ping a host a few times and judge packet loss and round-trip time.

It prefers an unprivileged ICMP datagram socket (Linux "ping sockets", allowed by
net.ipv4.ping_group_range) and falls back to a raw socket (root or CAP_NET_RAW).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.config.scalars import Duration, Float, HostName, Int, format_duration
from monitor.config.schema import Obj
from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.tcp import Attempt, os_error_text, plain_host

SocketFactory = Callable[[int, int, int], socket.socket]

NOT_PERMITTED = (
    "icmp: not permitted — run as root, grant CAP_NET_RAW (setcap cap_net_raw+ep on the "
    "python binary), or allow unprivileged ping: "
    "sysctl -w net.ipv4.ping_group_range='0 2147483647'"
)
TOKEN_SIZE = 16


@dataclass(frozen=True, slots=True)
class Flavor:
    """What differs between ICMPv4 and ICMPv6 echo."""

    family: int
    proto: int
    request: int
    reply: int
    ip_header_on_raw: bool  # raw IPv4 sockets hand us the IP header; IPv6 ones do not


V4 = Flavor(socket.AF_INET, socket.IPPROTO_ICMP, 8, 0, True)
V6 = Flavor(socket.AF_INET6, socket.IPPROTO_ICMPV6, 128, 129, False)


@dataclass(frozen=True, slots=True)
class IcmpExpect:
    max_loss: float | None = None  # percent; None: fail only when every packet is lost
    max_rtt: float | None = None  # seconds, compared with the average round trip


@dataclass(frozen=True, slots=True)
class IcmpSpec:
    host: str
    count: int = 3
    packet_interval: float = 0.2
    expect: IcmpExpect = field(default_factory=IcmpExpect)


EXPECT = Obj(
    {
        "max_loss": Float("Highest packet loss in percent (default: fail only at 100%)",
                          min=0, max=100, default=None),
        "max_rtt": Duration("Highest average round-trip time", default=None),
    },
    "What the pings must achieve",
    build=lambda v, node, path, ctx: IcmpExpect(**v),
    default=None,
)

SCHEMA = Obj(
    {
        "host": HostName("Host name or IP address"),
        "count": Int("Echo requests per probe", min=1, max=20, default=3),
        "packet_interval": Duration("Time between echo requests", min=0.01, max=10,
                                    default=0.2),
        "expect": EXPECT,
    },
    "Ping a host (ICMP echo)",
    required=["host"],
    build=lambda v, node, path, ctx: IcmpSpec(**{**v, "expect": v["expect"] or IcmpExpect()}),
)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(flavor: Flavor, ident: int, seq: int, token: bytes) -> bytes:
    """An echo request; the kernel fills in the ICMPv6 checksum itself."""
    header = struct.pack("!BBHHH", flavor.request, 0, 0, ident, seq)
    if flavor is V6:
        return header + token
    return struct.pack("!BBHHH", flavor.request, 0, checksum(header + token), ident, seq) + token


def parse_reply(data: bytes, flavor: Flavor, raw: bool) -> tuple[int, int, bytes] | None:
    """(identifier, sequence, payload) of an echo reply; None for any other packet."""
    if raw and flavor.ip_header_on_raw and data:
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return None
    kind, _, _, ident, seq = struct.unpack("!BBHHH", data[:8])
    if kind != flavor.reply:
        return None
    return ident, seq, data[8:]


class EchoSession:
    """One probe's echo exchange over one non-blocking socket, read through the loop."""

    def __init__(self, sock: socket.socket, raw: bool, flavor: Flavor, count: int) -> None:
        self.sock, self.raw, self.flavor, self.count = sock, raw, flavor, count
        # Datagram sockets get their identifier rewritten by the kernel (which then
        # filters replies for us), so only raw sockets compare it.
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.token = os.urandom(TOKEN_SIZE)
        self.sent: dict[int, float] = {}
        self.rtts: dict[int, float] = {}
        self.all_back = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        sock.setblocking(False)
        self.loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        now = time.perf_counter()
        while True:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # a queued ICMP error (unreachable): that packet is lost
                return  # the loop calls again while more is queued
            self._match(data, now)

    def _match(self, data: bytes, now: float) -> None:
        parsed = parse_reply(data, self.flavor, self.raw)
        if parsed is None:
            return
        ident, seq, payload = parsed
        if (self.raw and ident != self.ident) or payload != self.token:
            return  # another process's ping, seen by our raw socket
        if seq in self.sent and seq not in self.rtts:
            self.rtts[seq] = now - self.sent[seq]
            if len(self.rtts) == self.count:
                self.all_back.set()

    async def ping(self, address: tuple[Any, ...], interval: float) -> None:
        """Send `count` echo requests `interval` apart, then wait for the last replies."""
        for seq in range(1, self.count + 1):
            if seq > 1:
                await asyncio.sleep(interval)
            packet = echo_request(self.flavor, self.ident, seq, self.token)
            self.sent[seq] = time.perf_counter()
            self.sock.sendto(packet, address)
        await self.all_back.wait()


async def resolve(host: str) -> tuple[Flavor, tuple[Any, ...]]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        plain_host(host), None, type=socket.SOCK_DGRAM
    )
    family, _, _, _, address = infos[0]
    return (V6 if family == socket.AF_INET6 else V4), address


class Pinger:
    """Runs ICMP probes. `socket_factory` opens sockets (socket.socket unless told)."""

    def __init__(self, socket_factory: SocketFactory = socket.socket) -> None:
        self.socket_factory = socket_factory

    def open(self, flavor: Flavor) -> tuple[socket.socket, bool]:
        """(socket, is_raw): a datagram ping socket if allowed, else a raw one."""
        try:
            return self.socket_factory(flavor.family, socket.SOCK_DGRAM, flavor.proto), False
        except OSError:  # EACCES outside ping_group_range, or no ping sockets at all
            pass
        return self.socket_factory(flavor.family, socket.SOCK_RAW, flavor.proto), True

    async def run(self, spec: IcmpSpec, timeout: float, ctx: ProbeContext) -> ProbeResult:
        attempt = Attempt()
        try:
            async with asyncio.timeout(timeout):
                flavor, address = await resolve(spec.host)
        except TimeoutError:
            return attempt.result(False, attempt.timeout_reason(timeout))
        except OSError as exc:
            return attempt.result(False, attempt.error_reason(exc))
        attempt.lap("resolve")
        try:
            sock, raw = self.open(flavor)
        except PermissionError:
            return attempt.result(False, NOT_PERMITTED)
        except OSError as exc:
            return attempt.result(False, f"icmp: cannot open a socket: {os_error_text(exc)}")
        try:
            session = EchoSession(sock, raw, flavor, spec.count)
        except BaseException:
            sock.close()
            raise
        try:
            failure = await self._exchange(session, spec, address, timeout, attempt)
        finally:
            session.close()
        return verdict(spec, session, attempt, failure, timeout)

    async def _exchange(
        self,
        session: EchoSession,
        spec: IcmpSpec,
        address: tuple[Any, ...],
        timeout: float,
        attempt: Attempt,
    ) -> str | None:
        """Ping until every reply is back or the time is up; unanswered packets are lost."""
        remaining = timeout - (time.perf_counter() - attempt.started)
        try:
            async with asyncio.timeout(max(remaining, 0)):
                await session.ping(address, spec.packet_interval)
        except TimeoutError:
            pass
        except OSError as exc:  # sendto: no route, network unreachable, …
            return f"icmp: {os_error_text(exc)}"
        return None


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g}ms" if seconds < 1 else format_duration(seconds)


def verdict(
    spec: IcmpSpec, session: EchoSession, attempt: Attempt, failure: str | None, timeout: float
) -> ProbeResult:
    """Loss and round-trip figures, judged against the expectation."""
    sent, rtts = len(session.sent), list(session.rtts.values())
    loss = 100.0 * (sent - len(rtts)) / sent if sent else 100.0
    details: dict[str, Any] = {"sent": sent, "received": len(rtts), "loss_percent": loss}
    details.update(rtt_min=None, rtt_avg=None, rtt_max=None)
    if rtts:
        avg = sum(rtts) / len(rtts)
        details.update(rtt_min=min(rtts), rtt_avg=avg, rtt_max=max(rtts))
        attempt.phases["rtt"] = avg
    if failure is None:
        failure = _judge(spec, details, timeout)
    note = f"ok ({loss:.0f}% packet loss)" if loss else "ok"
    return attempt.result(failure is None, failure or note, details=details)


def _judge(spec: IcmpSpec, details: dict[str, Any], timeout: float) -> str | None:
    sent, received, loss = details["sent"], details["received"], details["loss_percent"]
    if sent < spec.count:
        return (
            f"timeout after {format_duration(timeout)} ({sent} of {spec.count} packets sent; "
            "count × packet_interval does not fit in the timeout)"
        )
    if received == 0:
        return f"100% packet loss ({sent} sent, 0 received)"
    max_loss, max_rtt = spec.expect.max_loss, spec.expect.max_rtt
    if max_loss is not None and loss > max_loss:
        return f"packet loss {loss:.0f}% (maximum {max_loss:g}%)"
    if max_rtt is not None and details["rtt_avg"] > max_rtt:
        return f"average rtt {_ms(details['rtt_avg'])} (maximum {_ms(max_rtt)})"
    return None


DEFAULT = Pinger()


async def run(spec: IcmpSpec, timeout: float, ctx: ProbeContext) -> ProbeResult:
    return await DEFAULT.run(spec, timeout, ctx)


def target(spec: IcmpSpec) -> str:
    return spec.host


KIND = ProbeKind("icmp", SCHEMA, run, target)
