"""Storm-proof by default (issue 17): with no `alerting:` section, the first page goes out at
once, checks joining its incident are told in one digest a window later, a mass outage is one
page for everyone, and no channel of an officer gets more than its hourly cap. Each scenario
counts what a real receiver got, with the config an operator would write."""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp
import pytest

from monitor.checking.state import State
from monitor.incidents.model import Incident, Kind, Status
from monitor.paging import digests
from tests.daemons import start, until
from tests.simulation import Simulation

pytestmark = pytest.mark.slow


def oncall(receiver_url: str) -> str:
    return f"""
oncall:
  officers:
    budi: {{notify: ["{receiver_url}/budi"]}}
    admin: {{notify: ["{receiver_url}/admin"]}}
  admins: [admin]
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


async def test_ten_services_of_a_group_failing_together_make_one_page_one_digest_one_resolved(
        tmp_path, targets, json_receiver, store_setting):
    names = [f"layanan-{i}" for i in range(10)]
    checks = "\n".join(
        f"  - {{name: {n}, group: Layanan Publik, interval: 1s, timeout: 1s, "
        f"http: {{url: \"{targets.url(n)}\"}}}}" for n in names)
    base = json_receiver.url("").rstrip("/")
    daemon = await start(tmp_path, f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store_setting}"}}
checks:
{checks}
{oncall(base)}""")
    try:
        await until(lambda: all(daemon.engine.runtime[n].state.state is State.UP
                                for n in names), 4, "all up")
        for n in names:  # the same second
            targets.status[n] = 503
        await until(lambda: any(daemon.engine.runtime[n].state.state is State.DOWN
                                for n in names), 6, "first DOWN")
        first_down = time.monotonic()
        (page,) = await json_receiver.wait_for(1, 1.0)  # at once, not after the window
        assert page.json["title"].startswith("GANGGUAN: layanan-")
        # The page lists what was confirmed down with the first (the same wake-up of the
        # pager), the digest the rest: each service is told once.
        on_page = [n for n in names if n in page.json["message"]]
        posts = await json_receiver.wait_for(2, 30 + 5)
        digest = posts[1].json
        assert time.monotonic() - first_down >= 29  # one window after the first page
        joined = [n for n in names if n in digest["message"]]
        assert digest["title"] == f"GANGGUAN: +{len(joined)} layanan lain di Layanan Publik"
        assert sorted(on_page + joined) == sorted(names)
        for n in names:
            targets.status[n] = 200
        posts = await json_receiver.wait_for(3, 8)
        assert posts[2].json["title"].startswith("PULIH")
        await asyncio.sleep(2)
        assert len(json_receiver.inbox.items) == 3
        assert all(p.path == "/budi" for p in json_receiver.inbox.items)
    finally:
        await daemon.stop()


def mass_config(tmp_path, receiver_url: str, interval: str = "",
                store: str = "sqlite") -> tuple[str, list[str]]:
    names = [f"g{g:02d}-s{s:02d}" for g in range(20) for s in range(10)]
    timing = f", interval: {interval}, timeout: 1s" if interval else ""
    checks = "\n".join(f"  - {{name: {n}, group: Dinas {n[1:3]}{timing}, "
                       f"tcp: {{host: 127.0.0.1, port: 9}}}}" for n in names)
    return (f"siaga: {{listen: \"127.0.0.1:0\", state_dir: \"{tmp_path / 'state'}\", "
            f"store: \"{store}\"}}\n"
            f"checks:\n{checks}\n{oncall(receiver_url)}"), names


async def test_200_checks_in_20_groups_failing_within_10s_make_at_most_3_pages_in_2_minutes(
        tmp_path, store_url):
    # The default interval (30 s) and fail_after (3), simulated: minutes take milliseconds.
    rng = random.Random(17)
    text, names = mass_config(tmp_path, "json://127.0.0.1:9")
    fail_at = {n: 100.0 + rng.uniform(0, 10) for n in names}
    sim = Simulation(tmp_path, text, {n: rng.uniform(0, 30) for n in names},
                     lambda name, now: now >= fail_at[name], url=store_url)
    await sim.run(until=100.0 + 120.0)
    sent = sim.messages()
    officer = [m for m in sent if m[1] == "budi"]
    assert 1 <= len(officer) <= 3, officer
    mass = [m for m in officer if m[0] == "mass"]
    assert len(mass) == 1 and mass[0][2] == "GANGGUAN MASSAL: 200 layanan di 20 grup"
    assert any(m[0] == "mass" for m in sent if m[1] == "admin")  # the admins hear too
    sim.close()


