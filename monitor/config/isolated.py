"""Loading a big checks.yaml in a short-lived child process, or from the compiled-config
cache (monitor.config.cache).

Parsing builds a node tree several times larger than the Config it yields (20,000 checks:
~150 MB of nodes for ~20 MB of config), and Python's allocator keeps most of that memory
once it is fragmented by the long-lived objects made alongside. The daemon therefore parses
its first config in a forked child, before it starts threads, and receives the finished
Config pickled through a pipe: the daemon's own memory then holds only what it keeps. The
child exits as soon as it has written (its peak is reported by the benchmark). The same
pickle is what the cache stores. Reloads, which happen with threads running, parse
in-process (see reloader.py).

The child writes frames (a kind byte, a length, a payload): first, when `Loading` is given
a `preview` function and it finds one, a `PREVIEW` of the file made from its node tree before
validation (`siaga run`: the checks probed first, monitor.checking.preview), then the Config
or its problems. `Loading` reads them on the event loop, so `siaga run` probes the preview's
checks while the child validates the rest (monitor.checking.early).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO

from yaml.nodes import MappingNode

from monitor.config.cache import ConfigCache, EnvReads
from monitor.config.loader import (
    build_config,
    compose_root,
    decode_text,
    load_config,
    read_file,
)
from monitor.config.model import Config
from monitor.errors import ConfigError
from monitor.process import gc_paused
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.config")

CONFIG, PROBLEMS, PREVIEW = b"C", b"P", b"V"
_HEAD = struct.Struct(">cQ")  # kind, payload length

# (root, text, file, env) → something picklable to send ahead of the Config, or None
Previewer = Callable[[MappingNode, str, str, Mapping[str, str]], object]


class Loading:
    """`siaga run`'s load of its config, begun at once: from the cache when it holds this
    very input, else in a forked child when that is safe (no other threads), else here.
    With `cache`, the bytes parsed are the bytes its key was made of, and a good result
    is stored."""

    def __init__(self, path: str, env: Mapping[str, str] | None = None, *,
                 cache: ConfigCache | None = None, preview: Previewer | None = None) -> None:
        self.path = path
        self.begun = time.monotonic()
        self.environ = os.environ if env is None else env
        self.cache = cache
        self._done: Config | ConfigError | None = None
        self._pid = 0
        self._pipe: IO[bytes] | None = None
        self._frames: list[tuple[bytes, bytes]] = []  # read ahead of the caller's asking
        if cache is not None:
            self._done = cache.load(self.environ)
            if self._done is not None:
                self._loaded(self._done, "cache")
                return
        if not hasattr(os, "fork") or threading.active_count() > 1:
            self._done = self._here()
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: parse, send, and leave without running any cleanup
            code = 0
            try:
                os.close(read_end)
                _child(write_end, path, self.environ, cache, preview)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        self._pid, self._pipe = pid, os.fdopen(read_end, "rb")

    def _here(self) -> Config | ConfigError:
        reads = EnvReads(self.environ)
        previous = self.cache.previous() if self.cache is not None else None
        try:
            config = (_parse(self.cache.text, self.path, reads, previous) if self.cache
                      else load_config(self.path, reads))
        except ConfigError as exc:
            return exc
        if self.cache is not None:
            self.cache.store(_pickle(config), config, reads.names(), self.environ)
        return self._loaded(config, "here", _reused(config, previous))

    async def preview(self) -> object:
        """The child's preview (None: there is none, or the config is loaded already)."""
        if self._pipe is None or self._done is not None or self._frames:
            return None
        kind, payload = await self._next_frame()
        if kind == PREVIEW:
            return pickle.loads(payload)
        self._frames.append((kind, payload))
        return None

    async def config(self) -> Config:
        """The Config; ConfigError with every problem when the file is invalid."""
        if self._done is None:
            kind, payload = self._frames.pop(0) if self._frames else await self._next_frame()
            if kind == PREVIEW:  # not asked for
                kind, payload = await self._next_frame()
            self._done = self._finish(kind, payload)
        if isinstance(self._done, ConfigError):
            raise self._done
        return self._done

    def cancel(self) -> None:
        """Stop the child (`siaga run` was asked to stop while it loads): it dies at once,
        the pipe's reader sees its end, and it is reaped on a thread."""
        if self._pipe is None or self._done is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        threading.Thread(target=os.waitpid, args=(self._pid, 0), daemon=True,
                         name="siaga-config-child").start()
        self._done = ConfigError([])

    def _loaded(self, config: Config, how: str, reused: int = 0) -> Config:
        """`config`, logged: how it came, and the checks taken unvalidated from the last
        good load of an earlier version of the file."""
        event(log, "config_loaded", checks=len(config.checks), how=how, reused=reused,
              seconds=f"{time.monotonic() - self.begun:.2f}")
        return config

    def result(self) -> Config:
        """`config()` for a caller without an event loop (the preview is skipped)."""
        if self._done is None and self._pipe is not None:
            data = self._pipe.read()
            frames = list(_split(data))
            kind, payload = frames[-1] if frames else (b"", b"")
            # reaped now: a thread left reaping would keep the next load from forking
            self._done = self._finish(kind, payload, reap_later=False)
        if isinstance(self._done, ConfigError):
            raise self._done
        assert self._done is not None
        return self._done

    async def _next_frame(self) -> tuple[bytes, bytes]:
        """The next frame, read on a worker thread (a pipe's end is a plain file here);
        an empty kind at the end of the pipe."""
        assert self._pipe is not None
        return await asyncio.to_thread(_read_frame, self._pipe)

    def _finish(self, kind: bytes, payload: bytes, *, reap_later: bool = True
                ) -> Config | ConfigError:
        """The outcome of the child's last frame (the pipe is done with)."""
        assert self._pipe is not None
        self._pipe.close()
        if kind in (CONFIG, PROBLEMS) and reap_later:
            # Reaped on a thread: a child that parsed 20,000 checks takes ~0.25 s to exit
            # (the kernel frees its ~200 MB), and its status says nothing the frame does not.
            threading.Thread(target=os.waitpid, args=(self._pid, 0), daemon=True,
                             name="siaga-config-child").start()
        else:
            os.waitpid(self._pid, 0)
        if kind == PROBLEMS:
            problems = pickle.loads(payload)
            return ConfigError(problems)
        if kind != CONFIG:
            try:  # the child failed unexpectedly: do it here
                return load_config(self.path, self.environ)
            except ConfigError as exc:
                return exc
        header, _, pickled = payload.partition(b"\n")
        with gc_paused():  # ~100,000 objects and no cycles: a collection would only rescan
            config = pickle.loads(pickled)
        assert isinstance(config, Config)
        head = json.loads(header)
        if self.cache is not None:
            self.cache.store(pickled, config, head["env"], self.environ)
        return self._loaded(config, "child", head["reused"])


