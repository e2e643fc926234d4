"""The registry of probe kinds: one line per kind; and the host a check probes (the
scheduler limits concurrency per host)."""

from __future__ import annotations

from monitor.config.model import Check
from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.dns import KIND as DNS
from monitor.probes.http.probe import KIND as HTTP
from monitor.probes.icmp import KIND as ICMP
from monitor.probes.tcp import KIND as TCP
from monitor.probes.tls import KIND as TLS

KINDS: dict[str, ProbeKind] = {k.name: k for k in (HTTP, TCP, DNS, TLS, ICMP)}


def host_of(check: Check) -> str:
    kind = KINDS.get(check.kind)
    return kind.target(check.spec).rsplit(":", 1)[0] if kind else check.name


__all__ = ["KINDS", "ProbeContext", "ProbeKind", "ProbeResult", "host_of"]
