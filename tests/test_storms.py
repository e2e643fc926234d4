"""No alert storms, no false alarms: scenario tests with real local targets and a real
receiver, asserting the count of pages at the receiver and the incident records."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from monitor.daemon import Daemon
from monitor.store.records import list_incidents
from tests.daemons import start as run_daemon

pytestmark = pytest.mark.slow
WIB = ZoneInfo("Asia/Jakarta")


def local(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, WIB).strftime("%Y-%m-%d %H:%M:%S")


def config_text(tmp_path, receiver, checks: str, extra: str = "", store: str = "sqlite") -> str:
    now = time.time()
    return f"""
siaga: {{listen: "127.0.0.1:0", state_dir: "{tmp_path / 'state'}", store: "{store}"}}
defaults: {{interval: 200ms, timeout: 150ms, fail_after: 2, recover_after: 2}}
checks:
{checks}
oncall:
  officers:
    budi: {{notify: ["{receiver.url('/budi')}"]}}
    admin: {{notify: ["{receiver.url('/admin')}"]}}
  admins: [admin]
  rotations: [{{name: piket, every: 1d, officers: [budi]}}]
  escalation: {{default: {{steps: [{{notify: on_duty}}]}}}}
{extra}
""".replace("NOW", local(now))


async def settle(daemon: Daemon, names: list[str], state: str, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while any(daemon.engine.runtime[n].state.state.value != state for n in names):
            await asyncio.sleep(0.05)


async def incidents(daemon: Daemon):
    return await daemon.store.run(list_incidents)


async def test_an_uplink_down_with_20_services_behind_it_makes_exactly_one_page(
        tmp_path, targets, json_receiver, store_setting):
    children = "\n".join(
        f"  - {{name: svc{i:02d}, title: Layanan {i:02d}, depends_on: [uplink], "
        f"http: {{url: '{targets.url(f'svc{i:02d}')}'}}}}" for i in range(20))
    checks = (f"  - {{name: uplink, title: Koneksi Kantor, "
              f"http: {{url: '{targets.url('uplink')}'}}}}\n{children}")
    text = config_text(tmp_path, json_receiver, checks, store=store_setting)
    daemon = await run_daemon(tmp_path, text)
    names = ["uplink"] + [f"svc{i:02d}" for i in range(20)]
    try:
        await settle(daemon, names, "up")
        for name in names:  # the router dies: everything behind it fails at once
            targets.status[name] = 503
        await settle(daemon, names, "down")
        posts = await json_receiver.wait_for(1, timeout=6)
        await asyncio.sleep(2)
        assert len(json_receiver.posts) == 1
        message = posts[0].json["message"]
        assert "Koneksi Kantor" in posts[0].json["title"] + message
        assert all(f"Layanan {i:02d}" in message for i in range(20))
        open_incs = [i for i in await incidents(daemon) if i.status.value != "resolved"]
        assert len(open_incs) == 1 and open_incs[0].check == "uplink"
        assert sorted(open_incs[0].affected) == names[1:]
        suppressed = daemon.registry.get_sample_value(
            "siaga_notifications_suppressed_total", {"reason": "dependency"})
        assert suppressed == 20
        from monitor.web.api import check_json, with_paging
        from monitor.web.app import build_app

        child = daemon.engine.checks["svc07"]
        seen = with_paging(build_app(daemon.provide_web), child,
                           check_json(child, daemon.engine.runtime["svc07"]), time.time())
        assert seen["incident"]["root"] == "uplink" and seen["incident"]["why"] == "dependency"
    finally:
        await daemon.stop()


async def test_maintenance_holds_pages_and_a_service_still_down_after_it_is_paged(
        tmp_path, targets, json_receiver, store_setting):
    start = float(int(time.time()) - 1)  # whole seconds: the config says HH:MM:SS
    window_end = start + 5
    checks = f"  - {{name: sipd, title: SIPD, http: {{url: '{targets.url('sipd')}'}}}}"
    extra = (f"maintenance:\n  - {{checks: [sipd], start: '{local(start)}', "
             f"end: '{local(window_end)}', note: upgrade}}")
    targets.status["sipd"] = 503  # down during the whole window
    text = config_text(tmp_path, json_receiver, checks, extra, store_setting)
    daemon = await run_daemon(tmp_path, text)
    try:
        await settle(daemon, ["sipd"], "down")
        assert daemon.engine.runtime["sipd"].shown_state.value in ("maintenance", "down")
        await asyncio.sleep(max(0.0, window_end - time.time() - 0.5))
        assert daemon.engine.runtime["sipd"].shown_state.value == "maintenance"
        assert json_receiver.posts == []  # 0 pages during the window
        posts = await json_receiver.wait_for(1, timeout=3)
        paged_after = time.time() - window_end
        assert paged_after <= 0.2 + 1.0 + 0.5  # within one interval (+ the pager's tick)
        assert posts[0].path == "/budi"
        (inc,) = await incidents(daemon)
        assert inc.suppressed is None and inc.paging_from >= window_end - 0.01
        events = [e["kind"] for e in await daemon.store.run(
            lambda c: [dict(r) for r in c.execute("SELECT kind FROM incident_events")])]
        assert events[:2] == ["opened", "suppressed"]
    finally:
        await daemon.stop()


async def test_a_target_flapping_for_30_minutes_of_probes_pages_at_most_twice(
        tmp_path, targets, json_receiver, store_setting):
    # 60 probes at 30 s each are 30 minutes; here the interval is 100 ms.
    checks = (f"  - {{name: flappy, title: Aplikasi Labil, interval: 100ms, timeout: 80ms, "
              f"http: {{url: '{targets.url('flappy')}'}}}}")
    text = config_text(tmp_path, json_receiver, checks, store=store_setting)
    daemon = await run_daemon(tmp_path, text)
    try:
        targets.flap.add("flappy")
        while targets.hits.get("flappy", 0) < 60:
            await asyncio.sleep(0.05)
        assert daemon.engine.runtime["flappy"].state.state.value == "flapping"
        targets.flap.discard("flappy")
        await settle(daemon, ["flappy"], "up", timeout=15)
        await asyncio.sleep(1.5)
        kinds = [p.json["title"] for p in json_receiver.posts]
        assert 1 <= len(json_receiver.posts) <= 2, kinds
        records = await incidents(daemon)
        assert [i.kind.value for i in records] == ["flapping"]
        assert records[0].status.value == "resolved"
    finally:
        await daemon.stop()


async def test_connectivity_refs_down_send_one_blind_message_and_no_service_pages(
        tmp_path, targets, json_receiver, store_setting):
    checks = "\n".join([
        f"  - {{name: gw, connectivity: true, http: {{url: '{targets.url('gw')}'}}}}",
        f"  - {{name: resolver, connectivity: true, http: {{url: '{targets.url('resolver')}'}}}}",
        *(f"  - {{name: app{i}, http: {{url: '{targets.url(f'app{i}')}'}}}}" for i in range(5)),
    ])
    text = config_text(tmp_path, json_receiver, checks, store=store_setting)
    daemon = await run_daemon(tmp_path, text)
    names = ["gw", "resolver"] + [f"app{i}" for i in range(5)]
    try:
        await settle(daemon, names, "up")
        for name in names:  # Siaga's own network is gone: it sees everything fail
            targets.status[name] = 503
        await settle(daemon, names, "down")
        posts = await json_receiver.wait_for(1, timeout=5)
        await asyncio.sleep(2)
        assert [p.path for p in json_receiver.posts] == ["/admin"]
        assert posts[0].json["type"] in ("failure", "warning")
        records = await incidents(daemon)
        blind = [i for i in records if i.kind.value == "blind"]
        silent = [i for i in records if i.suppressed == "connectivity"]
        assert len(blind) == 1 and len(silent) == 5
    finally:
        await daemon.stop()
