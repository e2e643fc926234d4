"""Shared pytest fixtures for the Siaga test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.farm import Farm
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


@pytest.fixture(autouse=True)
def no_swallowed_exceptions(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A test fails when Siaga logged an exception it survived (a bug kept alive by a
    catch-all in the pager, outbox, scheduler or a listener)."""
    yield
    crashes = [r for r in caplog.records
               if r.name.startswith("siaga") and r.exc_info and r.levelno >= 40]
    assert not crashes, "\n".join(r.getMessage() for r in crashes)


@pytest_asyncio.fixture
async def targets() -> AsyncIterator[Targets]:
    """Many services on one local server; a test sets `targets.status[path]`."""
    t = Targets()
    runner = await t.start()
    yield t
    await runner.cleanup()