def load_config_isolated(path: str, env: Mapping[str, str] | None = None, *,
                         cache: ConfigCache | None = None) -> Config:
    """Like load_config, through `Loading` (the cache, a child process)."""
    return Loading(path, env, cache=cache).result()


def _pickle(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _parse(data: bytes, path: str, env: Mapping[str, str], previous: Config | None) -> Config:
    with gc_paused():
        text = decode_text(data, path)
        return build_config(compose_root(text, path), text, path, env, previous)


def _reused(config: Config, previous: Config | None) -> int:
    """How many of `config`'s checks were taken from `previous` (monitor.config.reuse)."""
    if previous is None:
        return 0
    return sum(1 for c in config.checks if previous.by_name.get(c.name) is c)


def _read_frame(pipe: IO[bytes]) -> tuple[bytes, bytes]:
    head = pipe.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return b"", b""
    kind, size = _HEAD.unpack(head)
    payload = pipe.read(size)
    return (kind, payload) if len(payload) == size else (b"", b"")


def _split(data: bytes) -> list[tuple[bytes, bytes]]:
    frames, at = [], 0
    while at + _HEAD.size <= len(data):
        kind, size = _HEAD.unpack_from(data, at)
        at += _HEAD.size
        if at + size > len(data):
            break
        frames.append((kind, data[at:at + size]))
        at += size
    return frames


def _child(fd: int, path: str, env: Mapping[str, str], cache: ConfigCache | None,
           preview: Previewer | None) -> None:
    """In the child: parse (the cache's bytes, when given); write the preview, if any,
    then the outcome: the problems, or the environment variables the load read and the
    pickled Config."""
    reads = EnvReads(dict(env))
    with os.fdopen(fd, "wb") as pipe, gc_paused():
        try:
            text = decode_text(cache.text if cache is not None else read_file(path), path)
            root = compose_root(text, path)
            early = preview(root, text, path, reads) if preview is not None else None
            if early is not None:
                _write(pipe, PREVIEW, _pickle(early))
                pipe.flush()
            # An edited file: its unchanged checks are taken from its last good load's entry
            previous = cache.previous() if cache is not None else None
            config = build_config(root, text, path, reads, previous)
            head = {"env": reads.names(), "reused": _reused(config, previous)}
            frame = CONFIG, json.dumps(head).encode() + b"\n" + _pickle(config)
        except ConfigError as exc:
            frame = PROBLEMS, _pickle(exc.problems)
        _write(pipe, *frame)
    # What is left is the exit: the kernel freeing ~200 MB at 20,000 checks (~0.25 s), on
    # a core the daemon, starting now, may share. It yields to the daemon.
    os.nice(19)


def _write(pipe: IO[bytes], kind: bytes, payload: bytes) -> None:
    pipe.write(_HEAD.pack(kind, len(payload)) + payload)
