"""A fleet on a real PostgreSQL: several `siaga run` processes sharing one store.

Shards: each check is probed by exactly one instance, and a killed instance's share moves
to the others within the lease timeout. Failover: the pager is killed with SIGKILL in the
middle of an escalation; the next step arrives exactly once, from the new pager, and the
ack link the old pager signed works on the new one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psycopg
import pytest

from monitor.fleet.slots import owner, parse_shard, timings
from tests.daemons import until
from tests.netns import Host
from tests.test_alertmanager_receiver import AM_TOKEN, alert, notification
from tests.test_alertmanager_receiver import API_TOKEN as AM_API_TOKEN
from tests.test_alertmanager_receiver import ONCALL as AM_ONCALL

pytestmark = pytest.mark.slow

LEASE_TIMEOUT = 15.0  # the default: what an operator gets without writing it


def siaga(config: Path, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`siaga -c CONFIG ARGV…` as a user types it."""
    return subprocess.run([sys.executable, "-m", "monitor", "-c", str(config), *argv],
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Instance:
    """One `siaga run` of the fleet, as a real process."""

    def __init__(self, tmp: Path, name: str, text: str, host: Host | None = None) -> None:
        self.name, self.port, self.host = name, free_port(), host
        self.address = host.address if host is not None else "127.0.0.1"
        self.dir = tmp / name
        self.dir.mkdir()
        self.path = self.dir / "checks.yaml"
        self.path.write_text(text.replace("127.0.0.1:@PORT@", f"{self.address}:{self.port}")
                             .replace("@PORT@", str(self.port))
                             .replace("@STATE@", str(self.dir / "state"))
                             .replace("@NAME@", name))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = None

    @property
    def base(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> Instance:
        self.log = open(self.dir / "log", "wb")  # noqa: SIM115 (closed in stop)
        argv = [sys.executable, "-m", "monitor", "-c", str(self.path), "run"]
        self.proc = subprocess.Popen(
            self.host.command(argv) if self.host is not None else argv,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self.log is not None:
            self.log.close()

    async def metrics(self, http: aiohttp.ClientSession) -> str:
        async with http.get(self.base + "/metrics") as r:
            assert r.status == 200
            return await r.text()

    async def probes(self, http: aiohttp.ClientSession) -> dict[str, float]:
        """Probes run per check, from this instance's own /metrics."""
        counts: dict[str, float] = {}
        for line in (await self.metrics(http)).splitlines():
            if line.startswith("siaga_probes_total{"):
                check = re.search(r'check="([^"]+)"', line)
                assert check is not None, line
                counts[check[1]] = counts.get(check[1], 0.0) + float(line.rsplit(" ", 1)[1])
        return counts

    async def ready(self, http: aiohttp.ClientSession) -> bool:
        try:
            async with http.get(self.base + "/healthz") as r:
                return r.status in (200, 503)
        except aiohttp.ClientError:
            return False


async def wait_ready(http: aiohttp.ClientSession, *instances: Instance) -> None:
    for i in instances:
        for _ in range(200):
            if await i.ready(http):
                break
            assert i.proc is not None and i.proc.poll() is None, (
                f"{i.name} exited: {(i.dir / 'log').read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{i.name} did not answer: {(i.dir / 'log').read_text()[-2000:]}")


def fleet_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(os.path.expandvars(url), autocommit=True) as pg:
        return pg.execute(sql).fetchall()


SHARDED = """
siaga:
  listen: "127.0.0.1:@PORT@"
  state_dir: "@STATE@"
  store: "{store}"
  instance: "@NAME@"
  shard: "{shard}"
defaults: {{interval: 2s, timeout: 1s}}
checks:
{checks}
"""


async def test_three_shards_probe_each_check_once_and_a_killed_ones_checks_move_within_the_lease(
        tmp_path, targets, pg_store_setting):
    store = pg_store_setting
    checks = "\n".join(f'  - {{name: svc-{n:03d}, http: {{url: "{targets.url(f"s{n}")}"}}}}'
                       for n in range(300))
    numbered = SHARDED.replace('shard: "{shard}"', "shards: 3")  # node-1 is 1/3, …
    fleet = [Instance(tmp_path, f"node-{i}", numbered.format(store=store, checks=checks))
             for i in (1, 2, 3)]
    try:
        for i in fleet:
            i.start()
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, *fleet)
            # every check probed, each by exactly one instance (a few rounds in)
            await asyncio.sleep(3 * timings(LEASE_TIMEOUT)[0] + 2)
            before = {i.name: await i.probes(http) for i in fleet}
            await asyncio.sleep(4.5)
            after = {i.name: await i.probes(http) for i in fleet}
            probed_by = {f"svc-{n:03d}": [i.name for i in fleet
                                          if after[i.name].get(f"svc-{n:03d}", 0)
                                          > before[i.name].get(f"svc-{n:03d}", 0)]
                         for n in range(300)}
            assert all(len(who) == 1 for who in probed_by.values()), {
                c: w for c, w in probed_by.items() if len(w) != 1}
            shares = {i.name: sum(1 for w in probed_by.values() if w == [i.name]) for i in fleet}
            assert sum(shares.values()) == 300 and min(shares.values()) > 60, shares
            # the split is the one rendezvous hashing of the shard slots gives
            slots = ["1/3", "2/3", "3/3"]
            assert all(who == [f"node-{slots.index(owner(c, slots)) + 1}"]
                       for c, who in probed_by.items())

            # kill -9 node-2: its checks are probed by the other two within the lease timeout
            lost = {c for c, w in probed_by.items() if w == ["node-2"]}
            seen = {i.name: await i.probes(http) for i in (fleet[0], fleet[2])}
            fleet[1].kill9()
            killed = time.monotonic()
            moved_at: dict[str, float] = {}
            while len(moved_at) < len(lost) and time.monotonic() - killed < LEASE_TIMEOUT + 10:
                await asyncio.sleep(0.5)
                for i in (fleet[0], fleet[2]):
                    now = await i.probes(http)
                    for c in lost - moved_at.keys():
                        if now.get(c, 0) > seen[i.name].get(c, 0):
                            moved_at[c] = time.monotonic() - killed
            assert len(moved_at) == len(lost), f"{len(lost) - len(moved_at)} checks orphaned"
            took = max(moved_at.values())
            print(f"\nshard move: {len(lost)} checks probed elsewhere {took:.1f} s after kill -9")
            assert took <= LEASE_TIMEOUT, took
            # and still exactly once: the two survivors never probe the same check
            a, b = await fleet[0].probes(http), await fleet[2].probes(http)
            await asyncio.sleep(4.5)
            a2, b2 = await fleet[0].probes(http), await fleet[2].probes(http)
            both = [c for c in probed_by
                    if a2.get(c, 0) > a.get(c, 0) and b2.get(c, 0) > b.get(c, 0)]
            assert not both, both
            rows = fleet_rows(store, "SELECT instance FROM fleet_members ORDER BY instance")
            assert ("node-1",) in rows and ("node-3",) in rows
    finally:
        for i in fleet:
            i.stop()


FAILOVER = """
siaga:
  listen: "127.0.0.1:@PORT@"
  state_dir: "@STATE@"
  store: "{store}"
  instance: "@NAME@"
  public_url: "http://siaga.example.test"
checks:
  - {{name: portal, title: Portal Layanan, interval: 2s, timeout: 1s, http: {{url: "{url}"}}}}
oncall:
  officers:
    budi: {{notify: ["{budi}"]}}
    sari: {{notify: ["{sari}"]}}
    rina: {{notify: ["{rina}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
  escalation:
    default:
      steps: [{{notify: on_duty}}, {{after: 20s, notify: sari}}, {{after: 40s, notify: rina}}]
"""


async def test_the_pager_killed_mid_escalation_next_step_arrives_once_from_the_new_pager(
        tmp_path, targets, json_receiver, pg_store_setting):
    store = pg_store_setting
    text = FAILOVER.format(store=store, url=targets.url("health"),
                           budi=json_receiver.url("/budi"), sari=json_receiver.url("/sari"),
                           rina=json_receiver.url("/rina"))
    first = Instance(tmp_path, "jakarta-a", text).start()
    others = [Instance(tmp_path, name, text) for name in ("jakarta-b", "jakarta-c")]
    try:
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, first)
            await until(lambda: fleet_rows(store, "SELECT holder FROM fleet_lease")
                        == [("jakarta-a",)], 10, "jakarta-a holds the pager's lease")
            for i in others:
                i.start()
            await wait_ready(http, *others)
            await asyncio.sleep(4)  # the others joined and took their share

            targets.status["health"] = 503
            posts = await json_receiver.wait_for(1, timeout=20)
            assert posts[0].path == "/budi"
            step1_at = time.monotonic()
            ack_path = re.search(r"/ack/[A-Za-z0-9_\-.]+", posts[0].json["message"]).group(0)

            # step 2 is due 20 s after step 1; kill the pager 18 s in: due 2 s after the kill
            await asyncio.sleep(18 - (time.monotonic() - step1_at))
            assert len(json_receiver.posts) == 1
            first.kill9()
            killed = time.monotonic()
            posts = await json_receiver.wait_for(2, timeout=LEASE_TIMEOUT + 2 + 5)
            took = time.monotonic() - killed
            print(f"\nfailover: step 2 sent {took:.1f} s after the pager was killed")
            assert posts[1].path == "/sari"
            assert took <= LEASE_TIMEOUT + 2, took
            holder = fleet_rows(store, "SELECT holder FROM fleet_lease")[0][0]
            assert holder in ("jakarta-b", "jakarta-c")
            new = next(i for i in others if i.name == holder)
            other = next(i for i in others if i.name != holder)

            # the ack link budi got from the old pager, followed on a member that is not the
            # pager (a load balancer may send it anywhere): it is forwarded and applied
            async with http.post(other.base + ack_path) as r:
                body = await r.text()
                assert r.status == 200, body
            incidents = fleet_rows(store, "SELECT status, acked_by FROM incidents")
            assert incidents == [("acknowledged", "budi")]
            async with http.post(new.base + ack_path) as r:  # replay refused on the pager
                assert r.status == 409

            # acknowledged: rina's step (due 40 s after step 1) never comes
            await asyncio.sleep(max(0.0, 42 - (time.monotonic() - step1_at)))
            assert [p.path for p in json_receiver.posts] == ["/budi", "/sari"]
            sent = fleet_rows(store, "SELECT recipient, status FROM outbox ORDER BY id")
            assert sent == [("budi", "sent"), ("sari", "sent")], sent

            # the fleet still does its job afterwards: the recovery is told once to each
            # officer who was paged, budi by the old pager and sari by the new one (the new
            # pager's step raced its reading of the store, and sari was left out)
            targets.status["health"] = 200
            await json_receiver.wait_for(4, timeout=20)
            await asyncio.sleep(3)
            told = [(p.path, p.json["title"].split(":")[0]) for p in json_receiver.posts[2:]]
            assert sorted(told) == [("/budi", "PULIH"), ("/sari", "PULIH")], told
            async with http.get(new.base + "/metrics") as r:
                assert "siaga_fleet_pager 1.0" in await r.text()
    finally:
        for i in (first, *others):
            i.stop()


async def test_siaga_fleet_lists_roles_and_a_dead_member(tmp_path, targets, postgres,
                                                         pg_store_setting):
    store = pg_store_setting
    checks = "\n".join(f'  - {{name: svc-{n}, http: {{url: "{targets.url(f"s{n}")}"}}}}'
                       for n in range(10))
    fleet = [Instance(tmp_path, f"node-{i}", SHARDED.format(store=store, shard=f"{i}/2",
                                                           checks=checks)) for i in (1, 2)]
    try:
        fleet[0].start()
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, fleet[0])
            fleet[1].start()
            await wait_ready(http, fleet[1])
        def fleet_json() -> dict:
            said = siaga(fleet[0].path, "fleet", "--json")
            assert said.returncode == 0, said.stderr
            assert postgres.password not in said.stdout + said.stderr
            return json.loads(said.stdout)

        # a member's row says its share from the renewal after it learnt of the other (≤ 2)
        deadline = time.monotonic() + 3 * timings(LEASE_TIMEOUT)[0] + 2
        view = fleet_json()
        while sum(m["probing"] for m in view["members"]) != 10:
            assert time.monotonic() < deadline, view
            await asyncio.sleep(0.5)
            view = fleet_json()
        assert view["pager"] == "node-1" and view["missing_shards"] == []
        assert {(m["instance"], m["role"], m["slot"]) for m in view["members"]} == {
            ("node-1", "pager", "1/2"), ("node-2", "prober", "2/2")}
        fleet[1].kill9()
        await asyncio.sleep(timings(LEASE_TIMEOUT)[1] + 1)
        said = siaga(fleet[0].path, "fleet")
        assert said.returncode == 0, said.stderr
        assert re.search(r"node-2 .*2/2 .*mati", said.stdout), said.stdout  # dead, in Bahasa
        assert "Shard tanpa instans hidup: 2/2" in said.stdout, said.stdout
    finally:
        for i in fleet:
            i.stop()


