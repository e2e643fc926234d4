"""Alertmanager mode pages as fast as the main path (issue 18): two Siaga replicas post to a
real two-node Alertmanager cluster (`group_wait: 1s`) the moment the pager opens, changes or
resolves an incident, and the webhook receiver hears of it once, within 3 s of the probe
that decided the outage — also when one of the two Alertmanagers is stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.checking.state import State
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from tests.test_notifiers import ALERTMANAGER, free_port

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager missing")]

BOUND = 3.0  # seconds from the deciding probe to the webhook (issue 18)

AM_CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, check]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""


@dataclass
class Hook:
    """The webhook receiver Alertmanager notifies: (arrival time, payload) per POST."""

    port: int = 0
    posts: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append((time.time(), await request.json()))
        self.arrived.set()
        return web.Response(text="ok")

    async def wait_for(self, count: int, timeout: float) -> list[tuple[float, dict[str, Any]]]:
        async with asyncio.timeout(timeout):
            while len(self.posts) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return list(self.posts)

    def statuses(self) -> list[str]:
        return [body["status"] for _, body in self.posts]


@asynccontextmanager
async def webhook() -> AsyncIterator[Hook]:
    hook = Hook()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook.port = runner.addresses[0][1]
    try:
        yield hook
    finally:
        await runner.cleanup()


@dataclass
class Node:
    base: str
    proc: asyncio.subprocess.Process


@asynccontextmanager
async def alertmanager_cluster(tmp_path: Path, hook: str) -> AsyncIterator[list[Node]]:
    """Two real Alertmanagers gossiping on 127.0.0.1 (`peer-timeout` 1s, so the second in
    line waits one second for the first before it notifies itself)."""
    assert ALERTMANAGER is not None
    config = tmp_path / "am.yml"
    config.write_text(AM_CONFIG.format(hook=hook))
    web_ports, gossip = [free_port(), free_port()], [free_port(), free_port()]
    nodes: list[Node] = []
    try:
        for i in range(2):
            log_file = (tmp_path / f"am{i}.log").open("wb")
            proc = await asyncio.create_subprocess_exec(
                ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / f'am{i}'}",
                f"--web.listen-address=127.0.0.1:{web_ports[i]}",
                f"--cluster.listen-address=127.0.0.1:{gossip[i]}",
                f"--cluster.advertise-address=127.0.0.1:{gossip[i]}",
                f"--cluster.peer=127.0.0.1:{gossip[1 - i]}", "--cluster.peer-timeout=1s",
                stdout=log_file, stderr=log_file)
            log_file.close()
            nodes.append(Node(f"http://127.0.0.1:{web_ports[i]}", proc))
        await asyncio.gather(*(settled(n.base, tmp_path) for n in nodes))
        yield nodes
    finally:
        for node in nodes:
            if node.proc.returncode is None:
                node.proc.kill()
                await node.proc.wait()


async def settled(base: str, tmp_path: Path) -> None:
    """Wait until this node sees both peers and its gossip has settled (Alertmanager holds
    notifications back until then)."""
    async with aiohttp.ClientSession() as client:
        for _ in range(300):
            try:
                async with client.get(f"{base}/api/v2/status") as response:
                    cluster = (await response.json())["cluster"]
                    if cluster["status"] == "ready" and len(cluster.get("peers") or []) == 2:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    logs = "".join(p.read_text()[-1500:] for p in sorted(tmp_path.glob("am*.log")))
    raise AssertionError("alertmanager cluster did not settle:\n" + logs)


def replica(tmp_path: Path, name: str, ams: list[str], target: str, store: str) -> Daemon:
    """A Siaga replica as a user would configure it: default resend, the cluster's URLs;
    its own store (one Siaga per database)."""
    urls = ", ".join(f'"{u}"' for u in ams)
    text = f"""
