"""Secrets made once and kept on disk: the API token, the ack-link key, heartbeat tokens.

`read_or_create(path, make)` returns the file's content, creating it first when it is
missing. Creation is atomic and race-safe: the secret goes to a private temporary file
(created with O_CREAT|O_EXCL, mode 0600 whatever the umask), is synced, then hard-linked
into place. The link fails if another process or thread got there first, and then the
winner's secret is read back and used, so every racer returns the same value, and a reader
never sees a half-written file. A file that already exists is read as it is; when others may
read it (group or world bits set) a warning says so and how to fix it, but it is not changed:
an operator may have opened it to a group on purpose (`siaga ack` run by an ops group).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from monitor.telemetry.logs import event

log = logging.getLogger("siaga.secrets")
MODE = 0o600


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret in `path`; when there is none, `make()`'s, written once (see above)."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        _create(path, make())
        content = path.read_bytes()  # ours, or the one that won the race
    _warn_if_readable_by_others(path)
    return content


def _create(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    try:
        os.fchmod(fd, MODE)  # the umask can only narrow it; be explicit anyway
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(content)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass  # another process or thread won: its secret is the one
    finally:
        temp.unlink()


def _warn_if_readable_by_others(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        event(log, "secret_file_readable_by_others", logging.WARNING, path=str(path),
              mode=f"{mode:04o}", fix=f"chmod 600 {path}")
