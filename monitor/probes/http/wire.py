"""The HTTP/1.1 wire for the HTTP probe: one fresh connection, one request, one bounded
response, with each phase timed.

Lean on purpose: a monitor opens a new connection for every probe, and a general client
(aiohttp's costs ~530 µs CPU a request) spends most of its time on pooling, cookies and
streams we do not need. Here a bare `asyncio.Protocol` parses the response as it arrives,
and the caller awaits one future per request.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from monitor.errors import HttpError
from monitor.probes.certs import cert_not_after, verify_error_reason
from monitor.probes.tcp import os_error_text

MAX_HEAD = 65536  # status line + headers; more is not a web server talking
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_STATUS_LINE = re.compile(r"HTTP/1\.[01] ([1-9]\d\d)(?:[ \t].*)?")
_CHUNK_LINE_MAX = 4096

# Parser states: reading the head, a body of known length, a chunked body, a body that
# ends when the server closes, and finished.
_HEAD, _LENGTH, _CHUNKED, _CLOSE, _DONE = range(5)
# Chunked sub-states, kept in `chunk_left` when it is not a positive count of data bytes.
_CHUNK_SIZE, _CHUNK_CRLF = 0, -1


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes, parsed once from its URL."""

    tls: bool
    host: str  # no brackets; IDNA-encoded
    port: int
    authority: str  # the Host header
    path: str  # path and query, percent-encoded
    literal: bool  # an IP address: nothing to resolve


class Trace:
    """One probe's progress across its requests: the phase times (summed over redirects),
    what it waits for now (named when the deadline hits), and the earliest cert expiry."""

    __slots__ = ("cert_expiry", "phases", "stage")

    def __init__(self, phases: dict[str, float]) -> None:
        self.phases = phases
        self.stage = "resolving"
        self.cert_expiry: float | None = None

    def add(self, phase: str, since: float) -> float:
        now = perf_counter()
        self.phases[phase] += now - since
        return now


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    truncated: bool  # the body went on past the limit; we stopped reading


@dataclass(slots=True)  # not frozen: built per request, and frozen init costs µs
class Exchange:
    """One request to send over a fresh connection, and how to read its answer."""

    target: Target
    request: bytes
    head_only: bool  # HEAD: the response has no body whatever its headers say
    skip_redirect_body: bool  # a redirect we will follow: its body does not matter
    limit: int  # body bytes to keep at most
    tls: ssl.SSLContext | None
    server_name: str | None


async def fetch(exchange: Exchange, trace: Trace) -> Response:
    """Send one request on a new connection and read the response; HttpError on failure."""
    loop = asyncio.get_running_loop()
    parser = ResponseParser(loop, exchange, trace)
    since = perf_counter()
    trace.stage = "resolving"
    addresses = await _resolve(loop, exchange.target)
    since = trace.add("resolve", since)
    trace.stage = "connecting"
    transport = await _connect(loop, addresses, parser)
    try:
        since = trace.add("connect", since)
        if exchange.tls is not None:
            trace.stage = "tls handshake"
            transport = await _handshake(loop, transport, parser)
            since = trace.add("tls", since)
        trace.stage = "no response headers"
        parser.sent = perf_counter()  # before the write: its syscall is part of the wait
        transport.write(exchange.request)
        await parser.done
    finally:
        parser.abandon()
        transport.abort()
    return parser.response()


async def _resolve(loop: asyncio.AbstractEventLoop, target: Target) -> list[tuple[Any, ...]]:
    if target.literal:
        family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
        return [(family, (target.host, target.port))]
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HttpError(_resolve_reason(exc, target.host)) from None
    except UnicodeError:
        raise HttpError(f"resolve: bad host name ({target.host})") from None
    return [(family, address) for family, _, _, _, address in infos]


def _resolve_reason(exc: socket.gaierror, host: str) -> str:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return f"resolve: name not found ({host})"
    if exc.errno == socket.EAI_AGAIN:
        return f"resolve: temporary failure, try again ({host})"
    return f"resolve: {os_error_text(exc)} ({host})"


async def _connect(
    loop: asyncio.AbstractEventLoop, addresses: list[tuple[Any, ...]], parser: ResponseParser
) -> asyncio.Transport:
    """Connect to the first address that accepts, in the resolver's order."""
    first: OSError | None = None
    for family, address in addresses:
        try:
            return await _open(loop, family, address, parser)
        except OSError as exc:
            first = first or exc
    assert first is not None
    raise HttpError(f"connect: {os_error_text(first)}")


