"""`siaga status [--watch]`: every check of the running daemon in one table — group, state
in the configured language, since when, latency, reason, and the incident covering it with
who is handling it."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from monitor.cli.client import Client
from monitor.config.model import Config
from monitor.i18n import reason, state_word, text

EXIT_OK = 0
PROBLEMS_FIRST = ["down", "flapping", "degraded", "unknown", "maintenance", "up"]
STYLE = {"down": "bold red", "flapping": "magenta", "degraded": "yellow", "unknown": "dim",
         "maintenance": "cyan", "up": "green"}
WATCH_EVERY = 2.0
COLUMNS = ("group", "check", "state", "since", "latency", "reason", "incident")


def _since(iso: str | None, tz: dt.tzinfo, now: float) -> str:
    if not iso:
        return ""
    at = dt.datetime.fromisoformat(iso).astimezone(tz)
    age = max(0, int(now - at.timestamp()))
    ago = f"{age // 86400}d" if age >= 86400 else f"{age // 3600}h{age % 3600 // 60:02d}m" \
        if age >= 3600 else f"{age // 60}m{age % 60:02d}s"
    return f"{at:%Y-%m-%d %H:%M} ({ago})"


def incident_cell(lang: str, incident: dict[str, Any] | None) -> str:
    """"#12 ditangani oleh Budi Santoso", "#12 belum ditangani", or nothing."""
    if not incident:
        return ""
    if incident.get("suppressed"):
        return text(lang, "cli.status.suppressed", id=incident["id"], why=incident["suppressed"])
    who = incident.get("acked_by_name") or incident.get("acked_by")
    if who:
        return text(lang, "cli.status.acked", id=incident["id"], who=who)
    return text(lang, "cli.status.open", id=incident["id"])


def status_view(checks: list[dict[str, Any]], config: Config, now: float,
                lang: str | None = None) -> Group:
    """One table, the group a column: groups with problems first, problem checks first."""
    lang = lang or config.settings.language
    tz = config.settings.tz
    rank = {state: i for i, state in enumerate(PROBLEMS_FIRST)}
    worst: dict[str, int] = {}
    for c in checks:
        worst[c["group"]] = min(worst.get(c["group"], 9), rank.get(c["state"], 9))
    ordered = sorted(checks, key=lambda c: (worst[c["group"]], c["group"],
                                            rank.get(c["state"], 9), c["name"]))
    table = Table(expand=True)
    for column in COLUMNS:
        table.add_column(text(lang, f"cli.status.{column}"), overflow="fold")
    for c in ordered:
        last = c.get("last") or {}
        latency = f"{last['duration'] * 1000:.0f} ms" if "duration" in last else ""
        style = STYLE.get(c["state"], "")
        table.add_row(Text(c["group"]), Text(c["name"]),
                      Text(state_word(lang, c["state"]), style),
                      _since(c.get("since"), tz, now), latency,
                      Text(reason(lang, c.get("reason") or "")),
                      Text(incident_cell(lang, c.get("incident"))))
    counts = {s: sum(c["state"] == s for c in checks) for s in PROBLEMS_FIRST}
    summary = "  ".join(f"[{STYLE[s]}]{state_word(lang, s)}: {n}[/]"
                        for s, n in counts.items() if n)
    return Group(f"{text(lang, 'cli.status.checks', n=len(checks))}  {summary}", table)


def cmd_status(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    client = Client(config)
    lang = args.lang or config.settings.language
    if not args.watch:
        out.print(status_view(client.get("/api/v1/checks")["checks"], config, time.time(), lang))
        return EXIT_OK
    with Live(console=out, auto_refresh=False, screen=False) as live:
        while True:  # until Ctrl-C (the CLI turns KeyboardInterrupt into exit 0)
            data = client.get("/api/v1/checks")["checks"]
            live.update(status_view(data, config, time.time(), lang), refresh=True)
            time.sleep(WATCH_EVERY)  # the CLI is synchronous; no event loop to block


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    st = sub.add_parser("status", help="every check's state from the running daemon")
    st.add_argument("--watch", action="store_true", help="refresh every 2 s until Ctrl-C")
    st.add_argument("--lang", choices=["id", "en"], help="language (default: siaga.language)")
