"""An uplink with 20 dependents, all at the default interval and fail_after: whatever the phase
of the dependents' probe slots relative to the uplink's, the officer gets exactly one page,
naming the uplink, and the dependents are listed on its incident (issue 11, case 2).

The pager, engine and store are the real ones; time is simulated (injected clock) so a
30-second interval costs nothing, and probes are results fed at their slots. The daemon
scenario at the end runs the same on real targets."""

from __future__ import annotations

import asyncio
import heapq
import random

import pytest
from prometheus_client import CollectorRegistry

from monitor.alerting.acktoken import AckSigner
from monitor.alerting.pager import Pager
from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.engine import Engine
from monitor.metrics import Metrics
from monitor.probes.base import ProbeContext, ProbeResult
from monitor.records import list_incidents
from monitor.store import Store

CHILDREN = [f"app-{i}" for i in range(1, 21)]


def config_text(tmp_path, receiver_url: str, head: str = "") -> str:
    checks = ["  - {name: uplink, tcp: {host: 127.0.0.1, port: 9}}"]
    checks += [f"  - {{name: {c}, tcp: {{host: 127.0.0.1, port: 9}}, depends_on: [uplink]}}"
               for c in CHILDREN]
    return f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}"}}
{head}
checks:
{chr(10).join(checks)}
oncall:
  officers:
    budi: {{notify: ["{receiver_url}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


class Simulation:
    """Engine + pager + store driven by an injected clock; the targets fail at `fail_at`."""

    def __init__(self, tmp_path, offsets: dict[str, float], fail_at: float) -> None:
        self.now = 0.0
        self.config = parse_config(config_text(tmp_path, "json://127.0.0.1:9/"),
                                   str(tmp_path / "checks.yaml"))
        self.engine = Engine(self.config, ProbeContext(), clock=lambda: self.now)
        self.store = Store(tmp_path / "state")
        metrics = Metrics(CollectorRegistry(), self.engine, "local")
        self.engine.on_result.append(metrics.on_result)
        self.demanded: list[str] = []
        self.pager = Pager(store=self.store, engine=self.engine, config=self.config,
                           signer=AckSigner(b"k" * 32), metrics=metrics,
                           clock=lambda: self.now, probe_now=self.demanded.append)
        self.engine.on_result.append(self.pager.note_result)
        self.engine.on_transition.append(self.pager.on_transition)
        self.fail_at = fail_at
        self.slots = [(offset, name) for name, offset in offsets.items()]
        heapq.heapify(self.slots)
        self.on_demand = 0

    def probe(self, name: str) -> None:
        ok = self.now < self.fail_at
        result = ProbeResult(ok, "ok" if ok else "connect: connection refused",
                             started_at=self.now)
        self.engine.record(self.engine.checks[name], result)

    async def run(self, until: float) -> None:
        while self.slots[0][0] < until:
            at, name = heapq.heappop(self.slots)
            self.now = at
            self.probe(name)
            heapq.heappush(self.slots, (at + self.engine.checks[name].interval, name))
            await self.pager.step()
            while self.demanded:  # on-demand probes answer within milliseconds here
                self.now += 0.005
                batch, self.demanded[:] = list(self.demanded), []
                for wanted in batch:
                    self.on_demand += 1
                    self.probe(wanted)
                await self.pager.step()

    def pages(self) -> list[tuple[str, str]]:
        rows = self.store.call(lambda conn: conn.execute(
            "SELECT kind, title FROM outbox ORDER BY id").fetchall())
        return [(kind, title) for kind, title in rows if kind == "page"]


async def scenario(tmp_path, offsets: dict[str, float]) -> Simulation:
    interval = 30.0
    sim = Simulation(tmp_path, offsets, fail_at=interval + 7.0)
    await sim.run(until=sim.fail_at + 6 * interval)
    return sim


def assert_one_page_for_the_uplink(sim: Simulation) -> None:
    pages = sim.pages()
    assert len(pages) == 1, pages
    assert pages[0][1].endswith("uplink")
    (incident,) = sim.store.call(list_incidents)
    assert incident.check == "uplink"
    assert set(incident.affected) == set(CHILDREN)


@pytest.mark.parametrize("phase", ["before", "equal", "after"])
async def test_an_uplink_and_20_dependents_page_once_whatever_the_phase(tmp_path, phase):
    parent = 15.0
    child = {"before": 2.0, "equal": parent, "after": 28.0}[phase]
    # Equal slots: the heap pops names in order, and every "app-*" sorts before "uplink".
    offsets = {"uplink": parent, **{c: child for c in CHILDREN}}
    sim = await scenario(tmp_path, offsets)
    assert_one_page_for_the_uplink(sim)
    sim.store.close()


async def test_an_uplink_and_20_dependents_page_once_over_random_phases(tmp_path):
    rng = random.Random(20261130)
    on_demand = 0
    for trial in range(24):
        offsets = {name: rng.uniform(0, 30) for name in ["uplink", *CHILDREN]}
        sim = await scenario(tmp_path / f"trial-{trial}", offsets)
        assert_one_page_for_the_uplink(sim)
        on_demand += sim.on_demand
        sim.store.close()
    assert on_demand > 0  # some trials needed the uplink probed at once to decide


async def test_a_dependent_is_paged_when_its_parent_answers_up(tmp_path):
    sim = Simulation(tmp_path, {"uplink": 1.0, **{c: 2.0 for c in CHILDREN}}, fail_at=37.0)
    sim.fail_at = 37.0
    original = sim.probe

    def only_children_fail(name: str) -> None:
        if name == "uplink":
            sim.engine.record(sim.engine.checks[name],
                              ProbeResult(True, "ok", started_at=sim.now))
        else:
            original(name)

    sim.probe = only_children_fail  # type: ignore[method-assign]
    await sim.run(until=200.0)
    pages = sim.pages()
    assert len(pages) == len(CHILDREN)  # no grouping configured: one page per real outage
    assert all(not title.endswith("uplink") for _, title in pages)
    sim.store.close()


@pytest.mark.slow
async def test_a_real_uplink_and_20_dependents_at_one_interval_page_once(
        tmp_path, targets, json_receiver):
    text = config_text(tmp_path, json_receiver.url("/budi"),
                       "defaults: {interval: 1s, timeout: 1s}")
    lines = []
    for line in text.splitlines():  # each service on its own HTTP path of the target server
        for name in ["uplink", *CHILDREN]:
            if line.startswith(f"  - {{name: {name},"):
                line = line.replace("tcp: {host: 127.0.0.1, port: 9}",
                                    f"http: {{url: \"{targets.url(name)}\"}}")
        lines.append(line)
    path = tmp_path / "checks.yaml"
    path.write_text("\n".join(lines))
    daemon = Daemon(parse_config(path.read_text(), str(path)), registry=CollectorRegistry())
    await daemon.start()
    try:
        await asyncio.sleep(2.5)  # every check answered once
        for name in ["uplink", *CHILDREN]:
            targets.status[name] = 503
        pages = await json_receiver.wait_for(1, 10)
        await asyncio.sleep(4)  # every dependent has gone DOWN by now
        assert len(json_receiver.inbox.items) == 1
        assert pages[0].json["title"].endswith("uplink")
        (incident,) = await daemon.store.run(list_incidents)
        assert set(incident.affected) == set(CHILDREN)
    finally:
        await daemon.stop()
