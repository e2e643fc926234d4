"""What every probe kind shares: the result it returns and the small interface it implements.

A probe kind is one file under `monitor/probes/` exporting `KIND = ProbeKind(...)`, and one
line in `monitor/probes/__init__.py`. A probe never raises for a target's fault: it returns a
failed `ProbeResult` with a short human reason.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.config.schema import Obj

# Phases reported for HTTP, named as blackbox_exporter names them; "proxy" (the CONNECT
# exchange with a forward proxy) only for probes that go through one.
PHASES = ("resolve", "connect", "proxy", "tls", "processing", "transfer")


@dataclass(slots=True)
class ProbeResult:
    """The outcome of one probe.

    `reason` is short and human ("connect: connection refused", "status 503, expected 200");
    for a success it is "ok" or a note. `degraded` is set when the target answered but missed
    a soft expectation (latency or certificate warning level): the check is then DEGRADED.
    """

    ok: bool
    reason: str
    duration: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    status_code: int | None = None
    cert_expiry: float | None = None  # unix time the leaf certificate expires (its notAfter;
    # the earliest of the hops' leaves over redirects); the chain behind it is not read
    degraded: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0  # wall clock (time.time()) when the probe started

    @classmethod
    def failure(cls, reason: str, started: float, **kw: Any) -> ProbeResult:
        """A failed result timed from `started` (a time.perf_counter() value)."""
        return cls(False, reason, duration=time.perf_counter() - started, **kw)


class ProbeContext:
    """Shared, long-lived things probes need: TLS contexts and limits. Passed in, never global."""

    def __init__(self, *, body_limit: int = 1_048_576) -> None:
        self.body_limit = body_limit
        self._ssl: dict[tuple[bool, str | None], ssl.SSLContext] = {}

    def ssl_context(self, verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
        """A cached client TLS context; building one costs milliseconds, so reuse it."""
        key = (verify, ca_file)
        ctx = self._ssl.get(key)
        if ctx is None:
            ctx = ssl.create_default_context(cafile=ca_file)
            if not verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl[key] = ctx
        return ctx


ProbeFn = Callable[[Any, float, ProbeContext], Awaitable[ProbeResult]]


@dataclass(frozen=True, slots=True)
class ProbeKind:
    """One kind of probe: its config schema, how to run it, and what host it targets.

    `run(spec, timeout, ctx)` must finish within `timeout` seconds (it enforces that itself,
    reporting which phase timed out) and must not raise for a target's fault.
    `target(spec)` names the host, for the per-host concurrency bound and for display; it
    must not contain secrets (no credentials, no query string).
    """

    name: str
    schema: Obj
    run: ProbeFn
    target: Callable[[Any], str]
