"""TCP probe: connect (optionally in TLS), optionally send a line, and expect a reply.

It also owns the connection steps the TLS probe reuses: resolving, connecting, the TLS
handshake, and naming the step a timeout or an error happened in.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node

from monitor.config.hostnames import ascii_host
from monitor.config.scalars import Bool, HostName, Int, Str, format_duration
from monitor.config.schema import INVALID, Ctx, Obj
from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.certs import cert_not_after, verify_error_reason

READ_LIMIT = 4096  # a banner or a short reply; more means the expectation is not there
CLOSE_GRACE = 0.5  # how long a polite close (TLS close_notify, FIN) may take
SHOWN_CHARS = 40



class Regex(Str):
    """A string that must compile as a Python regular expression."""

    def __init__(self, description: str = "", *, default: Any = INVALID) -> None:
        super().__init__(description, default=default, env=False)

    def convert(self, value: Any, node: Node, path: str, ctx: Ctx) -> Any:
        text = super().convert(value, node, path, ctx)
        if text is INVALID:
            return INVALID
        try:
            re.compile(text)
        except re.error as exc:
            return ctx.error(node, path, f"invalid regular expression: {exc}")
        return text


class Attempt:
    """One probe's progress: the step under way (named in timeout and error reasons) and
    the time each finished phase took."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self.started = time.perf_counter()
        self._lap = self.started
        self.step = "resolving"
        self.action = "resolve"
        self.phases: dict[str, float] = {}
        self.received = b""  # what the target sent so far, quoted when it disappoints

    def begin(self, step: str, action: str) -> None:
        """Name what happens now: `step` for timeouts, `action` prefixes error reasons."""
        self.step, self.action = step, action

    def lap(self, phase: str) -> float:
        """Record the time since the previous lap as `phase`."""
        now = time.perf_counter()
        self.phases[phase] = now - self._lap
        self._lap = now
        return self.phases[phase]

    def timeout_reason(self, timeout: float) -> str:
        return f"timeout after {format_duration(timeout)} ({self.step})"

    def error_reason(self, exc: OSError) -> str:
        return f"{self.action}: {os_error_text(exc)}"

    def result(self, ok: bool, reason: str, **kw: Any) -> ProbeResult:
        return ProbeResult(
            ok,
            reason,
            duration=time.perf_counter() - self.started,
            phases=dict(self.phases),
            started_at=self.started_at,
            **kw,
        )


def os_error_text(exc: OSError) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('…', 1)"."""
    if isinstance(exc, socket.gaierror):
        text = exc.strerror or str(exc)
    elif isinstance(exc, ssl.SSLError):  # its errno is OpenSSL's, not the system's
        text = (exc.reason or str(exc)).replace("_", " ")
    elif exc.errno:
        text = os.strerror(exc.errno)
    else:
        text = str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def plain_host(host: str) -> str:
    """The host as the resolver gets it: an IPv6 literal without the brackets URLs put
    around it, a name in ASCII (IDNA 2008). OSError when it is no usable name, so that a
    probe reports it like any other resolve failure instead of raising UnicodeError."""
    try:
        return ascii_host(host)
    except ValueError as exc:
        raise OSError(f"invalid host name: {exc}") from None


async def resolve(host: str, port: int) -> tuple[Any, ...]:
    """The first socket address for host:port (the system resolver's preferred one)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        plain_host(host), port, type=socket.SOCK_STREAM
    )
    return infos[0][4]


async def open_stream(
    attempt: Attempt,
    host: str,
    port: int,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Resolve, connect and (with `tls`) handshake, timing each phase on `attempt`."""
    attempt.begin("resolving", "resolve")
    address = await resolve(host, port)
    attempt.lap("resolve")
    attempt.begin("connecting", "connect")
    reader, writer = await asyncio.open_connection(address[0], address[1])
    attempt.lap("connect")
    if tls is not None:
        attempt.begin("tls handshake", "tls")
        try:
            await writer.start_tls(tls, server_hostname=plain_host(server_name or host))
        except BaseException:
            writer.transport.abort()
            raise
        attempt.lap("tls")
    return reader, writer


def load_tls(ctx: ProbeContext, verify: bool, ca_file: str | None) -> ssl.SSLContext | str:
    """The client TLS context, or why it cannot be built (an unreadable ca_file)."""
    try:
        return ctx.ssl_context(verify, ca_file)
    except OSError as exc:
        return f"cannot load ca_file {ca_file}: {os_error_text(exc)}"


