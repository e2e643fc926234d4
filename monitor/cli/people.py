"""CLI commands about people and incidents: `oncall`, `incidents`, `ack`, `resolve`."""

from __future__ import annotations

import argparse
import datetime as dt
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.cli.client import Client
from monitor.config.model import Config
from monitor.paging.oncall.roster import on_duty, schedule

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def parse_at(text: str | None, config: Config) -> float:
    if not text:
        return time.time()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            local = dt.datetime.strptime(text, fmt).replace(tzinfo=config.settings.tz)
            return local.timestamp()
        except ValueError:
            continue
    raise ValueError(f"--at: expected 'YYYY-MM-DD HH:MM' in {config.settings.timezone}, "
                     f"got {text!r}")


def cmd_oncall(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    oncall = config.sections.get("oncall")
    if oncall is None:
        err.print(f"{config.path}: no `oncall:` section; nobody is paged (console only)",
                  markup=False)
        return EXIT_USAGE
    try:
        at = parse_at(args.at, config)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        return EXIT_USAGE
    tz = config.settings.tz
    duty = on_duty(oncall, at, tz)
    when = dt.datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M %Z")
    who = _name(oncall, duty.officer) if duty.officer else "— (nobody; admins are paged)"
    out.print(Text.assemble(f"On duty / piket at {when}: ", (who, "bold")), highlight=False)
    table = Table(title=f"Next {args.days} days ({config.settings.timezone})")
    for col in ("from", "to", "officer", "by"):
        table.add_column(col)
    for shift in schedule(oncall, at, args.days, tz):
        table.add_row(_fmt(shift.start, tz), _fmt(shift.end, tz),
                      Text(_name(oncall, shift.officer) if shift.officer else "—"),
                      Text(f"override: {shift.reason}" if shift.override
                           else shift.rotation or ""))
    out.print(table)
    return EXIT_OK


def _fmt(ts: float, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%a %d %b %H:%M")


def _name(oncall: object, officer: str | None) -> str:
    person = getattr(oncall, "officers", {}).get(officer)
    return f"{person.name} ({officer})" if person and person.name != officer else str(officer)


def cmd_incidents(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    data = Client(config).get(f"/api/v1/incidents?limit={args.limit}")
    tz = config.settings.tz
    table = Table(title="Incidents / Gangguan")
    for col in ("id", "status", "service", "reason", "opened", "acked by", "resolved"):
        table.add_column(col)
    style = {"open": "bold red", "acknowledged": "yellow", "resolved": "green"}
    for inc in data["incidents"]:
        table.add_row(str(inc["id"]), Text(inc["status"], style.get(inc["status"], "")),
                      Text(inc["title"]), Text(inc["reason"]), _fmt(inc["opened_at"], tz),
                      Text(inc["acked_by"] or ""), _fmt(inc["resolved_at"], tz)
                      if inc["resolved_at"] else "")
    out.print(table)
    return EXIT_OK


def cmd_act(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    action = "ack" if args.command == "ack" else "resolve"
    who = args.by or login_name()
    inc = Client(config).post(f"/api/v1/incidents/{args.id}/{action}",
                              {"by": who, "note": args.note})
    out.print(f"incident {inc['id']} ({inc['title']}): {inc['status']} by {who}",
              highlight=False, markup=False)
    return EXIT_OK


def login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    oncall = sub.add_parser("oncall", help="who is on duty now and the next 14 days")
    oncall.add_argument("--at", help="a moment 'YYYY-MM-DD HH:MM' in the configured zone")
    oncall.add_argument("--days", type=int, default=14)
    inc = sub.add_parser("incidents", help="recent incidents from the running daemon")
    inc.add_argument("--limit", type=int, default=30)
    for name in ("ack", "resolve"):
        p = sub.add_parser(name, help=f"{name} an incident through the running daemon")
        p.add_argument("id", type=int)
        p.add_argument("--note")
        p.add_argument("--by", help="your name (default: the login name)")
