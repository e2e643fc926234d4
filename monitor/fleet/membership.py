"""A fleet: several Siaga instances sharing one PostgreSQL store.

Every instance registers itself in `fleet_members` and renews that row every RENEW seconds.
The checks are split over the live members by rendezvous hashing of the check's name with
each member's slot (its `--shard i/N`, else its instance name): all members compute the
same split from the same table, each check goes to exactly one of them, and when a member
stops renewing only its own share moves, to each check's next choice.

Exactly one member is the **pager** (reconciliation, escalation, outbox): whoever holds the
row `fleet_lease('pager')`. The holder extends it every RENEW seconds to now + HOLD; others
take it only once it has expired. Times come from the database's clock, so the hosts' clocks
do not have to agree. A holder that has not renewed for HOLD (its store unreachable) stops
acting as the pager on its own, before anyone else can take over.

A member writes each probed check's state to `fleet_states` when it changes; every member
reads the others' changes each SYNC seconds and adopts them, so whoever becomes the pager
already knows every check's state, and every status page shows the whole fleet.

With SQLite there is no fleet: one instance, always the pager, probing every check.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Gauge

from monitor.checking.engine import Engine
from monitor.checking.state import CheckState, State, Transition
from monitor.config.model import Check
from monitor.errors import StoreError
from monitor.fleet.quorum import Vote, verdict
from monitor.fleet.slots import owner, timings
from monitor.probes.base import ProbeResult
from monitor.store.engine import SQLITE, Conn, Store, dialect, transaction
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.fleet")

SYNC = 1.0  # seconds between two exchanges of check states
MARGIN = 10.0  # states written this long before the last read are read again (commit order)
NO_LOCATION = ""  # fleet_states.location of a check every location may probe


def db_now(conn: Conn) -> float:
    """The database's clock (one clock for the whole fleet)."""
    if dialect(conn) == SQLITE:
        return time.time()
    return float(conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class Member:
    instance: str
    location: str
    slot: str
    shards: int | None
    started_at: float
    seen_at: float
    probing: int
    lateness: float
    listen: str
    blind: bool  # its connectivity guard fails: its location does not vote


@dataclass(frozen=True, slots=True)
class StateRow:
    check_name: str
    location: str
    instance: str
    state: str
    reason: str
    failing: bool
    fail_since: float | None
    changed_at: float


# Who is the pager is the lease's to say (fleet_lease), not the members' rows.
MEMBER_COLUMNS = ("instance, location, slot, shards, started_at, seen_at, probing, "
                  "lateness, listen, blind")


def members(conn: Conn) -> list[Member]:
    rows = conn.execute(f"SELECT {MEMBER_COLUMNS} FROM fleet_members ORDER BY instance")
    return [Member(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]))
            for r in rows.fetchall()]


def lease(conn: Conn) -> tuple[str, float, int] | None:
    """(holder, until, epoch) of the pager's lease, if anyone ever held it."""
    row = conn.execute("SELECT holder, until, epoch FROM fleet_lease WHERE name='pager'")
    found = row.fetchone()
    return None if found is None else (found[0], float(found[1]), int(found[2]))


def shared_secret(conn: Conn, name: str, make: Callable[[], str]) -> str:
    """A secret every member uses (the ack links' key): made by the first, read by the rest."""
    with transaction(conn):
        conn.execute("INSERT INTO fleet_secrets (name, value) VALUES (?, ?) "
                     "ON CONFLICT (name) DO NOTHING", (name, make()))
        return str(conn.execute("SELECT value FROM fleet_secrets WHERE name=?",
                                (name,)).fetchone()[0])


@dataclass(slots=True)
class Exchange:
    """What one round trip to the store brought back."""

    now: float
    pager: bool
    members: list[Member] | None  # None: not renewed this round
    states: list[StateRow]


