"""An uplink with 20 dependents, all at the default interval and fail_after: whatever the phase
of the dependents' probe slots relative to the uplink's, the officer gets exactly one page,
naming the uplink, and the dependents are listed on its incident (issue 11, case 2).

The pager, engine and store are the real ones; time is simulated (injected clock) so a
30-second interval costs nothing, and probes are results fed at their slots. The daemon
scenario at the end runs the same on real targets."""

from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import CollectorRegistry

from monitor.config.loader import parse_config
from monitor.daemon import Daemon
from monitor.store.records import list_incidents
from tests.simulation import Simulation

CHILDREN = [f"app-{i}" for i in range(1, 21)]


def config_text(tmp_path, receiver_url: str, head: str = "", store: str = "sqlite") -> str:
    checks = ["  - {name: uplink, tcp: {host: 127.0.0.1, port: 9}}"]
    checks += [f"  - {{name: {c}, tcp: {{host: 127.0.0.1, port: 9}}, depends_on: [uplink]}}"
               for c in CHILDREN]
    return f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store}"}}
{head}
checks:
{chr(10).join(checks)}
oncall:
  officers:
    budi: {{notify: ["{receiver_url}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


def simulation(tmp_path, url: str, offsets: dict[str, float], fail_at: float,
               fails=None) -> Simulation:
    text = config_text(tmp_path, "json://127.0.0.1:9/")
    return Simulation(tmp_path, text, offsets, fails or (lambda name, now: now >= fail_at),
                      url=url)


def pages(sim: Simulation) -> list[tuple[str, str]]:
    return [(kind, title) for kind, _, title, _ in sim.messages("page", "mass")]


async def scenario(tmp_path, url: str, offsets: dict[str, float]) -> Simulation:
    interval = 30.0
    sim = simulation(tmp_path, url, offsets, fail_at=interval + 7.0)
    await sim.run(until=interval + 7.0 + 6 * interval)
    return sim


def assert_one_page_for_the_uplink(sim: Simulation) -> None:
    paged = pages(sim)
    assert len(paged) == 1, paged
    assert paged[0][1].endswith("uplink")
    assert sim.messages("digest") == []  # the first page listed every dependent
    (incident,) = sim.store.call(list_incidents)
    assert incident.check == "uplink"
    assert set(incident.affected) == set(CHILDREN)


@pytest.mark.parametrize("phase", ["before", "equal", "after"])
async def test_an_uplink_and_20_dependents_page_once_whatever_the_phase(tmp_path, store_url,
                                                                        phase):
    parent = 15.0
    child = {"before": 2.0, "equal": parent, "after": 28.0}[phase]
    # Equal slots: the heap pops names in order, and every "app-*" sorts before "uplink".
    offsets = {"uplink": parent, **{c: child for c in CHILDREN}}
    sim = await scenario(tmp_path, store_url, offsets)
    assert_one_page_for_the_uplink(sim)
    sim.close()


async def test_an_uplink_and_20_dependents_page_once_over_random_phases(tmp_path,
                                                                        fresh_store_url):
    rng = random.Random(20261130)
    on_demand = 0
    for trial in range(24):
        offsets = {name: rng.uniform(0, 30) for name in ["uplink", *CHILDREN]}
        sim = await scenario(tmp_path / f"trial-{trial}", fresh_store_url(), offsets)
        assert_one_page_for_the_uplink(sim)
        on_demand += sim.on_demand
        sim.close()
    assert on_demand > 0  # some trials needed the uplink probed at once to decide


async def test_a_dependent_is_paged_when_its_parent_answers_up(tmp_path, store_url):
    offsets = {"uplink": 1.0, **{c: 2.0 for c in CHILDREN}}
    sim = simulation(tmp_path, store_url, offsets, 37.0,
                     fails=lambda name, now: name != "uplink" and now >= 37.0)
    await sim.run(until=200.0)
    paged = pages(sim)
    # The 20 share one group: the first is paged, the rest join its incident and are told
    # in one digest a group window later.
    assert len(paged) == 1 and not paged[0][1].endswith("uplink")
    (digest,) = sim.messages("digest")
    assert "+19" in digest[2]
    sim.close()


@pytest.mark.slow
async def test_a_real_uplink_and_20_dependents_at_one_interval_page_once(
        tmp_path, targets, json_receiver, store_setting):
    text = config_text(tmp_path, json_receiver.url("/budi"),
                       "defaults: {interval: 1s, timeout: 1s}", store=store_setting)
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