async def _open(
    loop: asyncio.AbstractEventLoop, family: int, address: Any, parser: ResponseParser
) -> asyncio.Transport:
    # Measured per probe: asyncio's own loop is ~10% cheaper connecting a socket we made,
    # uvloop is 2.5x cheaper given the address (it wraps a foreign socket slowly).
    if not isinstance(loop, asyncio.BaseEventLoop):
        transport, _ = await loop.create_connection(
            lambda: parser, address[0], address[1], family=family
        )
        return transport
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
        transport, _ = await loop.create_connection(lambda: parser, sock=sock)
    except BaseException:
        sock.close()
        raise
    return transport


async def _handshake(
    loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, parser: ResponseParser
) -> asyncio.Transport:
    exchange, trace = parser.exchange, parser.trace
    assert exchange.tls is not None
    name = exchange.server_name or exchange.target.host
    try:
        wrapped = await loop.start_tls(transport, parser, exchange.tls, server_hostname=name)
    except ssl.SSLError as exc:
        raise HttpError(verify_error_reason(exc, name)) from None
    except ConnectionError as exc:
        raise HttpError(f"tls: {os_error_text(exc)} during handshake") from None
    if wrapped is None:  # the peer closed during the handshake
        raise HttpError("tls: connection closed during handshake")
    expiry = cert_not_after(wrapped.get_extra_info("ssl_object"))
    if expiry is not None and (trace.cert_expiry is None or expiry < trace.cert_expiry):
        trace.cert_expiry = expiry
    return wrapped