async def test_a_real_mass_outage_is_one_mass_page(tmp_path, json_receiver, store_setting):
    text, names = mass_config(tmp_path, json_receiver.url("").rstrip("/"), interval="2s",
                              store=store_setting)
    # The targets: a local server that accepts connections until the test closes it.
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    daemon = await start(tmp_path, text.replace("port: 9}", f"port: {port}}}"))
    try:
        await until(lambda: all(daemon.engine.runtime[n].state.state is State.UP
                                for n in names), 6, "all up")
        server.close()
        await server.wait_closed()
        posts = await json_receiver.wait_for(1, 15)
        await asyncio.sleep(4)
        officer = [p for p in json_receiver.inbox.items if p.path == "/budi"]
        assert officer[0].json["title"] == "GANGGUAN MASSAL: 200 layanan di 20 grup"
        assert len(officer) <= 2
        assert posts
    finally:
        server.close()
        await daemon.stop()


async def test_an_officer_capped_at_5_an_hour_gets_5_pages_and_one_digest_for_12_incidents(
        tmp_path, targets, json_receiver, store_setting):
    failing = [f"svc-{i:02d}" for i in range(12)]
    healthy = [f"ok-{i:02d}" for i in range(40)]  # the rest of the agency keeps working
    checks = "\n".join(
        f"  - {{name: {n}, group: Dinas {n}, interval: 1s, timeout: 1s, "
        f"http: {{url: \"{targets.url(n)}\"}}}}" for n in failing + healthy)
    base = json_receiver.url("").rstrip("/")
    daemon = await start(tmp_path, f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store_setting}"}}
alerting: {{rate_limit: {{per_hour: 5}}}}
checks:
{checks}
{oncall(base)}""")
    try:
        await until(lambda: all(daemon.engine.runtime[n].state.state is State.UP
                                for n in failing), 4, "all up")
        for n in failing:
            targets.status[n] = 500
        await json_receiver.wait_for(5, 8)
        posts = await json_receiver.wait_for(6, 30 + 8)
        await asyncio.sleep(1)
        titles = [p.json["title"] for p in json_receiver.inbox.items]
        assert len(titles) == 6, titles
        assert sum(t.startswith("GANGGUAN: svc-") for t in titles) == 5
        assert titles[5] == "SIAGA: 7 pemberitahuan lain"
        assert posts[5].json["message"].count("7 pemberitahuan") == 1
        url = f"http://127.0.0.1:{daemon.server.port}/api/v1/incidents"
        headers = {"Authorization": f"Bearer {daemon.api_token}"}
        async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
            listed = (await r.json())["incidents"]
        assert sorted(i["check"] for i in listed) == failing
        assert daemon.registry.get_sample_value(
            "siaga_notifications_suppressed_total", {"reason": "rate_limit"}) == 7
    finally:
        await daemon.stop()


def test_an_acknowledged_group_incident_sends_no_digest():
    inc = Incident(1, "a", "g", "A", Status.OPEN, "status 503", 0.0, Kind.DOWN,
                   {"b": "grouped"}, announced=("a",), announced_at=0.0)
    paged = {1: {"budi"}}
    assert [(d.joined, d.recipients) for d in digests.due([inc], paged, 30, 31)] == [
        (("b",), ("budi",))]
    assert digests.due([inc], paged, 30, 29) == []  # not before the window
    inc.status = Status.ACKNOWLEDGED
    assert digests.due([inc], paged, 30, 31) == []
    assert digests.due([inc], paged, 0, 31) == []  # group_window: 0
