"""How big does the store get? Simulate a year of history for N checks, roll it up, prune
raw transitions, and print one JSON line with the file sizes.

    python bench/store_size.py --checks 1000 --days 365

Each check gets an outage (DOWN then UP) about every `--outage-every` days and starts on a
random day of the first month. Rollups are written with the real `monitor.reporting.rollup` code.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.checking.state import State, Transition
from monitor.reporting.rollup import prune, roll_up
from monitor.store.engine import Store

DAY = 86400.0


def history(name: str, start: float, end: float, every: float,
            rng: random.Random) -> list[Transition]:
    at = start + rng.uniform(0, 30) * DAY
    out = [Transition(name, State.UNKNOWN, State.UP, "first verdict", at)]
    while True:
        at += rng.expovariate(1 / (every * DAY))
        if at >= end:
            return out
        out.append(Transition(name, State.UP, State.DOWN, "connect: connection refused", at))
        at += rng.uniform(60, 7200)
        out.append(Transition(name, State.DOWN, State.UP, "status 200", at))


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--outage-every", type=float, default=7.0, help="days between outages")
    ap.add_argument("--raw-days", type=int, default=35)
    args = ap.parse_args()
    rng, tz = random.Random(1), ZoneInfo("Asia/Jakarta")
    now = time.time()
    start = now - args.days * DAY
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        n = 0
        for i in range(args.checks):
            items = history(f"check-{i:05d}-service", start, now, args.outage_every, rng)
            n += len(items)
            store.conn.executemany(
                "INSERT INTO transitions (check_name, old, new, reason, at) VALUES (?,?,?,?,?)",
                [(t.check, t.old.value, t.new.value, t.reason, t.at) for t in items])
        raw_only = size(store.path)
        t0 = time.perf_counter()
        rows = store.call(roll_up, now, tz)
        rollup_s = time.perf_counter() - t0
        pruned = store.call(lambda c: prune(c, now, tz, raw_days=args.raw_days))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.conn.execute("VACUUM")
        counts = {p: store.conn.execute("SELECT COUNT(*) FROM rollups WHERE period = ?",
                                        (p,)).fetchone()[0] for p in ("hour", "day")}
        final = size(store.path)
        store.close()
    print(json.dumps({
        "checks": args.checks, "days": args.days, "transitions": n,
        "transitions_pruned": pruned, "rollup_rows": rows, "hourly_rows": counts["hour"],
        "daily_rows": counts["day"], "raw_only_mb": round(raw_only / 1e6, 1),
        "final_mb": round(final / 1e6, 1), "bytes_per_check_year": round(final / args.checks),
        "rollup_seconds": round(rollup_s, 1)}))


if __name__ == "__main__":
    main()
