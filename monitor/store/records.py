"""Reading and writing the store's rows: functions of a connection, run on the store thread.

Each function is one unit of work (one transaction where it writes), so a crash leaves
either all of it or none: an incident is never opened without its first outbox rows, and an
outbox row is never marked sent unless the send returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from monitor.checking.state import Transition
from monitor.incidents.model import Incident, Kind, Status
from monitor.store.engine import SQLITE, Conn, dialect, transaction


def add_transitions(conn: Conn, items: list[Transition]) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT INTO transitions (check_name, old, new, reason, at) VALUES (?,?,?,?,?)",
            [(t.check, t.old.value, t.new.value, t.reason, t.at) for t in items])


def _incident(row: Any) -> Incident:
    return Incident(
        id=row["id"], check=row["check_name"], group=row["group_name"], title=row["title"],
        status=Status(row["status"]), reason=row["reason"], opened_at=row["opened_at"],
        kind=Kind(row["kind"]), affected=json.loads(row["affected"]), policy=row["policy"],
        acked_at=row["acked_at"], acked_by=row["acked_by"], ack_note=row["ack_note"],
        resolved_at=row["resolved_at"], resolved_by=row["resolved_by"],
        resolve_note=row["resolve_note"], suppressed=row["suppressed"],
        paging_from=row["paging_from"], announced=tuple(json.loads(row["announced"])),
        announced_at=row["announced_at"])


def open_incidents(conn: Conn) -> list[Incident]:
    rows = conn.execute("SELECT * FROM incidents WHERE status != 'resolved' ORDER BY id")
    return [_incident(r) for r in rows]


def get_incident(conn: Conn, incident_id: int) -> Incident | None:
    row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    return _incident(row) if row else None


def list_incidents(conn: Conn, *, limit: int = 50, since: float = 0,
                   until: float | None = None) -> list[Incident]:
    """Newest first; incidents opened in one pager pass share `opened_at`, and the id (the
    order they were opened in) decides between them, the same on both engines."""
    rows = conn.execute(
        "SELECT * FROM incidents WHERE opened_at >= ? AND opened_at < ? "
        "ORDER BY opened_at DESC, id DESC LIMIT ?", (since, until or 1e18, limit))
    return [_incident(r) for r in rows]


def insert_incident(conn: Conn, inc: Incident) -> int:
    inc.id = int(conn.execute(
        "INSERT INTO incidents (check_name, group_name, title, status, reason, opened_at, "
        "affected, policy, kind, suppressed, paging_from) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
        "RETURNING id",
        (inc.check, inc.group, inc.title, inc.status.value, inc.reason, inc.opened_at,
         json.dumps(inc.affected), inc.policy, inc.kind.value, inc.suppressed,
         inc.paging_from)).fetchone()[0])
    add_event(conn, inc.id, inc.opened_at, "opened", None, inc.reason)
    if inc.suppressed:
        add_event(conn, inc.id, inc.opened_at, "suppressed", None, inc.suppressed)
    return inc.id


def save_incident(conn: Conn, inc: Incident) -> None:
    conn.execute(
        "UPDATE incidents SET status=?, kind=?, reason=?, affected=?, acked_at=?, acked_by=?, "
        "ack_note=?, resolved_at=?, resolved_by=?, resolve_note=?, suppressed=?, "
        "paging_from=?, announced=?, announced_at=? WHERE id=?",
        (inc.status.value, inc.kind.value, inc.reason, json.dumps(inc.affected),
         inc.acked_at, inc.acked_by,
         inc.ack_note, inc.resolved_at, inc.resolved_by, inc.resolve_note, inc.suppressed,
         inc.paging_from, json.dumps(list(inc.announced)), inc.announced_at, inc.id))


def add_event(conn: Conn, incident_id: int, at: float, kind: str,
              actor: str | None, detail: str | None) -> None:
    conn.execute("INSERT INTO incident_events (incident_id, at, kind, actor, detail) "
                 "VALUES (?,?,?,?,?)", (incident_id, at, kind, actor, detail))


def incident_events(conn: Conn, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT at, kind, actor, detail FROM incident_events "
                        "WHERE incident_id = ? ORDER BY at, id", (incident_id,))
    return [dict(r) for r in rows]


@dataclass(slots=True)
class OutboxRow:
    id: int
    key: str
    incident_id: int | None
    kind: str
    recipient: str
    channel_index: int
    title: str
    body: str
    sms_title: str | None
    sms_body: str | None
    due_at: float
    attempts: int
    status: str
    held_until: float | None = None  # waiting for the officer's contact hours until then


def enqueue(conn: Conn, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows; a row whose key exists already is skipped (never sent twice)."""
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO outbox (key, incident_id, kind, recipient, title, body, "
        "sms_title, sms_body, created_at, due_at) VALUES "
        "(:key, :incident_id, :kind, :recipient, :title, :body, :sms_title, :sms_body, "
        ":created_at, :due_at) ON CONFLICT (key) DO NOTHING", rows)
    return conn.total_changes - before