siaga: {{location: jakarta-1, listen: "127.0.0.1:0", state_dir: "{tmp_path / name}",
        store: "{store}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2}}
alerting: {{alertmanager: [{urls}]}}
checks:
  - {{name: sipd, title: SIPD, group: Keuangan, http: {{url: "{target}"}}}}
"""
    return Daemon(parse_config(text, str(tmp_path / f"{name}.yaml")), registry=CollectorRegistry())


@dataclass
class Pair:
    daemons: list[Daemon]
    decided: list[float] = field(default_factory=list)  # when a replica's probe decided DOWN

    def posts(self, index: int, outcome: str) -> float:
        return sum(d.registry.get_sample_value(
            "siaga_alertmanager_posts_total",
            {"alertmanager": str(index), "outcome": outcome}) or 0 for d in self.daemons)


@asynccontextmanager
async def setup(tmp_path: Path, target: str,
                stores: Callable[[], str]) -> AsyncIterator[tuple[Hook, list[Node], Pair]]:
    """Webhook receiver, a two-node Alertmanager cluster and two Siaga replicas posting to
    both nodes (not started yet: the test may stop a node first)."""
    async with webhook() as hook, alertmanager_cluster(
            tmp_path, f"http://127.0.0.1:{hook.port}/hook") as nodes:
        urls = [n.base for n in nodes]
        pair = Pair([replica(tmp_path, name, urls, target, stores()) for name in ("a", "b")])
        for d in pair.daemons:
            d.engine.on_transition.append(lambda check, t, result: pair.decided.append(t.at)
                                          if t.new is State.DOWN else None)
        try:
            yield hook, nodes, pair
        finally:
            for d in pair.daemons:
                await d.stop()


async def first_notification(hook: Hook, pair: Pair) -> float:
    """Seconds from the first deciding probe to the first webhook."""
    [(arrived, body)] = await hook.wait_for(1, timeout=90)
    assert body["status"] == "firing"
    assert [a["labels"]["check"] for a in body["alerts"]] == ["sipd"]
    return arrived - min(pair.decided)


async def test_two_replicas_page_once_within_3s_of_the_deciding_probe_and_resolve_once(
        tmp_path, targets, fresh_store_setting):
    async with setup(tmp_path, targets.url("sipd"), fresh_store_setting) as (hook, _, pair):
        for d in pair.daemons:
            await d.start()
        await asyncio.sleep(0.5)  # both replicas have seen sipd up
        targets.status["sipd"] = 503
        latency = await first_notification(hook, pair)
        print(f"first notification {latency:.2f}s after the deciding probe")
        assert latency <= BOUND
        await asyncio.sleep(3)  # past group_interval and the second node's peer timeout
        assert hook.statuses() == ["firing"]
        targets.status["sipd"] = 200
        await hook.wait_for(2, timeout=BOUND + 2)
        await asyncio.sleep(3)
        assert hook.statuses() == ["firing", "resolved"]
        assert pair.posts(0, "failed") == pair.posts(1, "failed") == 0


async def test_with_one_alertmanager_of_two_stopped_the_page_still_comes_once_within_3s(
        tmp_path, targets, fresh_store_setting, caplog):
    async with setup(tmp_path, targets.url("sipd"), fresh_store_setting) as (hook, nodes, pair):
        nodes[0].proc.terminate()
        await nodes[0].proc.wait()
        for d in pair.daemons:
            await d.start()
        await asyncio.sleep(0.5)
        targets.status["sipd"] = 503
        latency = await first_notification(hook, pair)
        print(f"first notification {latency:.2f}s after the deciding probe "
              "(one Alertmanager stopped)")
        assert latency <= BOUND
        await asyncio.sleep(3)
        assert hook.statuses() == ["firing"]
        assert pair.posts(0, "failed") >= 2 and pair.posts(0, "sent") == 0
        assert pair.posts(1, "sent") >= 2
    failures = [r.getMessage() for r in caplog.records
                if "event=alertmanager_post_failed" in r.getMessage()]
    assert failures and all("alertmanager=0" in m for m in failures)
    assert all(f"host={nodes[0].base.removeprefix('http://')}" in m for m in failures)
