"""Contact hours (`oncall.officers.NAME.contact_hours`): which messages wait for them, and the
outbox rows that hold such a message until the officer's window opens.

- Urgent messages (`monitor.delivery.outbox.URGENT`: pages, reminders, digests, still-down,
  flapping, blind, self-monitoring, mass outages) never wait; nor does the rate cap's digest
  (`capped`): it stands for messages that were cleared to go when they were capped.
- An ending ("resolved", "stable again", "monitoring restored") goes at once to an officer
  the incident reached: they may be up, or on their way to the server room, because of it,
  and it is the message that lets them stand down. It waits only when the incident never
  reached that officer (their page was dropped because the incident resolved first, or it
  never got through): then it is news, not a call.
- Any other kind (a notice) waits outside the officer's contact hours.

A held message is a pending outbox row whose `due_at` is the start of the window and whose
`held_until` says why it waits. It is sent then like any row, so a restart neither loses nor
repeats it; it is not dropped when its incident is over, as an urgent message would be: what
it says stays true. A reload makes held rows due at once, to be decided again under the
hours the config gives now.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.store.engine import Conn, transaction
from monitor.store.records import PAGED_KINDS, OutboxRow, add_event

NEVER_HELD = ("capped",)  # besides outbox.URGENT
ENDINGS = ("resolved", "stable", "self_over", "blind_over")
NOTICES = ("acknowledged",)
TOLD = ("sent", "capped", "capped_told")  # a capped message was told of by the digest


def may_wait(kind: str) -> bool:
    """Whether a message of `kind` may wait for its officer's contact hours."""
    return kind in ENDINGS or kind in NOTICES


@dataclass(frozen=True, slots=True)
class Reach:
    """What an incident's urgent messages did for one officer."""

    told: bool  # one got through (or into the rate cap's digest)
    pending: frozenset[int]  # rows that may still be on their way


def reach(conn: Conn, incident_id: int, recipient: str) -> Reach:
    marks = ",".join("?" for _ in PAGED_KINDS)
    rows = conn.execute(f"SELECT id, status FROM outbox WHERE incident_id=? AND recipient=? "
                        f"AND kind IN ({marks})", (incident_id, recipient, *PAGED_KINDS))
    found = [(int(r[0]), str(r[1])) for r in rows]
    return Reach(any(status in TOLD for _, status in found),
                 frozenset(i for i, status in found if status == "pending"))


def hold(conn: Conn, row: OutboxRow, due: float, held_until: float | None, now: float,
         note: str | None = None) -> None:
    """Make `row` due at `due`; `note` goes into its incident's history."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET due_at=?, held_until=?, claimed_by=NULL, "
                     "claimed_until=NULL WHERE id=?", (due, held_until, row.id))
        if note is not None and row.incident_id is not None:
            add_event(conn, row.incident_id, now, "held", "siaga", note)


def wake_held(conn: Conn, now: float) -> int:
    """Make the held rows due now, to be decided again (after a reload)."""
    with transaction(conn):
        cur = conn.execute("UPDATE outbox SET due_at=? WHERE status='pending' "
                           "AND held_until IS NOT NULL AND due_at > ?", (now, now))
        return int(cur.rowcount)