_DUE = ("SELECT id, key, incident_id, kind, recipient, channel_index, title, body, sms_title, "
        "sms_body, due_at, attempts, status, held_until FROM outbox "
        "WHERE status = 'pending' AND due_at <= ? ")
CLAIM = 60.0  # seconds a claimed row is left to the instance that claimed it


def due_messages(conn: Conn, now: float, limit: int = 100,
                 claimer: str = "") -> list[OutboxRow]:
    """The rows due for sending, oldest first. On PostgreSQL they are claimed for
    `claimer` (the instance id) for `CLAIM` seconds in the same transaction that picks them
    (FOR UPDATE SKIP LOCKED), so another instance reading the same outbox takes other rows.
    Marking a row's outcome clears the claim; an instance gives back its own claims when it
    starts (after a crash) and stops; a claim left by a dead instance runs out. SQLite has
    one writer: the outbox's in-memory set keeps a row from being sent twice."""
    if dialect(conn) == SQLITE:
        found = conn.execute(_DUE + "ORDER BY due_at, id LIMIT ?", (now, limit))
        return [OutboxRow(**dict(r)) for r in found]
    with transaction(conn):
        rows = conn.execute(
            _DUE + "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY due_at, id "
            "LIMIT ? FOR UPDATE SKIP LOCKED", (now, now, limit)).fetchall()
        if rows:
            conn.execute("UPDATE outbox SET claimed_by = ?, claimed_until = ? "
                         "WHERE id = ANY(?)", (claimer, now + CLAIM, [r["id"] for r in rows]))
    return [OutboxRow(**dict(r)) for r in rows]


def release(conn: Conn, claimer: str) -> int:
    """Give back the claims of `claimer` on rows still pending (its start and clean stop)."""
    if dialect(conn) == SQLITE:
        return 0
    cur = conn.execute("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                       "WHERE claimed_by = ? AND status = 'pending'", (claimer,))
    return int(cur.rowcount)


def next_due(conn: Conn) -> float | None:
    """When the next pending row can be taken: its due time, or the end of its claim."""
    row = conn.execute("SELECT MIN(CASE WHEN claimed_until > due_at THEN claimed_until "
                       "ELSE due_at END) FROM outbox WHERE status = 'pending'").fetchone()
    return None if row[0] is None else float(row[0])


def mark_sent(conn: Conn, row_id: int, now: float,
              channel: str | None = None) -> None:
    """`channel`: the hash of the URL it went out on (monitor.delivery.caps counts them)."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET status='sent', sent_at=?, attempts=attempts+1, "
                     "channel=?, claimed_by=NULL, claimed_until=NULL WHERE id=?",
                     (now, channel, row_id))


def mark_retry(conn: Conn, row_id: int, due_at: float, error: str,
               channel_index: int, attempts: int) -> None:
    """`attempts`: tries made on `channel_index` so far (0 when moving to a new channel)."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET due_at=?, attempts=?, last_error=?, "
                     "channel_index=?, claimed_by=NULL, claimed_until=NULL WHERE id=?",
                     (due_at, attempts, error, channel_index, row_id))