class ResponseParser(asyncio.Protocol):
    """Parses one HTTP/1.x response as bytes arrive, then resolves `done`."""

    __slots__ = (
        "body", "buf", "chunk_left", "done", "exchange", "first_byte", "headers", "remaining",
        "sent", "state", "status", "trace", "truncated",
    )  # fmt: skip

    def __init__(self, loop: asyncio.AbstractEventLoop, exchange: Exchange, trace: Trace):
        self.done: asyncio.Future[None] = loop.create_future()
        self.exchange, self.trace = exchange, trace
        self.buf = bytearray()
        self.body = bytearray()
        self.state = _HEAD
        self.status, self.headers = 0, dict[str, str]()
        self.remaining = self.chunk_left = 0
        self.truncated = False
        self.sent = self.first_byte = 0.0

    def response(self) -> Response:
        return Response(self.status, self.headers, bytes(self.body), self.truncated)

    def abandon(self) -> None:
        """Ignore whatever the connection does from now on (we are closing it)."""
        self.state = _DONE
        if self.done.done() and not self.done.cancelled():
            self.done.exception()  # mark it retrieved, so asyncio does not log it

    def data_received(self, data: bytes) -> None:
        if self.state == _DONE:
            return
        if not self.first_byte:  # a server may talk first (a banner): count from now then
            self.first_byte = self.trace.add("processing", self.sent or perf_counter())
        try:
            if self.state == _HEAD:
                self.buf += data
                data = self._parse_head()
            if self.state == _LENGTH:
                self._feed_length(data)
            elif self.state == _CHUNKED:
                self._feed_chunked(data)
            elif self.state == _CLOSE and self._take(data):
                self._finish(truncated=True)
        except HttpError as exc:
            self._fail(str(exc))

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost decides what it means

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == _DONE:
            return
        if self.state == _CLOSE and exc is None:
            self._finish(truncated=False)
            return
        how = "reset" if isinstance(exc, ConnectionResetError) else "closed"
        if self.state == _HEAD:
            self._fail(f"connection {how} before response headers")
        elif self.state == _LENGTH and how == "closed":
            got = len(self.body)
            total = got + self.remaining
            self._fail(f"connection closed while reading body ({got} of {total} bytes)")
        else:
            self._fail(f"connection {how} while reading body")

    def _finish(self, truncated: bool) -> None:
        self.state, self.truncated = _DONE, truncated
        if self.first_byte:
            self.trace.add("transfer", self.first_byte)
        if not self.done.done():
            self.done.set_result(None)

    def _fail(self, reason: str) -> None:
        self.state = _DONE
        if not self.done.done():
            self.done.set_exception(HttpError(reason))

    def _parse_head(self) -> bytes:
        """Parse a complete head from `buf`; returns the bytes after it (the body's start)."""
        while True:
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                garbage = not (buf[:5] == b"HTTP/" or b"HTTP/".startswith(buf))
                if garbage and (b"\n" in buf or len(buf) > 40):  # a whole line to quote
                    raise HttpError(f"invalid HTTP response: {_quote(buf)}")
                if len(buf) > MAX_HEAD:
                    raise HttpError("invalid HTTP response: headers larger than 64 KiB")
                return b""
            lines = buf[:end].decode("latin-1").split("\r\n")
            match = _STATUS_LINE.fullmatch(lines[0])
            if match is None:
                raise HttpError(f"invalid HTTP response: {_quote(buf)}")
            self.buf = buf[end + 4 :]
            status = int(match.group(1))
            if status >= 200 or status == 101:  # skip 100 Continue, 103 Early Hints
                break
        rest, self.buf = bytes(self.buf), bytearray()
        self.status, self.headers = status, _parse_headers(lines)
        self.trace.stage = "reading body"
        self._choose_body_mode()
        return rest

    def _choose_body_mode(self) -> None:
        status, headers, exchange = self.status, self.headers, self.exchange
        no_body = exchange.head_only or status in (204, 304) or status < 200
        followed = exchange.skip_redirect_body and status in REDIRECTS and "location" in headers
        if no_body or followed:
            self._finish(truncated=False)
        elif "transfer-encoding" in headers:
            chunked = headers["transfer-encoding"].rsplit(",", 1)[-1].strip().lower()
            self.state = _CHUNKED if chunked == "chunked" else _CLOSE
        elif "content-length" in headers:
            self.remaining = _content_length(headers["content-length"])
            self.state = _LENGTH
            if not self.remaining:
                self._finish(truncated=False)
        else:
            self.state = _CLOSE

    def _take(self, data: bytes | bytearray) -> bool:
        """Keep body bytes up to the limit; True once the limit is reached."""
        room = self.exchange.limit - len(self.body)
        if len(data) < room:
            self.body += data
            return False
        self.body += data[:room]
        return True

    def _feed_length(self, data: bytes) -> None:
        if len(data) >= self.remaining:
            self._take(data[: self.remaining])
            self.remaining = 0
            self._finish(truncated=False)
        else:
            self.remaining -= len(data)
            if self._take(data):
                self._finish(truncated=True)

    def _feed_chunked(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        while self.state == _CHUNKED:
            if self.chunk_left > 0:
                piece = buf[pos : pos + self.chunk_left]
                pos += len(piece)
                self.chunk_left -= len(piece)
                if self._take(piece):
                    self._finish(truncated=True)
                elif self.chunk_left:
                    break
                else:
                    self.chunk_left = _CHUNK_CRLF
            elif self.chunk_left == _CHUNK_CRLF:
                if len(buf) - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise HttpError("invalid HTTP response: bad chunked encoding")
                pos, self.chunk_left = pos + 2, _CHUNK_SIZE
            else:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    if len(buf) - pos > _CHUNK_LINE_MAX:
                        raise HttpError("invalid HTTP response: bad chunked encoding")
                    break
                size = _chunk_size(buf[pos:end])
                pos = end + 2
                if size == 0:  # trailers, if any, do not matter to a probe
                    self._finish(truncated=False)
                self.chunk_left = size
        del buf[:pos]


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    name = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and name:  # obsolete line folding
            headers[name] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(f"invalid HTTP response: bad header line {_quote(line)}")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _content_length(text: str) -> int:
    # ASCII digits only: str.isdigit() is true for '²' (latin-1 0xB2), which int() refuses
    if text.isascii() and text.isdigit():
        return int(text)
    values = {v.strip() for v in text.split(",")}
    if len(values) != 1 or not (value := values.pop()).isascii() or not value.isdigit():
        raise HttpError(f"invalid HTTP response: bad Content-Length {text!r}")
    return int(value)


def _chunk_size(line: bytes | bytearray) -> int:
    text = bytes(line).split(b";", 1)[0].strip()
    if not text or text.strip(b"0123456789abcdefABCDEF"):  # int() would take "0x1", "1_0"
        raise HttpError("invalid HTTP response: bad chunked encoding")
    return int(text, 16)


def _quote(data: bytes | bytearray | str) -> str:
    """The first line the server sent, quoted and cut short, for a reason."""
    text = data if isinstance(data, str) else bytes(data[:200]).decode("latin-1")
    line = text.split("\n", 1)[0].rstrip("\r")
    return repr(line if len(line) <= 40 else line[:40] + "…")