def test_shard_values_are_checked():
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_rendezvous_moves_only_the_lost_slots_checks():
    names = [f"c{n}" for n in range(2000)]
    three = {n: owner(n, ["1/3", "2/3", "3/3"]) for n in names}
    two = {n: owner(n, ["1/3", "3/3"]) for n in names}
    assert all(two[n] == three[n] for n in names if three[n] != "2/3")
    shares = [sum(1 for v in three.values() if v == s) for s in ("1/3", "2/3", "3/3")]
    assert min(shares) > 550, shares


HEARTBEATS = """
siaga:
  listen: "127.0.0.1:@PORT@"
  state_dir: "@STATE@"
  store: "{store}"
  instance: "@NAME@"
checks:
{checks}
"""


async def test_a_heartbeat_pushed_to_any_member_counts_and_a_failure_pushed_anywhere_is_judged(
        tmp_path, pg_store_setting):
    store = pg_store_setting
    checks = "\n".join(f"  - {{name: job-{n}, heartbeat: {{every: 1h, grace: 10m}}}}"
                       for n in range(6))
    fleet = [Instance(tmp_path, f"node-{i}", HEARTBEATS.format(store=store, checks=checks))
             for i in (1, 2)]
    try:
        for i in fleet:
            i.start()
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, *fleet)
            await asyncio.sleep(2 * timings(LEASE_TIMEOUT)[0] + 1)
            urls = []
            for i in fleet:  # both members hand out the same push URL
                said = siaga(i.path, "heartbeat-url", "job-0")
                assert said.returncode == 0, said.stderr
                urls.append(re.search(r"/push/job-0/[A-Za-z0-9_\-]+", said.stdout).group(0))
            assert urls[0] == urls[1]
            for n in range(6):  # every job pings a member at random: all go to node-1
                token_url = siaga(fleet[1].path, "heartbeat-url", f"job-{n}").stdout
                path = re.search(rf"/push/job-{n}/[A-Za-z0-9_\-]+", token_url).group(0)
                async with http.get(fleet[0].base + path) as r:
                    assert r.status == 200, await r.text()
            await asyncio.sleep(4 + 1)  # two evaluation rounds of the owners
            for i in fleet:
                text = await i.metrics(http)
                states = dict(re.findall(r'siaga_check_state\{check="(job-\d)"[^}]*\} (\S+)',
                                         text))
                assert states and all(v == "1.0" for v in states.values()), (i.name, states)
            # a failure pushed to node-2 is judged DOWN by whoever owns the job
            async with http.get(fleet[1].base + urls[0] + "/fail") as r:
                assert r.status == 200
            await asyncio.sleep(4 + 2 + 1)
            for i in fleet:
                text = await i.metrics(http)
                state = re.search(r'siaga_check_state\{check="job-0"[^}]*\} (\S+)', text)
                assert state is not None and state[1] == "3.0", (i.name, state)
    finally:
        for i in fleet:
            i.stop()


