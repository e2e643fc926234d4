"""The registry of probe kinds: one line per kind."""

from __future__ import annotations

from monitor.probes.base import ProbeContext, ProbeKind, ProbeResult
from monitor.probes.dns import KIND as DNS
from monitor.probes.http.probe import KIND as HTTP
from monitor.probes.icmp import KIND as ICMP
from monitor.probes.tcp import KIND as TCP
from monitor.probes.tls import KIND as TLS

KINDS: dict[str, ProbeKind] = {k.name: k for k in (HTTP, TCP, DNS, TLS, ICMP)}

__all__ = ["KINDS", "ProbeContext", "ProbeKind", "ProbeResult"]
