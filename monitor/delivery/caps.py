"""The per-officer, per-channel rate cap: at most `per_hour` messages an hour on one channel
of one officer (`sms_per_hour` on SMS), so a long bad night cannot bury a phone.

Nothing is dropped. A message over the cap is kept in the outbox as `capped`, written to its
incident's history (event `rate_limited`) and counted in
`siaga_notifications_suppressed_total{reason="rate_limit"}`; the officer gets one `capped`
digest on that channel ("7 more updates, see the status page") a short while later, which
itself passes the cap. Counts are derived from the outbox's sent rows (derive, don't store);
a channel is remembered by a hash of its URL, never the URL (it may hold a secret).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from monitor.store.engine import Conn, transaction
from monitor.store.records import OutboxRow, add_event

HOUR = 3600.0
DIGEST_DELAY = 30.0  # the capped digest collects what is held meanwhile
DIGEST_EVERY = 900.0  # and comes at most every quarter hour while the cap holds
EXEMPT = ("capped",)


def channel_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Held:
    count: int
    first_at: float


def sent_last_hour(conn: Conn, recipient: str, channel: str, now: float) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE recipient=? AND channel=? AND status='sent' "
        "AND sent_at > ?", (recipient, channel, now - HOUR)).fetchone()
    return int(row[0])


def hold(conn: Conn, row: OutboxRow, channel: str, now: float) -> None:
    """Keep `row` as capped, note it in its incident, and make sure a digest is due."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET status='capped', channel=?, last_error='rate limit' "
                     "WHERE id=?", (channel, row.id))
        if row.incident_id is not None:
            add_event(conn, row.incident_id, now, "rate_limited", "siaga",
                      f"{row.kind} to {row.recipient} held: rate limit")
        pending = conn.execute(
            "SELECT 1 FROM outbox WHERE kind='capped' AND recipient=? AND channel=? "
            "AND status='pending'", (row.recipient, channel)).fetchone()
        if pending is None:
            last = conn.execute(
                "SELECT MAX(sent_at) FROM outbox WHERE kind='capped' AND recipient=? "
                "AND channel=?", (row.recipient, channel)).fetchone()[0]
            due = max(now + DIGEST_DELAY, (last or 0.0) + DIGEST_EVERY)
            conn.execute(
                "INSERT INTO outbox (key, incident_id, kind, recipient, channel_index, title, "
                "body, created_at, due_at, channel) VALUES (?, NULL, 'capped', ?, ?, '', '', "
                "?, ?, ?)",
                (f"capped/{row.recipient}/{channel}/{now:.3f}", row.recipient,
                 row.channel_index, now, due, channel))


def take_held(conn: Conn, recipient: str, channel: str) -> Held:
    """The capped messages not yet told of; from now on they count as told."""
    with transaction(conn):
        row = conn.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status='capped' "
            "AND recipient=? AND channel=?", (recipient, channel)).fetchone()
        conn.execute("UPDATE outbox SET status='capped_told' WHERE status='capped' "
                     "AND recipient=? AND channel=?", (recipient, channel))
    return Held(int(row[0]), float(row[1] or 0.0))


def fill(conn: Conn, row_id: int, title: str, body: str) -> None:
    with transaction(conn):
        conn.execute("UPDATE outbox SET title=?, body=? WHERE id=?", (title, body, row_id))
