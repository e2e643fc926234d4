"""Loading a big checks.yaml in a short-lived child process.

Parsing builds a node tree several times larger than the Config it yields (20,000 checks:
~150 MB of nodes for ~20 MB of config), and Python's allocator keeps most of that memory
once it is fragmented by the long-lived objects made alongside. The daemon therefore parses
its first config in a forked child, before it starts threads or the event loop, and
receives the finished Config pickled through a pipe: the daemon's own memory then holds only
what it keeps. The child exits as soon as it has written (its peak is reported by the
benchmark). Reloads, which happen with threads running, parse in-process (see reloader.py).
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Mapping

from monitor.config.loader import load_config
from monitor.config.model import Config
from monitor.errors import ConfigError, Problem


def load_config_isolated(path: str, env: Mapping[str, str] | None = None) -> Config:
    """Like load_config; parses in a child process when that is safe (no other threads)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return load_config(path, env)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, send, and leave without running any cleanup
        code = 0
        try:
            os.close(read_end)
            _send(write_end, path, env)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data or os.waitstatus_to_exitcode(status) != 0:
        return load_config(path, env)  # the child failed unexpectedly: do it here
    outcome, value = pickle.loads(data)
    if outcome == "problems":
        raise ConfigError(value)
    assert isinstance(value, Config)
    return value


def _send(fd: int, path: str, env: Mapping[str, str] | None) -> None:
    result: tuple[str, Config | list[Problem]]
    try:
        result = ("config", load_config(path, env))
    except ConfigError as exc:
        result = ("problems", exc.problems)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
