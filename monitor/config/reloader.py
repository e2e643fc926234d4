"""Hot reload: the file watcher and the one entry point every reload goes through.

`Reloader.reload()` parses and validates checks.yaml on a worker thread, then swaps the config
on the loop with the `apply` callable it was given (the daemon's reload: engine state kept by
name, scheduler phases kept, removed checks' incidents resolved by the pager's next
reconcile). Only the swap runs on the loop, so probes keep their slots while a 10,000-check
file is parsed. A lock serialises reloads from the watcher, `siaga reload`
(POST /api/v1/reload) and SIGHUP.

The watcher polls `os.stat` once a second and compares (mtime, size, inode): editors that
write a temporary file and rename it into place change the inode even when mtime and size
happen to match. A change seen while a reload runs is picked up by the next poll.

While a reload parses, the GIL switch interval is short and the cyclic collector paused, and
the heap is frozen after it: process-wide settings, made by `monitor.process` (which says why).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from monitor.config.loader import load_config
from monitor.config.model import Config
from monitor.errors import ConfigError, Problem
from monitor.process import freeze_heap, gc_paused, short_switch_interval
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.reloader")
POLL = 1.0

Fingerprint = tuple[int, int, int] | None


def fingerprint(path: str) -> Fingerprint:
    """(mtime_ns, size, inode) of the file, or None while it is missing (mid-rename)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _load(path: str, previous: Config | None = None) -> Config | ConfigError:
    """Load on a worker thread, with the cyclic collector paused meanwhile: the parser's
    million short-lived nodes would otherwise trigger full collections that hold the GIL.
    The checks of `previous` (the running config) whose lines did not change are taken as
    they are (monitor.config.reuse)."""
    try:
        with gc_paused():
            return load_config(path, previous=previous)
    except ConfigError as exc:
        return exc
    except Exception as exc:  # a loader bug: the reload fails visibly, the daemon runs on
        log.exception("event=reload_crashed file=%s", path)
        message = f"could not be loaded ({type(exc).__name__}); the old config stays in use"
        return ConfigError([Problem(path, 1, 1, "", message)])
    finally:
        freeze_heap()  # what the parse allocated would otherwise all sit in generation 0


Apply = Callable[[Config | ConfigError, Any], bool]  # swap in a loaded config (+ its plan)
Prepare = Callable[[Config], Any]  # work on a loaded config that can run off the loop


class Reloader:
    """Reloads a config: `path()` says where the file is now, `apply` swaps in what was
    loaded (or reports why not); `watch()` is the file poller task."""

    def __init__(self, path: Callable[[], str], apply: Apply, *, poll: float = POLL,
                 prepare: Prepare | None = None,
                 running: Callable[[], Config | None] = lambda: None) -> None:
        self.path = path
        self.apply = apply
        self.prepare = prepare
        self.running = running  # the config in use: unchanged checks are taken from it
        self.poll = poll
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[bool]] = set()
        self.seen: Fingerprint = fingerprint(path())

    async def reload(self, reason: str = "request") -> bool:
        """Parse off the loop, swap on it; False (old config kept) when the file is invalid."""
        async with self._lock:
            path = self.path()
            self.seen = fingerprint(path)
            event(log, "reload_requested", reason=reason, file=path)
            with short_switch_interval():
                loaded, plan = await asyncio.to_thread(self._load_and_prepare, path,
                                                       self.running())
            ok = self.apply(loaded, plan)
            if ok:
                freeze_heap()
            return ok

    def _load_and_prepare(self, path: str,
                          running: Config | None) -> tuple[Config | ConfigError, Any]:
        loaded = _load(path, running)
        if isinstance(loaded, ConfigError) or self.prepare is None:
            return loaded, None
        return loaded, self.prepare(loaded)

    def on_sighup(self) -> None:
        """The SIGHUP handler: the same off-loop reload as the watcher's."""
        task = asyncio.get_running_loop().create_task(self.reload("SIGHUP"))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def changed(self) -> bool:
        now = fingerprint(self.path())
        return now is not None and now != self.seen

    async def watch(self) -> None:
        """Poll the file every `poll` seconds and reload when it changed."""
        while True:
            await asyncio.sleep(self.poll)
            if self.changed() and not self._lock.locked():
                try:
                    await self.reload("file changed")
                except asyncio.CancelledError:
                    raise
                except Exception:  # the watcher must outlive one bad reload
                    log.exception("event=reload_crashed")