def peer_text(writer: asyncio.StreamWriter) -> str:
    """'127.0.0.1:443' or '[::1]:443' for the address actually connected to."""
    host, port = writer.get_extra_info("peername")[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def close_stream(writer: asyncio.StreamWriter) -> None:
    """Close politely, but never wait long for a peer that does not answer the close."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE):
            await writer.wait_closed()
    except (TimeoutError, OSError):  # ssl.SSLError is an OSError too
        writer.transport.abort()


def shown(data: bytes) -> str:
    """Received bytes as a short printable quote: '220 siaga-test ready'."""
    text = data.decode("utf-8", "replace")
    text = re.sub(r"[^\S ]+|[^\x20-\x7e\u00a0-\uffff]+", " ", text).strip()
    text = re.sub(r" {2,}", " ", text)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


@dataclass(frozen=True, slots=True)
class TcpSpec:
    host: str
    port: int
    send: str | None = None
    expect: str | None = None
    expect_regex: str | None = None
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None

    def wanted(self) -> str:
        """What we wait for, as named in reasons."""
        wants = [f"{self.expect!r}"] if self.expect else []
        if self.expect_regex:
            wants.append(f"/{self.expect_regex}/")
        return " and ".join(wants)

    def mismatch(self, data: bytes) -> str | None:
        """Why `data` misses the expectation; None when it meets it."""
        text = data.decode("utf-8", "replace")
        if self.expect and self.expect not in text:
            return f"response does not contain {self.expect!r} (got {shown(data)!r})"
        if self.expect_regex and not re.search(self.expect_regex, text):
            return f"response does not match /{self.expect_regex}/ (got {shown(data)!r})"
        return None


SCHEMA = Obj(
    {
        "host": HostName("Host name or IP address"),
        "port": Int("TCP port", min=1, max=65535),
        "send": Str("Text sent after connecting (write \\r\\n in double quotes)", default=None),
        "expect": Str("Substring the response must contain", default=None),
        "expect_regex": Regex("Regular expression the response must match", default=None),
        "tls": Bool("Wrap the connection in TLS after connecting", default=False),
        "tls_verify": Bool("Verify the certificate chain and host name", default=True),
        "ca_file": Str("PEM file of CAs to trust instead of the system's", default=None),
    },
    "Connect to a TCP port; optionally send a line and expect a reply",
    required=["host", "port"],
    build=lambda v, node, path, ctx: TcpSpec(**v),
)


async def _exchange(
    spec: TcpSpec, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, attempt: Attempt
) -> tuple[str | None, bytes]:
    """Send, then read until the expectation is met: (failure reason or None, bytes read)."""
    if spec.send is not None:
        attempt.begin("sending", "send")
        writer.write(spec.send.encode())
        await writer.drain()
    if not (spec.expect or spec.expect_regex):
        return None, b""
    attempt.begin(f"waiting for {spec.wanted()}", "read")
    data = b""
    while len(data) < READ_LIMIT:
        chunk = await reader.read(READ_LIMIT - len(data))
        if not chunk:
            break
        if not data:
            attempt.lap("processing")
        data += chunk
        attempt.received = data
        if spec.mismatch(data) is None:
            return None, data
    if not data:
        return f"connection closed with no response, expected {spec.wanted()}", data
    return spec.mismatch(data), data


async def run(spec: TcpSpec, timeout: float, ctx: ProbeContext) -> ProbeResult:
    attempt = Attempt()
    tls = load_tls(ctx, spec.tls_verify, spec.ca_file) if spec.tls else None
    if isinstance(tls, str):
        return attempt.result(False, tls)
    writer: asyncio.StreamWriter | None = None
    details: dict[str, Any] = {}
    data, cert_expiry, deadline = b"", None, asyncio.timeout(timeout)
    try:
        async with deadline:
            reader, writer = await open_stream(attempt, spec.host, spec.port, tls)
            details["peer"] = peer_text(writer)
            failure, data = await _exchange(spec, reader, writer, attempt)
            cert_expiry = cert_not_after(writer.get_extra_info("ssl_object"))
        await close_stream(writer)
        writer = None
    except TimeoutError as exc:
        failure = _timeout_reason(spec, attempt, exc, deadline, timeout)
    except ssl.SSLError as exc:
        failure = verify_error_reason(exc, spec.host)
    except OSError as exc:
        failure = attempt.error_reason(exc)
    finally:
        if writer is not None:
            writer.transport.abort()
    if failure is None and data:
        details["response"] = shown(data)
    ok = failure is None
    return attempt.result(ok, failure or "ok", cert_expiry=cert_expiry, details=details)


def _timeout_reason(
    spec: TcpSpec, attempt: Attempt, exc: TimeoutError, deadline: asyncio.Timeout, timeout: float
) -> str:
    if not deadline.expired():  # the kernel gave up (ETIMEDOUT), not our deadline
        return attempt.error_reason(exc)
    if attempt.action == "read" and attempt.received:
        return spec.mismatch(attempt.received) or attempt.timeout_reason(timeout)
    return attempt.timeout_reason(timeout)


def target(spec: TcpSpec) -> str:
    return f"{spec.host}:{spec.port}"


KIND = ProbeKind("tcp", SCHEMA, run, target)
