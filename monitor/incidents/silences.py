"""Silences: pages held for a check or a group for a while, created at run time (CLI or
API, with who and why), expiring on their own, listed and removable. Stored in SQLite so a
restart keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.store.engine import Conn, transaction


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    target: str  # a check name or a group name
    created_by: str
    reason: str
    created_at: float
    until: float

    def active(self, now: float) -> bool:
        return self.created_at <= now < self.until

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "created_by": self.created_by,
                "reason": self.reason, "created_at": self.created_at, "until": self.until}


def add(conn: Conn, target: str, by: str, reason: str, now: float,
        until: float) -> Silence:
    with transaction(conn):
        row = conn.execute("INSERT INTO silences (target, created_by, reason, created_at, "
                           "until) VALUES (?,?,?,?,?) RETURNING id",
                           (target, by, reason, now, until)).fetchone()
    return Silence(int(row[0]), target, by, reason, now, until)


def remove(conn: Conn, silence_id: int, now: float) -> bool:
    with transaction(conn):
        cur = conn.execute("UPDATE silences SET removed_at=? WHERE id=? AND removed_at IS NULL "
                           "AND until > ?", (now, silence_id, now))
    return bool(cur.rowcount == 1)


def current(conn: Conn, now: float) -> list[Silence]:
    rows = conn.execute("SELECT id, target, created_by, reason, created_at, until FROM silences "
                        "WHERE removed_at IS NULL AND until > ? ORDER BY until, id", (now,))
    return [Silence(*r) for r in rows]


class Silences:
    """The active silences, kept in memory for the pager's per-check questions."""

    def __init__(self) -> None:
        self.items: list[Silence] = []

    def replace(self, items: list[Silence]) -> None:
        self.items = items

    def covers(self, check: str, group: str, now: float) -> Silence | None:
        for s in self.items:
            if s.active(now) and s.target in (check, group):
                return s
        return None
