"""Shared pytest fixtures for the Siaga test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.farm import Farm


@pytest.fixture(scope="session")
def farm() -> Iterator[Farm]:
    """Local target servers (HTTP/HTTPS/TCP/DNS) on 127.0.0.1, one per session."""
    target_farm = Farm().start()
    try:
        yield target_farm
    finally:
        target_farm.stop()
