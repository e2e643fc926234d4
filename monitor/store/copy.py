"""Copying a whole store from one engine to another (`siaga store copy`): an agency that
outgrows one machine moves its SQLite history to PostgreSQL, ids and all.

Every table is copied in one transaction on the target, parents before children, with the
ids kept (incident 42 is still incident 42, and so are the ack links that name it); the
identity sequences then continue after the highest id. A target that holds rows is refused
unless `force` (then it is emptied first). The row counts are compared at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from monitor.errors import StoreError
from monitor.store.engine import SQLITE, Conn, dialect, schema_version, transaction

# Parents first (incident_events and incident_updates reference incidents).
TABLES = ("transitions", "incidents", "incident_events", "incident_updates", "outbox",
          "escalation_done", "used_tokens", "silences", "rollups", "rollup_marks",
          "heartbeats", "checks_seen", "latency_hours", "am_alerts")
WITH_IDS = ("transitions", "incidents", "incident_events", "incident_updates", "outbox",
            "silences")
NOT_COPIED = ("fleet_members", "fleet_lease", "fleet_states", "fleet_secrets",
              "fleet_actions")
BATCH = 2000


def tables(conn: Conn) -> set[str]:
    """The store's tables as the engine lists them (bookkeeping tables left out)."""
    if dialect(conn) == SQLITE:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = ("SELECT table_name FROM information_schema.tables "
               "WHERE table_schema = current_schema()")
    # a fleet's members, lease and live states describe running instances, not history
    return {r[0] for r in conn.execute(sql)} - {"schema_version", *NOT_COPIED}


def columns(conn: Conn, table: str) -> list[str]:
    if dialect(conn) == SQLITE:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))]


def counts(conn: Conn) -> dict[str, int]:
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}


def _batches(rows: Iterator[Any]) -> Iterator[list[tuple[Any, ...]]]:
    while chunk := [tuple(r) for r in islice(rows, BATCH)]:
        yield chunk


def copy(source: Conn, target: Conn, *, force: bool = False,
         progress: Callable[[str, int], None] = lambda table, rows: None) -> dict[str, int]:
    """Copy every table of `source` into `target` (both migrated to the same version);
    return the rows copied per table."""
    have, want = schema_version(source), schema_version(target)
    if have != want:
        raise StoreError(f"schema versions differ (source v{have}, target v{want}): "
                         "run `siaga migrate` on both first")
    missing = tables(source) - set(TABLES)
    if missing:  # a table added by a migration must be added to TABLES too
        raise StoreError(f"do not know how to copy table(s) {', '.join(sorted(missing))}")
    filled = {t: n for t, n in counts(target).items() if n}
    if filled and not force:
        shown = ", ".join(f"{t} ({n})" for t, n in filled.items())
        raise StoreError(f"the target store is not empty: {shown}; use --force to replace "
                         "its contents")
    with transaction(target):
        for table in reversed(TABLES):
            target.execute(f"DELETE FROM {table}")
        for table in TABLES:
            names = columns(source, table)
            select = f"SELECT {', '.join(names)} FROM {table} ORDER BY {names[0]}"
            insert = (f"INSERT INTO {table} ({', '.join(names)}) "
                      f"VALUES ({', '.join('?' for _ in names)})")
            done = 0
            for chunk in _batches(iter(source.execute(select))):
                target.executemany(insert, chunk)
                done += len(chunk)
            progress(table, done)
        if dialect(target) != SQLITE:
            for table in WITH_IDS:
                target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"COALESCE(MAX(id), 0) + 1, false) FROM {table}")
    copied, landed = counts(source), counts(target)
    wrong = {t for t in TABLES if copied[t] != landed[t]}
    if wrong:
        raise StoreError("row counts differ after the copy: " + ", ".join(
            f"{t} {copied[t]} → {landed[t]}" for t in sorted(wrong)))
    return copied
