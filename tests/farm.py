"""Target farm: real local servers (HTTP, HTTPS, raw TCP, DNS) for probe tests.

Everything runs on 127.0.0.1 with OS-assigned ports, inside ONE background
thread that owns its own asyncio event loop, so the farm serves sync tests and
async tests alike, whatever pytest-asyncio loop scope they use.

    farm = Farm()
    farm.start()
    ...  # farm.http_url, farm.https_url, farm.dns_port, ...
    farm.stop()

Stalling/endless handlers wake up on stop, so ``stop()`` is quick and leaves
no thread, task, socket or transport behind.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import trustme
from aiohttp import web

HOST = "127.0.0.1"
BANNER = b"220 siaga-test ready\r\n"
JSON_DOC = {
    "status": "ok",
    "db": {"up": True, "latency_ms": 12},
    "items": [{"name": "a"}, {"name": "b"}],
    "version": "1.2.3",
}
CHUNK = b"x" * 65536
GZIP_PAGE = "<html><body>Layanan SIPD berjalan normal</body></html>"
LATIN1_PAGE = "Pelayanan Kependudukan - Café Señor: aktif"
# Raw replies for the wire's edge cases, one per port (see `raw_ports`).
RAW_REPLIES = {
    "bare_lf": b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 9\n\nbare LF!\n",
    "unicode_length": b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nab",
    "exact_limit": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"400\r\n" + b"e" * 1024 + b"\r\n0\r\n\r\n",
}


def gzipped(data: bytes) -> bytes:
    obj = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return obj.compress(data) + obj.flush()

ZONE = dns.name.from_text("siaga.test.")
SERVFAIL_NAME = dns.name.from_text("servfail.siaga.test.")
DNS_TTL = 300
DNS_RECORDS: list[tuple[str, str, str]] = [
    ("siaga.test.", "SOA", "ns1.siaga.test. admin.siaga.test. 2026112801 3600 600 86400 300"),
    ("siaga.test.", "NS", "ns1.siaga.test."),
    ("siaga.test.", "MX", "10 mail.siaga.test."),
    ("siaga.test.", "TXT", '"v=spf1 -all"'),
    ("www.siaga.test.", "A", "192.0.2.10"),
    ("www.siaga.test.", "A", "192.0.2.11"),
    ("www.siaga.test.", "AAAA", "2001:db8::10"),
    ("portal.siaga.test.", "CNAME", "www.siaga.test."),
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bind_tcp(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def _bind_udp_tcp() -> tuple[socket.socket, socket.socket]:
    """Bind a UDP socket and a TCP socket on the same free port."""
    for _ in range(100):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        try:
            return udp, _bind_tcp(udp.getsockname()[1])
        except OSError:
            udp.close()
    raise RuntimeError("could not find a port free for both UDP and TCP")


def _build_zone() -> dict[tuple[dns.name.Name, int], dns.rrset.RRset]:
    texts: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for name, rdtype, rdata in DNS_RECORDS:
        texts[(name, rdtype)].append(rdata)
    zone: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
    for (name, rdtype), rdatas in texts.items():
        rrset = dns.rrset.from_text(name, DNS_TTL, "IN", rdtype, *rdatas)
        zone[(rrset.name, rrset.rdtype)] = rrset
    return zone


class _RawProtocol(asyncio.Protocol):
    """TCP protocol registered with the farm; silent unless subclassed."""

    transport: asyncio.Transport

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.farm._transports.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.farm._transports.discard(self.transport)


class _ReplyProtocol(_RawProtocol):
    """Answers the first request head with fixed bytes, then closes."""

    def __init__(self, farm: Farm, reply: bytes) -> None:
        super().__init__(farm)
        self.reply, self.buf = reply, b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" in self.buf and self.transport is not None:
            self.transport.write(self.reply)
            self.transport.close()


class _BannerProtocol(_RawProtocol):
    """Sends a banner, then echoes every received line as ``echo: LINE\\r\\n``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.write(BANNER)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.transport.write(b"echo: " + line.rstrip(b"\r") + b"\r\n")


class _DnsTcpProtocol(_RawProtocol):
    """DNS over TCP: two-byte length prefix per message."""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            (size,) = struct.unpack("!H", self.buffer[:2])
            if len(self.buffer) < 2 + size:
                return
            wire, self.buffer = self.buffer[2 : 2 + size], self.buffer[2 + size :]
            reply = self.farm._dns_reply(wire)
            if reply is not None:
                self.transport.write(struct.pack("!H", len(reply)) + reply)


