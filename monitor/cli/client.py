"""A small client for the running daemon's HTTP API, used by the CLI (`ack`, `resolve`,
`incidents`, `status`, `silence`). State changes go through the daemon, never by editing files.

The CLI must work when the officer needs it most: while a colleague's edit of checks.yaml is
half done, or on a shell without the notifiers' `${SECRET}`s. `reach(path)` therefore reads
only what talking to the daemon takes — `siaga.listen`, the API token, the state directory,
language and time zone — from a file that may not validate or even parse, and says where
each value came from. Every answer must carry the daemon's instance id (kept in its state
directory), so another program on that port is never shown as Siaga.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from monitor.config.model import Config, Settings
from monitor.errors import ApiError

INSTANCE_HEADER = "X-Siaga-Instance"
INSTANCE_FILE = "instance.id"
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEYS = ("listen", "state_dir", "api_token", "language", "timezone")


@dataclass(frozen=True)
class Reach:
    """How the CLI reaches the daemon: the settings it used and where each came from."""

    file: str
    settings: Settings
    token: str | None
    sources: dict[str, str] = field(default_factory=dict)  # value name → where it came from
    degraded: str | None = None  # why the file was read only in part

    def describe(self) -> str:
        used = ", ".join(f"{k} {v}" for k, v in self.sources.items())
        return f"{self.file}: {used}"


def reach_of(config: Config) -> Reach:
    """A valid config's way to the daemon."""
    s = config.settings
    token, source = _token(s.api_token, "siaga.api_token", Path(s.state_dir), os.environ)
    return Reach(config.path, s, token, {"listen": s.listen, "state dir": s.state_dir,
                                          "token": source})


def reach(path: str, env: Mapping[str, str] | None = None) -> Reach:
    """The few settings the CLI needs, from a file that may not be valid (see module doc)."""
    env = os.environ if env is None else env
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        text = ""
        degraded: str | None = f"cannot read it ({exc.strerror}); using defaults"
    else:
        degraded = None
    found, why = _siaga_section(text)
    degraded = degraded or why
    raw = {k: _expand(str(found[k]), env) for k in _KEYS if found.get(k) is not None}
    settings = Settings()
    values: dict[str, Any] = {k: v for k, v in raw.items() if v and k != "api_token"}
    if values.get("language") not in ("id", "en"):
        values.pop("language", None)
    if "timezone" in values:
        values["timezone"] = _zone(values["timezone"])
    state_dir = Path(values.get("state_dir", settings.state_dir))
    if not state_dir.is_absolute():
        state_dir = Path(path).resolve().parent / state_dir
    values["state_dir"] = str(state_dir)
    settings = replace(settings, **values)
    token, source = _token(found.get("api_token") and raw.get("api_token"), "siaga.api_token",
                           state_dir, env)
    sources = {"listen": settings.listen + ("" if "listen" in raw else " (default)"),
               "state dir": str(state_dir), "token": source}
    return Reach(path, settings, token, sources, degraded)


def _siaga_section(text: str) -> tuple[dict[str, Any], str | None]:
    """`siaga:` of the file, parsed when YAML can, else picked out line by line."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    else:
        section = doc.get("siaga") if isinstance(doc, dict) else None
        if isinstance(section, dict):
            return section, None
    picked = {}
    for key in _KEYS:
        m = re.search(rf"(?m)(?:^|[{{,])\s*{key}\s*:\s*[\"']?([^\"'\s,}}#]+)", text)
        if m:
            picked[key] = m[1]
    return picked, None if doc is not None else "the YAML does not parse; read siaga: line by line"


def _expand(value: str, env: Mapping[str, str]) -> str:
    """`${VAR}` from the environment; "" when one is missing (the value is then not used)."""
    missing = [m[1] for m in _ENV.finditer(value) if m[1] not in env]
    return "" if missing else _ENV.sub(lambda m: env[m[1]], value)


def _zone(name: str) -> str:
    from monitor.config.loader import ZONE_ABBREVIATIONS

    return ZONE_ABBREVIATIONS.get(name.upper(), name)


def _token(configured: str | None, where: str, state_dir: Path,
           env: Mapping[str, str]) -> tuple[str | None, str]:
    if configured:
        return configured, f"from {where}"
    if env.get("SIAGA_API_TOKEN"):
        return env["SIAGA_API_TOKEN"], "from $SIAGA_API_TOKEN"
    path = state_dir / "api.token"
    try:
        return path.read_text().strip(), f"from {path}"
    except OSError:
        return None, f"none ({path} is missing)"


class Client:
    def __init__(self, config: Config | Reach, timeout: float = 10.0) -> None:
        self.reach = config if isinstance(config, Reach) else reach_of(config)
        s = self.reach.settings
        host = "127.0.0.1" if s.listen_host in ("0.0.0.0", "::", "") else s.listen_host
        self.base = f"http://{host}:{s.listen_port}"
        self.timeout = timeout
        self.token = self.reach.token
        self.instance = _read(Path(s.state_dir) / INSTANCE_FILE)

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path, None)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                self._same_daemon(resp.headers.get(INSTANCE_HEADER))
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            self._same_daemon(exc.headers.get(INSTANCE_HEADER))
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except (ValueError, AttributeError):
                message = exc.reason
            raise ApiError(str(message), status=exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"cannot reach the daemon at {self.base} ({reason}); is `siaga run` "
                           f"running? Used {self.reach.describe()}") from None

    def _same_daemon(self, instance: str | None) -> None:
        """Refuse an answer that is not from the daemon of this state directory."""
        if instance is None:
            raise ApiError(f"the program answering at {self.base} is not Siaga; "
                           f"used {self.reach.describe()}")
        if self.instance is not None and instance != self.instance:
            raise ApiError(f"the Siaga answering at {self.base} is another instance, not the "
                           f"one keeping its state in {self.reach.settings.state_dir}; "
                           f"used {self.reach.describe()}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
