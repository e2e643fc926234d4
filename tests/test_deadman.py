"""Siaga watching itself: the dead-man's switch against a local receiver, and store errors
in /healthz."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.errors import StoreError
from monitor.telemetry.deadman import StoreHealth

CONFIG = """
siaga: {{listen: "127.0.0.1:0", state_dir: "{state}", deadman_url: "{url}",
        deadman_every: 100ms}}
checks: []
"""


class Receiver:
    """A healthchecks.io stand-in on 127.0.0.1 counting pings."""

    def __init__(self) -> None:
        self.pings = 0
        self.status = 200

    async def ping(self, request: web.Request) -> web.Response:
        self.pings += 1
        return web.Response(text="OK", status=self.status)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ping/{uuid}", self.ping)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/ping/5f0c2a"


@pytest.fixture
async def receiver():
    r = Receiver()
    r.url = await r.start()
    yield r
    await r.runner.cleanup()


@pytest.fixture
async def daemon(receiver, tmp_path):
    path = tmp_path / "checks.yaml"
    path.write_text(CONFIG.format(state=tmp_path, url=receiver.url))
    d = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry())
    await d.start()
    yield d
    await d.stop()


def outcome(d: Daemon, name: str) -> float:
    return d.registry.get_sample_value("siaga_deadman_pings_total", {"outcome": name}) or 0


async def test_it_pings_the_deadman_url_regularly_while_healthy(daemon, receiver):
    await asyncio.sleep(0.55)
    assert 4 <= receiver.pings <= 7
    assert outcome(daemon, "sent") == receiver.pings


async def test_it_stops_pinging_while_the_scheduler_is_behind(daemon, receiver):
    daemon.recent_lateness.extend([9.0] * 100)
    await asyncio.sleep(0.15)
    seen = receiver.pings
    await asyncio.sleep(0.5)
    assert receiver.pings == seen
    assert outcome(daemon, "skipped") >= 4
    daemon.recent_lateness.clear()
    await asyncio.sleep(0.3)
    assert receiver.pings > seen


async def test_a_failing_receiver_is_counted_and_the_daemon_carries_on(daemon, receiver):
    receiver.status = 503
    await asyncio.sleep(0.35)
    assert outcome(daemon, "failed") >= 2
    assert daemon.health_problems() == []


def test_recent_store_errors_fail_healthz_and_old_ones_do_not(tmp_path):
    from monitor.store.engine import Store

    store = Store(tmp_path)
    now = [1000.0]
    health = StoreHealth(store, window=300, clock=lambda: now[0])
    assert health.problems() == []
    with pytest.raises(StoreError):
        store.call(lambda conn: conn.execute("SELECT * FROM no_such_table"))
    assert health.problems()[0].startswith("store errors: 1 so far, last: no such table")
    now[0] += 301
    assert health.problems() == []
    store.close()


async def test_store_errors_show_in_healthz(daemon):
    with pytest.raises(StoreError):
        daemon.store.call(lambda conn: conn.execute("SELECT * FROM no_such_table"))
    assert any(p.startswith("store errors") for p in daemon.health_problems())