class _DnsUdpProtocol(asyncio.DatagramProtocol):
    """DNS over UDP; with ``answer=False`` it swallows every query."""

    transport: asyncio.DatagramTransport

    def __init__(self, farm: Farm, answer: bool) -> None:
        self.farm = farm
        self.answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.farm._dns_reply(data) if self.answer else None
        if reply is not None:
            self.transport.sendto(reply, addr)


class Farm:
    """Local target servers for probe tests; see the module docstring.

    URLs and ports are set by ``start()``; a farm is started once and stopped
    once (``stop()`` also deletes the temporary directory holding ``ca_pem``).
    """

    host: str = HOST
    http_url: str
    https_url: str  # trusted by ``ca_pem``, valid ~60 days
    https_expiring_url: str  # trusted, expires in ~3 days
    https_expired_url: str  # trusted CA, expired yesterday
    https_wrong_host_url: str  # trusted CA, only for wrong.example.test
    https_self_signed_url: str  # signed by a CA not in ``ca_pem``
    hang_port: int  # accepts TCP connections, never sends
    refused_port: int  # nothing listening: connection refused
    tcp_banner_port: int  # banner, then line echo
    dns_port: int  # UDP + TCP, authoritative for siaga.test.
    dns_timeout_port: int  # UDP + TCP, never answers

    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        day = dt.timedelta(days=1)
        self.ca = trustme.CA()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="siaga-farm-"))
        self.ca_pem = str(self._tmpdir / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem)
        # The extra hour keeps "expires in N days" stable for a test run.
        hour = dt.timedelta(hours=1)
        self._certs: dict[str, trustme.LeafCert] = {
            "good": self.ca.issue_cert("127.0.0.1", "localhost", not_after=now + 60 * day + hour),
            "expiring": self.ca.issue_cert(
                "127.0.0.1", "localhost", not_after=now + 3 * day + hour
            ),
            "expired": self.ca.issue_cert(
                "127.0.0.1", "localhost", not_before=now - 30 * day, not_after=now - day
            ),
            "wrong_host": self.ca.issue_cert("wrong.example.test", not_after=now + 60 * day),
            "untrusted": trustme.CA().issue_cert(
                "127.0.0.1", "localhost", not_after=now + 60 * day
            ),
        }
        self._zone = _build_zone()
        self._zone_names = {name for name, _ in self._zone}
        self._hits: collections.Counter[str] = collections.Counter()
        self._hits_lock = threading.Lock()
        self._flap = 0
        self.dns_queries = 0
        self._transports: set[asyncio.Transport] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: list[asyncio.DatagramTransport] = []
        self._runner: web.AppRunner | None = None
        self._refused_sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event  # created on the farm loop
        self.tls_ports: dict[str, int] = {}  # good/expiring/expired/wrong_host/untrusted
        self.raw_ports: dict[str, int] = {}  # RAW_REPLIES by name

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Farm:
        """Start the loop thread and every server; returns self."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="siaga-farm", daemon=True)
        self._thread.start()
        try:
            self._call(self._start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop all servers, abort open connections, join the thread."""
        if self._loop is not None and self._thread is not None:
            if self._thread.is_alive():
                try:
                    self._call(self._stop())
                finally:
                    self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = self._thread = None
        if self._refused_sock is not None:
            self._refused_sock.close()
            self._refused_sock = None
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _start(self) -> None:
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(
            self._make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        self.http_url = await self._add_site(None)
        for name, cert in self._certs.items():
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            url = await self._add_site(ctx)
            self.tls_ports[name] = int(url.rsplit(":", 1)[1])
        self.https_url = self._tls_url("good")
        self.https_expiring_url = self._tls_url("expiring")
        self.https_expired_url = self._tls_url("expired")
        self.https_wrong_host_url = self._tls_url("wrong_host")
        self.https_self_signed_url = self._tls_url("untrusted")

        self.hang_port = await self._tcp_server(lambda: _RawProtocol(self))
        self.tcp_banner_port = await self._tcp_server(lambda: _BannerProtocol(self))
        for name, reply in RAW_REPLIES.items():
            self.raw_ports[name] = await self._tcp_server(
                lambda reply=reply: _ReplyProtocol(self, reply)  # type: ignore[misc]
            )
        self.dns_port = await self._dns_server(answer=True)
        self.dns_timeout_port = await self._dns_server(answer=False)
        # Bound but never listening: connects are refused, and the port
        # cannot be handed out to anything else while the farm runs.
        self._refused_sock = _bind_tcp()
        self.refused_port = self._refused_sock.getsockname()[1]

    async def _stop(self) -> None:
        self._stopping.set()
        for transport in list(self._transports):
            transport.abort()
        for server in self._servers:
            server.close()
        for udp in self._udp:
            udp.close()
        if self._runner is not None:
            await self._runner.cleanup()
        for server in self._servers:
            await server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost callbacks run

    async def _add_site(self, ctx: ssl.SSLContext | None) -> str:
        assert self._runner is not None
        sock = _bind_tcp()
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=ctx).start()
        return f"{'https' if ctx else 'http'}://{HOST}:{port}"

    def _tls_url(self, name: str) -> str:
        return f"https://{HOST}:{self.tls_ports[name]}"

    async def _tcp_server(
        self, factory: Callable[[], asyncio.Protocol], sock: socket.socket | None = None
    ) -> int:
        sock = sock or _bind_tcp()
        server = await asyncio.get_running_loop().create_server(factory, sock=sock)
        self._servers.append(server)
        return int(sock.getsockname()[1])

    async def _dns_server(self, answer: bool) -> int:
        udp_sock, tcp_sock = _bind_udp_tcp()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _DnsUdpProtocol(self, answer), sock=udp_sock
        )
        self._udp.append(transport)
        tcp_cls = _DnsTcpProtocol if answer else _RawProtocol
        return await self._tcp_server(lambda: tcp_cls(self), sock=tcp_sock)

    # ------------------------------------------------------------ hit counts
    def hits(self, path: str) -> int:
        """How many HTTP(S) requests ``path`` received (query excluded)."""
        with self._hits_lock:
            return self._hits[path]

    def reset_hits(self) -> None:
        """Forget all hit counts; also restarts /flap at 200."""
        with self._hits_lock:
            self._hits.clear()
            self._flap = 0

    # ------------------------------------------------------------ DNS
    def _dns_reply(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        self.dns_queries += 1
        return self._dns_answer(query).to_wire()

    def _dns_answer(self, query: dns.message.Message) -> dns.message.Message:
        resp = dns.message.make_response(query)
        if len(query.question) != 1:
            resp.set_rcode(dns.rcode.FORMERR)
            return resp
        name, rdtype = query.question[0].name, query.question[0].rdtype
        if name == SERVFAIL_NAME:
            resp.set_rcode(dns.rcode.SERVFAIL)
            return resp
        resp.flags |= dns.flags.AA
        for _ in range(8):  # follow in-zone CNAME chains
            if name not in self._zone_names:
                if not resp.answer:
                    resp.set_rcode(dns.rcode.NXDOMAIN)
                break
            rrset = self._zone.get((name, rdtype))
            if rrset is not None:
                resp.answer.append(rrset)
                return resp
            cname = self._zone.get((name, dns.rdatatype.CNAME))
            if cname is None:
                break  # NODATA
            resp.answer.append(cname)
            name = cname[0].target
        resp.authority.append(self._zone[(ZONE, dns.rdatatype.SOA)])
        return resp

    # ------------------------------------------------------------ HTTP app
    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._count_hits])
        routes: dict[str, Handler] = {
            "/ok": self._ok,
            r"/status/{code:\d{3}}": self._status,
            "/slow": self._slow,
            "/json": self._json,
            "/headers-then-stall": self._headers_then_stall,
            "/endless": self._endless,
            "/big": self._big,
            "/reset-mid-body": self._reset_mid_body,
            "/redirect-loop": self._redirect_loop,
            r"/redirect/{n:\d+}": self._redirect,
            "/auth/basic": self._auth_basic,
            "/auth/bearer": self._auth_bearer,
            "/header": self._header,
            "/flap": self._flap_handler,
            "/gzip": self._gzip,
            "/deflate-raw": self._deflate_raw,
            "/br": self._br,
            "/gzip-bomb": self._gzip_bomb,
            "/latin1": self._latin1,
            "/meta-charset": self._meta_charset,
        }
        for path, handler in routes.items():
            app.router.add_get(path, handler)  # GET and HEAD
        app.router.add_route("*", "/echo", self._echo)
        return app

    @web.middleware
    async def _count_hits(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        with self._hits_lock:
            self._hits[request.path] += 1
        return await handler(request)

    async def _sleep(self, delay: float | None) -> None:
        """Sleep ``delay`` seconds (None: forever), waking early on stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def _status(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        return web.Response(status=int(code), text=f"status {code}")

    async def _slow(self, request: web.Request) -> web.Response:
        await self._sleep(float(request.query.get("delay", "1")))
        return web.Response(text="slow OK")

    async def _json(self, request: web.Request) -> web.Response:
        return web.json_response(JSON_DOC)

    async def _headers_then_stall(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b"0123456789")
        await self._sleep(None)
        self._abort(request)
        return resp

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            while not self._stopping.is_set():
                await resp.write(CHUNK)
        except ConnectionError:
            pass  # client went away
        self._abort(request)
        return resp

    async def _big(self, request: web.Request) -> web.StreamResponse:
        size = int(request.query.get("size", "1024"))
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = size
        await resp.prepare(request)
        try:
            for offset in range(0, size, len(CHUNK)):
                await resp.write(CHUNK[: size - offset])
        except ConnectionResetError:  # the probe stops reading at its body limit: expected
            pass
        return resp

    async def _reset_mid_body(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.content_length = 100_000
        await resp.prepare(request)
        await resp.write(b"r" * 1000)
        await self._sleep(0.05)  # let headers + partial body reach the client
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._abort(request)
        return resp

    @staticmethod
    def _abort(request: web.Request) -> None:
        """Abort the connection so aiohttp cannot finish the response."""
        if request.transport is not None:
            request.transport.abort()

    async def _redirect_loop(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/redirect-loop"})

    async def _redirect(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        location = f"/redirect/{n - 1}" if n > 0 else "/ok"
        return web.Response(status=302, headers={"Location": location})

    async def _echo(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": await request.text(),
            }
        )

    async def _auth_basic(self, request: web.Request) -> web.Response:
        # Parsed by hand: aiohttp.BasicAuth is deprecated (warns) in 3.14.
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            credentials = base64.b64decode(encoded.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            credentials = ""
        if scheme.lower() == "basic" and credentials == "siaga:rahasia":
            return web.Response(text="authorized")
        return web.Response(
            status=401, text="unauthorized", headers={"WWW-Authenticate": 'Basic realm="siaga"'}
        )

    async def _auth_bearer(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") == "Bearer token-123":
            return web.Response(text="authorized")
        return web.Response(
            status=401, text="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="siaga"'}
        )

    async def _header(self, request: web.Request) -> web.Response:
        return web.Response(text="OK", headers={"X-Siaga-Test": "hello"})

    async def _flap_handler(self, request: web.Request) -> web.Response:
        with self._hits_lock:
            self._flap += 1
            up = self._flap % 2 == 1
        return web.Response(status=200 if up else 500, text="up" if up else "down")

    async def _gzip(self, request: web.Request) -> web.Response:
        # Compressed whether asked or not, as some CDNs and WAFs do; says what it was asked.
        asked = request.headers.get("Accept-Encoding", "-")
        body = gzipped(f"{GZIP_PAGE} accept-encoding={asked}".encode())
        return web.Response(body=body, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "text/html; charset=utf-8"})

    async def _deflate_raw(self, request: web.Request) -> web.Response:
        obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate, no header
        body = obj.compress(GZIP_PAGE.encode()) + obj.flush()
        return web.Response(body=body, headers={"Content-Encoding": "deflate"})

    async def _br(self, request: web.Request) -> web.Response:
        import brotli

        return web.Response(body=brotli.compress(GZIP_PAGE.encode()),
                            headers={"Content-Encoding": "br"})

    async def _gzip_bomb(self, request: web.Request) -> web.StreamResponse:
        # 64 MiB of zeros, ~65 KB on the wire, streamed: the probe must stop at its cap.
        resp = web.StreamResponse(headers={"Content-Encoding": "gzip"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        obj = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        zeros = bytes(1 << 20)
        try:
            for _ in range(64):
                await resp.write(obj.compress(zeros))
            await resp.write(obj.flush())
        except ConnectionError:  # the probe hangs up at its cap: expected
            pass
        return resp

    async def _latin1(self, request: web.Request) -> web.Response:
        return web.Response(body=LATIN1_PAGE.encode("latin-1"),
                            headers={"Content-Type": "text/plain; charset=ISO-8859-1"})

    async def _meta_charset(self, request: web.Request) -> web.Response:
        page = f'<html><head><meta charset="windows-1252"></head><body>{LATIN1_PAGE}</body>'
        return web.Response(body=page.encode("cp1252"), headers={"Content-Type": "text/html"})
