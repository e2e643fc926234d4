"""Helpers for scenario tests that run a real daemon in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon


async def start(tmp_path, text: str) -> Daemon:
    """Write `text` as tmp_path/checks.yaml and start a daemon on it (the watcher included)."""
    path = tmp_path / "checks.yaml"
    path.write_text(text)
    daemon = Daemon(parse_config(text, str(path)), registry=CollectorRegistry())
    await daemon.start()
    return daemon


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until `predicate()` holds; fail the test naming `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, f"not reached within {timeout}s: {what}"
        await asyncio.sleep(0.05)
