"""SQLite, the embedded default: one file `state_dir/siaga.db` in WAL mode, the schema
versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes version i to i+1.

The PostgreSQL schema (`monitor.store.postgresql`) has the same tables, columns and version
numbers; only the column types are spelled in each engine's words.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.errors import StoreError

# Migrations are history: never edited once released. Left over from v1 and neither written
# nor read any more: the table `checks_seen` and the rollups' `probes`, `failures` and
# `latency_sum` columns (uptime is time-weighted since v2; latency lives in latency_hours).
MIGRATIONS: list[str] = [
    # 0 → 1
    """
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY, check_name TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
        reason TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX transitions_check_at ON transitions (check_name, at);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY, check_name TEXT NOT NULL, group_name TEXT NOT NULL,
        title TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
        opened_at REAL NOT NULL, acked_at REAL, acked_by TEXT, ack_note TEXT,
        resolved_at REAL, resolved_by TEXT, resolve_note TEXT,
        affected TEXT NOT NULL DEFAULT '[]', policy TEXT NOT NULL DEFAULT 'default',
        kind TEXT NOT NULL DEFAULT 'down', suppressed TEXT, paging_from REAL);
    CREATE INDEX incidents_status ON incidents (status);
    CREATE INDEX incidents_check ON incidents (check_name, opened_at);
    CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at REAL NOT NULL, kind TEXT NOT NULL, actor TEXT, detail TEXT);
    CREATE INDEX incident_events_incident ON incident_events (incident_id, at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, incident_id INTEGER,
        kind TEXT NOT NULL, recipient TEXT NOT NULL, channel_index INTEGER NOT NULL DEFAULT 0,
        title TEXT NOT NULL, body TEXT NOT NULL, sms_title TEXT, sms_body TEXT,
        created_at REAL NOT NULL, due_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending', sent_at REAL, last_error TEXT);
    CREATE INDEX outbox_pending ON outbox (status, due_at);
    CREATE TABLE escalation_done (
        incident_id INTEGER NOT NULL, step_key TEXT NOT NULL, at REAL NOT NULL,
        PRIMARY KEY (incident_id, step_key));
    CREATE TABLE used_tokens (token_id TEXT PRIMARY KEY, used_at REAL NOT NULL);
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY, target TEXT NOT NULL, created_by TEXT NOT NULL,
        reason TEXT NOT NULL, created_at REAL NOT NULL, until REAL NOT NULL,
        removed_at REAL);
    CREATE TABLE rollups (
        check_name TEXT NOT NULL, period TEXT NOT NULL, start REAL NOT NULL,
        probes INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
        latency_sum REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (check_name, period, start));
    CREATE TABLE heartbeats (
        check_name TEXT PRIMARY KEY, last_ping REAL, last_start REAL, last_fail REAL,
        last_fail_message TEXT, last_exit_code INTEGER, last_duration REAL);
    CREATE TABLE checks_seen (
        check_name TEXT PRIMARY KEY, first_seen REAL NOT NULL, removed_at REAL);
    """,
    # 1 → 2: time-weighted uptime in rollups (seconds by how they count; monitor.reporting.rollup)
    """
    ALTER TABLE rollups ADD COLUMN up_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE rollups ADD COLUMN down_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE rollups ADD COLUMN maintenance_seconds REAL NOT NULL DEFAULT 0;
    CREATE TABLE rollup_marks (
        check_name TEXT NOT NULL, period TEXT NOT NULL, until REAL NOT NULL,
        PRIMARY KEY (check_name, period)) WITHOUT ROWID;
    """,
    # 2 → 3: digests (which members the officer has heard of, and when) and the per-channel
    # rate cap (which channel a row went out on: a hash, never the URL; 'capped' rows)
    """
    ALTER TABLE incidents ADD COLUMN announced TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE incidents ADD COLUMN announced_at REAL;
    ALTER TABLE outbox ADD COLUMN channel TEXT;
    CREATE INDEX outbox_channel_sent ON outbox (recipient, channel, sent_at);
    """,
    # 3 → 4: when Siaga began waiting for a heartbeat's first ping (checking.heartbeats), so
    # a restart does not move its deadline
    """
    ALTER TABLE heartbeats ADD COLUMN expected_since REAL;
    """,
    # 4 → 5: updates people write about an incident for the status page (investigating,
    # identified, monitoring, resolved; the text per language as JSON {"id": …, "en": …})
    """
    CREATE TABLE incident_updates (
        id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents(id),
        at REAL NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL, author TEXT);
    CREATE INDEX incident_updates_incident ON incident_updates (incident_id, at);
    """,
    # 5 → 6: probe latency per check and UTC hour (monitor.reporting.latency), /dashboard charts
    """
    CREATE TABLE latency_hours (
        check_name TEXT NOT NULL, hour REAL NOT NULL, probes INTEGER NOT NULL,
        total REAL NOT NULL, worst REAL NOT NULL,
        PRIMARY KEY (check_name, hour)) WITHOUT ROWID;
    """,
    # 6 → 7: which instance claimed a due outbox row for sending, and until when
    # (PostgreSQL: claimed with FOR UPDATE SKIP LOCKED, so two instances never take the same
    # row; SQLite has one writer and leaves both NULL)
    """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until REAL;
    """,
    # 7 → 8: alerts Alertmanager reports firing (monitor.incidents.alerts), so a restart
    # keeps them; a resolved one is deleted
    """
    CREATE TABLE am_alerts (
        fingerprint TEXT PRIMARY KEY, group_key TEXT NOT NULL, labels TEXT NOT NULL,
        annotations TEXT NOT NULL, starts_at REAL, generator_url TEXT NOT NULL,
        first_seen REAL NOT NULL) WITHOUT ROWID;
    """,
    # 8 → 9: a fleet on one store (monitor.fleet): its members, the pager's lease, each
    # probed check's latest state for the others to see, and secrets the fleet shares
    """
    CREATE TABLE fleet_members (
        instance TEXT PRIMARY KEY, token TEXT NOT NULL, location TEXT NOT NULL,
        slot TEXT NOT NULL, shards INTEGER, started_at REAL NOT NULL, seen_at REAL NOT NULL,
        probing INTEGER NOT NULL, lateness REAL NOT NULL,
        listen TEXT NOT NULL, blind INTEGER NOT NULL);
    CREATE TABLE fleet_lease (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, until REAL NOT NULL,
        epoch INTEGER NOT NULL);
    CREATE TABLE fleet_states (
        check_name TEXT NOT NULL, location TEXT NOT NULL, instance TEXT NOT NULL,
        state TEXT NOT NULL, reason TEXT NOT NULL, failing INTEGER NOT NULL, fail_since REAL,
        changed_at REAL NOT NULL, written_at REAL NOT NULL,
        PRIMARY KEY (check_name, location));
    CREATE INDEX fleet_states_written ON fleet_states (written_at);
    CREATE TABLE fleet_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE fleet_actions (
        token TEXT PRIMARY KEY, incident_id INTEGER NOT NULL, what TEXT NOT NULL,
        who TEXT NOT NULL, note TEXT, asked_at REAL NOT NULL, done_at REAL, outcome TEXT);
    """,
    # 9 → 10: a message waiting for its officer's contact hours (monitor.delivery.contact):
    # the start of the window it waits for (its due_at then); kept once it was sent
    """
    ALTER TABLE outbox ADD COLUMN held_until REAL;
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; return it."""
    current = version(conn)
    if current > len(MIGRATIONS):
        raise StoreError(f"store schema v{current} is newer than this Siaga "
                         f"(v{len(MIGRATIONS)}); upgrade Siaga")
    for target in range(current, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target + 1}")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
