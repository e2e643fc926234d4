"""CLI commands about planned quiet: `maintenance`, `silence`, `silences`, `unsilence`."""

from __future__ import annotations

import argparse
import datetime as dt
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.cli.client import Client
from monitor.cli.people import login_name, parse_at
from monitor.config.model import Config
from monitor.config.scalars import format_duration
from monitor.incidents.maintenance import upcoming

EXIT_OK, EXIT_USAGE = 0, 2


def _when(ts: float, config: Config) -> str:
    return dt.datetime.fromtimestamp(ts, config.settings.tz).strftime("%a %d %b %Y %H:%M %Z")


def cmd_maintenance(args: argparse.Namespace, config: Config, out: Console,
                    err: Console) -> int:
    try:
        now = parse_at(args.at, config)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        return EXIT_USAGE
    windows = config.sections.get("maintenance") or []
    table = Table(title=f"Maintenance / pemeliharaan — next {args.days} days")
    for col in ("", "from", "to", "covers", "note"):
        table.add_column(col)
    planned = list(upcoming(windows, now, args.days, config.settings.tz))
    if not planned:
        say = ("tidak ada pemeliharaan terjadwal dalam {n} hari ke depan"
               if config.settings.language == "id" else
               "no maintenance scheduled in the next {n} days")
        out.print(say.format(n=args.days), markup=False, highlight=False)
        return EXIT_OK
    for w, start, end in planned:
        covers = "all" if w.all else ", ".join([*w.checks, *(f"group {g}" for g in w.groups)])
        marker = Text("now", "bold blue") if start <= now < end else ""
        table.add_row(marker, _when(start, config), _when(end, config), Text(covers),
                      Text(w.note or ""))
    out.print(table)
    return EXIT_OK


def cmd_silence(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    item = Client(config).post("/api/v1/silences", {
        "target": args.target, "for": args.duration, "reason": args.reason,
        "by": args.by or login_name()})
    out.print(f"silence {item['id']}: {item['target']} until {_when(item['until'], config)} "
              f"({item['reason']})", highlight=False, markup=False)
    return EXIT_OK


def cmd_silences(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    data = Client(config).get("/api/v1/silences")
    table = Table(title="Silences / senyap")
    for col in ("id", "target", "until", "left", "by", "reason"):
        table.add_column(col)
    now = time.time()
    for s in data["silences"]:
        table.add_row(str(s["id"]), Text(s["target"]), _when(s["until"], config),
                      format_duration(max(0.0, s["until"] - now)), Text(s["created_by"]),
                      Text(s["reason"]))
    out.print(table)
    return EXIT_OK


def cmd_unsilence(args: argparse.Namespace, config: Config, out: Console,
                  err: Console) -> int:
    Client(config).delete(f"/api/v1/silences/{args.id}")
    out.print(f"silence {args.id} removed", markup=False)
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    m = sub.add_parser("maintenance", help="current and upcoming maintenance windows")
    m.add_argument("--at", help="a moment 'YYYY-MM-DD HH:MM' in the configured zone")
    m.add_argument("--days", type=int, default=14)
    s = sub.add_parser("silence", help="hold pages for a check or group for a while")
    s.add_argument("target", help="a check name or a group name")
    s.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h")
    s.add_argument("--reason", required=True)
    s.add_argument("--by", help="your name (default: the login name)")
    sub.add_parser("silences", help="active silences")
    u = sub.add_parser("unsilence", help="remove a silence")
    u.add_argument("id", type=int)
