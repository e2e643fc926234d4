"""Siaga's exception hierarchy, written down once.

    SiagaError                 base of everything Siaga raises on purpose
    ├── ConfigError            checks.yaml is invalid; carries every Problem found
    ├── StoreError             the SQLite state store failed
    ├── NotifyError            a notification could not be sent
    │     .permanent           True when retrying cannot help (bad URL, rejected recipient)
    ├── ApiError               the daemon's HTTP API refused or could not be reached
    │     .status              the HTTP status of a refusal (None: no answer)
    ├── ListenError            `siaga run` cannot listen on its address (port in use)
    ├── IncidentError          an acknowledgement or resolution that does not apply
    ├── AckTokenError          an ack link was refused
    │     .reason              "forged", "expired" or "already used"
    └── HttpError              the HTTP probe's wire: the target failed us (caught inside
                               the probe and turned into a failed result, never raised out)

Probes never raise for a target's fault: they return a failed ProbeResult.
Only the CLI turns these into messages and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class SiagaError(Exception):
    """Base class of the errors Siaga raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a config file, with its place."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(SiagaError):
    """checks.yaml is invalid. `problems` holds every error found, in file order; `secrets`
    the `${VAR}` values read before it failed (a problem may quote one: logs redact them)."""

    def __init__(self, problems: list[Problem], secrets: Iterable[str] = ()) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        self.secrets = frozenset(secrets)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(SiagaError):
    """The state store could not read or write."""


class NotifyError(SiagaError):
    """A notification failed. `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ApiError(SiagaError):
    """The daemon's HTTP API refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ListenError(SiagaError):
    """The HTTP server cannot bind its address; the message says what to do."""


class IncidentError(SiagaError):
    """An acknowledgement or resolution that does not apply (already resolved, …)."""


class AckTokenError(SiagaError):
    """A token was refused. `reason` is "forged", "expired" or (from the store) "already used"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpError(SiagaError):
    """The target failed us (refused, reset, garbage, TLS); the message is the reason."""
