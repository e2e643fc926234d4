"""The HTTP/1.1 wire for the HTTP probe: one fresh connection (direct or through a proxy),
one request, one bounded response, with each phase timed.

Lean on purpose: a monitor opens a new connection for every probe, and a general client
(aiohttp's costs ~530 µs CPU a request) spends most of its time on pooling, cookies and
streams we do not need. The protocol is ours (phase timing, deadlines, bounded reads,
decoding under a cap); the HTTP grammar is llhttp's, through httptools, the parser behind
uvicorn and Node.js. llhttp is strict; a probe reads replies browsers accept, so three of its
leniencies are on: bare LF line ends (old appliances), obsolete header folding and odd bytes
in header values, spaces after a chunk size. None of them matters for request smuggling here:
every connection carries one request and closes.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import httptools

from monitor.errors import HttpError
from monitor.probes.certs import cert_not_after, verify_error_reason
from monitor.probes.dialer import Address, DialError, dial, resolve
from monitor.probes.http.decode import DecodeError, Decoder, decoder_for
from monitor.probes.http.proxy import Proxy, ProxyError, Tunnel, open_tunnel
from monitor.probes.tcp import os_error_text

MAX_HEAD = 65536  # status line + headers; more is not a web server talking
REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Parser states: reading the head, reading the body, finished, and reading the rest of a
# first line llhttp refused (to quote it whole in the reason).
_HEAD, _BODY, _DONE, _GARBAGE = range(4)
_QUOTED = 40  # characters of a refused first line to quote


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes, parsed once from its URL."""

    tls: bool
    host: str  # no brackets; IDNA-encoded
    port: int
    authority: str  # the Host header
    path: str  # path and query, percent-encoded
    literal: bool  # an IP address: nothing to resolve
    shown: str  # the URL without credentials or query string: safe for details and logs


class Trace:
    """One probe's progress across its requests: the phase times (summed over redirects),
    what it waits for now (named when the deadline hits), and the earliest expiry among the
    leaf certificates of its hops."""

    __slots__ = ("cert_expiry", "phases", "stage")

    def __init__(self, phases: dict[str, float]) -> None:
        self.phases = phases
        self.stage = "resolving"
        self.cert_expiry: float | None = None

    def add(self, phase: str, since: float) -> float:
        now = perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # decoded (Content-Encoding undone)
    truncated: bool  # the body went on past the limit; we stopped reading
    phrase: str = ""  # the status line's reason phrase, as sent


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
    proxy: Proxy | None = None  # the forward proxy this request goes through
    attempt_timeout: float | None = None  # per address, when the name has several


async def fetch(exchange: Exchange, trace: Trace) -> Response:
    """Send one request on a new connection and read the response; HttpError on failure."""
    loop = asyncio.get_running_loop()
    parser = ResponseParser(loop, exchange, trace)
    target, proxy = exchange.target, exchange.proxy
    tunnel = Tunnel(loop) if proxy is not None and exchange.tls is not None else None
    since = perf_counter()
    trace.stage = "resolving"
    try:
        if proxy is not None:
            addresses = await resolve(loop, proxy.host, proxy.port, proxy.literal)
        elif target.literal and ":" not in target.host:  # nothing to resolve or await
            addresses = [(socket.AF_INET, (target.host, target.port))]
        else:
            addresses = await resolve(loop, target.host, target.port, target.literal)
    except DialError as exc:
        raise HttpError(f"proxy {exc}" if proxy is not None else str(exc)) from None
    since = trace.add("resolve", since)
    trace.stage = "connecting to proxy" if proxy is not None else "connecting"
    try:
        transport = await _connect(loop, addresses, tunnel or parser, exchange.attempt_timeout,
                                   proxy)
    except BaseException:
        # Cancelled (the probe's deadline) as the connection was made: the transport the
        # loop then closes still reports its end to the protocol, whose failure nobody
        # awaits any more (asyncio logged "Future exception was never retrieved").
        parser.abandon()
        if tunnel is not None:
            tunnel.abandon()
        raise
    try:
        since = trace.add("connect", since)
        if tunnel is not None:
            assert proxy is not None
            trace.stage = "proxy CONNECT"
            await _tunnel(transport, tunnel, proxy, target)
            since = trace.add("proxy", since)
        if exchange.tls is not None:
            trace.stage = "tls handshake"
            transport = await _handshake(loop, transport, parser)
            since = trace.add("tls", since)
        trace.stage = "no response headers"
        parser.sent = perf_counter()  # before the write: its syscall is part of the wait
        transport.write(exchange.request)
        await parser.done
        if parser.error is not None:
            raise HttpError(parser.error)
    finally:
        parser.abandon()
        if tunnel is not None:
            tunnel.abandon()
        transport.abort()
    return parser.response()


