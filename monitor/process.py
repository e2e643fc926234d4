"""Everything Siaga changes for the whole Python process, in one place, each with its reason.

Nothing in `monitor` touches these at import time (`tests/test_process.py` imports every
module and compares): `siaga run` calls `prepare_process()` before it loads the config, and
the daemon and the reloader call the helpers below at the moments named in each docstring.

Why the garbage collector is managed at all: with 10,000 checks the heap holds millions of
tracked objects, and a full (generation 2) collection, triggered by whichever thread
allocates (the parser's too), holds the GIL for 1-2 s, stalling every probe (measured with
bench/reload.py). So the long-lived heap is frozen once the daemon runs and again after each
load, and the collector is paused while the parser runs; collections then walk only young
objects. Config objects are acyclic, so what a reload drops is still freed by reference
counting.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import tzinfo

from monitor.telemetry import logs

SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005
YOUNG_THRESHOLD = 20_000  # net allocations between young collections; CPython's is 700


def prepare_process(log_level: str, secrets: Iterable[str], tz: tzinfo) -> None:
    """`siaga run`, once, before the daemon starts: structured logs on stderr with the
    config's secrets redacted and times in its zone (monitor.telemetry.logs), and the
    young generation's threshold raised."""
    logs.setup(log_level, secrets, tz)
    relax_young_generation()


def relax_young_generation() -> None:
    """Collect the young generation after YOUNG_THRESHOLD net allocations instead of 700.
    A probe's objects die by reference counting (tests/test_http_wire.py asserts a probe
    leaves no cycle), but the few dozen each probe in flight holds reached 700 about eight times a
    second at 200 probes a second: each collection found nothing, and promoted the objects
    in flight, which then set off the older generations' collections (gc was 7 % of the
    daemon's CPU; bench/README.md)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_heap() -> None:
    """Move every object alive now out of the collector's sight (`gc.freeze()`): called when
    `siaga run` has its config (20,000 checks: the collections the daemon's build triggers
    would otherwise walk ~100,000 config objects each, 70 ms of the start), when the daemon
    has started and after each config load (see the module docstring)."""
    gc.freeze()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection while a config is parsed: a big file makes hundreds of
    thousands of short-lived objects without cycles, which the collector would rescan again
    and again (20,000 checks: 8 s instead of 1.5 s). The previous setting comes back after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def short_switch_interval() -> Iterator[None]:
    """A short GIL switch interval while a worker thread parses a reload: a CPU-bound thread
    makes every GIL hand-back to the event loop wait a whole interval (the convoy effect);
    a short one keeps probes on time. The previous interval comes back after."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
