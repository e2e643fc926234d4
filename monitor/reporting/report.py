"""Uptime / SLA reports: per check and per group over a window of local days, read straight
from the store file (read-only; WAL lets this run while the daemon writes).

Figures: time-weighted uptime (monitor.reporting.uptime), downtime minutes, incidents the
check was part of (as root or affected), mean time to acknowledge and to resolve, and whether
the check's SLO was met, and how much of the period had data. Output as a rich table (the CLI),
CSV (Excel-ready with `locale="id"`), or a printable self-contained HTML page; rows go by
group, each group's total under its members; numbers in Indonesian form where the language is.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.markup import escape
from rich.table import Table

from monitor.config.model import Check
from monitor.errors import StoreError
from monitor.i18n import text
from monitor.reporting.rollup import Maintenance, check_uptime, no_maintenance
from monitor.reporting.uptime import Uptime, day_bounds
from monitor.store.engine import (
    SQLITE,
    Conn,
    describe,
    driver_errors,
    is_postgresql,
    open_connection,
)

COLUMNS = ("group", "check", "title", "uptime", "downtime", "incidents", "mtta", "mttr",
           "slo", "met", "coverage")


@dataclass(slots=True)
class Line:
    """One row of the report: a check, or a group (check = "")."""

    group: str
    check: str
    title: str
    slo: float | None
    uptime: Uptime = field(default_factory=Uptime)
    incidents: int = 0
    mtta: float | None = None  # seconds
    mttr: float | None = None
    met: bool | None = None
    coverage: float | None = None  # share of the period with data (None: nothing to cover)

    @property
    def percent(self) -> float | None:
        return self.uptime.percent

    @property
    def downtime_minutes(self) -> float:
        return self.uptime.down / 60


@dataclass(slots=True)
class Report:
    start: float
    end: float
    timezone: str
    checks: list[Line]
    groups: list[Line]
    generated_at: float = 0.0
    agency: str = ""

    def ordered(self) -> list[Line]:
        """Each group's checks, then the group's total under them."""
        rows = []
        for group in self.groups:
            rows += [ln for ln in self.checks if ln.group == group.group] + [group]
        return rows


def open_readonly(state_dir: str | Path, url: str = SQLITE) -> Conn:
    """The store to read a report from: the SQLite file read-only, or the PostgreSQL
    database `url` names (as it is: the daemon migrates it)."""
    if is_postgresql(url):
        conn: Conn = open_connection(url, state_dir, migrate=False)
        try:
            conn.execute("SELECT 1 FROM transitions LIMIT 1")
        except driver_errors() as exc:
            conn.close()
            raise StoreError(f"cannot read store {describe(url, state_dir)}: {exc} "
                             "(has `siaga run` or `siaga migrate` run on it?)") from None
        return conn
    path = Path(state_dir) / "siaga.db"
    if not path.exists():
        raise StoreError(f"no store at {path} (has `siaga run` run with this state_dir?)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        conn.execute("SELECT 1 FROM transitions LIMIT 1")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read store {path}: {exc}") from None
    return conn


def month_window(month: str, tz: dt.tzinfo) -> tuple[float, float]:
    """'2026-11' → [first local midnight of the month, first of the next)."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"--month {month}: expected YYYY-MM with a month 01–12, "
                         "e.g. 2026-11")
    first = dt.date(int(found[1]), int(found[2]), 1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    bounds = day_bounds(first, (nxt - first).days, tz)
    return bounds[0], bounds[-1]


def days_window(start: str, end: str, tz: dt.tzinfo) -> tuple[float, float]:
    """Local dates, both included: '2026-11-01', '2026-11-15'."""
    a, b = _date("--from", start), _date("--to", end)
    if b < a:
        raise ValueError(f"--to {end} is before --from {start}")
    bounds = day_bounds(a, (b - a).days + 1, tz)
    return bounds[0], bounds[-1]


def _date(option: str, value: str) -> dt.date:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return dt.date.fromisoformat(value.strip())
    except ValueError:
        pass
    raise ValueError(f"{option} {value}: expected a date YYYY-MM-DD, e.g. 2026-11-01")


def build(conn: Conn, checks: Sequence[Check], start: float, end: float,
          now: float, timezone: str, maintenance: Maintenance = no_maintenance, *,
          exclude_maintenance: bool = True, agency: str = "",
          generated_at: float | None = None) -> Report:
    incidents = _incidents(conn, start, end)
    span = max(0.0, min(end, now) - start)
    lines: list[Line] = []
    for c in checks:
        line = Line(c.group, c.name, c.display_name, c.slo)
        line.uptime = check_uptime(conn, c.name, start, end, now,
                                   maintenance(c.name, start, end),
                                   exclude_maintenance=exclude_maintenance)
        mine = [i for i in incidents if c.name in i.covers]
        _fill(line, mine)
        line.met = None if line.percent is None else line.percent >= 100 * c.slo
        line.coverage = _coverage(line.uptime, span)
        lines.append(line)
    groups = _groups(lines, incidents)
    for g in groups:
        members = sum(1 for ln in lines if ln.group == g.group)
        g.coverage = _coverage(g.uptime, span * members)
    return Report(start, end, timezone, lines, groups,
                  now if generated_at is None else generated_at, agency)


def _coverage(u: Uptime, span: float) -> float | None:
    """Share of the period Siaga has data for (maintenance counts as known)."""
    return min(1.0, (u.counted + u.maintenance) / span) if span > 0 else None


@dataclass(frozen=True, slots=True)
class _Inc:
    id: int
    covers: frozenset[str]  # root and affected checks
    opened: float
    acked: float | None
    resolved: float | None


def _incidents(conn: Conn, start: float, end: float) -> list[_Inc]:
    rows = conn.execute("SELECT id, check_name, affected, opened_at, acked_at, resolved_at "
                        "FROM incidents WHERE opened_at >= ? AND opened_at < ? "
                        "AND kind NOT IN ('blind', 'self')", (start, end))
    return [_Inc(r[0], frozenset({r[1], *json.loads(r[2] or "{}")}), r[3], r[4], r[5])
            for r in rows]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _fill(line: Line, incidents: list[_Inc]) -> None:
    line.incidents = len(incidents)
    line.mtta = _mean([i.acked - i.opened for i in incidents if i.acked is not None])
    line.mttr = _mean([i.resolved - i.opened for i in incidents if i.resolved is not None])


def _groups(lines: list[Line], incidents: list[_Inc]) -> list[Line]:
    out = []
    for group in sorted({ln.group for ln in lines}):
        members = [ln for ln in lines if ln.group == group]
        names = {ln.check for ln in members}
        g = Line(group, "", group, None)
        for ln in members:
            g.uptime += ln.uptime
        _fill(g, [i for i in incidents if names & i.covers])
        judged = [ln.met for ln in members if ln.met is not None]
        g.met = all(judged) if judged else None
        out.append(g)
    return out


def number(value: float | None, digits: int, lang: str = "en", *,
           grouping: bool = True) -> str:
    """`value` with `digits` decimals: 1,234.5 in English, 1.234,5 in Indonesian."""
    if value is None:
        return ""
    figure = f"{value:{',' if grouping else ''}.{digits}f}"
    return figure.translate(str.maketrans(",.", ".,")) if lang == "id" else figure


def _cells(line: Line, lang: str = "en", *, grouping: bool = True) -> list[str]:
    def num(value: float | None, digits: int) -> str:
        return number(value, digits, lang, grouping=grouping)

    yes_no = "" if line.met is None else text(lang, "report.yes" if line.met else "report.no")
    return [line.group, line.check, line.title, num(line.percent, 3),
            num(line.downtime_minutes, 1), str(line.incidents),
            num(line.mtta / 60 if line.mtta is not None else None, 1),
            num(line.mttr / 60 if line.mttr is not None else None, 1),
            num(100 * line.slo if line.slo is not None else None, 2), yes_no,
            num(100 * line.coverage if line.coverage is not None else None, 1)]


def to_csv(report: Report, lang: str = "en", locale: str = "en") -> str:
    """Rows by group, each group's total under its members, full column names in `lang`.
    `locale="id"`: `;` between fields and `,` before decimals, as Excel with Indonesian
    regional settings expects (it reads a `,`-separated file as one column)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";" if locale == "id" else ",", lineterminator="\r\n")
    writer.writerow([text(lang, f"report.col.{c}") for c in COLUMNS])
    for line in report.ordered():
        cells = _cells(line, locale, grouping=False)
        cells[9] = "" if line.met is None else text(lang, "report.yes" if line.met
                                                     else "report.no")
        if not line.check:
            cells[2] = text(lang, "report.total", group=line.group)
        writer.writerow(cells)
    return buf.getvalue()


def _period(report: Report) -> str:
    tz = ZoneInfo(report.timezone)
    a = dt.datetime.fromtimestamp(report.start, tz).date()
    b = dt.datetime.fromtimestamp(report.end, tz).date() - dt.timedelta(days=1)
    return f"{a.isoformat()} – {b.isoformat()} ({report.timezone})"


def heading(report: Report, lang: str) -> list[str]:
    """The agency, the period and when the report was made."""
    made = dt.datetime.fromtimestamp(report.generated_at, ZoneInfo(report.timezone))
    lines = [report.agency] if report.agency else []
    return [*lines, f"{text(lang, 'report.period')}: {_period(report)}",
            f"{text(lang, 'report.generated')}: {made:%Y-%m-%d %H:%M %Z}"]


def coverage_note(report: Report, lang: str) -> str:
    """How much of the period the figures rest on: checks added later, time Siaga was
    not running."""
    partial = [ln for ln in report.checks if ln.coverage is not None and ln.coverage < 0.995]
    if not partial:
        return text(lang, "report.coverage_full")
    names = ", ".join(f"{ln.title} ({number(100 * (ln.coverage or 0), 1, lang)}%)"
                      for ln in partial)
    return text(lang, "report.coverage_partial", n=len(partial), names=names)


def to_table(report: Report, lang: str = "en") -> Table:
    """Each group's checks, then the group's total in bold under them."""
    table = Table(title=f"{text(lang, 'report.title')}\n" + "\n".join(heading(report, lang)),
                  caption=f"{coverage_note(report, lang)}\n{text(lang, 'report.note')}",
                  caption_justify="left")
    for key in ("title", "uptime", "downtime", "incidents", "mtta", "mttr", "slo",
                "coverage"):
        table.add_column(text(lang, f"report.col.{key}"),
                         justify="left" if key == "title" else "right",
                         no_wrap=key == "title")
    for line in report.ordered():
        c = _cells(line, lang)
        met = {True: " [green]✓[/]", False: " [bold red]✗[/]", None: ""}[line.met]
        total = text(lang, "report.total", group=line.group)
        name = f"  {escape(c[2])}" if line.check else f"[bold]{escape(total)}[/]"
        table.add_row(name, c[3], c[4], c[5], c[6], c[7], f"{c[8]}{met}".strip(), c[10],
                      end_section=not line.check)
    return table


def to_html(report: Report, lang: str = "id") -> str:
    keys = ("group", "title", "uptime", "downtime", "incidents", "mtta", "mttr", "slo",
            "coverage")
    heads = "".join(f"<th>{html.escape(text(lang, f'report.col.{k}'))}</th>" for k in keys)
    rows = []
    for line in report.ordered():
        c = [html.escape(x) for x in _cells(line, lang)]
        cls = {True: "met", False: "missed", None: ""}[line.met]
        name = (c[2] if line.check else
                f"<b>{html.escape(text(lang, 'report.total', group=line.group))}</b>")
        mark = {"met": " ✓", "missed": " ✗", "": ""}[cls]
        rows.append(f'<tr class="{"group" if not line.check else ""}"><td>{c[0]}</td>'
                    f"<td>{name}</td><td>{c[3]}</td><td>{c[4]}</td><td>{c[5]}</td>"
                    f'<td>{c[6]}</td><td>{c[7]}</td><td class="{cls}">{c[8]}{mark}</td>'
                    f"<td>{c[10]}</td></tr>")
    title = html.escape(text(lang, "report.title"))
    head = "".join(f"<p class=meta>{html.escape(x)}</p>" for x in heading(report, lang))
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title} {html.escape(_period(report))}</title><style>{REPORT_CSS}</style>"
            f"</head><body><h1>{title}</h1>{head}<table><thead><tr>{heads}</tr></thead><tbody>"
            f"{''.join(rows)}</tbody></table><p class=note>"
            f"{html.escape(coverage_note(report, lang))}</p><p class=note>"
            f"{html.escape(text(lang, 'report.note'))}</p></body></html>\n")


REPORT_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.3em}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ccc;padding:.3em .5em;text-align:right}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
tr.group td{font-weight:600;background:#f3f3f3}.met{color:#176b2c}.missed{color:#b00020}
.note,.meta{color:#555;font-size:.9em}.meta{margin:.2em 0}
@media print{body{margin:0}tr{break-inside:avoid}}
"""