LOCATED = """
siaga:
  listen: "127.0.0.1:@PORT@"
  state_dir: "@STATE@"
  store: "{store}"
  instance: "@NAME@"
  location: {location}
defaults: {{interval: 2s, timeout: 1s, proxy: "http://127.0.0.1:{proxy}"}}
checks:
  - {{name: uplink, connectivity: true, http: {{url: "{guard}"}}}}
  - name: portal
    title: Portal Layanan
    http: {{url: "{portal}"}}
    locations: [jakarta-1, makassar-1]
    quorum: 2
oncall:
  officers:
    budi: {{notify: ["{budi}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


async def verdicts(http: aiohttp.ClientSession, fleet: list[Instance]) -> set[str]:
    """The portal's state as each member's /metrics shows it (one verdict per check)."""
    found = set()
    for i in fleet:
        state = re.search(r'siaga_check_state\{check="portal"[^}]*\} (\S+)',
                          await i.metrics(http))
        assert state is not None, i.name
        found.add(state[1])
    return found


async def test_quorum_two_locations_one_sees_it_down_no_page_both_one_page_naming_both(
        tmp_path, targets, json_receiver, pg_store_setting):
    """Three instances in two locations, each location reaching the network through its own
    uplink (a forward proxy on 127.0.0.1 the test can block or cut)."""
    from tests.proxy import ForwardProxy

    store = pg_store_setting
    uplinks = {"jakarta-1": await ForwardProxy().start(),
               "makassar-1": await ForwardProxy().start()}

    def config(location: str) -> str:
        return LOCATED.format(store=store, location=location, proxy=uplinks[location].port,
                              guard=targets.url("guard"), portal=targets.url("portal"),
                              budi=json_receiver.url("/budi"))

    fleet = [Instance(tmp_path, "jkt-a", config("jakarta-1")),
             Instance(tmp_path, "jkt-b", config("jakarta-1")),
             Instance(tmp_path, "mks-a", config("makassar-1"))]
    try:
        fleet[0].start()
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, fleet[0])
            for i in fleet[1:]:
                i.start()
            await wait_ready(http, *fleet)
            await asyncio.sleep(2 * timings(LEASE_TIMEOUT)[0] + 4)
            assert await verdicts(http, fleet) == {"1.0"}  # UP everywhere
            # each location probes the portal: one of jkt-a/jkt-b, and mks-a
            before = [(await i.probes(http)).get("portal", 0) for i in fleet]
            await asyncio.sleep(4.5)
            probes = [(await i.probes(http)).get("portal", 0) - b
                      for i, b in zip(fleet, before, strict=True)]
            assert probes[2] > 0 and (probes[0] > 0) != (probes[1] > 0), probes

            # down from Makassar only (a firewall on its way): no page, still UP
            uplinks["makassar-1"].blocked.add("/portal")
            await asyncio.sleep(3 * 2 + 1 + 12)  # fail_after 3 × 2 s, and then some
            assert json_receiver.posts == []
            assert await verdicts(http, fleet) == {"1.0"}
            rows = fleet_rows(store, "SELECT location, state FROM fleet_states "
                                     "WHERE check_name='portal' ORDER BY location")
            assert rows == [("jakarta-1", "up"), ("makassar-1", "down")]

            # down from both: exactly one page, naming both locations
            uplinks["jakarta-1"].blocked.add("/portal")
            posts = await json_receiver.wait_for(1, timeout=20)
            await asyncio.sleep(5)
            assert len(json_receiver.posts) == 1
            page = posts[0].json["message"]
            assert "jakarta-1 dan makassar-1" in page, page
            assert await verdicts(http, fleet) == {"3.0"}

            # back from Jakarta: the verdict is no longer DOWN (quorum 2), one "resolved"
            uplinks["jakarta-1"].blocked.clear()
            await json_receiver.wait_for(2, timeout=20)
            await asyncio.sleep(3)
            assert len(json_receiver.posts) == 2
            assert await verdicts(http, fleet) == {"1.0"}

            # Makassar's uplink cut: its guard fails, it stops voting; the portal then
            # really goes down: Jakarta alone decides, and the page says Makassar is blind
            uplinks["makassar-1"].blocked.clear()
            uplinks["makassar-1"].cut = True
            await asyncio.sleep(3 * 2 + 1 + 2 * timings(LEASE_TIMEOUT)[0])
            assert len(json_receiver.posts) == 2  # a blind location's DOWN is no page
            targets.status["portal"] = 503
            posts = await json_receiver.wait_for(3, timeout=20)
            page = posts[2].json["message"]
            assert "tidak dapat diakses dari jakarta-1" in page, page
            assert "makassar-1" in page and "terganggu" in page, page
    finally:
        for i in fleet:
            i.stop()
        for proxy in uplinks.values():
            await proxy.stop()


AM_FLEET = """
siaga:
  listen: "127.0.0.1:@PORT@"
  state_dir: "@STATE@"
  store: "{store}"
  instance: "@NAME@"
  api_token: "{api}"
