"""The Alertmanager route's senders (issue 18): a post per pager change, batched; one sender
per Alertmanager, so a hanging one delays neither the others nor the next change; failures
counted and logged per Alertmanager without its URL. Real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

from monitor.checking.engine import Engine
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.delivery.am_route import AlertmanagerRoute
from monitor.incidents.model import Incident, Status
from monitor.probes.base import ProbeContext
from monitor.telemetry.metrics import Metrics


def incident(id_: int, check: str = "sipd") -> Incident:
    return Incident(id_, check, "Keuangan", check.upper(), Status.OPEN, "status 503",
                    time.time())


@dataclass
class Hanging:
    """A TCP server that accepts and reads but never answers, like a frozen Alertmanager."""

    port: int = 0


@pytest.fixture
async def hanging() -> AsyncIterator[Hanging]:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield Hanging(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


class Route:
    """A route over a list of incidents the test edits, running in the background."""

    def __init__(self, urls: list[str]) -> None:
        self.open: list[Incident] = []
        config = parse_config("checks: []", "checks.yaml")
        self.registry = CollectorRegistry()
        metrics = Metrics(self.registry, Engine(config, ProbeContext()), "jakarta-1")
        self.route = AlertmanagerRoute(tuple(urls), "jakarta-1", "http://siaga.test", metrics,
                                       lambda: list(self.open), resend=60.0, timeout=0.5)

    def posts(self, index: int, outcome: str) -> float:
        return self.registry.get_sample_value(
            "siaga_alertmanager_posts_total",
            {"alertmanager": str(index), "outcome": outcome}) or 0.0


@pytest.fixture
async def route_to(request) -> AsyncIterator:
    tasks: list[asyncio.Task[None]] = []

    def start(urls: list[str]) -> Route:
        r = Route(urls)
        tasks.append(asyncio.create_task(r.route.run()))
        return r

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_hanging_alertmanager_delays_neither_the_other_nor_the_next_change(
        json_receiver, hanging, route_to, caplog):
    r = route_to([f"http://user:s3cret@127.0.0.1:{hanging.port}", json_receiver.base])
    await asyncio.sleep(0.05)
    r.open.append(incident(1))
    began = time.monotonic()
    r.route.changed()
    [firing] = await json_receiver.wait_for(1, timeout=2)
    assert time.monotonic() - began < 0.2
    r.open.clear()  # resolved while the post to the hanging one is still waiting
    r.route.changed()
    _, ended = await json_receiver.wait_for(2, timeout=2)
    assert time.monotonic() - began < 0.4
    assert "endsAt" not in firing.json[0] and "endsAt" in ended.json[0]
    await asyncio.sleep(0.7)  # the hanging one's 0.5 s timeout has passed
    assert r.posts(0, "failed") >= 1 and r.posts(0, "sent") == 0
    assert r.posts(1, "sent") == 2
    lines = [rec.getMessage() for rec in caplog.records]
    failed = [m for m in lines if "event=alertmanager_post_failed" in m]
    assert failed and f"alertmanager=0 host=127.0.0.1:{hanging.port}" in failed[0]
    assert not any("s3cret" in m for m in lines)


async def test_changes_a_few_ms_apart_go_out_in_one_post(json_receiver, route_to):
    r = route_to([json_receiver.base])
    await asyncio.sleep(0.05)
    for n, check in enumerate(["sipd", "simda", "sikd"], start=1):
        r.open.append(incident(n, check))
        r.route.changed()
        await asyncio.sleep(0.001)
    [post] = await json_receiver.wait_for(1, timeout=2)
    await asyncio.sleep(0.2)
    assert len(json_receiver.posts) == 1
    assert sorted(a["labels"]["check"] for a in post.json) == ["sikd", "simda", "sipd"]


async def test_a_suppressed_incident_is_ended_and_one_that_fires_again_is_not(
        json_receiver, route_to):
    r = route_to([json_receiver.base])
    await asyncio.sleep(0.05)
    inc = incident(1)
    r.open.append(inc)
    r.route.changed()
    await json_receiver.wait_for(1, timeout=2)
    inc.suppressed = "maintenance"
    r.route.changed()
    [_, ended] = await json_receiver.wait_for(2, timeout=2)
    assert [a["labels"]["check"] for a in ended.json] == ["sipd"] and "endsAt" in ended.json[0]
    inc.suppressed = None
    r.route.changed()
    [*_, again] = await json_receiver.wait_for(3, timeout=2)
    assert len(again.json) == 1 and "endsAt" not in again.json[0]


async def test_the_pager_and_an_acknowledgement_post_at_once(tmp_path, targets, json_receiver,
                                                             store_setting):
    text = f"""
siaga: {{location: jakarta-1, state_dir: "{tmp_path}", store: "{store_setting}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2}}
alerting: {{alertmanager: ["{json_receiver.base}"]}}
checks:
  - {{name: sipd, title: SIPD, group: Keuangan, http: {{url: "{targets.url('sipd')}"}}}}
"""
    d = Daemon(parse_config(text, str(tmp_path / "checks.yaml")), registry=CollectorRegistry(),
               serve=False)
    await d.start()
    try:
        targets.status["sipd"] = 503
        [firing] = await json_receiver.wait_for(1, timeout=5)
        assert firing.json[0]["labels"]["check"] == "sipd"
        [inc] = d.pager.incidents.values()
        began = time.monotonic()
        await d.actions.acknowledge(inc.id, "budi")
        [*_, acked] = await json_receiver.wait_for(2, timeout=2)
        assert time.monotonic() - began < 0.5
        assert acked.json[0]["annotations"]["description"].endswith("Acknowledged by budi.")
    finally:
        await d.stop()
