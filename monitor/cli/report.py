"""CLI commands about availability from the store file: `report` (SLA figures),
`status-export` (the public page as static files) and `dashboard-url`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from rich.console import Console

from monitor.checking import liveness
from monitor.config.model import Config
from monitor.reporting import report as reports
from monitor.reporting.rollup import maintenance_of

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _window(args: argparse.Namespace, config: Config) -> tuple[float, float]:
    tz = config.settings.tz
    if args.month and (args.start or args.end):
        raise ValueError("use either --month or --from/--to")
    if args.start or args.end:
        if not (args.start and args.end):
            raise ValueError("--from and --to go together (YYYY-MM-DD, both included)")
        return reports.days_window(args.start, args.end, tz)
    month = args.month or dt.datetime.now(tz).strftime("%Y-%m")
    return reports.month_window(month, tz)


def cmd_report(args: argparse.Namespace, config: Config, out: Console, err: Console) -> int:
    try:
        start, end = _window(args, config)
    except ValueError as exc:
        err.print(f"siaga report: {exc}", markup=False)
        return EXIT_USAGE
    conn = reports.open_readonly(config.settings.state_dir, config.settings.store)
    try:
        now = liveness.watched_until(config.settings.state_dir, time.time())
        rep = reports.build(conn, config.checks, start, end, now,
                            config.settings.timezone, maintenance_of(config),
                            exclude_maintenance=not args.count_maintenance,
                            agency=config.settings.agency, generated_at=time.time())
    finally:
        conn.close()
    lang = args.lang or config.settings.language
    if args.format == "table":
        out.print(reports.to_table(rep, lang))
        return EXIT_OK
    if args.format == "csv":
        body = reports.to_csv(rep, lang, args.locale or "en")
    else:
        body = reports.to_html(rep, lang)
    if args.output:
        # utf-8-sig: Excel reads a CSV without a byte-order mark as the local code page
        encoding = "utf-8-sig" if args.format == "csv" else "utf-8"
        Path(args.output).write_text(body, encoding=encoding, newline="")
    else:
        sys.stdout.write(body)
    return EXIT_OK


def cmd_status_export(args: argparse.Namespace, config: Config, out: Console,
                      err: Console) -> int:
    """Write the public status page, its JSON and Atom feed as static files, from the store
    (states as last recorded; unknown when no daemon is watching)."""
    from monitor.i18n import LANGUAGES
    from monitor.web import status_export, status_pages, status_render

    settings = config.settings
    now = time.time()
    watching = liveness.watched_until(settings.state_dir, now) == now
    public = status_pages.public_checks(config.by_name)
    planned = maintenance_of(config)
    conn = reports.open_readonly(settings.state_dir, settings.store)
    try:
        states = status_export.stored_states(conn, list(public), planned, now, watching)
        data = status_pages.collect(conn, public, states, planned, now, settings.tz,
                              settings.language)
    finally:
        conn.close()
    data["timezone"] = settings.timezone
    data = status_pages.branded(data, settings)
    pages = {lang: status_pages.localized(data, lang) for lang in LANGUAGES}
    files = status_export.render_files(pages, settings.tz, settings.base_url,
                                       settings.language, status_render.logo_uri(settings.logo))
    try:
        written = status_export.write(args.directory, files)
    except OSError as exc:
        err.print(f"siaga status-export: cannot write {args.directory}: {exc.strerror or exc}",
                  markup=False)
        return EXIT_FAIL
    out.print(f"wrote {len(written)} files to {args.directory}: "
              + ", ".join(p.name for p in written), markup=False)
    return EXIT_OK


def cmd_dashboard_url(args: argparse.Namespace, config: Config, out: Console,
                      err: Console) -> int:
    """Print a signed, expiring read-only link to /dashboard (for a manager's bookmark)."""
    import os

    from monitor.paging.acktoken import AckSigner, load_or_create_key, sign_view

    if not 0 < args.days <= 366:
        err.print("siaga dashboard-url: --days must be 1–366", markup=False)
        return EXIT_USAGE
    settings = config.settings
    expires = time.time() + args.days * 86400
    token = sign_view(AckSigner(load_or_create_key(Path(settings.state_dir), os.environ)),
                      expires)
    out.print(f"{settings.base_url}/dashboard?key={token}", markup=False, highlight=False,
              soft_wrap=True)
    until = dt.datetime.fromtimestamp(expires, settings.tz).strftime("%Y-%m-%d %H:%M %Z")
    err.print(f"valid until {until} / berlaku sampai {until}", markup=False, highlight=False)
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rep = sub.add_parser("report", help="uptime / SLA report per check and group")
    rep.add_argument("--month", help="YYYY-MM in the configured time zone (default: this one)")
    rep.add_argument("--from", dest="start", help="first day, YYYY-MM-DD")
    rep.add_argument("--to", dest="end", help="last day (included), YYYY-MM-DD")
    rep.add_argument("--format", choices=["table", "csv", "html"], default="table")
    rep.add_argument("--output", "-o", help="write csv/html here instead of stdout")
    rep.add_argument("--lang", choices=["id", "en"], help="language (default: siaga.language)")
    rep.add_argument("--locale", choices=["id", "en"],
                     help="CSV for Excel with these regional settings: id = ';' between "
                          "fields and ',' before decimals (default: en)")
    rep.add_argument("--count-maintenance", action="store_true",
                     help="count maintenance windows instead of leaving them out")
    exp = sub.add_parser("status-export", help="write the public status page, its JSON and "
                         "Atom feed as static files (for nginx or a CDN)")
    exp.add_argument("directory", help="where to write index.html, status.json, feed.atom …")
    dash = sub.add_parser("dashboard-url", help="print a signed, expiring link to the "
                          "manager's /dashboard")
    dash.add_argument("--days", type=int, default=30, help="how long the link works")
