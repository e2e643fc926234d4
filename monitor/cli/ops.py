"""CLI commands for operators' day: `siaga reload` and `siaga heartbeat-url NAME`."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from monitor.checking.heartbeats import KIND, Tokens
from monitor.cli.client import Client
from monitor.config.model import Config
from monitor.config.schema import did_you_mean
from monitor.errors import StoreError
from monitor.fleet.membership import shared_secret
from monitor.store.engine import is_postgresql, open_connection

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def cmd_reload(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    """Ask the running daemon to reload its file (errors: ApiError → exit 1 in cli.main)."""
    answer = Client(config).post("/api/v1/reload", {})
    out.print(f"reloaded {answer['file']}: {answer['checks']} checks", markup=False,
              highlight=False)
    waiting = answer.get("restart_needed") or []
    if waiting:
        out.print(f"these settings take effect after a restart: {', '.join(waiting)}",
                  markup=False, highlight=False)
    return EXIT_OK


def push_urls(config: Config, name: str) -> dict[str, str]:
    """The push URLs of heartbeat `name`. With a file that does not validate (no checks
    known), the token the daemon generated and keeps in the state directory still serves."""
    check = config.check(name)
    s = config.settings
    if check is not None and check.kind == KIND and is_postgresql(s.store):
        conn = open_connection(s.store, s.state_dir)  # a fleet's tokens live in its store
        try:
            token = Tokens(s.state_dir, lambda key, make: shared_secret(conn, key, make)).token(
                check)
        finally:
            conn.close()
    elif check is not None and check.kind == KIND:
        token = Tokens(config.settings.state_dir).token(check)
    elif not config.checks and (Tokens(config.settings.state_dir).dir / name).is_file():
        token = (Tokens(config.settings.state_dir).dir / name).read_text().strip()
    else:
        raise KeyError(name)
    base = f"{config.settings.base_url}/push/{name}/{token}"
    return {"success": base, "start": f"{base}/start", "fail": f"{base}/fail"}


def cmd_heartbeat_url(args: argparse.Namespace, config: Config, out: Console,
                      err: Console) -> int:
    try:
        urls = push_urls(config, args.name)
    except StoreError as exc:
        err.print(f"siaga heartbeat-url: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_FAIL
    except KeyError:
        names = [c.name for c in config.checks if c.kind == KIND]
        hint = did_you_mean(args.name, names)
        err.print(f"no heartbeat check named {args.name!r} in {config.path}{hint}",
                  markup=False)
        return EXIT_USAGE
    say: dict[str, Any] = {"markup": False, "highlight": False, "soft_wrap": True}
    out.print(f"success: {urls['success']}", **say)
    out.print(f"start:   {urls['start']}", **say)
    out.print(f"fail:    {urls['fail']}", **say)
    out.print("\n# in the job (cron), for example:", **say)
    out.print(f"curl -fsS -m 10 --retry 3 {urls['start']} >/dev/null", **say)
    out.print(f"/usr/local/bin/backup.sh && curl -fsS -m 10 --retry 3 {urls['success']} "
              f"|| curl -fsS -m 10 --retry 3 \"{urls['fail']}?exit_code=$?\"", **say)
    out.print(f"# with the last lines of the log as the message:\n"
              f"tail -c 1000 /var/log/backup.log | curl -fsS -m 10 --data-binary @- "
              f"{urls['fail']}", **say)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    sub.add_parser("reload", help="make the running daemon reload its config file")
    hb = sub.add_parser("heartbeat-url", help="print the push URLs of a heartbeat check")
    hb.add_argument("name")