checks: []
alertmanager_receiver: {{token: "{am}"}}
""" + AM_ONCALL


async def test_an_alertmanager_alert_posted_to_a_member_that_is_not_the_pager_pages_once(
        tmp_path, json_receiver, pg_store_setting):
    store = pg_store_setting
    text = AM_FLEET.format(store=store, api=AM_API_TOKEN, am=AM_TOKEN,
                           budi=json_receiver.url("/budi"), sari=json_receiver.url("/sari"))
    pager, other = Instance(tmp_path, "am-a", text), Instance(tmp_path, "am-b", text)
    try:
        pager.start()
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, pager)
            await until(lambda: fleet_rows(store, "SELECT holder FROM fleet_lease")
                        == [("am-a",)], 10, "am-a holds the pager's lease")
            other.start()
            await wait_ready(http, other)
            headers = {"Authorization": f"Bearer {AM_TOKEN}"}
            url = other.base + "/api/v1/alertmanager"
            for _ in range(2):  # Alertmanager repeats the notification: still one page
                async with http.post(url, json=notification(alert()), headers=headers) as r:
                    assert r.status == 200, await r.text()
            posts = await json_receiver.wait_for(1, timeout=10)
            assert posts[0].path == "/budi" and "ErrorBudgetBurn" in (
                posts[0].json["title"] + posts[0].json["message"])
            async with http.post(url, json=notification(alert("resolved")),
                                 headers=headers) as r:
                assert r.status == 200
            await json_receiver.wait_for(2, timeout=10)
            await asyncio.sleep(3)
            assert [p.path for p in json_receiver.posts] == ["/budi", "/budi"]
    finally:
        for i in (pager, other):
            i.stop()


def test_locations_and_quorum_are_validated(tmp_path):
    from monitor.config.loader import parse_config
    from monitor.errors import ConfigError

    text = """\