async def _tunnel(transport: asyncio.Transport, tunnel: Tunnel, proxy: Proxy,
                  target: Target) -> None:
    host = f"[{target.host}]" if ":" in target.host else target.host
    try:
        await open_tunnel(transport, tunnel, proxy, f"{host}:{target.port}")
    except ProxyError as exc:
        raise HttpError(str(exc)) from None


async def _connect(
    loop: asyncio.AbstractEventLoop,
    addresses: list[Address],
    protocol: asyncio.Protocol,
    attempt_timeout: float | None,
    proxy: Proxy | None,
) -> asyncio.Transport:
    """A transport to the first address that accepts (Happy Eyeballs over several)."""
    # Measured per probe: uvloop is 2.5x cheaper given the address than wrapping a socket
    # we made, so its common case (one address) skips the dialer.
    try:
        if len(addresses) == 1 and not isinstance(loop, asyncio.BaseEventLoop):
            family, sockaddr = addresses[0]
            transport, _ = await loop.create_connection(
                lambda: protocol, sockaddr[0], sockaddr[1], family=family
            )
            return transport
        sock = await dial(loop, addresses, attempt_timeout)
    except OSError as exc:
        raise HttpError(_via(proxy, f"connect: {os_error_text(exc)}")) from None
    except DialError as exc:
        raise HttpError(_via(proxy, str(exc))) from None
    try:
        transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    return transport


def _via(proxy: Proxy | None, reason: str) -> str:
    return reason if proxy is None else f"proxy {proxy.shown}: {reason}"


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


class _NoParser:
    """Stands in for llhttp once a response is abandoned (its callbacks held us)."""

    def feed_data(self, data: bytes) -> None:
        pass

    def get_status_code(self) -> int:
        return 0


_NO_PARSER: Any = _NoParser()


class _Stop(Exception):
    """Raised from a parser callback to stop llhttp mid-buffer: we have what we need."""