class Fleet:
    """This instance's part in a fleet (see the module's docstring)."""

    def __init__(self, store: Store, engine: Engine, *, instance: str, location: str,
                 shard: tuple[int, int] | None, lease_timeout: float, listen: str,
                 lateness: Callable[[], float] = lambda: 0.0,
                 blind: Callable[[], bool] = lambda: False) -> None:
        self.store, self.engine = store, engine
        self.enabled = store.engine != SQLITE
        self.instance, self.location, self.listen = instance, location, listen
        self.slot = f"{shard[0]}/{shard[1]}" if shard else instance
        self.shards = shard[1] if shard else None
        self.renew_every, self.hold = timings(lease_timeout)
        self.lateness, self.blind = lateness, blind
        # who this process is: a restart on the same host can tell its crashed life from a
        # second live instance that was given the same name
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.started_at = time.time()
        self.leader = not self.enabled  # SQLite: the one instance is the pager
        self._valid_until = float("inf") if not self.enabled else 0.0  # monotonic
        self.slots: tuple[str, ...] = (self.slot,)
        self.owned: frozenset[str] | None = None  # None: every check (no fleet)
        self.members: list[Member] = []
        self.on_role: list[Callable[[bool], Any]] = []  # became the pager (True) or not
        self.on_owned: list[Callable[[], None]] = []  # the share of checks changed
        self.on_adopted: list[Callable[[Check, ProbeResult, CheckState], None]] = []
        self.on_verdict: list[Callable[[Check, Transition], None]] = []  # a voted change
        self.votes: dict[str, dict[str, Vote]] = {}  # voted check → location → its view
        self.voting: frozenset[str] = frozenset()  # locations that may vote now
        self.by_location: dict[str, tuple[str, ...]] = {}  # live slots per location
        self._dirty: dict[str, tuple[Any, ...]] = {}
        self._written: dict[str, tuple[str, bool]] = {}
        self._cursor = 0.0
        self._next_renew = 0.0
        self._warned: set[str] = set()  # voted checks no live location can probe

    def gauges(self) -> list[Gauge]:
        """This instance's role and share, for /metrics."""
        pager = Gauge("siaga_fleet_pager", "1 while this instance is the fleet's pager "
                      "(always 1 without a fleet)", registry=None)
        pager.set_function(lambda: 1.0 if self.is_pager() else 0.0)
        live = Gauge("siaga_fleet_members", "Live members of the fleet this instance sees "
                     "(1 without a fleet)", registry=None)
        live.set_function(lambda: float(len(self.slots)))
        probing = Gauge("siaga_fleet_checks_probed", "Checks this instance probes (its "
                        "share of the fleet's)", registry=None)
        probing.set_function(lambda: float(self.probing()))
        return [pager, live, probing]

    def secret(self, name: str, make: Callable[[], str]) -> str:
        """A secret the fleet shares (monitor.fleet.membership.shared_secret), read now."""
        return self.store.call(shared_secret, name, make)

    def probing(self) -> int:
        return len(self.owned) if self.owned is not None else len(self.engine.checks)

    # -- questions the daemon asks ------------------------------------------------------
    def is_pager(self) -> bool:
        return self.leader and time.monotonic() < self._valid_until

    def owns(self, name: str) -> bool:
        return self.owned is None or name in self.owned

    # -- start ----------------------------------------------------------------------------
    async def join(self) -> None:
        """Register, refuse a name another live member uses, take the first share."""
        if not self.enabled:
            return
        first = await self.store.run(self._holder_of_name)
        while first is not None:  # renewed by someone else lately: dead, or a namesake?
            await asyncio.sleep(SYNC)
            now = await self.store.run(self._holder_of_name)
            if now is None:
                break
            if now != first:  # it renewed since: a live instance with this name
                raise StoreError(f"instance name {self.instance!r} is in use by a running "
                                 "member of this fleet: give each instance its own "
                                 "siaga.instance")
        await self._round(renew=True)

    def _holder_of_name(self, conn: Conn) -> tuple[str, float] | None:
        """(token, seen_at) of another process that renewed this instance's name within the
        lease; None when the name is free or its last holder was this host's crashed run."""
        now = db_now(conn)
        row = conn.execute("SELECT token, seen_at FROM fleet_members WHERE instance=?",
                           (self.instance,)).fetchone()
        if row is None or row[0] == self.token or now - float(row[1]) >= self.hold:
            return None
        host, _, rest = str(row[0]).partition(":")
        pid = rest.partition(":")[0]
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            return None
        return str(row[0]), float(row[1])

    # -- the engine's result listener -----------------------------------------------------
    def note_result(self, check: Check, result: ProbeResult, cs: CheckState) -> None:
        if not self.enabled or check.connectivity:  # each member's guard is its own
            return
        key = (cs.state.value, not result.ok)
        if self._written.get(check.name) != key:
            where = self.location if check.voted else NO_LOCATION
            fail_since = cs.fail_started if not result.ok else None
            self._dirty[check.name] = (check.name, where, self.instance, cs.state.value,
                                       result.reason[:500], 0 if result.ok else 1,
                                       fail_since, cs.since or time.time())
            self._written[check.name] = key
            if check.voted:  # this location's vote counts at once
                self.votes.setdefault(check.name, {})[where] = Vote(
                    where, cs.state.value, result.reason[:500], fail_since)
                self._judge(check)

    # -- the loop -------------------------------------------------------------------------
    async def run(self) -> None:
        if not self.enabled:
            return
        while True:
            await asyncio.sleep(SYNC)
            renew = time.monotonic() >= self._next_renew
            try:
                await self._round(renew)
            except StoreError as exc:
                event(log, "fleet_store_failed", logging.WARNING, error=str(exc))
                self._fence()
            except Exception:  # a bug must not end the renewals silently
                log.exception("event=fleet_round_failed")
                self._fence()

    async def _round(self, renew: bool) -> None:
        dirty, self._dirty = list(self._dirty.values()), {}
        asked = time.monotonic()
        # what the member row says, read here on the loop (the store thread must not read
        # the loop's live structures)
        row = (self.instance, self.location, self.slot, self.shards, self.started_at,
               self.probing(), self.lateness(), self.listen, 1 if self.blind() else 0,
               self.token)
        try:
            got = await self.store.run(self._exchange, dirty, row if renew else None,
                                       self._cursor)
        except StoreError:
            for row in dirty:  # written next round
                self._dirty.setdefault(row[0], row)
            raise
        self._cursor = got.now
        if got.members is not None:
            self._next_renew = asked + self.renew_every
            if got.pager:
                self._valid_until = asked + self.hold - SYNC  # stop before anyone can start
            self._role(got.pager)
            self._membership(got.members, got.now)
        else:
            self._fence()
        self._adopt(got.states)

    def _fence(self) -> None:
        if self.leader and time.monotonic() >= self._valid_until:
            event(log, "pager_lease_lost", logging.WARNING, instance=self.instance)
            self._role(False)

    def _exchange(self, conn: Conn, dirty: list[tuple[Any, ...]],
                  renew: tuple[Any, ...] | None, cursor: float) -> Exchange:
        now = db_now(conn)
        with transaction(conn):
            if dirty:
                conn.executemany(
                    "INSERT INTO fleet_states (check_name, location, instance, state, reason, "
                    "failing, fail_since, changed_at, written_at) VALUES (?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (check_name, location) DO UPDATE SET instance=excluded.instance,"
                    " state=excluded.state, reason=excluded.reason, failing=excluded.failing, "
                    "fail_since=excluded.fail_since, changed_at=excluded.changed_at, "
                    "written_at=excluded.written_at", [(*row, now) for row in dirty])
        pager, found = False, None
        if renew is not None:
            pager = self._renew(conn, now, renew)
            found = [m for m in members(conn) if now - m.seen_at < self.hold]
        rows = conn.execute(
            "SELECT check_name, location, instance, state, reason, failing, fail_since, "
            "changed_at FROM fleet_states WHERE written_at > ? AND instance <> ? "
            "ORDER BY written_at", (cursor - MARGIN, self.instance)).fetchall()
        states = [StateRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]
        return Exchange(now, pager, found, states)

    def _renew(self, conn: Conn, now: float, row: tuple[Any, ...]) -> bool:
        with transaction(conn):
            conn.execute(
                f"INSERT INTO fleet_members ({MEMBER_COLUMNS}, token) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (instance) DO UPDATE SET "
                "location=excluded.location, slot=excluded.slot, shards=excluded.shards, "
                "started_at=excluded.started_at, seen_at=excluded.seen_at, "
                "probing=excluded.probing, lateness=excluded.lateness, "
                "listen=excluded.listen, blind=excluded.blind, token=excluded.token",
                (*row[:5], now, *row[5:]))
            conn.execute("INSERT INTO fleet_lease (name, holder, until, epoch) "
                         "VALUES ('pager', ?, ?, 1) ON CONFLICT (name) DO NOTHING",
                         (self.instance, now + self.hold))
            took = conn.execute(
                "UPDATE fleet_lease SET until=?, epoch=epoch + CASE WHEN holder=? THEN 0 "
                "ELSE 1 END, holder=? WHERE name='pager' AND (holder=? OR until < ?)",
                (now + self.hold, self.instance, self.instance, self.instance, now))
            return took.rowcount == 1

    async def leave(self) -> None:
        """A clean stop: give the lease and the share back at once."""
        if not self.enabled:
            return
        def leave(conn: Conn) -> None:
            with transaction(conn):
                conn.execute("DELETE FROM fleet_members WHERE instance=? AND token=?",
                             (self.instance, self.token))
                conn.execute("UPDATE fleet_lease SET until=0 WHERE name='pager' AND holder=?",
                             (self.instance,))
        try:
            await self.store.run(leave)
        except StoreError as exc:
            event(log, "fleet_leave_failed", logging.WARNING, error=str(exc))

    # -- what a round changes -----------------------------------------------------------
    def _role(self, pager: bool) -> None:
        if pager == self.leader:
            return
        self.leader = pager
        if not pager:
            self._valid_until = 0.0
        event(log, "pager_role", logging.WARNING, instance=self.instance,
              role="pager" if pager else "prober")
        for hook in self.on_role:
            hook(pager)

    def _membership(self, live: list[Member], now: float) -> None:
        self.members = live
        slots = tuple(sorted({m.slot for m in live} | {self.slot}))
        by_location: dict[str, set[str]] = {self.location: {self.slot}}
        for m in live:
            by_location.setdefault(m.location, set()).add(m.slot)
        placed = {loc: tuple(sorted(s)) for loc, s in by_location.items()}
        voting = frozenset(m.location for m in live if not m.blind)
        if voting != self.voting:
            self.voting = voting
            self._judge_all()
        if slots == self.slots and placed == self.by_location and self.owned is not None:
            return
        self.slots, self.by_location = slots, placed
        self.reassign()
        event(log, "fleet_share", instance=self.instance, members=len(slots),
              probing=len(self.owned or ()))
        for hook in self.on_owned:
            hook()

    def reassign(self, checks: Iterable[Check] | None = None) -> None:
        """Work out this instance's share again (membership or the config changed; the
        caller reschedules: a reload with its own diff, a membership change via on_owned)."""
        if not self.enabled:
            return
        slots, me, mine = self.slots, self.slot, self.by_location.get(self.location, (self.slot,))
        before = self.owned
        self.owned = frozenset(
            c.name for c in (checks if checks is not None else self.engine.checks.values())
            if c.connectivity  # every member watches its own network
            or (c.voted and self.location in c.locations and owner(c.name, mine) == me)
            or (not c.voted and owner(c.name, slots) == me))
        for name in list(self._written):
            if name not in self.owned:
                del self._written[name]  # written again if it comes back
        self._unplaced(checks if checks is not None else self.engine.checks.values())
        now, runtime = time.time(), self.engine.runtime
        for name in self.owned - (before or frozenset()):  # ours from now: not stale yet
            rt = runtime.get(name)
            if rt is not None:
                rt.seen = now

    def _unplaced(self, checks: Iterable[Check]) -> None:
        """Say once when a check lists only locations no live instance is in (a typo in a
        location's name would otherwise leave it unprobed, UNKNOWN, without a word)."""
        if not self.members:
            return
        live = set(self.by_location)
        for check in checks:
            if check.voted and not live.intersection(check.locations):
                if check.name not in self._warned:
                    self._warned.add(check.name)
                    event(log, "check_unprobed", logging.WARNING, check=check.name,
                          locations=",".join(check.locations),
                          live_locations=",".join(sorted(live)))
            else:
                self._warned.discard(check.name)

    def _adopt(self, rows: list[StateRow]) -> None:
        """Take in the states other members probed (never for a check probed here)."""
        judge: dict[str, Check] = {}
        for row in rows:
            check = self.engine.checks.get(row.check_name)
            if check is not None and check.voted and row.location:
                self.votes.setdefault(check.name, {})[row.location] = Vote(
                    row.location, row.state, row.reason, row.fail_since)
                judge[check.name] = check
                continue
            rt = self.engine.runtime.get(row.check_name)
            if check is None or rt is None or self.owns(row.check_name) or check.voted:
                continue
            try:
                state = State(row.state)
            except ValueError:
                continue
            shown = self.engine.show(check, state, row.reason, failing=row.failing,
                                     fail_since=row.fail_since, at=row.changed_at)
            if shown is not None:
                for hook in self.on_adopted:
                    hook(check, shown[0], rt.state)
        for check in judge.values():
            self._judge(check)

    # -- locations and quorum ---------------------------------------------------------------
    def _judge_all(self) -> None:
        for check in self.engine.checks.values():
            if check.voted:
                self._judge(check)

    def _judge(self, check: Check) -> None:
        """Put the locations' verdict where everything else reads a check's state."""
        rt = self.engine.runtime.get(check.name)
        if rt is None:
            return
        voting = self.voting - {self.location} if self.blind() else self.voting | {
            self.location}
        found = verdict(check.locations, check.quorum, self.votes.get(check.name, {}), voting)
        shown = self.engine.show(check, found.state, found.reason, failing=found.failing,
                                 fail_since=found.fail_since, at=time.time())
        if shown is None:
            return
        result, change = shown
        if change is not None:
            event(log, "verdict", check=check.name, state=found.state.value,
                  down=",".join(found.down) or "-", up=",".join(found.up) or "-")
            for verdict_hook in self.on_verdict:
                verdict_hook(check, change)
        for hook in self.on_adopted:
            hook(check, result, rt.state)