checks:
  - {name: a, http: {url: "http://127.0.0.1:1/"}, locations: [jakarta-1, medan-1, medan-1]}
  - {name: b, http: {url: "http://127.0.0.1:1/"}, locations: [jakarta-1], quorum: 2}
  - {name: c, http: {url: "http://127.0.0.1:1/"}, quorum: 1}
  - {name: d, heartbeat: {every: 1h}, locations: [jakarta-1]}
  - {name: e, connectivity: true, http: {url: "http://127.0.0.1:1/"}, locations: [x]}
  - {name: f, http: {url: "http://127.0.0.1:1/"}, locations: [jakarta-1, makassar-1, medan-1]}
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, str(tmp_path / "checks.yaml"))
    said = "\n".join(str(p) for p in caught.value.problems)
    assert "checks[a].locations: a location is listed twice" in said
    assert "checks[b].quorum: quorum 2 is more than the 1 location(s) listed" in said
    assert "checks[c].quorum: quorum needs `locations`" in said
    assert "checks[d].locations: a heartbeat check is not probed" in said
    assert "checks[e].locations: a connectivity guard" in said
    assert "checks[f]" not in said
    good = parse_config(text.split("  - {name: a")[0] + "  - {name: f, http: {url: "
                        '"http://127.0.0.1:1/"}, locations: [jakarta-1, makassar-1, medan-1]}\n',
                        str(tmp_path / "checks.yaml"))
    assert good.checks[0].quorum == 2  # a majority of three


