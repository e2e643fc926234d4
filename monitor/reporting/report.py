"""Uptime / SLA reports: per check and per group over a window of local days, read straight
from the store file (read-only; WAL lets this run while the daemon writes).

Figures: time-weighted uptime (monitor.reporting.uptime), downtime minutes, incidents the
check was part of (as root or affected), mean time to acknowledge and to resolve, and
whether the check's SLO was met. Output as a rich table (the CLI), CSV, or a printable
self-contained HTML page.
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
from monitor.i18n import register, text
from monitor.reporting.rollup import Maintenance, check_uptime, no_maintenance
from monitor.reporting.uptime import Uptime, day_bounds

CSV_HEADER = ["group", "check", "title", "uptime_percent", "downtime_minutes", "incidents",
              "mtta_minutes", "mttr_minutes", "slo_percent", "slo_met"]


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


def open_readonly(state_dir: str | Path) -> sqlite3.Connection:
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


def build(conn: sqlite3.Connection, checks: Sequence[Check], start: float, end: float,
          now: float, timezone: str, maintenance: Maintenance = no_maintenance, *,
          exclude_maintenance: bool = True) -> Report:
    incidents = _incidents(conn, start, end)
    lines: list[Line] = []
    for c in checks:
        line = Line(c.group, c.name, c.display_name, c.slo)
        line.uptime = check_uptime(conn, c.name, start, end, now,
                                   maintenance(c.name, start, end),
                                   exclude_maintenance=exclude_maintenance)
        mine = [i for i in incidents if c.name in i.covers]
        _fill(line, mine)
        line.met = None if line.percent is None else line.percent >= 100 * c.slo
        lines.append(line)
    return Report(start, end, timezone, lines, _groups(lines, incidents))


@dataclass(frozen=True, slots=True)
class _Inc:
    id: int
    covers: frozenset[str]  # root and affected checks
    opened: float
    acked: float | None
    resolved: float | None


def _incidents(conn: sqlite3.Connection, start: float, end: float) -> list[_Inc]:
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


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _cells(line: Line) -> list[str]:
    return [line.group, line.check, line.title, _num(line.percent, 3),
            _num(line.downtime_minutes, 1), str(line.incidents),
            _num(line.mtta / 60 if line.mtta is not None else None, 1),
            _num(line.mttr / 60 if line.mttr is not None else None, 1),
            _num(100 * line.slo if line.slo is not None else None, 2),
            "" if line.met is None else ("yes" if line.met else "no")]


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in report.checks + report.groups:
        writer.writerow(_cells(line))
    return buf.getvalue()


def _period(report: Report) -> str:
    tz = ZoneInfo(report.timezone)
    a = dt.datetime.fromtimestamp(report.start, tz).date()
    b = dt.datetime.fromtimestamp(report.end, tz).date() - dt.timedelta(days=1)
    return f"{a.isoformat()} – {b.isoformat()} ({report.timezone})"


def to_table(report: Report, lang: str = "en") -> Table:
    """Each group's total in bold, its checks indented under it."""
    table = Table(title=f"{text(lang, 'report.title')} {_period(report)}")
    for key in ("check", "uptime", "downtime", "incidents", "mtta", "mttr", "slo"):
        table.add_column(text(lang, f"report.{key}"), justify="left" if key == "check"
                         else "right")
    for group in report.groups:
        members = [ln for ln in report.checks if ln.group == group.group]
        for line in [group, *members]:
            c = _cells(line)
            met = {"yes": " [green]✓[/]", "no": " [bold red]✗[/]", "": ""}[c[9]]
            name = f"[bold]{escape(group.group)}[/]" if line is group else f"  {escape(c[2])}"
            table.add_row(name, c[3], c[4], c[5], c[6], c[7], f"{c[8]}{met}".strip(),
                          end_section=line is members[-1])
    return table


def to_html(report: Report, lang: str = "id") -> str:
    heads = "".join(f"<th>{html.escape(text(lang, f'report.{k}'))}</th>" for k in
                    ("group", "check", "uptime", "downtime", "incidents", "mtta", "mttr",
                     "slo"))
    rows = []
    for line in report.checks + report.groups:
        c = [html.escape(x) for x in _cells(line)]
        cls = {"yes": "met", "no": "missed", "": ""}[c[9]]
        name = f"<b>{html.escape(text(lang, 'report.all'))}</b>" if not line.check else c[2]
        mark = {"met": " ✓", "missed": " ✗", "": ""}[cls]
        rows.append(f'<tr class="{"group" if not line.check else ""}"><td>{c[0]}</td>'
                    f"<td>{name}</td><td>{c[3]}</td><td>{c[4]}</td><td>{c[5]}</td>"
                    f'<td>{c[6]}</td><td>{c[7]}</td><td class="{cls}">{c[8]}{mark}</td></tr>')
    title = html.escape(f"{text(lang, 'report.title')} {_period(report)}")
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title}</title><style>{REPORT_CSS}</style></head><body>"
            f"<h1>{title}</h1><table><thead><tr>{heads}</tr></thead><tbody>"
            f"{''.join(rows)}</tbody></table><p class=note>"
            f"{html.escape(text(lang, 'report.note'))}</p></body></html>\n")


REPORT_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.3em}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ccc;padding:.3em .5em;text-align:right}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
tr.group td{font-weight:600;background:#f3f3f3}.met{color:#176b2c}.missed{color:#b00020}
.note{color:#555;font-size:.9em}
@media print{body{margin:0}tr{break-inside:avoid}}
"""

register("id", {
    "report.title": "Laporan ketersediaan", "report.group": "Kelompok",
    "report.check": "Layanan", "report.uptime": "Tersedia %",
    "report.downtime": "Gangguan mnt", "report.incidents": "Insiden",
    "report.mtta": "Tanggap mnt", "report.mttr": "Pulih mnt",
    "report.slo": "Target %", "report.all": "Seluruh kelompok",
    "report.note": "Ketersediaan dihitung menurut waktu; jendela pemeliharaan tidak dihitung. "
                   "Tanggap/Pulih: rerata menit dari gangguan dibuka sampai diakui/pulih.",
})
register("en", {
    "report.title": "Availability report", "report.group": "Group", "report.check": "Service",
    "report.uptime": "Uptime %", "report.downtime": "Down min",
    "report.incidents": "Incidents", "report.mtta": "MTTA min", "report.mttr": "MTTR min",
    "report.slo": "SLO %", "report.all": "Whole group",
    "report.note": "Uptime is time-weighted; maintenance windows are not counted. "
                   "MTTA/MTTR: mean minutes from an incident opening to its acknowledgement "
                   "/ resolution.",
})
