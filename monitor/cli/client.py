"""A small client for the running daemon's HTTP API, used by the CLI (`ack`, `resolve`,
`incidents`, `status`). State changes go through the daemon, never by editing files."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from monitor.config.model import Config
from monitor.errors import ApiError


class Client:
    def __init__(self, config: Config, timeout: float = 10.0) -> None:
        s = config.settings
        host = "127.0.0.1" if s.listen_host in ("0.0.0.0", "::", "") else s.listen_host
        self.base = f"http://{host}:{s.listen_port}"
        self.timeout = timeout
        self.token = s.api_token or os.environ.get("SIAGA_API_TOKEN") or _token_file(
            Path(s.state_dir))

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
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise ApiError(f"{method} {path}: {exc.code} {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"cannot reach the daemon at {self.base}: {reason} "
                           "(is `siaga run` running with this config?)") from None


def _token_file(state_dir: Path) -> str | None:
    path = state_dir / "api.token"
    try:
        return path.read_text().strip()
    except OSError:
        return None
