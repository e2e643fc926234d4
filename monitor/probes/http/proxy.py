"""Forward proxies for the HTTP probe: which proxy a request goes through (a fixed
`proxy: http://host:port`, or `proxy: env` read from HTTP(S)_PROXY / NO_PROXY like curl),
and the CONNECT tunnel an https request needs.

A proxy URL may carry `user:password` for Proxy-Authorization; the password is kept out of
every repr, reason and detail (`Proxy.shown` is the URL without it).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

import httptools

from monitor.config.hostnames import ascii_host, is_ip


class ProxyError(Exception):
    """The proxy failed us or refused; the message is the reason ("proxy: 407 …")."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str  # IDNA-encoded, no brackets
    port: int
    literal: bool
    shown: str  # http://user@host:port: no password, safe to show
    authorization: str | None = field(default=None, repr=False)

    def connect_request(self, authority: str) -> bytes:
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if self.authorization:
            lines.append(f"Proxy-Authorization: {self.authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_proxy(url: str) -> Proxy:
    """A proxy from `http://[user:password@]host[:port]`; ValueError says why not."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"invalid proxy URL: {exc}") from None
    if "://" not in url:  # curl's habit: HTTP_PROXY=proxy.local:3128
        return parse_proxy("http://" + url.strip())
    if parts.scheme != "http" or not host:
        raise ValueError("a proxy is http://host:port (or `env`)")
    host = ascii_host(host)
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    literal = is_ip(host)
    netloc = f"[{host}]" if literal and ":" in host else host
    user = f"{parts.username}@" if parts.username else ""
    return Proxy(host, port or 80, literal, f"http://{user}{netloc}:{port or 80}", auth)


@dataclass(frozen=True, slots=True)
class ProxyChoice:
    """Which proxy serves a target: one for all, or per scheme with NO_PROXY exceptions."""

    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: tuple[str, ...] = ()

    def for_target(self, host: str, port: int, tls: bool) -> Proxy | None:
        proxy = self.https if tls else self.http
        if proxy is None or _bypassed(self.no_proxy, host, port):
            return None
        return proxy


def fixed(url: str) -> ProxyChoice:
    proxy = parse_proxy(url)
    return ProxyChoice(proxy, proxy)


def from_env(env: Mapping[str, str]) -> ProxyChoice:
    """HTTP_PROXY, HTTPS_PROXY (ALL_PROXY for both) and NO_PROXY, lower-case names first."""

    def get(name: str) -> str:
        return env.get(name.lower()) or env.get(name.upper()) or ""

    fallback = get("all_proxy")
    http_url, https_url = get("http_proxy") or fallback, get("https_proxy") or fallback
    no_proxy = tuple(e.strip().lower() for e in get("no_proxy").split(",") if e.strip())
    return ProxyChoice(
        parse_proxy(http_url) if http_url else None,
        parse_proxy(https_url) if https_url else None,
        no_proxy,
    )


def _bypassed(entries: tuple[str, ...], host: str, port: int) -> bool:
    """curl's NO_PROXY: `*`, a domain and its subdomains (leading dot optional), an IP or a
    CIDR block, each optionally with `:port`."""
    host = host.lower().rstrip(".")
    for entry in entries:
        if entry == "*":
            return True
        name, want_port = entry, None
        if entry.count(":") == 1:  # host:port (an IPv6 entry has several colons)
            name, _, port_text = entry.partition(":")
            want_port = int(port_text) if port_text.isdigit() else -1
        if want_port is not None and want_port != port:
            continue
        name = name.strip("[]").lstrip("*").lstrip(".").rstrip(".")
        if _matches(name, host):
            return True
    return False


def _matches(entry: str, host: str) -> bool:
    if is_ip(host):
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    return host == entry or host.endswith("." + entry)


class Tunnel(asyncio.Protocol):
    """Reads the proxy's reply to CONNECT; `done` resolves once its head is in."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.done: asyncio.Future[None] = loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self.status, self.phrase = 0, ""

    def on_status(self, phrase: bytes) -> None:
        self.phrase = phrase.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status >= 200 and not self.done.done():
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError as exc:
            if not self.done.done():
                self.done.set_exception(ProxyError(f"proxy: invalid reply to CONNECT ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ProxyError("proxy: connection closed before replying"))

    def abandon(self) -> None:
        if not self.done.done():
            self.done.cancel()  # what the connection reports from now on is nobody's concern
        elif not self.done.cancelled():
            self.done.exception()  # retrieved: asyncio must not log it


async def open_tunnel(
    transport: asyncio.Transport, tunnel: Tunnel, proxy: Proxy, authority: str
) -> None:
    """Ask the proxy for a tunnel to `authority`; ProxyError unless it answers 2xx."""
    transport.write(proxy.connect_request(authority))
    await tunnel.done
    if not 200 <= tunnel.status < 300:
        raise ProxyError(refusal(tunnel.status, tunnel.phrase))


def refusal(status: int, phrase: str) -> str:
    """"proxy: 407 Proxy Authentication Required": the proxy's own phrase when it sent a
    printable one, else the standard one."""
    if not (phrase and phrase.isprintable()):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
    return f"proxy: {status} {phrase[:60]}".rstrip()
