"""When Siaga was watching: a mark file in the state directory, refreshed while the daemon
runs, and "→ unknown" transitions for the time it was not (after a stop or a crash), so
uptime counts that time as "no data" instead of stretching the last state it saw.

A clean stop writes the transitions at once and removes the mark. A crash leaves the mark:
the next start writes the transitions at the mark's time (at most `EVERY` late), and a
report run meanwhile stops counting at the mark (`watched_until`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from monitor.store.engine import Conn, transaction

MARK = "watching"
EVERY = 30.0  # how often the mark is refreshed
REASON = "Siaga was not running"


def write_mark(state_dir: str | Path, now: float) -> None:
    path = Path(state_dir) / MARK
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{now:.3f}\n")
    os.replace(tmp, path)  # a reader never sees half a number


def read_mark(state_dir: str | Path) -> float | None:
    try:
        return float((Path(state_dir) / MARK).read_text())
    except (OSError, ValueError):
        return None


def clear_mark(state_dir: str | Path) -> None:
    (Path(state_dir) / MARK).unlink(missing_ok=True)


def watched_until(state_dir: str | Path, now: float) -> float:
    """`now` while a daemon is watching (or stopped cleanly: its transitions say so), else
    the moment a crashed one last said it was."""
    mark = read_mark(state_dir)
    return now if mark is None or now - mark <= 2 * EVERY else mark


def close_watch(conn: Conn, checks: Iterable[str], at: float) -> int:
    """Record that nothing was known about `checks` from `at` on; return how many."""
    wanted = set(checks)
    rows = conn.execute(
        "SELECT t.check_name, t.new FROM transitions t JOIN (SELECT check_name, MAX(at) AS "
        "last FROM transitions GROUP BY check_name) m ON t.check_name = m.check_name AND "
        "t.at = m.last WHERE m.last <= ? ORDER BY t.id", (at,)).fetchall()
    last = {name: new for name, new in rows}  # the newest row wins a tie on `at`
    items = [(name, new, "unknown", REASON, at) for name, new in last.items()
             if name in wanted and new != "unknown"]
    with transaction(conn):
        conn.executemany("INSERT INTO transitions (check_name, old, new, reason, at) "
                         "VALUES (?,?,?,?,?)", items)
    return len(items)


async def keep_marking(state_dir: str | Path,
                       clock: Callable[[], float] = time.time) -> None:
    """The daemon's task: refresh the mark every `EVERY` seconds (file I/O off the loop)."""
    while True:
        await asyncio.to_thread(write_mark, state_dir, clock())
        await asyncio.sleep(EVERY)