class ResponseParser(asyncio.Protocol):
    """Feeds one HTTP/1.x response to llhttp as bytes arrive, keeps the head and a bounded,
    decoded body, then resolves `done`."""

    __slots__ = (
        "body", "decoder", "done", "error", "exchange", "first", "first_byte", "head_bytes",
        "headers",
        "interim", "llhttp", "phrase", "raw", "sent", "state", "status", "trace", "truncated",
        "until_close",
    )  # fmt: skip

    def __init__(self, loop: asyncio.AbstractEventLoop, exchange: Exchange, trace: Trace):
        self.done: asyncio.Future[None] = loop.create_future()
        self.exchange, self.trace = exchange, trace
        self.llhttp = httptools.HttpResponseParser(self)
        self.llhttp.set_dangerous_leniencies(
            lenient_optional_cr_before_lf=True,
            lenient_headers=True,
            lenient_spaces_after_chunk_size=True,
        )
        self.state, self.head_bytes, self.first = _HEAD, 0, b""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.phrase: str | None = None  # set once the status line is through
        self.body = bytearray()
        self.raw = 0  # body bytes as they came over the wire (before decoding)
        self.decoder: Decoder | None = None
        self.truncated = self.interim = self.until_close = False
        self.sent = self.first_byte = 0.0
        # Why the response failed. Not an exception in `done`: that made a reference cycle
        # (future → exception → traceback → fetch's frame → parser → future) per failure.
        self.error: str | None = None

    def response(self) -> Response:
        body = bytes(self.body)
        return Response(self.status, self.headers, body, self.truncated, self.phrase or "")

    def abandon(self) -> None:
        """Ignore whatever the connection does from now on (we are closing it)."""
        self.state = _DONE
        # llhttp holds our bound callbacks: a reference cycle per probe, ~11 objects the
        # cyclic collector had to find (gc was 7 % of the daemon's CPU at 200 probes/s).
        self.llhttp = _NO_PARSER

    # ------------------------------------------------------------ the transport's side

    def data_received(self, data: bytes) -> None:
        if self.state == _DONE:
            return
        if not self.first_byte:  # a server may talk first (a banner): count from now then
            self.first_byte = self.trace.add("processing", self.sent or perf_counter())
        if self.state != _BODY:
            self.head_bytes += len(data)
            if len(self.first) <= _QUOTED:
                self.first += data[: _QUOTED + 1]
            if self.state == _GARBAGE:
                self._quote_garbage(closed=False)
                return
        try:
            self.llhttp.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(truncated=False)
        except httptools.HttpParserCallbackError as exc:
            if self.state != _DONE:  # a bug of ours, not the target's: say so plainly
                self._fail(f"invalid HTTP response: {exc.__context__ or exc}")
        except httptools.HttpParserError as exc:
            if self.phrase is None:  # llhttp stopped inside the status line
                self.state = _GARBAGE
                self._quote_garbage(closed=False)
            else:
                text = str(exc) or type(exc).__name__
                self._fail(f"invalid HTTP response: {text[:1].lower()}{text[1:]}")
        if self.state == _HEAD and self.head_bytes > MAX_HEAD:
            self._fail("invalid HTTP response: headers larger than 64 KiB")

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost decides what it means

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == _DONE:
            return
        if self.state == _GARBAGE:
            self._quote_garbage(closed=True)
            return
        if self.state == _BODY and self.until_close and exc is None:
            self._finish(truncated=False)
            return
        how = "reset" if isinstance(exc, ConnectionResetError) else "closed"
        if self.state == _HEAD:
            self._fail(f"connection {how} before response headers")
            return
        length = self.headers.get("content-length", "")
        if how == "closed" and length.isascii() and length.isdigit() and not self.until_close:
            self._fail(f"connection closed while reading body ({self.raw} of {length} bytes)")
        else:
            self._fail(f"connection {how} while reading body")

    # ------------------------------------------------------------ llhttp's callbacks

    def on_message_begin(self) -> None:
        if self.state == _DONE:
            raise _Stop  # a second response on a connection that carries one
        self.headers, self.phrase = {}, None  # a 1xx interim response's do not count

    def on_status(self, phrase: bytes) -> None:  # may come in pieces
        self.phrase = (self.phrase or "") + phrase.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip(" \t")  # llhttp unfolds obs-fold into spaces
        headers = self.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        status = self.llhttp.get_status_code()
        if self.phrase is None:
            self.phrase = ""
        self.interim = status < 200 and status != 101  # 100 Continue, 103 Early Hints
        if self.interim:
            return
        self.status, self.state = status, _BODY
        self.trace.stage = "reading body"
        exchange, headers = self.exchange, self.headers
        no_body = exchange.head_only or status in (204, 304) or status == 101
        followed = exchange.skip_redirect_body and status in REDIRECTS and "location" in headers
        if no_body or followed:
            self._finish(truncated=False)
            raise _Stop
        coding = headers.get("transfer-encoding")
        chunked = coding is not None and coding.rsplit(",", 1)[-1].strip().lower() == "chunked"
        self.until_close = not chunked and (coding is not None or "content-length" not in headers)
        if "content-encoding" in headers:
            self.decoder = decoder_for(headers["content-encoding"])

    def on_body(self, data: bytes) -> None:
        if self.state != _BODY:
            raise _Stop
        self.raw += len(data)
        if self.decoder is None:
            self._take(data)
        else:
            self._decode(self.decoder, data)

    def on_message_complete(self) -> None:
        if self.interim:
            return
        # No _Stop here: nearly every response ends the buffer (Connection: close), and the
        # exception llhttp turns it into cost two exceptions a probe. Bytes after it would
        # begin another message, which on_message_begin refuses.
        self._finish(truncated=False)

    # ------------------------------------------------------------ the body, bounded

    def _take(self, data: bytes) -> None:
        """Keep body bytes up to the limit; a byte past it truncates (exactly the limit
        does not: the body may end right there)."""
        room = self.exchange.limit - len(self.body)
        if len(data) <= room:
            self.body += data
            return
        self.body += data[:room]
        self._finish(truncated=True)
        raise _Stop

    def _decode(self, decoder: Decoder, data: bytes) -> None:
        """Decode under the cap: ask for one byte more than fits, so a bomb stops there."""
        limit = self.exchange.limit
        try:
            out = decoder.feed(data, limit - len(self.body) + 1)
            while True:
                if len(self.body) + len(out) > limit:
                    self._fail(f"body larger than {_size(limit)} after decompression")
                    raise _Stop
                self.body += out
                if not decoder.pending():
                    return
                out = decoder.feed(b"", limit - len(self.body) + 1)
        except DecodeError as exc:
            self._fail(str(exc))
            raise _Stop from None

    # ------------------------------------------------------------ endings

    def _finish(self, truncated: bool) -> None:
        self.state, self.truncated = _DONE, truncated
        if self.first_byte:
            self.trace.add("transfer", self.first_byte)
        if not self.done.done():
            self.done.set_result(None)

    def _fail(self, reason: str) -> None:
        self.state = _DONE
        if not self.done.done():
            self.error = reason
            self.done.set_result(None)

    def _quote_garbage(self, closed: bool) -> None:
        """Fail quoting the first line once it is whole (or long enough, or the peer left)."""
        if closed or b"\n" in self.first or len(self.first) > _QUOTED:
            self._fail(f"invalid HTTP response: {_quote(self.first)}")


def _size(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def _quote(data: bytes | bytearray | str) -> str:
    """The first line the server sent, quoted and cut short, for a reason."""
    text = data if isinstance(data, str) else bytes(data[:200]).decode("latin-1")
    line = text.split("\n", 1)[0].rstrip("\r")
    return repr(line if len(line) <= 40 else line[:40] + "…")
