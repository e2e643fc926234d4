"""HTTP probe: one request on a fresh connection, following redirects, judged against the
check's `expect:` section.

The wire (connect, TLS, parsing, timing) lives in `wire`, the judging in `expect`, body
decoding in `decode`, proxies in `proxy`; this module owns the check's options, redirects and
credentials.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from time import perf_counter
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from yaml.nodes import Node

from monitor.config.hostnames import ascii_host
from monitor.config.model import quick_unpickle
from monitor.config.scalars import Bool, Enum, HostName, Int, Str, Url, format_duration
from monitor.config.schema import Ctx, MapOf, Obj
from monitor.errors import HttpError
from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.deadline import Deadline
from monitor.probes.http.decode import accepted_encodings
from monitor.probes.http.expect import EXPECT, Expect, judge
from monitor.probes.http.proxy import Proxy, ProxyChoice, fixed, from_env, refusal
from monitor.probes.http.wire import REDIRECTS, Exchange, Response, Target, Trace, fetch
from monitor.probes.tcp import load_tls

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
USER_AGENT = "Siaga/0.1 (availability monitor)"
# We write these ourselves: the body's length, and closing after one response.
_OURS = frozenset({"connection", "content-length", "transfer-encoding"})
_HEADER_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"
# Phases every HTTP probe reports; "proxy" (the CONNECT exchange) joins them when used.
HTTP_PHASES = ("resolve", "connect", "tls", "processing", "transfer")
# The environment variables an HTTP check with `proxy: env` reads when it is validated
# (monitor.config.reuse keys reused checks on their values).
PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY")


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password: str = field(repr=False)


@quick_unpickle
@dataclass(frozen=True, slots=True)
class HttpSpec:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = field(default=None, repr=False)
    follow_redirects: bool = True
    max_redirects: int = 5
    tls_verify: bool = True
    ca_file: str | None = None
    tls_server_name: str | None = None
    body_limit: int | None = None
    compressed: bool = False
    proxy: str | None = field(default=None, repr=False)  # a URL (may hold a password) or "env"
    environ: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # for proxy: env
    expect: Expect = field(default_factory=Expect)
    proxies: ProxyChoice | None = field(init=False, repr=False, compare=False)
    # The first request, built once from the config: most probes never redirect and then
    # only write these bytes.
    first_target: Target = field(init=False, repr=False, compare=False)
    first_request: bytes = field(init=False, repr=False, compare=False)
    # The first Exchange as the last probe made it, with the context and timeout it was
    # made for: the same for every probe of a check, so made once (a dataclass a probe).
    first_exchange: tuple[ProbeContext, float, Exchange] | None = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        proxies = proxy_choice(self.proxy, dict(self.environ))
        object.__setattr__(self, "proxies", proxies)
        target = parse_url(self.url)
        proxy = _proxy_for(self, target)
        headers = _headers(self, target, _authorization(self), trusted=True, proxy=proxy)
        request = build_request(self.method, target, headers, _encoded(self.body), proxy)
        object.__setattr__(self, "first_target", target)
        object.__setattr__(self, "first_request", request)
        object.__setattr__(self, "first_exchange", None)


    def inherit(self, defaults: Mapping[str, Any], env: Mapping[str, str]) -> HttpSpec:
        """This spec with `defaults.proxy` when the check names no proxy of its own."""
        proxy = defaults.get("proxy")
        if self.proxy is not None or proxy is None:
            return self
        environ = tuple((k, env[k]) for k in PROXY_ENV if k in env) if proxy == "env" else ()
        return replace(self, proxy=proxy, environ=environ)


def proxy_choice(setting: str | None, environ: Mapping[str, str]) -> ProxyChoice | None:
    """The proxies a `proxy:` setting names; ValueError (without the password) if unusable."""
    if setting is None or setting == "none":
        return None
    choice = from_env(environ) if setting == "env" else fixed(setting)
    return choice if choice.http or choice.https else None


def _proxy_for(spec: HttpSpec, target: Target) -> Proxy | None:
    if spec.proxies is None:
        return None
    return spec.proxies.for_target(target.host, target.port, target.tls)


def _build_spec(v: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    if v["basic_auth"] is not None and v["bearer_token"] is not None:
        return ctx.error(node, path, "use either basic_auth or bearer_token, not both")
    if v["method"] == "HEAD" and v["expect"].reads_body:
        return ctx.error(node, path, "a HEAD response has no body to check; use GET")
    if v["proxy"] == "env":
        v["environ"] = tuple((k, ctx.env[k]) for k in PROXY_ENV if k in ctx.env)
    try:
        proxy_choice(v["proxy"], dict(v.get("environ", ())))
    except ValueError as exc:
        return ctx.error(node, f"{path}.proxy", str(exc))
    try:
        return HttpSpec(**v)
    except HttpError as exc:  # a URL urlsplit takes but we cannot use (a bad IDNA name)
        return ctx.error(node, f"{path}.url", str(exc))


BASIC_AUTH = Obj(
    {"username": Str("User name"), "password": Str("Password (use ${ENV_VAR})")},
    "HTTP basic authentication",
    required=["username", "password"],
    build=lambda v, node, path, ctx: BasicAuth(**v),
    default=None,
)

SCHEMA = Obj(
    {
        "url": Url("The URL to request"),
        "method": Enum(METHODS, "HTTP method", default="GET"),
        "headers": MapOf(
            Str(pattern=r"[^\r\n]*", hint="a header value on one line"),
            "Request headers",
            default={},
            key_pattern=_HEADER_NAME,
            key_hint="a header name",
        ),
        "body": Str("Request body", default=None),
        "basic_auth": BASIC_AUTH,
        "bearer_token": Str("Sent as 'Authorization: Bearer …' (use ${ENV_VAR})", default=None),
        "follow_redirects": Bool("Follow 301/302/303/307/308", default=True),
        "max_redirects": Int("More redirects than this fail", default=5, min=0, max=30),
        "tls_verify": Bool("Verify the certificate chain and host name", default=True),
        "ca_file": Str("PEM file of CAs to trust instead of the system's", default=None),
        "tls_server_name": HostName("Name for SNI and certificate checks", default=None),
        "body_limit": Int("Read at most this many body bytes (after decompression)",
                          default=None, min=1),
        "compressed": Bool("Send Accept-Encoding (gzip, deflate, br); any coding that comes "
                           "is decoded either way", default=False),
        "proxy": Str("Forward proxy: http://[user:password@]host:port, `env` for "
                     "HTTP(S)_PROXY/NO_PROXY, or `none`", default=None),
        "expect": EXPECT,
    },
    "Request a URL and check the response",
    required=["url"],
    build=_build_spec,
)


async def run(spec: HttpSpec, timeout: float, ctx: ProbeContext) -> ProbeResult:
    started_at, started = time.time(), perf_counter()
    trace = Trace(dict.fromkeys(HTTP_PHASES, 0.0))
    deadline = Deadline(timeout)
    try:
        async with deadline:
            resp, last, redirects = await _follow(spec, ctx, trace, timeout)
    except HttpError as exc:
        return _failed(str(exc), started, started_at, trace)
    except TimeoutError:
        why = f"timeout after {format_duration(timeout)} ({trace.stage})"
        if not deadline.expired():  # the system gave up, not our deadline
            why = f"{trace.stage}: timed out"
        return _failed(why, started, started_at, trace)
    duration = perf_counter() - started
    failure, degraded = judge(spec.expect, resp, duration, trace.cert_expiry, started_at)
    details = {
        "bytes": len(resp.body),
        "truncated": resp.truncated,
        "redirects": redirects,
        "final_url": last.shown,
    }
    return ProbeResult(
        failure is None,
        failure or "ok",
        duration=duration,
        phases=trace.phases,
        status_code=resp.status,
        cert_expiry=trace.cert_expiry,
        degraded=degraded,
        details=details,
        started_at=started_at,
    )


def _failed(reason: str, started: float, started_at: float, trace: Trace) -> ProbeResult:
    return ProbeResult.failure(
        reason, started, phases=trace.phases, cert_expiry=trace.cert_expiry, started_at=started_at
    )


async def _follow(
    spec: HttpSpec, ctx: ProbeContext, trace: Trace, timeout: float
) -> tuple[Response, Target, int]:
    """Request `spec.url`, then each Location in turn: (last response, its target, redirects)."""
    first = _first_exchange(spec, ctx, timeout)  # made once per check
    resp = await fetch(first, trace)
    url, method, body, request = spec.url, spec.method, spec.body, spec.first_request
    origin = target = first.target
    trusted, tls, proxy = True, first.tls, first.proxy
    for redirects in range(spec.max_redirects + 1):
        if redirects:  # the first hop was fetched above
            if target.tls and tls is None:
                tls = _tls_context(spec, ctx)
            resp = await fetch(_exchange(spec, ctx, timeout, target, request, method, tls,
                                         origin, proxy), trace)
        if proxy is not None and not target.tls and resp.status == 407:
            raise HttpError(refusal(407, resp.phrase))
        location = resp.headers.get("location")
        if not (spec.follow_redirects and location and resp.status in REDIRECTS):
            return resp, target, redirects
        url = _next_url(url, location)
        prior, target = target, parse_url(url)
        trusted = trusted and _may_keep_credentials(prior, target)
        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
            method, body = ("HEAD" if method == "HEAD" else "GET"), None
        proxy = _proxy_for(spec, target)
        authorization = _authorization(spec) if trusted else None
        headers = _headers(spec, target, authorization, trusted, proxy)
        request = build_request(method, target, headers, _encoded(body), proxy)
    raise HttpError(f"too many redirects ({spec.max_redirects})")


def _first_exchange(spec: HttpSpec, ctx: ProbeContext, timeout: float) -> Exchange:
    made = spec.first_exchange
    if made is not None and made[0] is ctx and made[1] == timeout:
        return made[2]
    target = spec.first_target
    tls = _tls_context(spec, ctx) if target.tls else None
    exchange = _exchange(spec, ctx, timeout, target, spec.first_request, spec.method, tls,
                         target, _proxy_for(spec, target))
    object.__setattr__(spec, "first_exchange", (ctx, timeout, exchange))
    return exchange


def _exchange(spec: HttpSpec, ctx: ProbeContext, timeout: float, target: Target,
              request: bytes, method: str, tls: ssl.SSLContext | None, origin: Target,
              proxy: Proxy | None) -> Exchange:
    return Exchange(
        target=target,
        request=request,
        head_only=method == "HEAD",
        skip_redirect_body=spec.follow_redirects,
        limit=spec.body_limit or ctx.body_limit,
        tls=tls if target.tls else None,
        server_name=spec.tls_server_name if target.host == origin.host else None,
        proxy=proxy,
        # Each address of a name gets half the probe's time, so when all of them fail
        # the reason can still name each one before the probe's deadline.
        attempt_timeout=timeout / 2,
    )


@lru_cache(maxsize=4096)
def parse_url(url: str) -> Target:
    """Split an http(s) URL into what the wire needs; HttpError when it cannot be used."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise HttpError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise HttpError(f"invalid URL {url!r}: expected http:// or https:// and a host")
    try:
        host = ascii_host(host)
    except ValueError as exc:
        raise HttpError(f"invalid URL {url!r}: {exc}") from None
    tls = parts.scheme == "https"
    default_port = 443 if tls else 80
    literal = _is_ip(host)
    shown = f"[{host}]" if literal and ":" in host else host
    authority = shown if port in (None, default_port) else f"{shown}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE)
    shown_url = f"{parts.scheme}://{authority}{path.split('?', 1)[0]}"
    return Target(tls, host, port or default_port, authority, path, literal, shown_url)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def build_request(
    method: str,
    target: Target,
    headers: list[tuple[str, str]],
    body: bytes | None,
    proxy: Proxy | None = None,
) -> bytes:
    """The request bytes. `headers` are the caller's, already merged and deduplicated; a
    plain-http request through a proxy names the whole URL (absolute form)."""
    where = target.path
    if proxy is not None and not target.tls:
        where = f"http://{target.authority}{target.path}"
    lines = [f"{method} {where} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.append("Connection: close\r\n\r\n")
    head = "\r\n".join(lines).encode("utf-8")
    return head + body if body else head


def _encoded(body: str | None) -> bytes | None:
    return body.encode("utf-8") if body is not None else None


def _tls_context(spec: HttpSpec, ctx: ProbeContext) -> ssl.SSLContext:
    tls = load_tls(ctx, spec.tls_verify, spec.ca_file)
    if isinstance(tls, str):
        raise HttpError(f"tls: {tls}")
    return tls


def _next_url(url: str, location: str) -> str:
    """Where a redirect points, resolved against the URL that sent it."""
    nxt = urljoin(url, location.strip())
    if urlsplit(nxt).scheme not in ("http", "https"):
        raise HttpError(f"redirect to unsupported URL {location[:80]!r}")
    parse_url(nxt)  # an unusable Location fails here, as the redirect's fault
    return nxt


def _may_keep_credentials(old: Target, new: Target) -> bool:
    """Credentials follow a redirect to the same host and port, or the same host's https."""
    if old.host != new.host:
        return False
    return old.port == new.port or (new.tls and not old.tls)


def _authorization(spec: HttpSpec) -> str | None:
    """The Authorization header from basic_auth, bearer_token or the URL's user:password."""
    if spec.bearer_token is not None:
        return f"Bearer {spec.bearer_token}"
    if spec.basic_auth is not None:
        user, password = spec.basic_auth.username, spec.basic_auth.password
    else:
        parts = urlsplit(spec.url)
        if parts.username is None:
            return None
        user, password = unquote(parts.username), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _headers(
    spec: HttpSpec,
    target: Target,
    authorization: str | None,
    trusted: bool,
    proxy: Proxy | None = None,
) -> list[tuple[str, str]]:
    """Our defaults, overridden by the check's headers; no credentials for another host."""
    merged = {
        "host": ("Host", target.authority),
        "user-agent": ("User-Agent", USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    if spec.compressed:
        merged["accept-encoding"] = ("Accept-Encoding", accepted_encodings())
    for name, value in spec.headers.items():
        key = name.lower()
        if key not in _OURS:
            merged[key] = (name, value)
    if authorization is not None:
        merged["authorization"] = ("Authorization", authorization)
    elif not trusted:
        merged.pop("authorization", None)
    if proxy is not None and proxy.authorization and not target.tls:
        merged["proxy-authorization"] = ("Proxy-Authorization", proxy.authorization)
    return list(merged.values())


def target(spec: HttpSpec) -> str:
    """host[:port] of the check's URL (the port when not the scheme's default)."""
    return spec.first_target.authority


KIND = ProbeKind("http", SCHEMA, run, target)
