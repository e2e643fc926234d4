"""TLS probe: handshake with a server and judge its certificate (trust, name, expiry)."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node

from monitor.config.scalars import Bool, HostName, Int, Str
from monitor.config.schema import INVALID, Ctx, Obj, join
from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.certs import LeafInfo, describe_leaf, verify_error_reason
from monitor.probes.tcp import (
    Attempt,
    close_stream,
    load_tls,
    open_stream,
    peer_text,
)

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class TlsSpec:
    host: str
    port: int = 443
    server_name: str | None = None
    verify: bool = True
    ca_file: str | None = None
    cert_days_min: int | None = None
    cert_days_warn: int | None = None

    @property
    def name(self) -> str:
        """The name the certificate must be valid for (sent as SNI)."""
        return self.server_name or self.host


def _build(values: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    low, warn = values["cert_days_min"], values["cert_days_warn"]
    if low is not None and warn is not None and warn <= low:
        ctx.error_at(
            join(path, "cert_days_warn"),
            f"must be more than cert_days_min ({low}), got {warn}",
        )
        return INVALID
    return TlsSpec(**values)


SCHEMA = Obj(
    {
        "host": HostName("Host name or IP address"),
        "port": Int("TCP port", min=1, max=65535, default=443),
        "server_name": HostName("Name sent as SNI and checked in the certificate "
                                "(default: host)", default=None),
        "verify": Bool("Verify the certificate chain and host name", default=True),
        "ca_file": Str("PEM file of CAs to trust instead of the system's", default=None),
        "cert_days_min": Int("Fail when the certificate expires in fewer days", min=0,
                             default=None),
        "cert_days_warn": Int("Degrade when the certificate expires in fewer days", min=0,
                              default=None),
    },
    "Handshake with a TLS server and check its certificate",
    required=["host"],
    build=_build,
)


def days_text(days: float) -> str:
    if days < 0:
        return "has expired"
    if days < 1:
        return "expires in less than a day"
    whole = int(days)
    return f"expires in {whole} day{'s' if whole != 1 else ''}"


def judge_expiry(spec: TlsSpec, not_after: float, now: float) -> tuple[str | None, str | None]:
    """(failure, degradation) for a certificate that expires at `not_after`."""
    days = (not_after - now) / DAY
    if spec.cert_days_min is not None and days < spec.cert_days_min:
        return f"certificate {days_text(days)} (minimum {spec.cert_days_min})", None
    if spec.cert_days_warn is not None and days < spec.cert_days_warn:
        return None, f"certificate {days_text(days)} (warning at {spec.cert_days_warn})"
    return None, None


def _details(leaf: LeafInfo, ssl_object: Any, now: float) -> dict[str, Any]:
    return {
        "subject_cn": leaf.subject_cn,
        "issuer_cn": leaf.issuer_cn,
        "issuer": leaf.issuer,
        "sans": leaf.sans,
        "tls_version": ssl_object.version() if ssl_object is not None else None,
        "days_left": round((leaf.not_after - now) / DAY, 2),
    }


async def _handshake(
    spec: TlsSpec, tls: ssl.SSLContext, attempt: Attempt, details: dict[str, Any]
) -> LeafInfo | None:
    """Connect and handshake; read the leaf certificate before closing."""
    _, writer = await open_stream(attempt, spec.host, spec.port, tls, spec.name)
    try:
        details["peer"] = peer_text(writer)
        ssl_object = writer.get_extra_info("ssl_object")
        leaf = describe_leaf(ssl_object)
        if leaf is not None:
            details.update(_details(leaf, ssl_object, time.time()))
    except BaseException:
        writer.transport.abort()
        raise
    await close_stream(writer)
    return leaf


async def run(spec: TlsSpec, timeout: float, ctx: ProbeContext) -> ProbeResult:
    attempt = Attempt()
    tls = load_tls(ctx, spec.verify, spec.ca_file)
    if isinstance(tls, str):
        return attempt.result(False, tls)
    details: dict[str, Any] = {}
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            leaf = await _handshake(spec, tls, attempt, details)
    except TimeoutError as exc:
        expired = deadline.expired()
        reason = attempt.timeout_reason(timeout) if expired else attempt.error_reason(exc)
        return attempt.result(False, reason, details=details)
    except ssl.SSLError as exc:
        return attempt.result(False, verify_error_reason(exc, spec.name), details=details)
    except OSError as exc:
        return attempt.result(False, attempt.error_reason(exc), details=details)
    if leaf is None:
        return attempt.result(False, "tls: server sent no readable certificate", details=details)
    failure, degraded = judge_expiry(spec, leaf.not_after, time.time())
    return attempt.result(
        failure is None,
        failure or "ok",
        cert_expiry=leaf.not_after,
        degraded=degraded,
        details=details,
    )


def target(spec: TlsSpec) -> str:
    return f"{spec.host}:{spec.port}"


KIND = ProbeKind("tls", SCHEMA, run, target)