def mark_obsolete(conn: Conn, row_id: int) -> None:
    """An urgent message whose incident resolved before it could go out."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET status='obsolete' WHERE id=?", (row_id,))


def fork_to_next_channel(conn: Conn, row: OutboxRow, now: float,
                         retry_at: float, error: str, suffix: str) -> None:
    """Send `row` on the next channel now; a copy keeps trying this one from `retry_at`."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO outbox (key, incident_id, kind, recipient, channel_index, "
            "title, body, sms_title, sms_body, created_at, due_at, attempts, last_error) "
            "SELECT key || ?, incident_id, kind, recipient, channel_index, title, body, "
            "sms_title, sms_body, created_at, ?, 1, ? FROM outbox WHERE id=? "
            "ON CONFLICT (key) DO NOTHING",
            (suffix, retry_at, error, row.id))
        conn.execute("UPDATE outbox SET channel_index=?, attempts=0, due_at=?, last_error=?, "
                     "claimed_by=NULL, claimed_until=NULL WHERE id=?",
                     (row.channel_index + 1, now, error, row.id))


def mark_failed(conn: Conn, row_id: int, error: str) -> None:
    with transaction(conn):
        conn.execute("UPDATE outbox SET status='failed', attempts=attempts+1, last_error=? "
                     "WHERE id=?", (error, row_id))


def outbox_rows(conn: Conn, incident_id: int | None = None) -> list[dict[str, Any]]:
    if incident_id is None:
        rows = conn.execute("SELECT * FROM outbox ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM outbox WHERE incident_id=? ORDER BY id",
                            (incident_id,))
    return [dict(r) for r in rows]


def steps_done(conn: Conn, incident_id: int) -> dict[str, float]:
    """The escalation steps sent for an incident, each with when it went out."""
    rows = conn.execute("SELECT step_key, at FROM escalation_done WHERE incident_id=?",
                        (incident_id,))
    return {r[0]: float(r[1]) for r in rows}


PAGED_KINDS = ("page", "reminder", "mass", "flapping", "blind", "self", "digest",
               "still_down")


def paged_recipients(conn: Conn, incident_id: int) -> set[str]:
    """Who has heard of an incident so far (derived from its outbox rows)."""
    marks = ",".join("?" for _ in PAGED_KINDS)
    rows = conn.execute(f"SELECT DISTINCT recipient FROM outbox WHERE incident_id=? "
                        f"AND kind IN ({marks})", (incident_id, *PAGED_KINDS))
    return {r[0] for r in rows}


def mark_step(conn: Conn, incident_id: int, step_key: str, at: float) -> None:
    conn.execute("INSERT INTO escalation_done (incident_id, step_key, at) "
                 "VALUES (?,?,?) ON CONFLICT (incident_id, step_key) DO NOTHING",
                 (incident_id, step_key, at))


def use_token(conn: Conn, token_id: str, now: float) -> bool:
    """Mark an ack token used; False if it was used before (replay)."""
    with transaction(conn):
        cur = conn.execute("INSERT INTO used_tokens (token_id, used_at) VALUES (?,?) "
                           "ON CONFLICT (token_id) DO NOTHING", (token_id, now))
        return bool(cur.rowcount == 1)


def token_used_at(conn: Conn, token_id: str) -> float | None:
    """When an ack token was used, if it was."""
    row = conn.execute("SELECT used_at FROM used_tokens WHERE token_id=?", (token_id,)).fetchone()
    return float(row[0]) if row else None


UPDATE_STATUSES = ("investigating", "identified", "monitoring", "resolved")


def add_update(conn: Conn, incident_id: int, at: float, status: str,
               messages: dict[str, str], author: str | None) -> dict[str, Any]:
    """Record an update people wrote about an incident (shown on the status page)."""
    with transaction(conn):
        update_id = int(conn.execute(
            "INSERT INTO incident_updates (incident_id, at, status, message, author) "
            "VALUES (?,?,?,?,?) RETURNING id",
            (incident_id, at, status, json.dumps(messages), author)).fetchone()[0])
        add_event(conn, incident_id, at, f"update:{status}", author,
                  next(iter(messages.values()), ""))
    return {"id": update_id, "incident_id": incident_id, "at": at, "status": status,
            "messages": messages, "author": author}


def incident_updates(conn: Conn, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Updates of the given incidents, newest first, by incident id."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT incident_id, at, status, message FROM incident_updates "
            f"WHERE incident_id IN ({marks}) ORDER BY at DESC, id DESC", chunk)
        for r in rows:
            out[r[0]].append({"at": r[1], "status": r[2], "messages": json.loads(r[3])})
    return out
