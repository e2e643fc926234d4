"""`siaga fleet`: the instances sharing this config's PostgreSQL store — who is the pager,
who probes how many checks, from where, when each was last heard of, and how late its
scheduler runs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from monitor.config.model import Config
from monitor.errors import StoreError
from monitor.fleet.membership import Member, db_now, lease, members
from monitor.fleet.slots import timings
from monitor.store.engine import SQLITE, Conn, describe, driver_errors, open_connection

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
SAY: dict[str, Any] = {"markup": False, "highlight": False, "soft_wrap": True}


def snapshot(conn: Conn, lease_timeout: float) -> dict[str, Any]:
    now = db_now(conn)
    _, hold = timings(lease_timeout)
    held = lease(conn)
    pager = held[0] if held is not None and held[1] > now else None
    found = members(conn)
    rows = []
    for m in found:
        rows.append({"instance": m.instance, "location": m.location, "slot": m.slot,
                     "shards": m.shards, "role": "pager" if m.instance == pager else "prober",
                     "alive": now - m.seen_at < hold, "probing": m.probing,
                     "last_seen_s": round(now - m.seen_at, 1),
                     "lateness_p99_s": round(m.lateness, 3), "listen": m.listen,
                     "up_s": round(now - m.started_at)})
    missing = _missing_shards(found, now, hold)
    return {"pager": pager, "lease_epoch": held[2] if held else 0, "members": rows,
            "missing_shards": missing}


def _missing_shards(found: list[Member], now: float, hold: float) -> list[str]:
    declared = {m.shards for m in found if m.shards}
    live = {m.slot for m in found if now - m.seen_at < hold}
    return [f"{i}/{n}" for n in sorted(declared) for i in range(1, n + 1)
            if f"{i}/{n}" not in live]


def cmd_fleet(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    s = config.settings
    if s.store == SQLITE:
        err.print("siaga fleet: this config uses SQLite, so there is no fleet (one instance); "
                  "a fleet shares siaga.store: postgresql://… / tidak ada armada: "
                  "penyimpanan SQLite hanya untuk satu instans", **SAY)
        return EXIT_USAGE
    failures: tuple[type[Exception], ...] = (StoreError, *driver_errors())
    try:
        conn = open_connection(s.store, s.state_dir, migrate=False)
    except failures as exc:
        err.print(f"siaga fleet: cannot open {describe(s.store, s.state_dir)}: {exc}", **SAY)
        return EXIT_FAIL
    try:
        view = snapshot(conn, s.lease_timeout)
    except failures as exc:
        err.print(f"siaga fleet: {describe(s.store, s.state_dir)}: {exc} "
                  "(run `siaga migrate` first?)", **SAY)
        return EXIT_FAIL
    finally:
        conn.close()
    if args.json:
        out.print(json.dumps(view, indent=2), **SAY)
        return EXIT_OK
    id_ = s.language == "id"
    table = Table(title=("Armada Siaga" if id_ else "Siaga fleet")
                  + f" — pager: {view['pager'] or ('tidak ada' if id_ else 'none')}")
    for col in ("instance", "location", "shard", "role", "checks", "last seen", "lateness p99",
                "listen"):
        table.add_column(col)
    for m in view["members"]:
        role = m["role"] if m["alive"] else ("mati" if id_ else "dead")
        table.add_row(m["instance"], m["location"], m["slot"] if m["shards"] else "-", role,
                      str(m["probing"]), f"{m['last_seen_s']:g} s",
                      f"{m['lateness_p99_s'] * 1000:.0f} ms", m["listen"])
    out.print(table)
    if view["missing_shards"]:
        out.print(("Shard tanpa instans hidup" if id_ else "Shards with no live instance")
                  + ": " + ", ".join(view["missing_shards"]), **SAY)
    if not view["members"]:
        out.print("Tidak ada instans armada ini yang berjalan. / No instance of this fleet is "
                  "running.", **SAY)
        return EXIT_FAIL
    if view["pager"] is None:
        out.print("Tidak ada pager saat ini: halaman gangguan tertunda. / No pager right now: "
                  "pages wait.", **SAY)
        return EXIT_FAIL
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    fleet = sub.add_parser("fleet", help="the instances sharing the PostgreSQL store: roles, "
                           "shards, last heartbeat, lag")
    fleet.add_argument("--json", action="store_true", help="print JSON instead of a table")
