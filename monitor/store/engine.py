"""The state store of one Siaga instance: transitions, incidents and their history, the
outbox of messages, escalation progress, used ack tokens, silences and rollups.

Two engines, one contract: SQLite in `state_dir/siaga.db` (`siaga.store: sqlite`, the
embedded default; `monitor.store.sqlite`) or PostgreSQL (`siaga.store: postgresql://…`, a
fleet's shared store; `monitor.store.postgresql`). Either way there is one connection, used
from one dedicated thread, so the event loop never waits on the database: the daemon calls
`await store.run(fn, *args)` where `fn(conn, *args)` is one of the functions in
`monitor.store.records` (or any function taking a connection). Both schemas carry the same
version numbers; opening a store brings it to the newest.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from monitor.errors import StoreError
from monitor.store import sqlite as sqlite_engine

T = TypeVar("T")
SQLITE = "sqlite"


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the functions above the store use of a connection (sqlite3's face; the
    PostgreSQL connection wears it too)."""

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ...,
                /) -> Cursor: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any] | Mapping[str, Any]],
                    /) -> Cursor: ...

    @property
    def total_changes(self) -> int: ...

    def close(self) -> None: ...


def _postgresql() -> Any:
    """monitor.store.postgresql, or a StoreError saying what to install."""
    try:
        from monitor.store import postgresql
    except ImportError:
        raise StoreError("a postgresql:// store needs psycopg: pip install "
                         "'siaga[postgresql]'") from None
    return postgresql


def dialect(conn: Conn) -> str:
    """'sqlite' or 'postgresql': for the few statements that must differ."""
    return str(getattr(conn, "dialect", SQLITE))


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def describe(url: str, state_dir: str | Path) -> str:
    """Where the store is, for messages: the file, or the URL without its password."""
    if is_postgresql(url):
        return str(_postgresql().redacted(url))
    return str(Path(state_dir) / "siaga.db")


def open_connection(url: str, state_dir: str | Path, *, migrate: bool = True) -> Any:
    """A connection to the store `url` names ('sqlite': the file in `state_dir`)."""
    if is_postgresql(url):
        postgresql = _postgresql()
        pg = postgresql.connect(url)
        try:
            if migrate:
                postgresql.migrate(pg)
        except postgresql.Error as exc:
            pg.close()
            raise StoreError(f"cannot migrate store {postgresql.redacted(url)}: "
                             f"{postgresql.scrub(str(exc), url)}") from None
        except BaseException:
            pg.close()
            raise
        return pg
    path = Path(state_dir) / "siaga.db"
    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        conn = sqlite_engine.connect(path)
        if migrate:
            sqlite_engine.migrate(conn)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from None
    return conn


def schema_version(conn: Conn) -> int:
    if dialect(conn) == SQLITE:
        return sqlite_engine.version(conn)  # type: ignore[arg-type]
    return int(_postgresql().version(conn))


def migrate(conn: Conn) -> int:
    """Apply pending migrations; return the newest version."""
    try:
        if dialect(conn) == SQLITE:
            return sqlite_engine.migrate(conn)  # type: ignore[arg-type]
        return int(_postgresql().migrate(conn))
    except driver_errors() as exc:  # a role without CREATE on the schema, say
        raise StoreError(f"cannot migrate the store: {exc}") from None


def driver_errors(url: str | None = None) -> tuple[type[Exception], ...]:
    """The database drivers' error classes (psycopg's only when it is installed, and not
    for a SQLite `url`: importing psycopg costs a start 0.13 s and 20 MB)."""
    if url is not None and not is_postgresql(url):
        return (sqlite3.Error,)
    try:
        from monitor.store import postgresql
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, postgresql.Error)


class Store:
    """The database of one Siaga instance: `state_dir/siaga.db`, or PostgreSQL at `url`."""

    def __init__(self, state_dir: str | Path, *, url: str = SQLITE) -> None:
        self.dir = Path(state_dir)
        self.url = url
        self.path = self.dir / "siaga.db"
        self.where = describe(url, state_dir)
        self.engine = "postgresql" if is_postgresql(url) else SQLITE
        self._db_errors = driver_errors(url)
        self.conn: Any = open_connection(url, state_dir)
        self.version = schema_version(self.conn)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="siaga-store")
        self._lock = threading.Lock()
        self.errors = 0
        self.last_error: str | None = None

    def _scrub(self, text: str) -> str:
        if self.engine == SQLITE:
            return text
        return str(_postgresql().scrub(text, self.url))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) here and now (CLI, tests, or inside the store thread)."""
        with self._lock:
            try:
                if self.engine != SQLITE and self.conn.closed:
                    # the server restarted or the network dropped: a fresh connection
                    self.conn = open_connection(self.url, self.dir, migrate=False)
                return fn(self.conn, *args)
            except self._db_errors as exc:
                self.errors += 1
                self.last_error = self._scrub(str(exc))
                raise StoreError(f"store: {self.last_error}") from (
                    exc if self.engine == SQLITE else None)
            except StoreError as exc:
                self.errors += 1
                self.last_error = str(exc)
                raise

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(conn, *args) on the store thread, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.call, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.conn.close()


def transaction(conn: Conn) -> _Tx:
    return _Tx(conn)


class _Tx:
    """`with transaction(conn):` — BEGIN (SQLite: IMMEDIATE, taking the write lock at once)
    … COMMIT, or ROLLBACK on error."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def __enter__(self) -> Conn:
        self.conn.execute("BEGIN IMMEDIATE" if dialect(self.conn) == SQLITE else "BEGIN")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