async def test_a_second_live_instance_with_the_same_name_is_refused(tmp_path, targets,
                                                                    pg_store_setting):
    store = pg_store_setting
    text = SHARDED.replace('  shard: "{shard}"\n', "").format(
        store=store, checks=f'  - {{name: one, http: {{url: "{targets.url("one")}"}}}}')
    first = Instance(tmp_path, "same", text).start()
    twin_dir = tmp_path / "twin"
    twin_dir.mkdir()
    twin = twin_dir / "checks.yaml"
    twin.write_text(first.path.read_text().replace(f":{first.port}", f":{free_port()}")
                    .replace(str(first.dir / "state"), str(twin_dir / "state")))
    try:
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, first)
        said = siaga(twin, "run", timeout=60)
        assert said.returncode != 0
        assert "instance name 'same' is in use" in said.stdout + said.stderr
        assert "Traceback" not in said.stdout + said.stderr
        assert first.proc is not None and first.proc.poll() is None  # the first one carries on
    finally:
        first.stop()


CUT_OFF = """
siaga:
  listen: "127.0.0.1:@PORT@"
  state_dir: "@STATE@"
  store: "postgresql://postgres:${{PG_PASSWORD}}@{service}:{pg}/{database}"
  instance: "@NAME@"
  location: {location}
defaults: {{interval: 2s, timeout: 1s}}
checks:
  - {{name: uplink, connectivity: true, http: {{url: "http://{service}:{web}/guard"}}}}
  - name: portal
    title: Portal Layanan
    http: {{url: "http://{service}:{web}/portal"}}
    locations: [jakarta-1, makassar-1]
    quorum: 2
{plain}
oncall:
  officers:
    budi: {{notify: ["{budi}"]}}
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
"""


