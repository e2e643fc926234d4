"""CLI commands about people and incidents: `oncall`, `incidents`, `ack`, `resolve`."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.cli.client import Client
from monitor.config.model import Config
from monitor.errors import ApiError
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
    first = dt.datetime.fromtimestamp(at, tz).date()
    days_off = [(d, name) for d, name in sorted(oncall.holidays.items())
                if first <= d < first + dt.timedelta(days=args.days)]
    if days_off:
        out.print("Holidays / hari libur: " + "; ".join(
            f"{d:%a %d %b} {name}" for d, name in days_off), highlight=False, markup=False)
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


ACT_WORDS = {
    "id": {"missing": "insiden {id} tidak ada", "refused": "insiden {id}: {why}",
           "acknowledged": "insiden {id} ({title}) ditangani oleh {who}",
           "resolved": "insiden {id} ({title}) diselesaikan oleh {who}",
           "ask": "Nama petugas Anda ({names}): "},
    "en": {"missing": "incident {id} does not exist", "refused": "incident {id}: {why}",
           "acknowledged": "incident {id} ({title}) acknowledged by {who}",
           "resolved": "incident {id} ({title}) resolved by {who}",
           "ask": "Which officer are you ({names})? "},
}


def cmd_act(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    action = "ack" if args.command == "ack" else "resolve"
    words = ACT_WORDS.get(config.settings.language, ACT_WORDS["id"])
    who = args.by or officer_of_user(config, words["ask"])
    try:
        inc = Client(config).post(f"/api/v1/incidents/{args.id}/{action}",
                                  {"by": who, "note": args.note})
    except ApiError as exc:
        if exc.status is None:
            raise
        key = "missing" if exc.status == 404 else "refused"
        why = refusal(config.settings.language, str(exc))
        err.print(words[key].format(id=args.id, why=why), highlight=False, markup=False)
        return EXIT_FAIL
    out.print(words[inc["status"]].format(id=inc["id"], title=inc["title"], who=who),
              highlight=False, markup=False)
    return EXIT_OK


def refusal(lang: str, message: str) -> str:
    """The daemon's refusal ("incident 3 was already acknowledged by sari") in `lang`."""
    m = re.search(r"already acknowledged by (.+)$", message)
    if m:
        return (f"sudah ditangani oleh {m[1]}" if lang == "id"
                else f"already acknowledged by {m[1]}")
    if "already resolved" in message:
        return "sudah selesai" if lang == "id" else "already resolved"
    return re.sub(r"^incident \d+ ", "", message)


def officer_of_user(config: Config, question: str) -> str:
    """The officer whose id or name is this login; else asked on a terminal; else the login."""
    login = login_name()
    officers = getattr(config.sections.get("oncall"), "officers", {})
    for officer_id, person in officers.items():
        if login.lower() in (officer_id.lower(), person.name.lower()):
            return str(officer_id)
    if officers and sys.stdin.isatty():
        answer = input(question.format(names=", ".join(officers))).strip()
        if answer:
            return answer
    return login


UPDATE_WORDS = {"investigating": "sedang diperiksa / investigating",
                "identified": "penyebab ditemukan / identified",
                "monitoring": "dipantau / monitoring", "resolved": "selesai / resolved"}


def cmd_update(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    """Post an update about an incident to the status page and its feed."""
    messages = {lang: text for lang, text in (("id", args.message_id), ("en", args.message_en))
                if text}
    if args.message:
        messages.setdefault(config.settings.language, args.message)
    if not messages:
        err.print("siaga update: give --message (or --message-id / --message-en)",
                  markup=False)
        return EXIT_USAGE
    who = args.by or login_name()
    Client(config).post(f"/api/v1/incidents/{args.id}/updates",
                        {"status": args.status, "message": messages, "by": who})
    out.print(f"incident {args.id}: update '{UPDATE_WORDS[args.status]}' published "
              f"({', '.join(sorted(messages))}) by {who}", highlight=False, markup=False)
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
        p.add_argument("--by", help="your officer id (default: the officer whose id or name "
                       "is your login; asked on a terminal otherwise)")
    up = sub.add_parser("update", help="publish an update about an incident on the status "
                        "page and its feed")
    up.add_argument("id", type=int)
    up.add_argument("--status", required=True, choices=list(UPDATE_WORDS))
    up.add_argument("--message", help="the update in siaga.language")
    up.add_argument("--message-id", help="the update in Bahasa Indonesia")
    up.add_argument("--message-en", help="the update in English")
    up.add_argument("--by", help="your name (default: the login name)")
