"""A small forward proxy on 127.0.0.1 for HTTP probe tests: absolute-form requests for plain
http, CONNECT tunnels for https, optionally demanding Proxy-Authorization (Basic)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self, credentials: str | None = None) -> None:
        self.credentials = credentials  # "user:password" the proxy demands, if any
        self.cut = False  # the uplink behind it is down: every request fails to connect
        self.blocked: set[str] = set()  # paths a firewall on this way answers 502 for
        self.seen: list[tuple[str, str]] = []  # (method, request target) as received
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop accepting, hang up every connection and let each handler end on its own (a
        handler task cancelled by the server's close makes asyncio log an error)."""
        if self._server is not None:
            self._server.close()
        while True:
            for writer in list(self._open):
                writer.transport.abort()
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                break
            await asyncio.gather(*pending, return_exceptions=True)
            await asyncio.sleep(0)  # a connection accepted meanwhile starts its handler
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._open.add(writer)
        try:
            if self.cut:  # the connection is refused at once
                writer.transport.abort()
                return
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            self.seen.append((method, target))
            fields = [line.partition(":") for line in lines[1:] if line]
            headers = {name.lower(): value.strip() for name, _, value in fields}
            if not self._authorized(headers.get("proxy-authorization")):
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b'Proxy-Authenticate: Basic realm="proxy"\r\n'
                             b"Content-Length: 0\r\n\r\n")
                await writer.drain()
                return
            if urlsplit(target).path in self.blocked:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                self._open.add(up_writer)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = urlsplit(target)
                up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
                self._open.add(up_writer)
                kept = [f"{n}:{v}" for n, _, v in fields if n.lower() != "proxy-authorization"]
                path = url.path + (f"?{url.query}" if url.query else "")
                up_writer.write("\r\n".join([f"{method} {path} HTTP/1.1", *kept, "", ""])
                                .encode("latin-1"))
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            self._open.discard(writer)
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _authorized(self, header: str | None) -> bool:
        if self.credentials is None:
            return True
        return header == "Basic " + base64.b64encode(self.credentials.encode()).decode()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