async def test_a_location_cut_off_from_the_network_pages_nobody_and_its_checks_move(
        tmp_path, targets, json_receiver, postgres, monkeypatch):
    """Makassar's instance runs on a host of its own (a network namespace with a veth pair);
    the test takes its link down. It can then reach neither the services nor the database:
    it must not cause a page, its checks move to Jakarta within the lease timeout, an
    outage seen from Jakarta alone is still paged once, and when the link is back it votes
    again."""
    monkeypatch.setenv("PG_PASSWORD", postgres.password)
    database = postgres.database()
    host = Host().create()
    try:
        pg, web = await host.relay(postgres.port), await host.relay(targets.port)
        plain = "\n".join(f'  - {{name: svc-{n}, http: {{url: "http://{host.service}:{web}/s{n}"}}}}'
                          for n in range(30))

        def config(location: str) -> str:
            return CUT_OFF.format(service=host.service, pg=pg, database=database, web=web,
                                  location=location, plain=plain,
                                  budi=json_receiver.url("/budi"))

        jakarta = [Instance(tmp_path, "jkt-a", config("jakarta-1")),
                   Instance(tmp_path, "jkt-b", config("jakarta-1"))]
        makassar = Instance(tmp_path, "mks-a", config("makassar-1"), host=host)
        store = postgres.url(database)
        try:
            jakarta[0].start()
            async with aiohttp.ClientSession() as http:
                await wait_ready(http, jakarta[0])
                for i in (jakarta[1], makassar):
                    i.start()
                await wait_ready(http, jakarta[1], makassar)
                await asyncio.sleep(2 * timings(LEASE_TIMEOUT)[0] + 4)
                assert await verdicts(http, [*jakarta, makassar]) == {"1.0"}
                mine = {c for c, n in (await makassar.probes(http)).items() if n > 0}
                assert "portal" in mine and any(c.startswith("svc-") for c in mine)

                host.cut()
                cut_at = time.monotonic()
                # Jakarta probes Makassar's plain checks within the lease timeout
                moved = {c for c in mine if c.startswith("svc-")}
                seen = [await i.probes(http) for i in jakarta]
                while moved:
                    assert time.monotonic() - cut_at < LEASE_TIMEOUT + 5, moved
                    await asyncio.sleep(0.5)
                    now = [await i.probes(http) for i in jakarta]
                    moved = {c for c in moved
                             if not any(n.get(c, 0) > s.get(c, 0) for n, s in zip(
                                 now, seen, strict=True))}
                took = time.monotonic() - cut_at
                print(f"\ncut off: Makassar's checks probed from Jakarta {took:.1f} s later")
                await asyncio.sleep(max(0.0, 20 - took))
                assert json_receiver.posts == []  # a host that sees nothing pages nobody
                assert await verdicts(http, jakarta) == {"1.0"}
                members = fleet_rows(store, "SELECT instance FROM fleet_members ORDER BY 1")
                assert members[-1] == ("mks-a",)  # its row stays, no longer renewed

                # the portal really goes down: Jakarta alone decides (Makassar cannot vote)
                targets.status["portal"] = 503
                posts = await json_receiver.wait_for(1, timeout=20)
                page = posts[0].json["message"]
                assert "tidak dapat diakses dari jakarta-1" in page and "makassar-1" in page

                # the link back: Makassar rejoins and votes; the page is not repeated
                host.mend()
                await until(lambda: fleet_rows(store, "SELECT state FROM fleet_states "
                                                      "WHERE check_name='portal' AND "
                                                      "location='makassar-1'") == [("down",)],
                            LEASE_TIMEOUT + 10, "Makassar's vote is down too")
                targets.status["portal"] = 200
                await json_receiver.wait_for(2, timeout=25)
                await asyncio.sleep(3)
                assert [p.path for p in json_receiver.posts] == ["/budi", "/budi"]
                assert await verdicts(http, [*jakarta, makassar]) == {"1.0"}
        finally:
            for i in (*jakarta, makassar):
                i.stop()
            await host.close_relays()
    finally:
        host.destroy()


def test_a_down_check_moved_to_this_member_stays_down_on_its_first_failure(tmp_path):
    """A check another member saw DOWN, adopted here (Engine.show) and then probed here after
    its owner died: the first failure keeps it DOWN (it went DOWN → UNKNOWN, which held up
    the incident's escalation on the new pager), and it takes recover_after successes to
    come back."""
    from monitor.checking.engine import Engine
    from monitor.checking.state import State
    from monitor.config.loader import parse_config
    from monitor.probes.base import ProbeContext, ProbeResult

    config = parse_config('checks:\n  - {name: portal, http: {url: "http://127.0.0.1:1/"}}\n',
                          str(tmp_path / "checks.yaml"))
    engine = Engine(config, ProbeContext())
    check = config.checks[0]
    assert engine.show(check, State.DOWN, "status 503", failing=True, fail_since=100.0,
                       at=130.0) is not None
    assert engine.record(check, ProbeResult(False, "status 503")) is None
    assert engine.runtime["portal"].state.state is State.DOWN
    assert engine.record(check, ProbeResult(True, "ok")) is None  # recover_after: 2
    changed = engine.record(check, ProbeResult(True, "ok"))
    assert changed is not None and changed.new is State.UP
