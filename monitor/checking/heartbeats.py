"""Heartbeat (push) checks: jobs ping Siaga; Siaga notices when a ping is late or a job fails.

A heartbeat check is not probed. Its spec says when pings are expected (`every: 24h` or a cron
`schedule:` in the configured time zone) and how long to wait past that (`grace`). Only the
pings are stored (table `heartbeats`); lateness is derived from them by the pure `status()`
(healthchecks' habit: derive, don't store). A heartbeat goes DOWN at once when it is late, a
failure ping arrives (fail_after 1), or a run that pinged `/start` has reported neither success
nor failure within `max_runtime`; it comes back UP at the next success ping. The one moment
that is not a ping, when Siaga began waiting for a check's first ping (`expected_since`), is
stored with them, so a restart does not move a never-pinged heartbeat's deadline.

The token in each push URL comes from the file (`token: ${VAR}`) or is generated once per
check, long and random, in `state_dir/heartbeat-tokens/NAME` (mode 0600, created with O_EXCL
so the daemon and `siaga heartbeat-url` never disagree), stable across restarts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from yaml.nodes import Node

from monitor.checking.engine import Engine, Runtime
from monitor.checking.state import State
from monitor.config.model import Check
from monitor.config.scalars import Cron, Duration, Str, format_duration
from monitor.config.schema import Ctx, Obj
from monitor.errors import StoreError
from monitor.probes.base import ProbeResult
from monitor.secretfile import read_or_create
from monitor.store.engine import Conn, Store, transaction
from monitor.telemetry.logs import event

log = logging.getLogger("siaga.heartbeat")
KIND = "heartbeat"
EVALUATE_EVERY = 2.0
MESSAGE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    """When pings are expected: every `every` seconds, or on the cron `schedule`."""

    grace: float
    every: float | None = None
    schedule: str | None = None
    max_runtime: float | None = None
    token: str | None = field(default=None, repr=False)  # from ${VAR}; else generated

    def describe(self) -> str:
        when = f"every {format_duration(self.every)}" if self.every else f"at {self.schedule!r}"
        limit = (f", max_runtime {format_duration(self.max_runtime)}" if self.max_runtime
                 else "")
        return f"{when}, grace {format_duration(self.grace)}{limit}"


def _build(values: dict[str, Any], node: Node, path: str, ctx: Ctx) -> Any:
    if ("every" in values) == ("schedule" in values):
        return ctx.error(node, path, "give exactly one of every or schedule")
    return HeartbeatSpec(**values)


SCHEMA = Obj(
    {
        "every": Duration("Pings are expected this often", min=1.0),
        "schedule": Cron("Cron expression (five fields) in the configured time zone"),
        "grace": Duration("How late a ping may be before the check is DOWN", default=3600.0,
                          min=0.5),
        "max_runtime": Duration("A run that pinged /start and reported neither success nor "
                                "failure within this is DOWN (default: no limit)", min=1.0),
        "token": Str("Token in the push URL; use ${VAR} (default: generated and kept in "
                     "the state directory)", pattern=r"[A-Za-z0-9._~-]{16,200}",
                     hint="16-200 URL-safe characters"),
    },
    "A job pings Siaga (push); late or failed pings make the check DOWN",
    build=_build,
)


# -- when is a heartbeat late (pure) ----------------------------------------------------------
def _when(ts: float, now: float, tz: ZoneInfo) -> str:
    at, today = dt.datetime.fromtimestamp(ts, tz), dt.datetime.fromtimestamp(now, tz)
    return at.strftime("%H:%M %Z" if at.date() == today.date() else "%Y-%m-%d %H:%M %Z")


def next_expected(spec: HeartbeatSpec, after: float, tz: ZoneInfo) -> float:
    """When the next ping is due after one at `after` (before grace)."""
    if spec.every is not None:
        return after + spec.every
    start = dt.datetime.fromtimestamp(after, tz)
    return float(croniter(spec.schedule, start).get_next(dt.datetime).timestamp())


def status(spec: HeartbeatSpec, last_ping: float | None, last_start: float | None,
           last_fail: float | None, now: float, tz: ZoneInfo,
           since: float | None = None) -> tuple[bool, str]:
    """(ok, reason) of a heartbeat at `now`. `since`: when Siaga began waiting for a first ping.

    A failure ping newer than the last success is a failure; so is a run started longer than
    `max_runtime` ago that has not finished; otherwise the check is late once `now` passes the
    next expected ping plus grace.
    """
    if last_fail is not None and (last_ping is None or last_fail >= last_ping):
        return False, f"job reported failure at {_when(last_fail, now, tz)}"
    started = overran(spec, last_ping, last_start, now)
    if started is not None:
        took = format_duration(max(60.0, now - started) // 60 * 60)  # whole minutes
        return False, (f"started at {_when(started, now, tz)}, no finish after {took} "
                       f"(max_runtime {format_duration(spec.max_runtime or 0)})")
    ref = last_ping if last_ping is not None else since
    if ref is None:
        return True, "waiting for the first ping"
    due = next_expected(spec, ref, tz)
    expected = (f"every {format_duration(spec.every)}" if spec.every
                else f"at {_when(due, now, tz)}")
    why = f"expected {expected}, grace {format_duration(spec.grace)}"
    if now <= due + spec.grace:
        if last_start is not None and last_start > (last_ping or 0):
            return True, f"running since {_when(last_start, now, tz)}"
        return True, "waiting for the first ping" if last_ping is None else "on time"
    if last_ping is None:
        return False, f"no ping yet ({why})"
    return False, f"no ping since {_when(last_ping, now, tz)} ({why})"


def overran(spec: HeartbeatSpec, last_ping: float | None, last_start: float | None,
            now: float) -> float | None:
    """When the run started, if it pinged /start, has not reported success since (a failure
    ping is judged before) and has run longer than `max_runtime`; else None."""
    if spec.max_runtime is None or last_start is None or last_start <= (last_ping or 0):
        return None
    return last_start if now > last_start + spec.max_runtime else None


# -- tokens -----------------------------------------------------------------------------------
class Tokens:
    """Per-check push tokens: the configured one, else one generated once and kept on disk."""

    def __init__(self, state_dir: str | Path,
                 shared: Callable[[str, Callable[[], str]], str] | None = None) -> None:
        self.dir = Path(state_dir) / "heartbeat-tokens"
        self.shared = shared  # a fleet: tokens kept in the store, the same on every member
        self._cache: dict[str, str] = {}

    def token(self, check: Check) -> str:
        if check.spec.token:
            return str(check.spec.token)
        cached = self._cache.get(check.name)
        if cached is None:
            cached = self._cache[check.name] = self._load_or_create(check.name)
        return cached

    def _load_or_create(self, name: str) -> str:
        if self.shared is not None:
            return self.shared(f"heartbeat:{name}", lambda: secrets.token_urlsafe(32))
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = read_or_create(self.dir / name, lambda: secrets.token_urlsafe(32).encode())
        return made.decode().strip()

    def matches(self, check: Check, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token(check).encode())


# -- pings and their store rows ---------------------------------------------------------------
@dataclass(slots=True)
class Pings:
    """One row of the `heartbeats` table."""

    last_ping: float | None = None
    last_start: float | None = None
    last_fail: float | None = None
    last_fail_message: str | None = None
    last_exit_code: int | None = None
    last_duration: float | None = None
    expected_since: float | None = None  # when Siaga began waiting for the first ping


COLUMNS = [f.name for f in fields(Pings)]


def load_pings(conn: Conn) -> dict[str, Pings]:
    rows = conn.execute(f"SELECT check_name, {', '.join(COLUMNS)} FROM heartbeats").fetchall()
    return {row[0]: Pings(*row[1:]) for row in rows}


def save_pings(conn: Conn, name: str, p: Pings) -> None:
    conn.execute(
        f"INSERT INTO heartbeats (check_name, {', '.join(COLUMNS)}) "
        f"VALUES (?, {', '.join('?' for _ in COLUMNS)}) ON CONFLICT (check_name) DO UPDATE "
        f"SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS)}",
        (name, *(getattr(p, c) for c in COLUMNS)))


class Heartbeats:
    """Takes pings, keeps them in the store, and feeds the engine."""

    def __init__(self, engine: Engine, store: Store, tokens: Tokens, tz: ZoneInfo,
                 clock: Callable[[], float] = time.time, *,
                 owns: Callable[[str], bool] = lambda name: True, fleet: bool = False) -> None:
        self.engine, self.store, self.tokens, self.tz = engine, store, tokens, tz
        # In a fleet a push may reach any member; the one that owns the heartbeat judges it
        # from the pings in the store, read again at every tick.
        self.owns, self.fleet = owns, fleet
        self.clock = clock
        self.pings: dict[str, Pings] = {}
        self._unsaved: set[str] = set()  # began waiting for a first ping; not stored yet
        self._cached: list[tuple[str, Check]] = []
        self._cached_for: object = None

    def check(self, name: str) -> Check | None:
        check = self.engine.checks.get(name)
        return check if check is not None and check.kind == KIND else None

    async def load(self) -> None:
        self.pings = await self.store.run(load_pings)

    async def ping(self, check: Check, what: str, message: str | None = None,
                   exit_code: int | None = None) -> Pings:
        """Record a success (`what` "ping"), a "start" or a "fail" ping of `check`."""
        now = self.clock()
        p = self.pings.setdefault(check.name, Pings())
        if what == "start":
            p.last_start = now
        elif what == "fail":
            p.last_fail, p.last_exit_code = now, exit_code
            p.last_fail_message = (message or "")[:MESSAGE_LIMIT] or None
            if self.owns(check.name):
                self._record(check, False, _failure(p.last_fail_message, exit_code))
        else:
            running = p.last_start is not None and p.last_start > max(
                p.last_ping or 0, p.last_fail or 0)
            p.last_duration = now - p.last_start if running and p.last_start else None
            p.last_ping = now
            took = f" after {p.last_duration:.1f}s" if p.last_duration is not None else ""
            if self.owns(check.name):
                self._record(check, True, f"ping received{took}", p.last_duration or 0.0)
        event(log, "heartbeat", check=check.name, ping=what)
        try:
            await self.store.run(save_pings, check.name, Pings(**{c: getattr(p, c)
                                                                 for c in COLUMNS}))
        except StoreError as exc:  # /healthz shows store errors; the ping still counts
            event(log, "heartbeat_not_saved", logging.ERROR, check=check.name, error=str(exc))
        return p

    def _record(self, check: Check, ok: bool, reason: str, duration: float = 0.0) -> None:
        result = ProbeResult(ok, reason, duration=duration, started_at=self.clock())
        self.engine.record(check, result, fail_after=1, recover_after=1)

    def evaluate(self) -> None:
        """Mark late heartbeats DOWN; bring back ones a ping (or a longer grace) made good."""
        now = self.clock()
        faults = self.engine.faults
        for name, check in self._heartbeat_checks():
            rt = self.engine.runtime.get(name)
            if rt is None or not self.owns(name):
                continue
            try:  # one heartbeat that cannot be judged must not stop the ones after it
                self._judge(name, check, rt, now)
            except Exception as exc:
                log.exception("event=heartbeat_evaluate_failed check=%s", name)
                faults.mark("heartbeat", name, f"cannot be judged ({type(exc).__name__})")
                continue
            rt.seen = now
            if faults.items:
                faults.clear("heartbeat", name)

    def _judge(self, name: str, check: Check, rt: Runtime, now: float) -> None:
        p = self.pings.get(name) or self.pings.setdefault(name, Pings())
        if p.last_ping is None and p.expected_since is None:
            p.expected_since = now  # stored by tick(): a restart must not move the deadline
            self._unsaved.add(name)
        ok, reason = status(check.spec, p.last_ping, p.last_start, p.last_fail, now,
                            self.tz, p.expected_since)
        health = rt.state.health
        if not ok and health is not State.DOWN:
            self._record(check, False, reason)
        elif ok and p.last_ping is not None and health in (State.DOWN, State.UNKNOWN):
            self._record(check, True, f"last ping at {_when(p.last_ping, now, self.tz)}")

    def _heartbeat_checks(self) -> list[tuple[str, Check]]:
        """The heartbeat checks of the current config (cached per config: a site may have
        20,000 probed checks and two heartbeats)."""
        checks = self.engine.checks
        if self._cached_for is not checks:
            self._cached = [(n, c) for n, c in checks.items() if c.kind == KIND]
            self._cached_for = checks
        return self._cached

    async def tick(self) -> None:
        """Judge every heartbeat, then store the waits for a first ping that began now."""
        if self.fleet and self._heartbeat_checks():
            stored = await self.store.run(load_pings)  # pushes other members took
            for name, mine in self.pings.items():  # newer here: a push whose save is due
                there = stored.get(name)
                if there is None or _latest(mine) > _latest(there):
                    stored[name] = mine
            for name, p in stored.items():  # a failure pushed to another member
                seen = self.pings.get(name)
                check = self.engine.checks.get(name)
                if (check is not None and self.owns(name) and p.last_fail is not None
                        and p.last_fail > ((seen.last_fail or 0) if seen else 0)):
                    self._record(check, False, _failure(p.last_fail_message,
                                                        p.last_exit_code))
            self.pings = stored
        self.evaluate()
        if not self._unsaved:
            return
        names, self._unsaved = self._unsaved, set()
        rows = [(n, replace(self.pings[n])) for n in sorted(names) if n in self.pings]
        try:
            await self.store.run(_save_rows, rows)
        except StoreError as exc:  # tried again at the next tick
            self._unsaved |= names
            event(log, "heartbeat_not_saved", logging.ERROR, checks=len(names), error=str(exc))

    async def run(self, every: float = EVALUATE_EVERY) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # keep judging the other heartbeats
                log.exception("event=heartbeat_evaluate_failed")
            await asyncio.sleep(every)


def _latest(p: Pings) -> float:
    return max(p.last_ping or 0.0, p.last_start or 0.0, p.last_fail or 0.0,
               p.expected_since or 0.0)


def _save_rows(conn: Conn, rows: list[tuple[str, Pings]]) -> None:
    with transaction(conn):
        for name, p in rows:
            save_pings(conn, name, p)


def _failure(message: str | None, exit_code: int | None) -> str:
    code = f" (exit code {exit_code})" if exit_code is not None else ""
    return f"job failed{code}: {message}" if message else f"job failed{code}"
