"""Shared pytest fixtures for the Siaga test suite."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio

from tests.farm import Farm
from tests.postgres import PASSWORD_ENV, Postgres
from tests.receivers import JsonReceiver, SmtpReceiver
from tests.targets import Targets


@pytest.fixture(scope="session")
def farm() -> Iterator[Farm]:
    """Local target servers (HTTP/HTTPS/TCP/DNS) on 127.0.0.1, one per session."""
    target_farm = Farm().start()
    try:
        yield target_farm
    finally:
        target_farm.stop()


@pytest.fixture(scope="session", autouse=True)
def config_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`siaga run` keeps compiled configs under $XDG_CACHE_HOME/siaga (monitor.config.cache):
    the suite's runs, in-process and spawned, use a directory of their own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    patch.delenv("CACHE_DIRECTORY", raising=False)
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def siaga_logger_restored() -> Iterator[None]:
    """`siaga run` in-process (monitor.telemetry.logs.setup) gives the "siaga" logger its own
    handler on the test's captured stream and stops propagation: put it back after each
    test, or later tests' caplog (and the swallowed-exception guard) would see nothing."""
    logger = logging.getLogger("siaga")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


@pytest_asyncio.fixture
async def smtp_server() -> AsyncIterator[SmtpReceiver]:
    """A real SMTP server on 127.0.0.1 collecting mail (see tests/receivers.py)."""
    server = await SmtpReceiver().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def json_receiver() -> AsyncIterator[JsonReceiver]:
    """A real HTTP server on 127.0.0.1 collecting JSON POSTs (see tests/receivers.py)."""
    receiver = await JsonReceiver().start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def swallowed(record: logging.LogRecord) -> bool:
    """An exception somebody caught and only logged: Siaga's own catch-alls, asyncio's
    ("Fatal error on transport", "Task exception was never retrieved"), aiohttp's (a
    handler's 500) and anything that reached the root logger."""
    if record.levelno < logging.ERROR:
        return False
    name = record.name
    if name == "asyncio":
        return True
    ours = name.startswith(("siaga", "aiohttp")) or name == "root"
    return ours and record.exc_info is not None


@pytest.fixture(autouse=True)
def no_swallowed_exceptions(caplog: pytest.LogCaptureFixture,
                            request: pytest.FixtureRequest) -> Iterator[None]:
    """A test fails when an exception was logged and survived (a bug kept alive by a
    catch-all in the pager, outbox, scheduler, a listener or the event loop).

    `caplog.records` holds only the current phase's records (here: teardown), so every
    phase is read explicitly."""
    yield
    if request.node.get_closest_marker("logs_exceptions"):
        return  # the test provokes a bug on purpose and asserts it is contained
    crashes = [r for when in ("setup", "call", "teardown")
               for r in caplog.get_records(when) if swallowed(r)]
    assert not crashes, "\n".join(f"{r.name}: {r.getMessage()}" for r in crashes)


@pytest_asyncio.fixture
async def targets() -> AsyncIterator[Targets]:
    """Many services on one local server; a test sets `targets.status[path]`."""
    t = Targets()
    runner = await t.start()
    yield t
    await runner.cleanup()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL 15 on 127.0.0.1 for the session (tests/postgres.py). Without the
    binaries this FAILS with a message saying what to install; it never skips."""
    try:
        server = Postgres().start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Both engines: 'sqlite', or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return "sqlite"
    server: Postgres = request.getfixturevalue("postgres")
    return server.url(server.database())


@pytest.fixture
def fresh_store_url(request: pytest.FixtureRequest, store_url: str) -> Callable[[], str]:
    """More stores of `store_url`'s engine, each fresh (a test that needs several): 'sqlite'
    (the caller gives each its own state_dir), or a new PostgreSQL database's URL."""
    if store_url == "sqlite":
        return lambda: "sqlite"
    server: Postgres = request.getfixturevalue("postgres")
    return lambda: server.url(server.database())


@pytest.fixture
def fresh_store_setting(request: pytest.FixtureRequest, store_setting: str) -> Callable[[], str]:
    """More `siaga.store` settings of `store_setting`'s engine, each naming a fresh store (the
    replicas of one test, each with its own database): 'sqlite', or a new PostgreSQL
    database's URL with the password from ${PG_PASSWORD}."""
    if store_setting == "sqlite":
        return lambda: "sqlite"
    server: Postgres = request.getfixturevalue("postgres")
    return lambda: server.config_url(server.database())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_setting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`siaga.store` as a user writes it, for both engines: 'sqlite', or a fresh
    PostgreSQL database's URL with the password from ${PG_PASSWORD} (set for the test)."""
    if request.param == "sqlite":
        return "sqlite"
    return _pg_setting(request.getfixturevalue("postgres"), monkeypatch)


@pytest.fixture
def pg_store_setting(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """`siaga.store` naming a fresh PostgreSQL database as a user writes it (a fleet's)."""
    return _pg_setting(postgres, monkeypatch)


def _pg_setting(server: Postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, server.password)
    return server.config_url(server.database())
