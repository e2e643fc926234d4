"""Loading a big checks.yaml in a short-lived child process, or from the compiled-config
cache (monitor.config.cache).

Parsing builds a node tree several times larger than the Config it yields (20,000 checks:
~150 MB of nodes for ~20 MB of config), and Python's allocator keeps most of that memory
once it is fragmented by the long-lived objects made alongside. The daemon therefore parses
its first config in a forked child, before it starts threads or the event loop, and
receives the finished Config pickled through a pipe: the daemon's own memory then holds only
what it keeps. The child exits as soon as it has written (its peak is reported by the
benchmark). The same pickle is what the cache stores. Reloads, which happen with threads
running, parse in-process (see reloader.py).
"""

from __future__ import annotations

import json
import os
import pickle
import threading
from collections.abc import Mapping

from monitor.config.cache import ConfigCache, EnvReads
from monitor.config.loader import load_config, parse_bytes
from monitor.config.model import Config
from monitor.errors import ConfigError

CONFIG, PROBLEMS = b"C", b"P"


def load_config_isolated(path: str, env: Mapping[str, str] | None = None, *,
                         cache: ConfigCache | None = None) -> Config:
    """Like load_config; from `cache` when it holds this very input, else parsed in a child
    process when that is safe (no other threads). With `cache`, the bytes parsed are the
    bytes its key was made of, and a good result is stored."""
    environ = os.environ if env is None else env
    if cache is not None:
        cached = cache.load(environ)
        if cached is not None:
            return cached
    if not hasattr(os, "fork") or threading.active_count() > 1:
        reads = EnvReads(environ)
        config = parse_bytes(cache.text, path, reads) if cache else load_config(path, reads)
        if cache is not None:
            cache.store(_pickle(config), config, reads.names(), environ)
        return config
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, send, and leave without running any cleanup
        code = 0
        try:
            os.close(read_end)
            _send(write_end, path, environ, cache)
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
    if data[:1] == PROBLEMS:
        raise ConfigError(pickle.loads(data[1:]))
    header, _, payload = data[1:].partition(b"\n")
    config = pickle.loads(payload)
    assert isinstance(config, Config)
    if cache is not None:
        cache.store(payload, config, json.loads(header), environ)
    return config


def _pickle(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _send(fd: int, path: str, env: Mapping[str, str], cache: ConfigCache | None) -> None:
    """In the child: parse (the cache's bytes, when given) and write the outcome: the
    problems, or the environment variables the load read and the pickled Config."""
    reads = EnvReads(dict(env))
    try:
        config = parse_bytes(cache.text, path, reads) if cache else load_config(path, reads)
        data = CONFIG + json.dumps(reads.names()).encode() + b"\n" + _pickle(config)
    except ConfigError as exc:
        data = PROBLEMS + _pickle(exc.problems)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(data)
